"""The selection-bias statistics, where users import them: ``from sweep.stats import
deflated_sharpe_ratio``. Pure functions of return series and trial counts; they live in
:mod:`sweep.core.stats` (the pure layer) and are re-exported here unchanged."""

from __future__ import annotations

from sweep.core.stats import (
    EULER_MASCHERONI,
    PBOResult,
    SharpeStats,
    StatsError,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_interval,
    sharpe_stats,
    trial_sharpe_variance,
)

__all__ = [
    "EULER_MASCHERONI",
    "PBOResult",
    "SharpeStats",
    "StatsError",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_interval",
    "sharpe_stats",
    "trial_sharpe_variance",
]
