"""`sweep worker STUDY`: a machine joins a study with nothing but the database URL and the data
files; the space, seeds, data fingerprints and budget come from the database."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

from conftest import DATA_DIR, StudyDir, run_cli, sql, tiny_space

from sweep.study.optuna_study import trial_experiment_id


def other_host(study_dir: StudyDir, name: str, data: bool = True) -> tuple[Path, dict[str, str]]:
    """A working directory sharing nothing with the first: its own SWEEP_HOME, its own copy of
    the data (or none), no space file."""
    home = study_dir.path / name
    home.mkdir()
    if data:
        (home / "data").mkdir()
        shutil.copy(DATA_DIR / "BTC_USDT-1h.csv.gz", home / "data" / "BTC_USDT-1h.csv.gz")
    return home, {**study_dir.env, "SWEEP_HOME": str(home / ".sweep")}


def test_a_worker_runs_a_study_from_the_database_alone(study_dir: StudyDir) -> None:
    name = "tiny-joined"
    space = tiny_space(name)
    study_dir.write("space.yaml", space)
    # the study is registered, then stopped before its first trial (as if its host left)
    started = study_dir.sweep("run", "space.yaml", "--trials", "5", "--timeout", "0.001")
    assert started.returncode == 0, started.stderr
    assert sql(study_dir.url, "SELECT count(*) AS n FROM experiments")[0]["n"] == 0

    home, env = other_host(study_dir, "host-b")
    p = run_cli("worker", name, "--jobs", "1", "--json", cwd=home, env=env)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["status"] == "completed" and summary["n_complete"] == 5
    rows = sql(
        study_dir.url,
        "SELECT experiment_id, trial_number, config FROM experiments WHERE study_name = %s "
        "ORDER BY trial_number",
        (name,),
    )
    assert [r["experiment_id"] for r in rows] == [trial_experiment_id(name, i) for i in range(5)]
    for r in rows:  # every trial is the stored space with values in its ranges
        assert r["config"]["model"]["n_estimators"] == space["model"]["n_estimators"]
        assert 2 <= r["config"]["model"]["max_depth"] <= 4
    models = list((home / ".sweep" / "models").rglob("*.ubj"))
    assert len(models) == 5, "models are written on the host that ran them"
    (participant,) = sql(
        study_dir.url,
        "SELECT command, jobs, status FROM sweep_participants WHERE study_name = %s "
        "AND command = 'worker'",
        (name,),
    )
    assert participant == {"command": "worker", "jobs": 1, "status": "completed"}

    # the budget is met: another worker has nothing to do and says so
    again = run_cli("worker", name, "--jobs", "1", "--no-progress", cwd=home, env=env)
    assert again.returncode == 0, again.stderr
    assert "5 trials registered" in again.stdout


def _shifted_copy(src: Path, dst: Path) -> None:
    """The same file with one bar's volume changed: other data, same shape, still valid (a
    changed price could leave the bar's high below its close). Not the last bar: it may fall in
    an unfinished 4h bar, which is dropped."""
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    cols = lines[-100].split(",")
    cols[5] = str(float(cols[5]) * 1.01)
    lines[-100] = ",".join(cols)
    dst.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def test_a_worker_with_other_data_is_refused_and_writes_nothing(study_dir: StudyDir) -> None:
    name = "tiny-other-data"
    study_dir.write("space.yaml", tiny_space(name))
    started = study_dir.sweep("run", "space.yaml", "--trials", "2", "--jobs", "1", "--no-progress")
    assert started.returncode == 0, started.stderr
    before = sql(study_dir.url, "SELECT status, ended_at FROM sweep_studies")

    home, env = other_host(study_dir, "host-c", data=False)
    (home / "data").mkdir()
    _shifted_copy(DATA_DIR / "BTC_USDT-1h.csv.gz", home / "data" / "BTC_USDT-1h.csv.gz")
    p = run_cli("worker", name, cwd=home, env=env)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith(f"error: study {name} (sweep_studies.space): data: ")
    assert "this machine's data differ" in line and "BTC/USDT 4h: sha256" in line
    assert "(got " not in line  # the study is named once, by the label; no stray value
    assert sql(study_dir.url, "SELECT status, ended_at FROM sweep_studies") == before
    assert sql(study_dir.url, "SELECT count(*) AS n FROM sweep_participants")[0]["n"] == 1

    bare, env = other_host(study_dir, "host-d", data=False)
    p = run_cli("worker", name, cwd=bare, env=env)
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "BTC" in p.stderr


def test_an_unknown_study_is_one_line_naming_it(workdir: Path) -> None:
    """Bad --jobs, --timeout and study names: see the bad-input corpus (test_bad_input.py)."""
    p = run_cli("worker", "nosuch", cwd=workdir)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("error: STUDY: no such study in the database (got 'nosuch'); ")
    assert "`sweep studies` lists them" in line
