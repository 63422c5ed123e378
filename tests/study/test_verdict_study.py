"""The verdict end to end: a study is judged when it ends, its rows carry the verdict, exported
files print it, and the default walk-forward folds fit the data before trial 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import StudyDir, sql, tiny_space

from sweep.core.errors import ConfigError
from sweep.store.registry import open_registry
from sweep.study.folds import fit_default_folds
from sweep.study.space import parse_space
from sweep.study.verdict import MIN_TRIALS, Verdict, write_verdict

STUDY = "verdict-tiny"


@pytest.fixture(scope="module")
def sd(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> StudyDir:
    d = StudyDir(tmp_path_factory.mktemp("verdict"), module_db)
    space = tiny_space(STUDY)
    space.pop("training")  # no cv: the study must score on the default folds
    space["training"] = {"train_ratio": 0.7, "min_samples": 300, "early_stopping_rounds": 10}
    d.write("space.yaml", space)
    p = d.sweep("run", "space.yaml", "--trials", "6", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    d.summary = p.stdout  # type: ignore[attr-defined]
    return d


def test_a_study_without_cv_scored_every_trial_on_folds(sd: StudyDir) -> None:
    rows = sql(
        sd.url,
        "SELECT e.config, r.metrics FROM experiments e JOIN model_results r USING "
        "(experiment_id) WHERE e.study_name = %s AND r.status = 'ok'",
        (STUDY,),
    )
    assert rows
    for r in rows:
        assert r["config"]["training"]["cv"]["folds"] == 5
        assert r["metrics"]["cv_folds"] == 5


def test_the_summary_says_the_verdict_right_after_the_counts(sd: StudyDir) -> None:
    lines = sd.summary.splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith(f"study {STUDY}: 6 trials registered")
    assert lines[1].startswith("verdict: undecided — ")
    assert f"at least {MIN_TRIALS} are needed" in lines[1]


def test_every_row_of_the_study_carries_the_verdict(sd: StudyDir) -> None:
    rows = sql(
        sd.url,
        "SELECT r.gate_passed, r.gate_failures FROM model_results r JOIN experiments e "
        "USING (experiment_id) WHERE e.study_name = %s",
        (STUDY,),
    )
    assert rows and not any(r["gate_passed"] for r in rows)
    for r in rows:
        study = [f for f in r["gate_failures"] if f.startswith("study: ")]
        assert study == [study[0]] and study[0].startswith(f"study: {STUDY} is undecided — ")


def test_studies_json_carries_verdict_and_looks(sd: StudyDir) -> None:
    p = sd.sweep("studies", "--format", "json")
    assert p.returncode == 0, p.stderr
    row = next(r for r in json.loads(p.stdout) if r["study_name"] == STUDY)
    assert row["verdict"] == "undecided"
    assert isinstance(row["verdict_reasons"], list) and row["verdict_reasons"]
    assert row["holdout_looks"] == 0 and row["holdout_looks_on_bars"] == 0
    table = sd.sweep("studies").stdout
    assert "verdict" in table.splitlines()[0] and "undecided" in table


def test_the_exported_file_names_its_study_and_running_it_prints_the_verdict(
    sd: StudyDir,
) -> None:
    p = sd.sweep("export", STUDY, "-o", "best.yaml")
    assert p.returncode == 0, p.stderr
    text = (sd.path / "best.yaml").read_text()
    assert "# verdict: undecided — " in text
    assert "# sealed holdout: not looked at" in text
    data = yaml.safe_load(text)
    assert data["provenance"]["study"] == STUDY
    assert data["training"]["cv"] == {"type": "walk_forward", "folds": 5, "mode": "expanding"}
    looks = sql(sd.url, "SELECT count(*) AS n FROM holdout_looks")[0]["n"]
    assert looks == 0, "export never spends a look"
    run = sd.sweep("run", "best.yaml")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("✗ Gate failures: ")
    assert f"study: {STUDY} is undecided" in run.stdout
    # A study this registry does not hold vouches for nothing.
    data["provenance"]["study"] = "elsewhere"
    data["experiment_id"] = "copied-config"
    (sd.path / "copied.yaml").write_text(yaml.safe_dump(data))
    run = sd.sweep("run", "copied.yaml")
    assert run.returncode == 0, run.stderr
    assert "study: verdict unknown — study elsewhere is not in this registry" in run.stdout


def test_an_edge_clears_the_study_entries_and_a_new_verdict_replaces_them(sd: StudyDir) -> None:
    conn = open_registry(sd.url)
    try:
        n = write_verdict(conn, STUDY, Verdict("edge", ["DSR 0.99 >= 0.95"]))
        assert n > 0
        rows = sql(
            sd.url,
            "SELECT r.status, r.gate_passed, r.gate_failures FROM model_results r "
            "JOIN experiments e USING (experiment_id) WHERE e.study_name = %s",
            (STUDY,),
        )
        assert all(not any(f.startswith("study: ") for f in r["gate_failures"]) for r in rows)
        # a row passes exactly when it is ok and its per-run checks passed
        assert all(
            r["gate_passed"] == (r["status"] == "ok" and not r["gate_failures"]) for r in rows
        )
        write_verdict(conn, STUDY, Verdict("no_edge", ["PBO 0.70 > 0.50"]))
        rows = sql(
            sd.url,
            "SELECT r.gate_passed, r.gate_failures FROM model_results r "
            "JOIN experiments e USING (experiment_id) WHERE e.study_name = %s",
            (STUDY,),
        )
        assert not any(r["gate_passed"] for r in rows)
        assert all(sum(f.startswith("study: ") for f in r["gate_failures"]) == 1 for r in rows)
    finally:
        conn.close()


def daily_space(min_samples: int) -> dict[str, object]:
    space = tiny_space("daily")
    space["timeframe"] = "1d"
    space["data"] = {"start": "2019-01-01"}
    space["training"] = {"train_ratio": 0.7, "min_samples": min_samples}
    return space


def test_default_folds_shrink_to_fit_short_data_and_say_so(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    space = parse_space(daily_space(300), file="daily.yaml")
    fitted = fit_default_folds(space)
    folds = fitted.template["training"]["cv"]["folds"]
    assert 2 <= folds < 5
    assert fitted.raw["training"]["cv"]["folds"] == folds  # the workers run the same folds
    assert f"the study uses {folds} folds" in caplog.text


def test_default_folds_that_cannot_fit_are_refused_with_a_hint(workdir: Path) -> None:
    space = parse_space(daily_space(5000), file="daily.yaml")
    with pytest.raises(ConfigError) as info:
        fit_default_folds(space)
    line = info.value.one_line()
    assert line.startswith("daily.yaml: training.cv: too little data for walk-forward folds")
    assert "smaller training.min_samples" in line
