"""Metric names and units, without numpy: `sweep results` and the report import them cheaply.

``BACKTEST_METRICS`` are the fields of :class:`sweep.core.metrics.Metrics`, written out
(tests/cli/test_cli_data.py checks they are the same)."""

from __future__ import annotations

__all__ = ["BACKTEST_METRICS", "FRACTION_METRICS"]

# Metrics that are fractions (0.534 = 53.4%): percentages for people, fractions for machines.
FRACTION_METRICS = frozenset(
    {
        "win_rate",
        "total_return",
        "bh_return",
        "alpha",
        "max_drawdown",
        "exposure",
        "avg_trade_return",
        "annual_return",
        "label_rate",
    }
)

BACKTEST_METRICS = (
    "sharpe",
    "sortino",
    "win_rate",
    "total_return",
    "bh_return",
    "alpha",
    "alpha_exposure",
    "max_drawdown",
    "n_trades",
    "exposure",
    "profit_factor",
    "avg_trade_return",
    "auc",
    "n_bars",
    "annual_return",
)
