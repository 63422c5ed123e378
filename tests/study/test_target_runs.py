"""Every new target and side end to end: ``sweep run`` of a YAML, and tiny studies.

Single runs go through ``sweep run`` in-process (the same ``main`` the command calls) on a small
configuration (BTC/USDT 4h from 2021, 60 trees); studies run as real subprocesses, 2-4 trials.
Also here: the seed re-run on a registry that stored it under the old fingerprint, and what
``training.sample_weight: uniqueness`` does to a run.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import yaml
from conftest import SEED_YAML, StudyDir, sql
from psycopg.types.json import Jsonb

from sweep.cli.main import main
from sweep.core.experiment import validate_experiment
from sweep.core.pipeline import run_pipeline
from sweep.store.registry import open_registry
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]
PINNED: dict[str, Any] = json.loads(
    (ROOT / "tests" / "data" / "seed_before_labels.json").read_text()
)
FOUR_HOURS = pd.Timedelta(hours=4)


def small(name: str, target: dict[str, Any], **position: Any) -> dict[str, Any]:
    """A fast experiment on BTC/USDT 4h from 2021 (about 0.2 s)."""
    return {
        "experiment_id": name,
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "feature_groups": ["momentum", "volatility"],
        "target": target,
        "position": {"size": 0.02, "hold_max": 6, **position},
        "training": {"train_ratio": 0.7, "min_samples": 300, "early_stopping_rounds": 10},
        "model": {"n_estimators": 60, "learning_rate": 0.2, "max_depth": 3},
        "backtest": {"entry_threshold": 0.4},
        "data": {"start": "2021-01-01"},
    }


RUNS: list[tuple[str, dict[str, Any]]] = [
    ("trade-long", small("trade-long", {"type": "trade", "threshold": 0.0})),
    (
        "trade-short-borrow-stop",
        {
            **small("trade-short", {"type": "trade", "threshold": 0.002}, side="short"),
            "backtest": {"entry_threshold": 0.4, "borrow_rate": 0.1},
        },
    ),
    (
        "barrier-long-uniqueness",
        {
            **small(
                "barrier-long",
                {"type": "triple_barrier", "take_profit": 0.03, "stop_loss": 0.015},
                hold_max=12,
            ),
            "training": {
                "train_ratio": 0.7,
                "min_samples": 300,
                "early_stopping_rounds": 10,
                "sample_weight": "uniqueness",
            },
        },
    ),
    (
        "barrier-short-atr",
        small(
            "barrier-short",
            {"type": "triple_barrier", "take_profit": 2.0, "stop_loss": 1.0, "atr_multiple": True},
            side="short",
            hold_max=12,
        ),
    ),
    (
        "binary-short",
        small("binary-short", {"type": "binary", "horizon": 3, "threshold": 0.008}, side="short"),
    ),
    (
        "binary-long-with-exits",
        small(
            "binary-exits",
            {"type": "binary", "horizon": 3, "threshold": 0.008},
            take_profit=0.02,
            stop_loss=0.01,
        ),
    ),
]  # fmt: skip


@pytest.fixture
def registry(workdir: Path) -> str:
    url = os.environ["SWEEP_DATABASE_URL"]
    open_registry(url).close()
    return url


@pytest.mark.parametrize(("name", "data"), RUNS, ids=[r[0] for r in RUNS])
def test_each_target_and_side_runs_through_sweep_run(
    registry: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: dict[str, Any],
) -> None:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["run", str(path), "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["error"] is None
    m = out["metrics"]
    assert m["n_test"] > 1000 and 0.0 < m["label_rate"] < 1.0
    cfg = validate_experiment(data)
    rows = sql(
        registry,
        "SELECT e.config, e.config_hash, r.train_to, r.test_from FROM experiments e "
        "JOIN model_results r USING (experiment_id) WHERE experiment_id = %s",
        (cfg.experiment_id,),
    )
    assert len(rows) == 1
    row = rows[0]
    assert validate_experiment(row["config"]) == cfg
    assert row["config_hash"] == cfg.fingerprint()
    # the purge gap is the label's reach: horizon bars (binary) or hold_max bars (trade labels)
    reach = cfg.target.horizon if cfg.target.type == "binary" else cfg.position.hold_max
    assert reach is not None
    assert row["test_from"] - row["train_to"] >= (reach + 1) * FOUR_HOURS


def test_a_run_is_reproducible_and_its_trades_follow_its_exits() -> None:
    data = copy.deepcopy(RUNS[3][1])  # short, ATR barriers
    data["data"]["dir"] = str(ROOT / "data")
    data["backtest"]["entry_threshold"] = 0.25  # the label rate is about a quarter
    cfg = validate_experiment(data)
    ds = load_dataset(cfg)
    first, again = run_pipeline(cfg, ds), run_pipeline(cfg, ds)
    assert first.metrics == again.metrics
    assert first.metrics["n_trades"] == len(first.trade_returns) > 0
    # a short's loss is bounded by its committed capital
    assert first.trade_returns.min() >= -1.0


def test_uniqueness_weights_change_the_model_and_nothing_else(registry: str) -> None:
    data = copy.deepcopy(RUNS[0][1])
    data["data"]["dir"] = str(ROOT / "data")
    plain = validate_experiment(data)
    data["training"]["sample_weight"] = "uniqueness"
    weighted = validate_experiment(data)
    ds = load_dataset(plain)
    a, b = run_pipeline(plain, ds), run_pipeline(weighted, ds)
    # same rows, split and labels; a different fit (hold_max 6: labels overlap up to 6 ways)
    for key in ("n_fit", "n_valid", "n_test", "label_rate"):
        assert a.metrics[key] == b.metrics[key]
    assert (a.metrics["auc"], a.metrics["best_iteration"]) != (
        b.metrics["auc"],
        b.metrics["best_iteration"],
    )
    assert run_pipeline(weighted, ds).metrics == b.metrics


# --- the seed on a registry written before the fingerprint left defaults out -----------------


def test_the_seed_reruns_on_a_registry_that_stored_its_old_full_config(
    registry: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = PINNED["seed_registered"]
    seed = validate_experiment(yaml.safe_load(SEED_YAML.read_text()))
    assert old["config_hash"] != seed.fingerprint()  # the hash did change: defaults left out
    with psycopg.connect(registry, autocommit=True) as c:
        c.execute(
            "INSERT INTO experiments (experiment_id, config, config_hash, symbol, timeframe, "
            "model_type, feature_groups) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                seed.experiment_id,
                Jsonb(old["config"]),
                old["config_hash"],
                "BTC/USDT",
                "4h",
                "xgboost",
                ["momentum", "volume", "volatility"],
            ),
        )
    (workdir / "experiments").mkdir()
    shutil.copy(SEED_YAML, workdir / "experiments" / SEED_YAML.name)
    assert main(["run", f"experiments/{SEED_YAML.name}", "--json"]) == 0, capsys.readouterr()
    out = json.loads(capsys.readouterr().out)
    pinned = PINNED["seed"]["metrics"]
    assert {k: out["metrics"].get(k) for k in pinned} == pinned  # later metrics are added
    stored = sql(registry, "SELECT config, config_hash FROM experiments")
    assert len(stored) == 1
    assert stored[0]["config_hash"] == seed.fingerprint()  # the row now in today's form
    assert stored[0]["config"] == seed.to_json_dict()

    # a different config under the same id is still refused
    changed = yaml.safe_load(SEED_YAML.read_text())
    changed["position"]["side"] = "short"
    path = workdir / "experiments" / "changed.yaml"
    path.write_text(yaml.safe_dump(changed, sort_keys=False))
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "different config (changed: position.side)" in err


# --- tiny studies -------------------------------------------------------------------------------


def study_space(name: str, target: dict[str, Any], **position: Any) -> dict[str, Any]:
    space = small(name, target, **position)
    space["sweep"] = {"objective": "sharpe", "sampler": "random", "seed": 5}
    return space


def trial_rows(url: str, study: str) -> list[dict[str, Any]]:
    return sql(
        url,
        "SELECT e.config, r.status, r.metrics, r.train_to, r.test_from FROM experiments e "
        "JOIN model_results r USING (experiment_id) WHERE e.study_name = %s AND NOT r.holdout "
        "ORDER BY e.trial_number",
        (study,),
    )


def test_a_trade_study_tunes_side_threshold_and_sample_weight(study_dir: StudyDir) -> None:
    space = study_space(
        "trade-study",
        {"type": "trade", "threshold": {"float": [0.0, 0.01]}},
        hold_max={"int": [2, 8]},
        side={"choice": ["long", "short"]},
    )
    space["backtest"]["borrow_rate"] = 0.05
    space["training"]["sample_weight"] = {"choice": ["none", "uniqueness"]}
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "4", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    rows = trial_rows(study_dir.url, "trade-study")
    assert [r["status"] for r in rows] == ["ok"] * 4
    cfgs = [validate_experiment(r["config"]) for r in rows]
    assert {c.position.side for c in cfgs} == {"long", "short"}
    assert {c.training.sample_weight for c in cfgs} == {"none", "uniqueness"}
    for cfg in cfgs:
        # a study scores on walk-forward folds (5 by default): the folds' purge follows the
        # trade's reach (tests/core/test_label_split.py checks the gaps of every target type)
        assert cfg.target.type == "trade" and cfg.target.horizon is None
        assert cfg.training.cv is not None and cfg.training.cv.folds == 5


def test_a_triple_barrier_walk_forward_study_exports_a_reproducible_trial(
    study_dir: StudyDir,
) -> None:
    space = study_space(
        "barrier-study",
        {
            "type": "triple_barrier",
            "take_profit": {"float": [0.01, 0.05], "log": True},
            "stop_loss": {"float": [0.005, 0.03], "log": True},
        },
        hold_max=12,
        side={"choice": ["long", "short"]},
    )
    space["training"]["cv"] = {"type": "walk_forward", "folds": 3}
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "3", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    rows = trial_rows(study_dir.url, "barrier-study")
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert {validate_experiment(r["config"]).position.side for r in rows} == {"long", "short"}
    assert all(r["metrics"]["cv_folds"] == 3 for r in rows)

    # --trial 1: Optuna's trial 1, barrier-study-t0001, the second row
    exported = study_dir.sweep("export", "barrier-study", "--trial", "1", "-o", "t2.yaml")
    assert exported.returncode == 0, exported.stderr
    data = yaml.safe_load((study_dir.path / "t2.yaml").read_text())
    assert data["target"]["type"] == "triple_barrier"
    run = study_dir.sweep("run", "t2.yaml", "--json")
    assert run.returncode == 0, run.stderr
    study_level = {"dsr", "pbo", "n_trials_study"}  # written onto the chosen trial's row
    trial = {k: v for k, v in rows[1]["metrics"].items() if k not in study_level}
    assert json.loads(run.stdout)["metrics"] == trial


def test_a_binary_short_study_with_atr_stops(study_dir: StudyDir) -> None:
    space = study_space(
        "binary-short-study",
        {"type": "binary", "horizon": {"int": [2, 6]}, "threshold": {"float": [0.004, 0.02]}},
        side="short",
        atr_multiple=True,
        stop_loss={"float": [1.0, 3.0]},
    )
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "2", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    rows = trial_rows(study_dir.url, "binary-short-study")
    assert [r["status"] for r in rows] == ["ok"] * 2
    for r in rows:
        cfg = validate_experiment(r["config"])
        assert (cfg.position.side, cfg.position.atr_multiple) == ("short", True)
        assert cfg.position.stop_loss is not None and 1.0 <= cfg.position.stop_loss <= 3.0
