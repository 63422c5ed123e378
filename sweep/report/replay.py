"""A registered run, recomputed for its report: equity, drawdown, benchmarks, folds, trades.

The pipeline is deterministic for a config and its data, so the report reruns the run's stored
config in-process instead of storing curves in the database. The recomputed metrics are compared
with the registered ones; a difference (other data files, another sweep version) is reported on
the page, never hidden.

A walk-forward run's curve is its folds' evaluated blocks, in order, compounded: the same bars
and returns its metrics and stored daily returns come from. Two benchmarks over the same bars:

* **buy and hold**: fully invested in the asset, ``close[t] / close[t-1] - 1`` per bar (the first
  bar of each block from its open), no costs;
* **exposure-matched buy and hold**: the same, scaled to the run's average committed fraction
  ``f = exposure x position.size`` (bars in a position over all bars, times the fraction of
  equity a trade commits): ``prod(1 + f r_t)``. A long-only strategy that holds the asset a
  fraction of the time at a fraction of its equity should be compared with that much market,
  not with all of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sweep.core.config import ExperimentConfig
from sweep.core.errors import SweepError
from sweep.core.pipeline import ExperimentResult, FoldRun
from sweep.study.runner import compute

FloatArray = npt.NDArray[np.float64]

# Metrics a study adds to its chosen trial's row after the run (not the pipeline's)
STUDY_FIGURES = frozenset({"dsr", "pbo", "n_trials_study"})
FOLD_COLUMNS = (
    "sharpe",
    "total_return",
    "bh_return",
    "alpha",
    "max_drawdown",
    "n_trades",
    "win_rate",
    "exposure",
    "auc",
)


@dataclass(frozen=True)
class Replay:
    """A run recomputed: per-bar curves over its scored bars (all folds, in order) and tables."""

    config: ExperimentConfig
    result: ExperimentResult
    fingerprint: dict[str, Any]
    index: pd.DatetimeIndex
    equity: FloatArray
    drawdown: FloatArray  # 1 - equity / running peak, a positive fraction
    bh_equity: FloatArray
    matched_equity: FloatArray
    matched_fraction: float  # exposure x position.size
    folds: list[dict[str, Any]]  # one row per scored block: window, bars, FOLD_COLUMNS
    trades: pd.DataFrame
    monthly: pd.DataFrame  # compounded returns, years x months (1..12), fractions
    mismatches: list[str]  # "sharpe: registered 1.23, recomputed 1.21"


@dataclass(frozen=True)
class NotReplayed:
    """Why a run could not be recomputed (its data are missing, or it fails now)."""

    reason: str


def replay(
    cfg: ExperimentConfig,
    registered: dict[str, Any] | None = None,
    registered_fingerprint: dict[str, Any] | None = None,
) -> Replay | NotReplayed:
    """Recompute ``cfg``'s run and its curves; compare with the registered metrics."""
    try:
        # one thread: the result is the same for any count, and XGBoost's OpenMP threads slow
        # down many times over on a busy machine, which a report does not need to compete for
        computed = compute(cfg, nthread=1)
    except SweepError as e:
        return NotReplayed(e.one_line())
    if computed.result is None:
        return NotReplayed(f"the run fails when recomputed: {computed.error}")
    mismatches = _compare(registered or {}, computed.result.metrics)
    sha = (registered_fingerprint or {}).get("sha256")
    if sha and sha != computed.fingerprint.get("sha256"):
        mismatches.insert(0, "data: this machine's file differs from the one the run used")
    return curves(cfg, computed.result, computed.fingerprint, mismatches)


def _compare(registered: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for key, was in sorted(registered.items()):
        if key in STUDY_FIGURES or key not in now:
            continue
        new = now[key]
        if was is None or new is None:
            same = was is None and new is None
        else:
            same = math.isclose(float(was), float(new), rel_tol=1e-9, abs_tol=1e-12)
        if not same:
            out.append(f"{key}: registered {was}, recomputed {new}")
    return out


def _bh_returns(fold: FoldRun) -> FloatArray:
    """Buy and hold per bar over one block: from the first bar's open, then close to close."""
    close = np.asarray(fold.close, dtype=np.float64)
    out = np.empty_like(close)
    if close.size:
        out[0] = close[0] / float(fold.open[0]) - 1.0
        out[1:] = close[1:] / close[:-1] - 1.0
    return out


def curves(
    cfg: ExperimentConfig,
    result: ExperimentResult,
    fingerprint: dict[str, Any],
    mismatches: list[str] | None = None,
) -> Replay:
    """Equity, drawdown, benchmarks and tables from a pipeline result."""
    folds = list(result.folds)
    index = pd.DatetimeIndex(folds[0].index.append([f.index for f in folds[1:]]))
    returns = np.concatenate([f.backtest.returns for f in folds])
    equity = np.asarray(np.cumprod(1.0 + returns), dtype=np.float64)
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    bh = np.concatenate([_bh_returns(f) for f in folds])
    bars_in = sum(f.backtest.exposure * len(f.index) for f in folds)
    exposure = bars_in / max(1, len(index))
    fraction = float(exposure * cfg.position.size)
    rows = []
    for k, f in enumerate(folds, start=1):
        rows.append(
            {
                "fold": k,
                "from": f.index[0],
                "to": f.index[-1],
                "bars": len(f.index),
                **{c: f.metrics.get(c) for c in FOLD_COLUMNS},
            }
        )
    return Replay(
        config=cfg,
        result=result,
        fingerprint=fingerprint,
        index=index,
        equity=equity,
        drawdown=np.asarray(1.0 - equity / peak, dtype=np.float64),
        bh_equity=np.asarray(np.cumprod(1.0 + bh), dtype=np.float64),
        matched_equity=np.asarray(np.cumprod(1.0 + fraction * bh), dtype=np.float64),
        matched_fraction=fraction,
        folds=rows,
        trades=_trades(folds),
        monthly=monthly_returns(index, returns),
        mismatches=list(mismatches or []),
    )


def _trades(folds: list[FoldRun]) -> pd.DataFrame:
    parts = []
    for k, f in enumerate(folds, start=1):
        t = f.backtest.trades
        idx = pd.DatetimeIndex(f.index)
        parts.append(
            pd.DataFrame(
                {
                    "fold": k,
                    "entry_time": idx[t.entry_bar],
                    "exit_time": idx[t.exit_bar],
                    "entry_price": t.entry_price,
                    "exit_price": t.exit_price,
                    "net_return": t.net_return,
                    "forced_exit": t.forced_exit,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def monthly_returns(index: pd.DatetimeIndex, returns: FloatArray) -> pd.DataFrame:
    """Per-bar returns compounded to calendar months (UTC): a years x months (1..12) frame of
    fractions, NaN for months with no scored bar, and a ``year`` column compounding each row."""
    s = pd.Series(np.log1p(returns), index=index)
    by_month = s.groupby([index.year, index.month]).sum().apply(math.expm1)
    table: pd.DataFrame = by_month.unstack().reindex(columns=range(1, 13))
    table["year"] = s.groupby(index.year).sum().apply(math.expm1)
    table.index.name = None
    return table
