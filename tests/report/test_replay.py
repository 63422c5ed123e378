"""The report's own computations: curves of a recomputed run, monthly returns, Optuna's view."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from conftest import seed_with

from sweep.core.backtest import run_backtest
from sweep.core.experiment import validate_experiment
from sweep.core.pipeline import ExperimentResult, FoldRun
from sweep.report.figures import MAX_POINTS, _thin, optuna_figures, single_objective_view
from sweep.report.replay import curves, monthly_returns


def _fold(start: str, open_: list[float], close: list[float], proba: list[float]) -> FoldRun:
    bt = run_backtest(
        np.array(open_),
        np.array(close),
        np.array(proba),
        entry_threshold=0.5,
        size=0.5,
        hold_max=2,
        fee=0.0,
        slippage=0.0,
    )
    index = pd.date_range(start, periods=len(close), freq="4h", tz="UTC")
    metrics = {"sharpe": 1.0, "exposure": bt.exposure, "n_trades": len(bt.trades)}
    return FoldRun(metrics, index, np.array(open_), np.array(close), bt)


def test_a_walk_forward_curve_is_its_folds_blocks_with_both_benchmarks() -> None:
    cfg = validate_experiment(seed_with("position.size", 0.5))
    # fold 1: a signal at bar 0 enters at bar 1's open (100) and exits at bar 2's close (110)
    f1 = _fold("2024-01-01", [99, 100, 104, 108], [100, 104, 110, 108], [0.9, 0, 0, 0])
    # fold 2 starts later (its own block): no trade
    f2 = _fold("2024-03-01", [50, 52], [52, 51], [0, 0])
    result = ExperimentResult(
        config=cfg,
        metrics={},
        verdict=None,  # type: ignore[arg-type]
        model=None,  # type: ignore[arg-type]
        feature_names=[],
        split=None,  # type: ignore[arg-type]
        train_from=f1.index[0],
        train_to=f1.index[0],
        test_from=f1.index[0],
        test_to=f2.index[-1],
        test_index=f1.index.append(f2.index),
        test_returns=np.concatenate([f1.backtest.returns, f2.backtest.returns]),
        trade_returns=np.zeros(0),
        bars_per_year=2190.0,
        timing=None,  # type: ignore[arg-type]
        scored_periods=(),
        folds=(f1, f2),
    )
    r = curves(cfg, result, {})
    assert list(r.index) == list(f1.index) + list(f2.index)
    # the strategy: half the equity in the trade from 100 to 110, so +5% in all
    assert r.equity[-1] == pytest.approx(1.05)
    # buy and hold: from each block's first open, close to close within a block
    bh = [100 / 99, 104 / 100, 110 / 104, 108 / 110, 52 / 50, 51 / 52]
    assert r.bh_equity == pytest.approx(np.cumprod(bh))
    # exposure-matched: bars in a position over all bars, times position.size
    fraction = (f1.backtest.exposure * 4 + f2.backtest.exposure * 2) / 6 * 0.5
    assert r.matched_fraction == pytest.approx(fraction) and fraction > 0
    assert r.matched_equity == pytest.approx(np.cumprod(1 + fraction * (np.array(bh) - 1)))
    assert r.drawdown.min() == 0.0 and np.all(r.drawdown >= 0)
    assert [f["fold"] for f in r.folds] == [1, 2] and r.folds[1]["bars"] == 2
    assert len(r.trades) == 1 and r.trades["net_return"].iloc[0] == pytest.approx(0.1)
    assert r.trades["entry_time"].iloc[0] == f1.index[1]


def test_monthly_returns_compound_within_each_month() -> None:
    index = pd.DatetimeIndex(["2024-01-30", "2024-01-31", "2024-02-01", "2025-03-05"], tz="UTC")
    table = monthly_returns(index, np.array([0.1, -0.1, 0.05, 0.02]))
    assert table.loc[2024, 1] == pytest.approx(1.1 * 0.9 - 1)
    assert table.loc[2024, 2] == pytest.approx(0.05)
    assert math.isnan(table.loc[2024, 3])
    assert table.loc[2024, "year"] == pytest.approx(1.1 * 0.9 * 1.05 - 1)
    assert table.loc[2025, 3] == pytest.approx(0.02)
    assert list(table.columns) == [*range(1, 13), "year"]


def test_a_long_curve_is_thinned_keeping_the_worst_drawdown() -> None:
    n = MAX_POINTS * 3 + 7
    index = pd.date_range("2020-01-01", periods=n, freq="1h", tz="UTC")
    dd = np.zeros(n)
    dd[10_001] = 0.42  # a one-bar trough
    x, y = _thin(index, dd, "max")
    assert len(y) <= MAX_POINTS and y.max() == 0.42
    x, y = _thin(index, np.arange(n, dtype=np.float64), "last")
    assert y[-1] == n - 1 and str(x[-1]) == index[-1].strftime("%Y-%m-%dT%H:%M")


def test_optuna_plots_keep_the_dashboards_trial_numbers() -> None:
    """Pruned and failed trials between completed ones: each completed trial keeps its own
    number in the plots (the dashboard's "Trial N"), and every plot draws, even when no trial
    meets the study's constraints (Optuna's best_trial raises then)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    dists = {
        "model.max_depth": optuna.distributions.IntDistribution(2, 8),
        "target.threshold": optuna.distributions.FloatDistribution(0.001, 0.03, log=True),
        "feature_groups": optuna.distributions.CategoricalDistribution(["a", "a+b", "b"]),
    }
    rng = np.random.default_rng(0)
    states = []
    for i in range(24):
        state = [
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL,
        ][i % 3 if i % 3 else 0]
        if i % 5 == 1:
            state = optuna.trial.TrialState.PRUNED
        states.append(state)
        params = {
            "model.max_depth": int(rng.integers(2, 9)),
            "target.threshold": float(rng.uniform(0.001, 0.03)),
            "feature_groups": ["a", "a+b", "b"][i % 3],
        }
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                params=params,
                distributions=dists,
                value=float(rng.normal()) if state == optuna.trial.TrialState.COMPLETE else None,
                # constraint values, as sweep stores them: every trial misses them
                system_attrs={"constraints": [float(rng.uniform(0.1, 1.0))]},
            )
        )
    view = single_objective_view(study.trials, 0, "maximize", "sharpe")
    done = [t.number for t in view.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]
    assert done == [i for i, s in enumerate(states) if s == optuna.trial.TrialState.COMPLETE]
    assert view.metric_names == ["sharpe"]
    assert all(t.constraints for t in view.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    got = {f.key: f for f in optuna_figures(view, "sharpe")}
    assert set(got) == {"history", "importance", "parallel", "slice", "contour"}
    assert all(f.figure is not None for f in got.values()), {k: f.note for k, f in got.items()}
    history = got["history"].figure
    assert history is not None and history.layout.yaxis.title.text == "sharpe"
    xs = [x for trace in history.data if trace.mode == "markers" for x in trace.x]
    assert sorted(set(xs)) == done
