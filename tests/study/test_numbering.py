"""One trial numbering: ``<study>-t0017``, ``--trial 17`` and the dashboard's "Trial 17" are
Optuna's trial 17; studies started before keep their ids (``t0001`` for trial 0)."""

from __future__ import annotations

import json

import psycopg
import pytest
import yaml
from conftest import StudyDir, optuna_trials, sql, tiny_space

from sweep.store.registry import migrations, open_registry, upgrade
from sweep.study.engine import data_fingerprints
from sweep.study.export import completed_trials_hint
from sweep.study.optuna_study import register_study
from sweep.study.space import parse_space


def test_a_new_study_numbers_its_ids_as_optuna_does(study_dir: StudyDir) -> None:
    study_dir.write("space.yaml", tiny_space("num-new"))
    p = study_dir.sweep("run", "space.yaml", "--trials", "3", "--jobs", "1", "--json")
    assert p.returncode == 0, p.stderr
    # --json: sweep_studies' column names, the chosen trial's result by model_results' (id)
    out = json.loads(p.stdout)
    assert out["study_name"] == "num-new" and out["n_trials_target"] == 3
    assert out["best_experiment_id"] == f"num-new-t{out['best_trial']:04d}"
    assert "id" in out["best"] and "result_id" not in out["best"]
    rows = sql(study_dir.url, "SELECT experiment_id, trial_number FROM experiments ORDER BY 2")
    assert [(r["experiment_id"], r["trial_number"]) for r in rows] == [
        (f"num-new-t{n:04d}", n) for n in range(3)
    ]
    assert [t.user_attrs["experiment_id"] for t in optuna_trials(study_dir.url, "num-new")] == [
        f"num-new-t{n:04d}" for n in range(3)
    ]
    (meta,) = sql(study_dir.url, "SELECT trial_id_offset FROM sweep_studies")
    assert meta["trial_id_offset"] == 0
    # --trial 0 is t0000, Optuna's trial 0
    out = study_dir.sweep("export", "num-new", "--trial", "0")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["experiment_id"] == "num-new-t0000"
    assert "# study: num-new, trial 0 (num-new-t0000; Optuna trial 0)" in out.stdout
    bad = study_dir.sweep("export", "num-new", "--trial", "-1")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error: --trial: must be a whole number from 0"), bad.stderr
    # a number with no completed trial is quoted as given, by export and robust alike
    for command in ("export", "robust"):
        missing = study_dir.sweep(command, "num-new", "--trial", "99")
        assert missing.returncode == 2 and missing.stdout == "", missing.stderr
        assert "--trial: no completed trial with this number (got 99)" in missing.stderr
        assert command == "robust" or "completed trials: 0-2" in missing.stderr


def test_the_completed_trials_hint_gives_spans_and_never_a_cut_number() -> None:
    assert completed_trials_hint([3, 0, 1, 2, 7, 9, 10]) == "completed trials: 0-3, 7, 9-10"
    assert completed_trials_hint([]) == "the study has no completed trial"
    # every other trial of 1,000: cut between numbers, saying how many are left out
    hint = completed_trials_hint(list(range(0, 1000, 2)))
    assert hint.startswith("completed trials: 0, 2, 4, ") and hint.endswith(" more spans")
    shown = hint.removeprefix("completed trials: ").split(" and ")[0].split(", ")
    assert shown == [str(n) for n in range(0, 2 * len(shown), 2)]


def test_a_study_started_before_keeps_its_ids_and_trial_numbers(
    study_dir: StudyDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A study whose row says offset 1 (what migration 012 gives every existing study) goes on
    numbering t0001 for Optuna's trial 0 when resumed, and ``--trial`` reads its ids."""
    data = tiny_space("num-old")
    path = study_dir.write("space.yaml", data)
    space = parse_space(data, file=str(path))
    monkeypatch.chdir(study_dir.path)  # its data folder
    with open_registry(study_dir.url) as conn:
        prints = data_fingerprints(space)
        register_study(conn, space, "num-old", 2, prints)
        conn.execute("UPDATE sweep_studies SET trial_id_offset = 1")
    p = study_dir.sweep("run", "space.yaml", "--trials", "2", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    rows = sql(study_dir.url, "SELECT experiment_id, trial_number FROM experiments ORDER BY 2")
    assert [(r["experiment_id"], r["trial_number"]) for r in rows] == [
        ("num-old-t0001", 0),
        ("num-old-t0002", 1),
    ]
    out = study_dir.sweep("export", "num-old", "--trial", "1")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout)["experiment_id"] == "num-old-t0001"
    assert "trial 1 (num-old-t0001; Optuna trial 0)" in out.stdout
    bad = study_dir.sweep("export", "num-old", "--trial", "0")
    assert bad.returncode == 2 and bad.stdout == ""
    assert "--trial: must be >= 1: this study's ids start at t0001" in bad.stderr


def test_migration_012_marks_existing_studies_with_the_old_numbering(fresh_db: str) -> None:
    """Studies recorded before migration 012 get offset 1; studies created after it, 0."""
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE sweep_schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        for version, name, path in migrations():
            if version >= 12:
                break
            conn.execute(path.read_text().encode())
            conn.execute(
                "INSERT INTO sweep_schema_version (version, name) VALUES (%s, %s)",
                (version, name),
            )
        insert = (
            "INSERT INTO sweep_studies (study_name, space, space_hash, objectives, directions,"
            " sampler, pruner, n_trials_target, data_fingerprint, code_version)"
            " VALUES (%s, '{}', 'h', '{sharpe}', '{maximize}', 'tpe', 'none', 1, '{}', 'x')"
        )
        conn.execute(insert, ("before",))
        assert "012_trial_id_offset" in upgrade(conn)
        conn.execute(insert, ("after",))
        got = dict(conn.execute("SELECT study_name, trial_id_offset FROM sweep_studies").fetchall())
    assert got == {"before": 1, "after": 0}
