"""The gate: failure wording, order, skipped thresholds, missing metrics."""

from __future__ import annotations

import math

import pytest

from sweep.core.gate import (
    PER_RUN_CHECKS,
    GateVerdict,
    constraint_values,
    evaluate_gate,
    feasible,
)

GOOD: dict[str, float | int | None] = {
    "sharpe": 1.5,
    "win_rate": 0.55,
    "n_trades": 120,
    "alpha": 0.03,
    "max_drawdown": 0.12,
    "dsr": 0.97,
    "pbo": 0.1,
}
ALL = {
    "min_sharpe": 1.0,
    "min_win_rate": 0.5,
    "min_trades": 30,
    "min_alpha": 0.0,
    "max_drawdown": 0.25,
    "min_dsr": 0.95,
    "max_pbo": 0.2,
}


def test_pass() -> None:
    assert evaluate_gate(GOOD, **ALL) == GateVerdict(passed=True, failures=())  # type: ignore[arg-type]
    assert evaluate_gate(GOOD).passed


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sharpe", 0.42, "sharpe 0.42 < 1.00"),
        ("win_rate", 0.481, "win_rate 48.1% < 50.0%"),
        ("n_trades", 0, "n_trades 0 < 30"),
        ("alpha", -0.042, "alpha -4.2% < 0.0%"),
        ("max_drawdown", 0.31, "max_drawdown 31.0% > 25.0%"),
        ("dsr", 0.81, "dsr 0.81 < 0.95"),
        ("pbo", 0.35, "pbo 0.35 > 0.20"),
    ],
)
def test_each_failure_string(key: str, value: float, expected: str) -> None:
    verdict = evaluate_gate({**GOOD, key: value}, **ALL)  # type: ignore[arg-type]
    assert verdict == GateVerdict(passed=False, failures=(expected,))


def test_failures_in_stable_order() -> None:
    bad: dict[str, float | int | None] = {
        "pbo": 0.35,
        "dsr": 0.81,
        "max_drawdown": 0.31,
        "alpha": -0.042,
        "n_trades": 0,
        "win_rate": 0.481,
        "sharpe": 0.42,
    }
    verdict = evaluate_gate(bad, **ALL)  # type: ignore[arg-type]
    assert not verdict.passed
    assert verdict.failures == (
        "sharpe 0.42 < 1.00",
        "win_rate 48.1% < 50.0%",
        "n_trades 0 < 30",
        "alpha -4.2% < 0.0%",
        "max_drawdown 31.0% > 25.0%",
        "dsr 0.81 < 0.95",
        "pbo 0.35 > 0.20",
    )


def test_none_thresholds_are_not_checked() -> None:
    bad = {"sharpe": -3.0, "win_rate": 0.0, "n_trades": 0}
    verdict = evaluate_gate(bad, min_sharpe=None, min_win_rate=None, min_trades=None)
    assert verdict == GateVerdict(passed=True, failures=())


def test_defaults_check_sharpe_win_rate_trades_only() -> None:
    # No alpha / drawdown / dsr / pbo in the metrics, and the defaults do not ask for them.
    verdict = evaluate_gate({"sharpe": 0.5, "win_rate": 0.6, "n_trades": 10})
    assert verdict.failures == ("sharpe 0.50 < 1.00", "n_trades 10 < 30")


@pytest.mark.parametrize("missing", [None, math.nan, "absent"])
def test_missing_metric_fails_as_na(missing: object) -> None:
    metrics = dict(GOOD)
    if missing == "absent":
        del metrics["dsr"]
        del metrics["max_drawdown"]
        del metrics["n_trades"]
    else:
        metrics["dsr"] = missing  # type: ignore[assignment]
        metrics["max_drawdown"] = missing  # type: ignore[assignment]
        metrics["n_trades"] = missing  # type: ignore[assignment]
    verdict = evaluate_gate(metrics, **ALL)  # type: ignore[arg-type]
    assert verdict.failures == (
        "n_trades n/a < 30",
        "max_drawdown n/a > 25.0%",
        "dsr n/a < 0.95",
    )


def test_threshold_equal_passes() -> None:
    at_limit = {
        "sharpe": 1.0,
        "win_rate": 0.5,
        "n_trades": 30,
        "alpha": 0.0,
        "max_drawdown": 0.25,
        "dsr": 0.95,
        "pbo": 0.2,
    }
    assert evaluate_gate(at_limit, **ALL).passed  # type: ignore[arg-type]


def test_metrics_to_dict_feeds_the_gate() -> None:
    import numpy as np

    from sweep.core.backtest import run_backtest
    from sweep.core.metrics import compute_metrics

    close = np.array([100.0, 101.0, 102.0])
    bt = run_backtest(
        close, close, np.zeros(3), entry_threshold=0.5, size=1, hold_max=1, fee=0, slippage=0
    )
    d = compute_metrics(bt, close, close, bars_per_year=2190, size=1).to_dict()
    verdict = evaluate_gate(d, min_alpha=0.0)
    # No trades: sharpe 0, win rate 0, 0 trades, alpha = 0 - (102/100 - 1) = -2%.
    assert verdict.failures == (
        "sharpe 0.00 < 1.00",
        "win_rate 0.0% < 50.0%",
        "n_trades 0 < 30",
        "alpha -2.0% < 0.0%",
    )


# --- constraint values (sweep.constraints) -------------------------------------------------------


def test_constraint_values_are_relative_shortfalls() -> None:
    thresholds = {"min_trades": 30, "min_sharpe": 1.0, "max_drawdown": 0.2, "min_alpha": 0.0}
    metrics = {"n_trades": 15, "sharpe": 1.5, "max_drawdown": 0.3, "alpha": -0.05}
    got = constraint_values(thresholds, metrics)
    assert got == pytest.approx(
        {"min_trades": 0.5, "min_sharpe": -0.5, "max_drawdown": 0.5, "min_alpha": 0.05}
    )
    assert not feasible(thresholds, metrics)


def test_a_value_equal_to_its_threshold_is_feasible_as_in_the_gate() -> None:
    thresholds = {"min_trades": 30, "max_drawdown": 0.25}
    metrics = {"n_trades": 30, "max_drawdown": 0.25}
    assert constraint_values(thresholds, metrics) == {"min_trades": 0.0, "max_drawdown": 0.0}
    assert feasible(thresholds, metrics)
    assert evaluate_gate(metrics, min_sharpe=None, min_win_rate=None, **thresholds).passed


def test_a_missing_metric_is_a_full_shortfall_and_no_constraints_are_always_met() -> None:
    got = constraint_values({"min_win_rate": 0.5, "min_sharpe": 1.0}, {"sharpe": float("nan")})
    assert got == {"min_win_rate": 1.0, "min_sharpe": 1.0}
    assert feasible({}, {})


_VALUES = [None, math.nan, math.inf, -math.inf, -1.0, 0.0, 0.25, 0.5, 1.0, 30, 29.999]


@pytest.mark.parametrize("value", _VALUES)
@pytest.mark.parametrize("key", sorted(PER_RUN_CHECKS))
@pytest.mark.parametrize("threshold", [0.0, 0.25, 1.0, 30, -0.5])
def test_feasible_agrees_with_the_constraint_values_optuna_reads(
    key: str, threshold: float, value: object
) -> None:
    # feasible() checks metric by metric (the summary asks it of every trial); it must say what
    # the constraint values say: met exactly when none is above 0
    metric = PER_RUN_CHECKS[key][0]
    thresholds = {key: threshold, "min_sharpe": 1.0}
    metrics = {metric: value, "sharpe": 1.5}
    expected = all(v <= 0 for v in constraint_values(thresholds, metrics).values())
    assert feasible(thresholds, metrics) is expected
