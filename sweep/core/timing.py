"""Timing test: did the strategy's entries earn more than random entries with the same trades?

A strategy can look skilful only because it held the market while the market rose. The timing
test asks whether *when* it entered mattered: it draws ``K`` random entry schedules with the
same number of trades, the same exit rule and the same position size on the same bars, without
overlap, scores each with the same objective and counts how many do at least as well.

The exit rule enters as a :class:`TradeTable`: for every bar ``t`` of a scored period, the trade
a signal at ``t`` would open (exit bar, net return, and how the open position is marked at each
close). Random and actual schedules use that one table, so their trades are the backtest's own.
:func:`long_only_trade_table` builds it for the fixed-hold long-only rule of
:mod:`sweep.core.backtest` from the backtest's own formulas.

**Random schedules.** A schedule is ``m`` signal bars ``t_1 < ... < t_m`` where each ``t_j`` can
open a trade and ``t_{j+1} >= exit[t_j]`` (a trade is closed at its exit bar's close, so that bar
may signal again, as in the backtest). The free bars (those not held) are split among the
``m + 1`` gaps before, between and after the trades as a uniform random split (a flat Dirichlet,
from normalised exponentials), each gap rounded at random so that its mean stays exact and free
time is not pushed towards either end. With a fixed hold (today's rule) that is one loop-free
pass: entry ``j`` is at ``c_j + j * hold`` with ``c`` the sorted split; every draw has exactly
``m`` trades spread over the whole period, the last one possibly forced out at its end, as in
the backtest. With an exit rule whose durations vary, entries are placed one after another: with
``r`` trades left and the next signal allowed at bar ``p``, the room is
``R = last - p - (r - 1) * D`` (``last``: the last bar that can open a trade; ``D``: the median
trade duration) and the gap a ``Beta(1, r)`` share of it; a draw that runs out of room ends with
fewer trades (counted in :attr:`TimingScores.short_draws`).

**Scores.** A trade's per-bar returns do not depend on the equity it starts from (the backtest's
rule 6: equity ``= level * (1 - size + size * value)`` while it is open), so each possible entry's
sums (returns, squared returns, squared losses; lowest, highest and drawdown of its path) are
computed once, and a draw's Sharpe ratio, Sortino ratio, total return, drawdown, win rate, ...
follow from sums over its trades: ``O(K m)`` after an ``O(n hold)`` pass, with no ``K x n``
matrix. The actual schedule is scored by the same code, so a random draw that repeats it ties.

**Randomness.** Period ``f`` (the test period, or walk-forward fold ``f``) of a run with seed
``s`` draws from ``SeedSequence([TIMING_SALT, s, f])``. Trials of a study with one seed thus use
the same ``K`` random streams (common random numbers, as White's Reality Check shares its
bootstrap indices): two trials with the same trades get identical random scores, so a duplicate
trial does not inflate the study's best random score.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sweep.core.timing_scoring import (
    ScoredPeriod,
    TradeTable,
    combine,
    entry_stats,
    period_parts,
)
from sweep.core.trades import ExitRule, TradeOutcomes

__all__ = [
    "SCORED_OBJECTIVES",
    "TIMING_DRAWS",
    "ScoredPeriod",
    "TimingScores",
    "TradeTable",
    "decode_scores",
    "draw_schedules",
    "encode_scores",
    "long_only_trade_table",
    "schedule_equity",
    "study_timing_p",
    "timing_objective",
    "timing_p",
    "timing_scores",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Direction = Literal["maximize", "minimize"]

TIMING_DRAWS = 1000
"""Random schedules per run (K): p-values resolve to 1 / 1001."""
TIMING_SALT = 0x71A1
"""Mixed into the seed so the draws do not share a stream with the model's own seed."""
ENCODING = "zlib-f32le-timing"

_MEAN_OBJECTIVES = frozenset(
    {
        "sharpe",
        "sortino",
        "total_return",
        "alpha",
        "alpha_exposure",
        "annual_return",
        "max_drawdown",
    }
)
_POOLED_OBJECTIVES = frozenset({"win_rate", "avg_trade_return", "profit_factor"})
SCORED_OBJECTIVES = _MEAN_OBJECTIVES | _POOLED_OBJECTIVES
"""Objectives a schedule changes. ``auc``, ``n_trades`` and ``exposure`` do not (random schedules
keep the trade count and holding), so their timing test scores ``sharpe``
(:func:`timing_objective`)."""


@dataclass(frozen=True, eq=False)
class TimingScores:
    """The objective's value for the actual schedule and for each of the ``K`` random ones.

    ``profit_factor`` without a losing trade (or without trades) scores ``inf``."""

    objective: str
    actual: float
    draws: FloatArray
    short_draws: int = 0


def long_only_trade_table(
    open_: npt.ArrayLike, close: npt.ArrayLike, *, hold_max: int, fee: float, slippage: float
) -> TradeTable:
    """The :class:`TradeTable` of :func:`sweep.core.backtest.run_backtest`'s rules 2-5.

    A signal at ``t < n - 1`` enters at ``open[t + 1] * (1 + slippage)`` and exits at the close
    of ``min(t + hold_max, n - 1)`` (a forced exit at the last bar), with the backtest's own
    expressions, so the actual schedule's trades match ``run_backtest``'s to the last bit."""
    o = np.asarray(open_, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    n = c.shape[0]
    if o.shape != (n,) or n == 0:
        raise ValueError(f"long_only_trade_table: open_ and close differ: {o.shape} vs {c.shape}")
    if isinstance(hold_max, bool) or hold_max < 1:
        raise ValueError(f"long_only_trade_table: hold_max must be >= 1, got {hold_max!r}")
    t = np.arange(n - 1, dtype=np.int64)
    exit_ = np.minimum(t + hold_max, n - 1)
    entry_price = o[t + 1] * (1.0 + slippage)
    exit_price = c[exit_] * (1.0 - slippage)
    units_per_capital = 1.0 / (entry_price * (1.0 + fee))
    net = exit_price * (1.0 - fee) * units_per_capital - 1.0
    return TradeTable(
        exit_index=np.r_[exit_, -1].astype(np.int64),
        net_return=np.r_[net, np.nan],
        mark_intercept=np.zeros(n),
        mark_slope=np.r_[units_per_capital, np.nan],
    )


def trade_table(outcomes: TradeOutcomes, rule: ExitRule, fee: float) -> TradeTable:
    """The :class:`TradeTable` of the backtest's own trades (:func:`sweep.core.trades.
    outcomes_for`): the same exit bars and net returns (barrier exits, shorts, liquidation
    included), and the backtest's mark-to-market while a trade is open. A short's mark here
    leaves out the borrow accrued before its exit (its net return at the exit includes it), so
    with ``backtest.borrow_rate`` above 0 a random short schedule's interim marks are a little
    kinder than the backtest's; with the default 0 they are the same."""
    exit_index = np.where(outcomes.exit_bar >= 0, outcomes.exit_bar, -1).astype(np.int64)
    entry = outcomes.entry_price
    with np.errstate(divide="ignore", invalid="ignore"):
        per_capital = 1.0 / (entry * (1.0 + fee))
    if rule.side == "long":
        intercept = np.zeros(entry.shape[0])
        slope = per_capital
    else:
        intercept = np.full(entry.shape[0], 2.0 / (1.0 + fee))
        slope = -per_capital
    no_trade = exit_index < 0
    return TradeTable(
        exit_index=exit_index,
        net_return=np.where(no_trade, np.nan, outcomes.net_return),
        mark_intercept=np.where(no_trade, np.nan, intercept),
        mark_slope=np.where(no_trade, np.nan, slope),
    )


def timing_objective(objective: str) -> str:
    """The metric the timing test scores for a study objective: itself when a schedule changes
    it, else ``sharpe``."""
    return objective if objective in SCORED_OBJECTIVES else "sharpe"


def draw_schedules(
    table: TradeTable, n_trades: int, *, seed: int, period: int = 0, draws: int = TIMING_DRAWS
) -> IntArray:
    """``draws x n_trades`` random signal bars (rows in time order; -1 where a draw ran out of
    room), placed as the module docstring says, from the stream of (``seed``, ``period``)."""
    exit_index = np.asarray(table.exit_index, dtype=np.int64)
    valid = np.flatnonzero(exit_index >= 0)
    if n_trades == 0 or valid.size == 0:
        return np.full((draws, n_trades), -1, dtype=np.int64)
    seeds = np.random.SeedSequence([TIMING_SALT, seed, period]).spawn(2)
    # A uniform split of the free room: normalised iid exponentials (a flat Dirichlet).
    expo = np.random.default_rng(seeds[0]).standard_exponential((draws, n_trades + 1))
    jitter = np.random.default_rng(seeds[1])
    last = int(valid[-1])
    duration = exit_index[valid] - valid
    reserve = int(np.median(duration))
    if valid.size == last + 1 and np.all(duration[: max(0, last + 1 - reserve)] == reserve):
        return _fixed_hold_schedules(expo, jitter.random((draws, 1)), last, reserve)
    return _sequential_schedules(
        exit_index, expo, jitter.random((n_trades, draws)), last, float(np.median(duration))
    )


def _fixed_hold_schedules(expo: FloatArray, jitter: FloatArray, last: int, hold: int) -> IntArray:
    """Every bar up to ``last`` opens a trade of ``hold`` bars (shorter only where the period
    ends): entry ``j`` is at ``c_j + j * hold`` with ``c`` a sorted uniform split of the free
    room ``F = last - (m - 1) * hold``, so no trade but the last can reach the end and none
    overlap. One loop-free pass, however many trades; ``expo`` is overwritten."""
    m = expo.shape[1] - 1
    free = last - (m - 1) * hold
    if free < 0:
        raise ValueError(f"draw_schedules: {m} trades of {hold} bars do not fit in {last + 1}")
    cum = np.cumsum(expo, axis=1, out=expo)
    share = cum[:, :-1] / cum[:, -1:]
    share *= free
    # One jitter per draw keeps c sorted; its random rounding keeps E[c_j] = F (j + 1) / (m + 1).
    share += jitter
    c = share.astype(np.int64)
    c += np.arange(m, dtype=np.int64) * hold
    return c


def _sequential_schedules(
    exit_index: IntArray, expo: FloatArray, jitter: FloatArray, last: int, reserve: float
) -> IntArray:
    """Any exit rule: entries placed one after another (module docstring), each gap a
    stick-breaking share ``E[j] / (E[j] + ... + E[m]) ~ Beta(1, r)`` of the room left."""
    n = exit_index.shape[0]
    m, draws = jitter.shape
    expo = np.ascontiguousarray(expo.T)
    # next_valid[i]: the first bar >= i that can open a trade (n if none); index n is a sentinel.
    candidates = np.where(exit_index >= 0, np.arange(n, dtype=np.int64), n)
    next_valid = np.r_[np.minimum.accumulate(candidates[::-1])[::-1], n]
    exit_ext = np.r_[exit_index, n]
    rest = expo.sum(axis=0)
    # out[j, k] = n marks a draw that ran out of room; its position then stays at n (gap 0).
    out = np.empty((m, draws), dtype=np.int64)
    p = np.zeros(draws, dtype=np.int64)
    for j in range(m):
        room = np.maximum(np.floor((last - (m - j - 1) * reserve) - p), 0.0)
        share = expo[j] / rest
        rest -= expo[j]
        # share < 1, so the gap never passes the room: p + gap <= max(p, last) <= n.
        gap = (room * share + jitter[j]).astype(np.int64)
        t = next_valid[p + gap]
        out[j] = t
        p = exit_ext[t]
    out[out == n] = -1
    return np.ascontiguousarray(out.T)


def timing_scores(
    periods: Sequence[ScoredPeriod],
    objective: str,
    *,
    seed: int,
    draws: int = TIMING_DRAWS,
) -> TimingScores:
    """The objective for the actual schedule and ``draws`` random ones over ``periods``.

    One period: its value. Several (walk-forward folds): combined as the run's metrics are
    (:func:`sweep.core.pipeline.run_pipeline`): the mean over folds, with ``win_rate``,
    ``avg_trade_return`` and ``profit_factor`` pooled over all folds' trades. Draw ``k`` of the
    run is draw ``k`` of every fold."""
    name = timing_objective(objective)
    if not periods:
        raise ValueError("timing_scores: needs at least one scored period")
    actual_parts = []
    random_parts = []
    short = np.zeros(draws, dtype=bool)
    for f, period in enumerate(periods):
        stats = entry_stats(period)
        actual = np.asarray(period.signals, dtype=np.int64)[None, :]
        schedules = draw_schedules(period.table, actual.shape[1], seed=seed, period=f, draws=draws)
        short |= (schedules < 0).any(axis=1)
        actual_parts.append(period_parts(stats, actual, name))
        random_parts.append(period_parts(stats, schedules, name))
    return TimingScores(
        objective=name,
        actual=float(combine(actual_parts, name)[0]),
        draws=combine(random_parts, name),
        short_draws=int(short.sum()),
    )


def _as_good(values: FloatArray, actual: float, direction: Direction) -> int:
    if direction == "maximize":
        return int(np.count_nonzero(values >= actual))
    if direction == "minimize":
        return int(np.count_nonzero(values <= actual))
    raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")


def timing_p(scores: TimingScores, direction: Direction = "maximize") -> float:
    """``(1 + #draws at least as good as the actual) / (1 + K)``: the Monte Carlo p-value of the
    actual schedule among random ones (never 0: the actual is one possible draw)."""
    k = int(scores.draws.shape[0])
    return (1 + _as_good(scores.draws, scores.actual, direction)) / (1 + k)


def study_timing_p(
    chosen: TimingScores, trials: Sequence[TimingScores], direction: Direction = "maximize"
) -> float:
    """White's Reality Check over a study: the chosen trial's actual score against, for each draw
    ``k``, the best random score of draw ``k`` over ``trials`` (every completed trial, the
    chosen one included): ``(1 + #draws whose best is at least as good) / (1 + K)``.

    Compared at float32 precision, the precision :func:`encode_scores` stores."""
    if not trials:
        raise ValueError("study_timing_p: needs the random scores of at least one trial")
    names = {t.objective for t in trials} | {chosen.objective}
    if len(names) != 1:
        raise ValueError(f"study_timing_p: scores of different objectives: {sorted(names)}")
    k = {t.draws.shape[0] for t in trials}
    if len(k) != 1:
        raise ValueError(f"study_timing_p: trials have different numbers of draws: {sorted(k)}")
    matrix = np.stack([t.draws.astype(np.float32) for t in trials])
    best = matrix.max(axis=0) if direction == "maximize" else matrix.min(axis=0)
    actual = float(np.float32(chosen.actual))
    return (1 + _as_good(best.astype(np.float64), actual, direction)) / (1 + int(best.shape[0]))


def encode_scores(scores: TimingScores) -> bytes:
    """The actual score then the ``K`` random ones, little-endian float32, zlib-compressed:
    about 4 KB a trial for K = 1000 (random scores barely compress)."""
    values = np.r_[scores.actual, scores.draws].astype("<f4")
    return zlib.compress(values.tobytes(), level=6)


def decode_scores(objective: str, draws: int, encoding: str, data: bytes) -> TimingScores:
    """Inverse of :func:`encode_scores` (scores come back at float32 precision)."""
    if encoding != ENCODING:
        raise ValueError(f"unknown timing-score encoding {encoding!r}")
    values = np.frombuffer(zlib.decompress(data), dtype="<f4").astype(np.float64)
    if values.shape[0] != draws + 1:
        raise ValueError(f"stored timing scores hold {values.shape[0] - 1} draws, expected {draws}")
    return TimingScores(objective=objective, actual=float(values[0]), draws=values[1:])


def schedule_equity(period: ScoredPeriod, signals: npt.ArrayLike) -> FloatArray:
    """Per-bar equity of one schedule, marked to market at each close, with the arithmetic of
    :func:`sweep.core.backtest.run_backtest` (rule 6), so the actual schedule gives its equity
    bit for bit. The reference the vectorised scores are checked against."""
    sig = np.asarray(signals, dtype=np.int64)
    tab = period.table
    n = period.n_bars
    if sig.size and (np.any(np.diff(sig) < 0) or np.any(tab.exit_index[sig] < 0)):
        raise ValueError("schedule_equity: signals must be in order and able to open a trade")
    if sig.size > 1 and np.any(sig[1:] < tab.exit_index[sig[:-1]]):
        raise ValueError("schedule_equity: trades overlap")
    if sig.size == 0:
        return np.ones(n)
    entry, exit_ = sig + 1, tab.exit_index[sig]
    s = period.size
    level = np.empty(sig.size + 1)
    level[0] = 1.0
    np.cumprod(1.0 + s * tab.net_return[sig], out=level[1:])
    bars = np.arange(n, dtype=np.int64)
    k = np.searchsorted(entry, bars, side="right") - 1
    equity = level[k + 1]
    holding = (k >= 0) & (bars < exit_[np.maximum(k, 0)])
    kh = k[holding]
    value = (1.0 - s + s * tab.mark_intercept[sig][kh]) + s * tab.mark_slope[sig][kh] * (
        period.close[holding]
    )
    equity[holding] = level[kh] * value
    return equity
