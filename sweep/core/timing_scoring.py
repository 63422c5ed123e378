"""Vectorised scores of many entry schedules on one period (the engine of :mod:`sweep.core.timing`).

Each formula reproduces the matching function of :mod:`sweep.core.metrics` from per-entry sums
instead of a per-bar series; the tests check every one against ``compute_metrics`` on the
actual schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Parts = dict[str, FloatArray]


@dataclass(frozen=True, eq=False)
class TradeTable:
    """The trade a signal at each bar ``t`` of a scored period would open, one value per bar.

    ``exit_index[t]``: the bar at whose close it exits (``> t``), or -1 where no trade can open
    (the last bar: no next open). ``net_return[t]``: its net return on the committed capital,
    fees and slippage included. While it is open (bars ``t + 1 .. exit - 1``) the position is
    worth ``mark_intercept[t] + mark_slope[t] * close[i]`` per 1.0 committed (a long position:
    intercept 0, slope = units bought per 1.0 committed).
    """

    exit_index: IntArray
    net_return: FloatArray
    mark_intercept: FloatArray
    mark_slope: FloatArray


@dataclass(frozen=True, eq=False)
class ScoredPeriod:
    """One backtest's scored bars: the test period, or one walk-forward fold's evaluated block.

    ``signals`` are the signal bars of the actual trades (each trade's entry bar minus one);
    ``bh_return`` is buy and hold over these bars (:func:`sweep.core.metrics.bh_return`).
    """

    close: FloatArray
    table: TradeTable
    signals: IntArray
    size: float
    bh_return: float
    bars_per_year: float

    @property
    def n_bars(self) -> int:
        return int(self.close.shape[0])


# The same tolerance as sweep.core.metrics.sharpe / sortino: a constant series can leave a
# rounding-noise standard deviation.
_FLAT = 1e-15


@dataclass(frozen=True, eq=False)
class EntryStats:
    """Per possible signal bar (index ``n``: "no trade", for draws that ran out of room): the
    sums over its trade's bars of the per-bar returns ``r``, ``r**2`` and ``min(r, 0)**2``; the
    lowest and highest value ``g`` of its path relative to the equity it started from (the exit
    bar's ``g`` is ``1 + size * net_return``); the largest drawdown inside the path from its own
    running peak; the bars it holds; its net return."""

    n_bars: int
    size: float
    bh_return: float
    bars_per_year: float
    s1: FloatArray
    s2: FloatArray
    down2: FloatArray
    g_min: FloatArray
    g_max: FloatArray
    inner_dd: FloatArray
    held: FloatArray
    growth: FloatArray
    net: FloatArray
    traded: npt.NDArray[np.bool_]


def entry_stats(period: ScoredPeriod) -> EntryStats:
    """One pass over offsets 1 .. longest trade, vectorised over every possible entry."""
    tab, close, n, size = period.table, period.close, period.n_bars, period.size
    exit_index = np.asarray(tab.exit_index, dtype=np.int64)
    t = np.flatnonzero(exit_index >= 0)
    ex = exit_index[t]
    if np.any(ex <= t) or np.any(ex >= n):
        raise ValueError("trade table: exit_index must be after its bar and inside the period")
    dur = ex - t
    # The backtest's arithmetic: (1 - size) + size * units * close while open.
    base = (1.0 - size) + size * tab.mark_intercept[t]
    slope = size * tab.mark_slope[t]
    growth = 1.0 + size * tab.net_return[t]
    m = t.size
    s1, s2, down2, inner = (np.zeros(m) for _ in range(4))
    low, peak, prev = np.full(m, np.inf), np.full(m, -np.inf), np.ones(m)
    for j in range(1, int(dur.max()) + 1 if m else 1):
        idx = np.flatnonzero(dur >= j)
        bar = t[idx] + j
        g = np.where(bar < ex[idx], base[idx] + slope[idx] * close[bar], growth[idx])
        r = g / prev[idx] - 1.0
        s1[idx] += r
        s2[idx] += r * r
        loss = np.minimum(r, 0.0)
        down2[idx] += loss * loss
        pk = np.maximum(peak[idx], g)
        inner[idx] = np.maximum(inner[idx], 1.0 - g / pk)
        peak[idx] = pk
        low[idx] = np.minimum(low[idx], g)
        prev[idx] = g

    def full(values: FloatArray, neutral: float) -> FloatArray:
        out = np.full(n + 1, neutral)
        out[t] = values
        return out

    traded = np.zeros(n + 1, dtype=bool)
    traded[t] = True
    return EntryStats(
        n_bars=n,
        size=size,
        bh_return=float(period.bh_return),
        bars_per_year=float(period.bars_per_year),
        s1=full(s1, 0.0),
        s2=full(s2, 0.0),
        down2=full(down2, 0.0),
        g_min=full(low, 1.0),
        g_max=full(peak, 1.0),
        inner_dd=full(inner, 0.0),
        held=full(dur.astype(np.float64), 0.0),
        growth=full(growth, 1.0),
        net=full(tab.net_return[t], 0.0),
        traded=traded,
    )


def period_parts(stats: EntryStats, schedules: IntArray, objective: str) -> Parts:
    """What :func:`combine` needs of ``objective`` for each schedule (row) on one period."""
    short = schedules < 0
    idx = np.where(short, stats.n_bars, schedules) if short.any() else schedules
    if objective in ("win_rate", "avg_trade_return", "profit_factor"):
        net = stats.net[idx]
        return {
            "count": stats.traded[idx].sum(axis=1).astype(np.float64),
            "wins": (net > 0).sum(axis=1).astype(np.float64),
            "sum": net.sum(axis=1),
            "gain": np.maximum(net, 0.0).sum(axis=1),
            "loss": -np.minimum(net, 0.0).sum(axis=1),
        }
    return {"value": _period_value(stats, idx, objective)}


def _period_value(stats: EntryStats, idx: IntArray, objective: str) -> FloatArray:
    n, bpy = stats.n_bars, stats.bars_per_year
    if objective == "sharpe":
        s1 = stats.s1[idx].sum(axis=1)
        var = (stats.s2[idx].sum(axis=1) - s1 * s1 / n) / (n - 1) if n > 1 else np.zeros_like(s1)
        sd = np.sqrt(np.maximum(var, 0.0))
        return _ratio(s1 / n, sd, n, bpy)
    if objective == "sortino":
        s1 = stats.s1[idx].sum(axis=1)
        downside = np.sqrt(stats.down2[idx].sum(axis=1) / n)
        return _ratio(s1 / n, downside, n, bpy)
    if objective == "max_drawdown":
        return _max_drawdown(stats, idx)
    total: FloatArray = np.prod(stats.growth[idx], axis=1) - 1.0
    if objective == "total_return":
        return total
    if objective == "alpha":
        return total - stats.bh_return
    if objective == "alpha_exposure":
        committed: FloatArray = stats.held[idx].sum(axis=1) / n * stats.size
        return total - committed * stats.bh_return
    if objective == "annual_return":
        growth = 1.0 + total
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            cagr = np.power(np.maximum(growth, 0.0), bpy / n) - 1.0
        return np.where(growth <= 0.0, -1.0, cagr)
    raise ValueError(f"timing test: no schedule score for objective {objective!r}")


def _ratio(mean: FloatArray, spread: FloatArray, n: int, bars_per_year: float) -> FloatArray:
    """``mean / spread * sqrt(bars_per_year)``, 0.0 where the spread is rounding noise (as in
    :func:`sweep.core.metrics.sharpe`)."""
    ok = spread > _FLAT
    if n < 2:
        return np.zeros_like(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / spread * math.sqrt(bars_per_year)
    return np.where(ok, out, 0.0)


def _max_drawdown(stats: EntryStats, idx: IntArray) -> FloatArray:
    """:func:`sweep.core.metrics.max_drawdown` of each schedule, trade by trade.

    Inside a trade that starts at equity ``L`` under the running peak ``P``, the drawdown at a
    bar worth ``L g`` is ``1 - L g / max(P, L G)`` with ``G`` the trade's own running peak, which
    is ``max(1 - L g / P, 1 - g / G)``: so a trade's worst drawdown is
    ``max(1 - L g_min / P, inner_dd)``. Flat bars sit at ``L``, the exit bar's level."""
    k = idx.shape[0]
    level, peak, worst = np.ones(k), np.ones(k), np.zeros(k)
    for j in range(idx.shape[1]):
        e = idx[:, j]
        worst = np.maximum(
            worst, np.maximum(1.0 - level * stats.g_min[e] / peak, stats.inner_dd[e])
        )
        peak = np.maximum(peak, level * stats.g_max[e])
        level = level * stats.growth[e]
    return np.maximum(worst, 0.0)


def combine(parts: list[Parts], objective: str) -> FloatArray:
    """The run's value from its periods' parts, as :func:`sweep.core.pipeline.run_pipeline` combines
    walk-forward folds: the mean over periods, or pooled over all their trades."""
    if "value" in parts[0]:
        values = np.stack([p["value"] for p in parts])
        mean: FloatArray = values[0] if len(parts) == 1 else np.mean(values, axis=0)
        return mean
    count = _total(parts, "count")
    has = count > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        if objective == "win_rate":
            return np.where(has, _total(parts, "wins") / count, 0.0)
        if objective == "avg_trade_return":
            return np.where(has, _total(parts, "sum") / count, 0.0)
        loss = _total(parts, "loss")
        # No trade or no losing trade: sweep.core.metrics.profit_factor gives None, the best case.
        return np.where(has & (loss > 0), _total(parts, "gain") / loss, np.inf)


def _total(parts: list[Parts], key: str) -> FloatArray:
    total: FloatArray = np.sum(np.stack([p[key] for p in parts]), axis=0)
    return total
