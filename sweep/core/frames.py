"""The pipeline's steps on whole frames, for notebooks, scripts and live prediction.

Each function is the very code a run uses, applied to every bar it is given: the same feature
columns in the same order, the same labels, the same backtest rules. Nothing here fits or
chooses anything, so nothing here can look ahead beyond what the step itself reads (features
read bars up to t; labels read forward by their reach, which is why they are NaN at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sweep.core.annualisation import bars_per_year_of
from sweep.core.backtest import BacktestResult, backtest_outcomes
from sweep.core.config import ExperimentConfig
from sweep.core.data import COLUMNS
from sweep.core.errors import ConfigError
from sweep.core.features import compute_features, resolve_features
from sweep.core.metrics import compute_metrics
from sweep.core.pipeline import config_prices
from sweep.core.target import config_labels
from sweep.core.trades import ExitReason, outcomes_for

__all__ = ["BacktestReport", "backtest_frame", "feature_frame", "label_series"]


def _check_bars(bars: pd.DataFrame, what: str) -> None:
    missing = [c for c in COLUMNS if c not in bars.columns]
    if missing:
        raise ConfigError(
            f"needs the columns {', '.join(COLUMNS)}",
            key=what,
            value=", ".join(map(str, bars.columns)),
            hint=f"missing: {', '.join(missing)}; sweep.load_bars(cfg) returns such a frame",
        )
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise ConfigError(
            "needs a DatetimeIndex of bar-open times",
            key=what,
            value=type(bars.index).__name__,
            hint="sweep.load_bars(cfg) returns such a frame",
        )


def feature_frame(cfg: ExperimentConfig, bars: pd.DataFrame) -> pd.DataFrame:
    """The config's resolved feature columns (in the model's order) for every bar; a value at
    bar t reads bars up to t only. NaN during each feature's warm-up."""
    _check_bars(bars, "bars")
    names = resolve_features(cfg.feature_groups)
    return compute_features(bars, cfg.timeframe, names)[names]


def label_series(cfg: ExperimentConfig, bars: pd.DataFrame) -> pd.Series:
    """The config's target for every bar (any ``target.type``, for ``position.side``): 1.0, 0.0,
    or NaN where the label reads past the last bar."""
    _check_bars(bars, "bars")
    prices, _, bpy = config_prices(cfg, bars, per_year(cfg, bars))
    return pd.Series(config_labels(cfg, prices, bpy).y, index=bars.index, name="label")


@dataclass(frozen=True)
class BacktestReport:
    """A backtest over given bars: ``metrics`` as stored in the registry (without the run's
    training counts), ``trades`` one row per closed trade, ``equity`` and ``returns`` per bar."""

    metrics: dict[str, float | int | None]
    trades: pd.DataFrame
    equity: pd.Series
    returns: pd.Series
    result: BacktestResult


def backtest_frame(
    cfg: ExperimentConfig,
    bars: pd.DataFrame,
    proba: pd.Series | npt.ArrayLike,
    labels: pd.Series | npt.ArrayLike | None = None,
) -> BacktestReport:
    """Apply the config's backtest rules to all ``bars`` with the probabilities ``proba`` (one
    per bar, aligned by position, or by index for a Series; NaN never signals). ``labels``
    (optional) gives the metrics' AUC."""
    _check_bars(bars, "bars")
    p = _aligned(proba, bars, "proba")
    prices, rule, bpy = config_prices(cfg, bars, per_year(cfg, bars))
    bt = backtest_outcomes(
        prices.close,
        p,
        outcomes_for(prices, rule),
        rule,
        cfg.backtest.entry_threshold,
        cfg.position.size,
    )
    metrics = compute_metrics(
        bt,
        prices.open,
        prices.close,
        bars_per_year=bpy,
        size=cfg.position.size,
        proba=None if labels is None else p,
        labels=None if labels is None else _aligned(labels, bars, "labels"),
    ).to_dict()
    index = pd.DatetimeIndex(bars.index)
    t = bt.trades
    trades = pd.DataFrame(
        {
            "entry_time": index[t.entry_bar],
            "exit_time": index[t.exit_bar],
            "entry_price": t.entry_price,
            "exit_price": t.exit_price,
            "net_return": t.net_return,
            "forced_exit": t.forced_exit,
            "exit_reason": [ExitReason(int(c)).name.lower() for c in t.exit_reason],
        }
    )
    return BacktestReport(
        metrics=metrics,
        trades=trades,
        equity=pd.Series(bt.equity, index=index, name="equity"),
        returns=pd.Series(bt.returns, index=index, name="returns"),
        result=bt,
    )


def per_year(cfg: ExperimentConfig, bars: pd.DataFrame) -> float:
    return bars_per_year_of(
        cfg.backtest.bars_per_year, bars, cfg.timeframe, cfg.backtest.days_per_year
    )


def _aligned(values: pd.Series | npt.ArrayLike, bars: pd.DataFrame, what: str) -> np.ndarray:
    if isinstance(values, pd.Series):
        values = values.reindex(bars.index)
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (len(bars),):
        raise ConfigError(
            "needs one value per bar",
            key=what,
            value=f"shape {arr.shape}",
            hint=f"the bars have {len(bars)} rows",
        )
    return arr
