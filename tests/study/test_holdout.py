"""Walk-forward studies end to end: pruning recorded as pruned, the sealed holdout and its looks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import optuna
import psycopg
import pytest
from conftest import run_cli

from sweep.core.config import ExperimentConfig
from sweep.store.db import sqlalchemy_url
from sweep.store.registry import HoldoutRecorded, open_registry, query
from sweep.study.holdout import chosen_trial, evaluate_holdout
from sweep.study.runner import compute, persist

SPACE = """\
experiment_id: {name}
symbol: BTC/USDT
timeframe: 4h
feature_groups: {{subset: [momentum, volatility, trend], min_size: 1}}
target: {{horizon: 3, threshold: {{float: [0.004, 0.02], log: true}}}}
position: {{size: 0.05, hold_max: 6}}
training:
  train_ratio: 0.75
  min_samples: 300
  early_stopping_rounds: 10
  cv: {{type: walk_forward, folds: 3, mode: expanding}}
model: {{n_estimators: 60, max_depth: {{int: [2, 5]}}}}
backtest: {{entry_threshold: {{float: [0.5, 0.65]}}}}
data: {{start: 2021-01-01}}
sweep: {{objective: sharpe, sampler: random, seed: 3, pruner: {pruner}}}
"""


def _env() -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture
def wf_study(workdir: Path) -> str:
    (workdir / "space.yaml").write_text(SPACE.format(name="wf", pruner="median"))
    res = run_cli(
        "run",
        "space.yaml",
        "--trials",
        "10",
        "--jobs",
        "1",
        "--no-progress",
        cwd=workdir,
        env=_env(),
    )
    assert res.returncode == 0, res.stderr
    return "wf"


def _rows(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as c:
        return list(c.execute(sql, params).fetchall())


def test_pruned_trials_are_recorded_as_pruned_and_counted(wf_study: str, clean_db: str) -> None:
    study = optuna.load_study(study_name=wf_study, storage=sqlalchemy_url(clean_db))
    states = [t.state.name for t in study.trials]
    assert len(states) == 10 and "RUNNING" not in states
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    registry = _rows(
        clean_db,
        "SELECT e.trial_number, r.status, r.error, r.cpu_s FROM experiments e "
        "JOIN model_results r USING (experiment_id) WHERE e.study_name = %s",
        wf_study,
    )
    by_number = {int(n): (s, e) for n, s, e, _ in registry}  # type: ignore[call-overload]
    assert len(by_number) == 10
    # pruned trials too carry the CPU time they spent before being stopped
    assert all(cpu is not None and float(cpu) > 0 for *_, cpu in registry)  # type: ignore[arg-type]
    for t in pruned:
        status, error = by_number[t.number]
        assert status == "pruned" and "pruned after fold" in str(error)
        assert t.intermediate_values  # it reported folds before being stopped
        assert max(t.intermediate_values) < 3  # never after its last fold: nothing to save
    for t in study.trials:
        if t.state.name == "COMPLETE":
            assert sorted(t.intermediate_values) == [1, 2, 3]


def test_holdout_is_evaluated_once_per_trial_and_every_look_is_counted(
    wf_study: str, workdir: Path, clean_db: str
) -> None:
    first = run_cli("holdout", wf_study, cwd=workdir, env=_env())
    assert first.returncode == 0, first.stderr
    assert "look 1 of 1 on these bars" in first.stdout
    # its own study's folds end where the holdout starts: they did not score these bars
    assert "scored them" not in first.stdout
    shown = re.search(
        r"Sharpe -?\d+\.\d\d \(on days (-?\d+\.\d\d), 95% (-?\d+\.\d\d)\.\.(-?\d+\.\d\d), "
        r"PSR [01]\.\d\d\)",
        first.stdout,
    )
    assert shown or "Sharpe 0.00," in first.stdout, first.stdout  # never traded: no interval
    if shown:  # the interval is centred on the daily Sharpe it is shown with
        daily, lo, hi = (float(g) for g in shown.groups())
        assert lo <= daily <= hi, first.stdout
    again = run_cli("holdout", wf_study, cwd=workdir, env=_env())
    assert "look 1 of 1" in again.stdout and "not a new look" in again.stdout
    flagged = _rows(clean_db, "SELECT experiment_id FROM model_results WHERE holdout")
    assert len(flagged) == 1

    done = _rows(
        clean_db,
        "SELECT e.trial_number FROM experiments e JOIN model_results r "
        "USING (experiment_id) WHERE e.study_name = %s AND r.status = 'ok' "
        "AND NOT r.holdout ORDER BY 1",
        wf_study,
    )
    chosen = str(flagged[0][0]).rsplit("-t", 1)[1]
    other = next(int(n) for (n,) in done if int(n) != int(chosen))  # type: ignore[call-overload]
    second = run_cli("holdout", wf_study, "--trial", str(other), cwd=workdir, env=_env())
    assert "look 2 of 2 on these bars" in second.stdout, second.stdout + second.stderr
    listed = run_cli("results", "--holdout", "--format", "json", cwd=workdir, env=_env())
    looks = sorted((r["look_number"], r["looks_on_bars"]) for r in json.loads(listed.stdout))
    assert looks == [(1, 2), (2, 2)]

    # export of the best trial shows its holdout (not a new look) and still reproduces the
    # walk-forward metrics, which never used the holdout
    exp = run_cli("export", wf_study, "-o", "best.yaml", cwd=workdir, env=_env())
    assert exp.returncode == 0, exp.stderr
    text = (workdir / "best.yaml").read_text()
    assert "sealed holdout of" in text and "look 1 of 2" in text
    rerun = run_cli("run", "best.yaml", "--json", cwd=workdir, env=_env())
    metrics = json.loads(rerun.stdout)["metrics"]
    registered = _rows(
        clean_db,
        "SELECT metrics FROM model_results WHERE experiment_id = %s "
        "AND NOT holdout ORDER BY id LIMIT 1",
        str(flagged[0][0]),
    )
    # the chosen trial's row also carries the study's statistics (dsr, pbo, n_trials_study)
    study_keys = {"dsr", "pbo", "n_trials_study"}
    assert study_keys <= set(registered[0][0])  # type: ignore[arg-type]
    assert metrics == {k: v for k, v in registered[0][0].items() if k not in study_keys}  # type: ignore[union-attr]


def test_a_study_without_cv_has_a_sealed_holdout_and_a_pruner_works(workdir: Path) -> None:
    """Every study scores on walk-forward folds (5 by default), so every study has a sealed
    holdout, and a pruner has folds to judge."""
    space = SPACE.format(name="plain", pruner="median").replace(
        "  cv: {type: walk_forward, folds: 3, mode: expanding}\n", ""
    )
    (workdir / "space.yaml").write_text(space)
    ran = run_cli(
        "run",
        "space.yaml",
        "--trials",
        "2",
        "--jobs",
        "1",
        "--no-progress",
        cwd=workdir,
        env=_env(),
    )
    assert ran.returncode == 0, ran.stderr
    res = run_cli("holdout", "plain", cwd=workdir, env=_env())
    assert res.returncode == 0, res.stderr
    assert "sealed holdout of plain-t" in res.stdout and "look 1 of 1 on these bars" in res.stdout


def test_a_holdout_recorded_meanwhile_is_read_back_not_written_twice(
    wf_study: str, workdir: Path, clean_db: str
) -> None:
    """Two `sweep holdout` runs on one trial: the one that records second gets the first's
    result, not a database error, and nothing of its own stays behind."""
    with open_registry(clean_db) as conn:
        number, eid = chosen_trial(conn, wf_study, None)
        row = conn.execute(query("experiment_config"), {"experiment_id": eid}).fetchone()
        assert row is not None
        cfg = ExperimentConfig.model_validate(row[0])
        sealed = cfg.model_copy(update={"training": cfg.training.model_copy(update={"cv": None})})
        late = compute(sealed)  # computed while the other process evaluates too
        first = evaluate_holdout(conn, wf_study)
        assert first.new and first.trial_number == number and first.look_number == 1
        models = sorted((workdir / ".sweep").rglob("*.ubj"))
        with pytest.raises(HoldoutRecorded):
            persist(conn, late, holdout_of=(cfg, wf_study))
        again = evaluate_holdout(conn, wf_study)
    assert not again.new and (again.look_number, again.looks) == (1, 1)
    assert again.metrics == first.metrics
    assert _rows(clean_db, "SELECT count(*) FROM model_results WHERE holdout") == [(1,)]
    assert _rows(clean_db, "SELECT count(*) FROM holdout_looks") == [(1,)]
    assert sorted((workdir / ".sweep").rglob("*.ubj")) == models  # its model file removed


def test_exporting_another_trial_spends_no_look_and_unfinished_trials_have_none(
    wf_study: str, workdir: Path, clean_db: str
) -> None:
    rows = _rows(
        clean_db,
        "SELECT e.trial_number, r.status FROM experiments e JOIN model_results r "
        "USING (experiment_id) WHERE e.study_name = %s AND NOT r.holdout ORDER BY 1",
        wf_study,
    )
    with open_registry(clean_db) as conn:
        chosen, _ = chosen_trial(conn, wf_study, None)
    other = next(int(n) for n, st in rows if st == "ok" and int(n) != chosen)  # type: ignore[call-overload]
    res = run_cli("export", wf_study, "--trial", str(other), cwd=workdir, env=_env())
    assert res.returncode == 0, res.stderr
    assert "not looked at" in res.stdout and f"--trial {other}" in res.stdout
    assert _rows(clean_db, "SELECT count(*) FROM holdout_looks") == [(0,)]
    # a pruned trial is no candidate: looking at the holdout for it is refused
    pruned = next(int(n) for n, st in rows if st == "pruned")  # type: ignore[call-overload]
    refused = run_cli("holdout", wf_study, "--trial", str(pruned), cwd=workdir, env=_env())
    assert refused.returncode == 2 and "did not complete (pruned)" in refused.stderr
    assert _rows(clean_db, "SELECT count(*) FROM holdout_looks") == [(0,)]
