"""The pass/fail gate a result must clear to count as a candidate.

A failed gate is a result, not an exception: :func:`evaluate_gate` returns a :class:`GateVerdict`
whose ``failures`` are one short line per failed check (stored in ``model_results.gate_failures``),
for example ``sharpe 0.42 < 1.00`` or ``win_rate 48.1% < 50.0%``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = [
    "PER_RUN_CHECKS",
    "GateVerdict",
    "constraint_values",
    "evaluate_gate",
    "feasible",
    "format_threshold",
    "shortfall",
]


@dataclass(frozen=True)
class GateVerdict:
    """``passed`` is True exactly when ``failures`` is empty; failures are in check order."""

    passed: bool
    failures: tuple[str, ...]


# The gate's checks that one run can be held to (dsr and pbo are about a whole study): gate key ->
# (metric, True when the metric must be at least the threshold, False when at most).
PER_RUN_CHECKS: dict[str, tuple[str, bool]] = {
    "min_sharpe": ("sharpe", True),
    "min_win_rate": ("win_rate", True),
    "min_trades": ("n_trades", True),
    "min_alpha": ("alpha", True),
    "max_drawdown": ("max_drawdown", False),
}


def constraint_values(
    thresholds: Mapping[str, float], metrics: Mapping[str, float | int | None]
) -> dict[str, float]:
    """Optuna constraint values for a run's metrics: per gate key, the relative shortfall
    ``(threshold - value) / |threshold|`` (``value - threshold`` for a maximum; divided by 1 when
    the threshold is 0). At most 0 means met, so a value equal to its threshold passes, as in the
    gate. Relative, so a shortfall of 10 trades and one of 0.1 Sharpe weigh alike in the sum by
    which Optuna ranks infeasible trials. A missing or NaN metric counts as a shortfall of 1.
    Keys come sorted: Optuna's GP sampler reads a trial's constraints by position, so every path
    (a worker's own trial, a mirrored or re-queued one) must give them in one order."""
    return {
        key: _constraint_value(key, threshold, metrics)
        for key, threshold in sorted(thresholds.items())
    }


def _constraint_value(
    key: str, threshold: float, metrics: Mapping[str, float | int | None]
) -> float:
    """One constraint's value (:func:`constraint_values`)."""
    metric, is_minimum = PER_RUN_CHECKS[key]
    raw = metrics.get(metric)
    value = None if raw is None else float(raw)
    if value is None or math.isnan(value):
        return 1.0
    short = threshold - value if is_minimum else value - threshold
    return short / (abs(threshold) or 1.0)


def shortfall(thresholds: Mapping[str, float], metrics: Mapping[str, float | int | None]) -> float:
    """How far the metrics miss the constraints: the sum of the positive constraint values (what
    Optuna's samplers rank infeasible trials by); 0 when they meet them all."""
    return sum(v for v in constraint_values(thresholds, metrics).values() if v > 0)


def feasible(thresholds: Mapping[str, float], metrics: Mapping[str, float | int | None]) -> bool:
    """Whether the metrics meet every constraint (``constraint_values`` all at most 0). Checked
    constraint by constraint, stopping at the first miss: a study's summary asks this of every
    trial."""
    return all(_constraint_value(k, t, metrics) <= 0 for k, t in thresholds.items())


def _ratio(x: float) -> str:
    return f"{x:.2f}"


def _percent(x: float) -> str:
    return f"{x:.1%}"


def _count(x: float) -> str:
    return f"{x:.0f}"


_FORMATS: dict[str, Callable[[float], str]] = {
    "sharpe": _ratio,
    "win_rate": _percent,
    "n_trades": _count,
    "alpha": _percent,
    "max_drawdown": _percent,
    "dsr": _ratio,
    "pbo": _ratio,
}


def format_threshold(metric: str, x: float) -> str:
    """A metric's value as the gate prints it: ``1.00``, ``50.0%``, ``30``."""
    return _FORMATS[metric](x)


def evaluate_gate(
    metrics: Mapping[str, float | int | None],
    *,
    min_sharpe: float | None = 1.0,
    min_win_rate: float | None = 0.5,
    min_trades: int | None = 30,
    min_alpha: float | None = None,
    max_drawdown: float | None = None,
    min_dsr: float | None = None,
    max_pbo: float | None = None,
) -> GateVerdict:
    """Check ``metrics`` (``Metrics.to_dict()`` plus optional ``dsr``/``pbo``) against thresholds.

    Checks, in this order: ``sharpe >= min_sharpe``, ``win_rate >= min_win_rate``,
    ``n_trades >= min_trades``, ``alpha >= min_alpha``, ``max_drawdown <= max_drawdown``,
    ``dsr >= min_dsr``, ``pbo <= max_pbo``. A threshold of None is not checked. A metric that is
    missing, None or NaN while its threshold is set fails with ``n/a`` in place of its value
    (``dsr n/a < 0.95``). Ratios print with 2 decimals, fractions as percentages with 1 decimal
    (``win_rate``, ``alpha``, ``max_drawdown``), trade counts as integers. A value equal to its
    threshold passes.
    """
    # (metric key, threshold, fails when value is below (True) or above (False), formatter)
    checks: tuple[tuple[str, float | None, bool], ...] = (
        ("sharpe", min_sharpe, True),
        ("win_rate", min_win_rate, True),
        ("n_trades", min_trades, True),
        ("alpha", min_alpha, True),
        ("max_drawdown", max_drawdown, False),
        ("dsr", min_dsr, True),
        ("pbo", max_pbo, False),
    )
    failures: list[str] = []
    for key, threshold, is_minimum in checks:
        fmt = _FORMATS[key]
        if threshold is None:
            continue
        op = "<" if is_minimum else ">"
        raw = metrics.get(key)
        value = None if raw is None else float(raw)
        if value is None or math.isnan(value):
            failures.append(f"{key} n/a {op} {fmt(threshold)}")
            continue
        failed = value < threshold if is_minimum else value > threshold
        if failed:
            failures.append(f"{key} {fmt(value)} {op} {fmt(threshold)}")
    return GateVerdict(passed=not failures, failures=tuple(failures))
