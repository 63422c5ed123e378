"""One definition of a trade: what a signal at bar ``t`` opens, and how and when it closes.

:func:`trade_outcomes` gives, for *every* bar ``t`` of a price series, the trade that a signal at
the close of ``t`` would open: its exit bar, why it exits, its fill prices and its net return.
The backtest (:func:`sweep.core.backtest.run_backtest`) walks the signals and takes these
trades; the ``trade`` and ``triple_barrier`` targets (:mod:`sweep.core.target`) label from the
very same arrays, so a perfect predictor of the label wins every trade it enters. The rules:

1. **Entry** at the open of bar ``t + 1``: the raw entry price is ``o = open[t + 1]``, filled at
   ``o * (1 + slippage)`` long and ``o * (1 - slippage)`` short. A signal on the last bar has no
   next open: no trade (exit bar -1, NaN prices and return).
2. **Capital.** The trade commits capital ``C`` that includes the entry fee: a notional
   ``N = C / (1 + fee)`` is bought (long) or sold short, ``N / entry_price`` units.
3. **Barriers**, fixed at entry from the raw entry price ``o``. Long: take-profit
   ``o + d_tp``, stop-loss ``o - d_sl``; short: ``o - d_tp`` and ``o + d_sl``. The distance is a
   fraction of ``o`` (``d = take_profit * o``), or with ``atr_multiple`` a multiple of ATR(14) at
   the *signal* bar ``t`` (``d = take_profit * atr[t]``), never the entry bar's ATR, which reads
   that bar's own high and low. Either barrier may be absent (None).
4. **Exit**, checked bar by bar from the entry bar ``t + 1`` to ``t + hold_max``, on each bar's
   open, high and low:

   - a bar that *opens* beyond a barrier exits at its open (a gap fills at the open, not at the
     barrier); the entry bar opens at ``o``, strictly inside both barriers;
   - otherwise a barrier inside the bar's range ``[low, high]`` exits at the barrier; when both
     lie inside one bar, the **stop is assumed hit first** (conservative: the path inside a bar
     is unknown);
   - a short whose value would reach zero is **liquidated** (rule 6), checked as an adverse
     barrier: before the stop if it lies below the stop, else after it;
   - otherwise the **time** exit at the close of ``t + hold_max`` (the vertical barrier: the
     trade is held at most ``hold_max`` bars, ``t + 1 .. t + hold_max``);
   - if the data ends first, a **forced** exit at the close of the last bar.

   The exit fill is the raw exit price times ``1 - slippage`` long, ``1 + slippage`` short.
   Every exit pays slippage, the take-profit's too (a conservative stand-in for a limit order's
   queue risk).
5. **Net return**, what the trade did to the capital it used (independent of position size).
   Long: ``exit * (1 - fee) / (entry * (1 + fee)) - 1``. Short: the position returns
   ``V = N + units * (entry - exit) - fee * units * exit - N * borrow * h`` to cash, so
   ``net = (2 - (exit / entry) * (1 + fee) - borrow * h) / (1 + fee) - 1``, where
   ``h = exit_bar - t`` is the number of bars held (entry and exit bars included) and
   ``borrow = borrow_rate / bars_per_year`` is charged on the notional per bar held (simple
   interest, the rate per year).
6. **Short liquidation.** A short's loss is bounded by its committed capital, as on an isolated
   margin account with 1x collateral: when the bar's high reaches the buy-back price at which
   ``V`` would be zero, ``exit = entry * (2 - borrow * h) / (1 + fee)`` (raw price: that divided
   by ``1 + slippage``), the position is closed there with ``net = -1`` exactly, also when the bar
   opens beyond it (the loss is capped at the committed capital; the rest of the equity is
   untouched). A long cannot lose more than its capital and is never liquidated.

Everything is vectorised over bars; only the offsets ``1 .. hold_max`` are a Python loop (with no
barrier and a long side, not even that): for 20k bars and ``hold_max = 12``, about 2 ms without
barriers and 5-10 ms with them or short (measured on a busy 2-core machine).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["ExitReason", "ExitRule", "TradeOutcomes", "trade_outcomes"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int8]
Side = Literal["long", "short"]


class ExitReason(IntEnum):
    """Why a trade closed; the arrays hold these codes as ``int8``."""

    NONE = 0  # no trade: no next open to enter at (or no ATR for an ATR barrier)
    TIME = 1  # close of t + hold_max
    TAKE_PROFIT = 2
    STOP_LOSS = 3
    FORCED = 4  # the data ended first: close of the last bar
    LIQUIDATION = 5  # a short's value reached zero (net return -1)


@dataclass(frozen=True)
class ExitRule:
    """The side and exits of a trade, validated where they are built.

    ``take_profit``/``stop_loss``: barrier distances as fractions of the raw entry price, or with
    ``atr_multiple`` as multiples of ATR(14) at the signal bar; None: no such barrier.
    ``borrow_rate``: per year, shorts only; needs ``bars_per_year`` when it is not 0.
    """

    hold_max: int
    fee: float
    slippage: float
    side: Side = "long"
    take_profit: float | None = None
    stop_loss: float | None = None
    atr_multiple: bool = False
    borrow_rate: float = 0.0
    bars_per_year: float | None = None

    def __post_init__(self) -> None:
        h = self.hold_max
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
            raise ValueError(f"hold_max must be an integer >= 1, got {h!r}")
        if not 0.0 <= self.fee < 1.0:
            raise ValueError(f"fee must be in [0, 1), got {self.fee!r}")
        if not 0.0 <= self.slippage < 1.0:
            raise ValueError(f"slippage must be in [0, 1), got {self.slippage!r}")
        if self.side not in ("long", "short"):
            raise ValueError(f"side must be 'long' or 'short', got {self.side!r}")
        for name in ("take_profit", "stop_loss"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0 or None, got {v!r}")
        if not (math.isfinite(self.borrow_rate) and self.borrow_rate >= 0):
            raise ValueError(f"borrow_rate must be a finite number >= 0, got {self.borrow_rate!r}")
        bpy = self.bars_per_year
        if bpy is not None and not (math.isfinite(bpy) and bpy > 0):
            raise ValueError(f"bars_per_year must be > 0, got {bpy!r}")
        if self.borrow_rate > 0 and self.side == "short" and bpy is None:
            raise ValueError("a short with a borrow_rate needs bars_per_year to charge it per bar")

    @property
    def has_barriers(self) -> bool:
        """Whether any exit can come before the time exit (a short can always be liquidated)."""
        return self.side == "short" or self.take_profit is not None or self.stop_loss is not None

    @property
    def borrow_per_bar(self) -> float:
        """Borrow charged per bar held, as a fraction of the notional (0 for longs)."""
        if self.side != "short" or self.borrow_rate == 0.0:
            return 0.0
        assert self.bars_per_year is not None
        return self.borrow_rate / self.bars_per_year


@dataclass(frozen=True, eq=False)
class TradeOutcomes:
    """For every bar ``t``: the trade a signal at the close of ``t`` would open (length ``n``).

    The trade enters at the open of ``t + 1``. ``exit_bar[t]`` is its exit bar (-1: no trade),
    ``exit_reason[t]`` an :class:`ExitReason` code, ``entry_price``/``exit_price`` the fills
    (slippage included) and ``net_return`` the net return of module rule 5 (NaN: no trade).
    The arrays are read-only.
    """

    exit_bar: IntArray
    exit_reason: CodeArray
    entry_price: FloatArray
    exit_price: FloatArray
    net_return: FloatArray

    def __len__(self) -> int:
        return int(self.exit_bar.shape[0])

    @property
    def tradable(self) -> npt.NDArray[np.bool_]:
        """Bars whose signal opens a trade (``exit_bar >= 0``)."""
        return self.exit_bar >= 0


def trade_outcomes(
    open_: npt.ArrayLike,
    high: npt.ArrayLike | None,
    low: npt.ArrayLike | None,
    close: npt.ArrayLike,
    atr: npt.ArrayLike | None = None,
    *,
    hold_max: int,
    fee: float,
    slippage: float,
    side: Side = "long",
    take_profit: float | None = None,
    stop_loss: float | None = None,
    atr_multiple: bool = False,
    borrow_rate: float = 0.0,
    bars_per_year: float | None = None,
) -> TradeOutcomes:
    """The trade a signal at each bar would open, under one side and exit rule (module rules).

    Args:
        open_, high, low, close: the bars' prices (1-D, one length, finite and > 0). ``high`` and
            ``low`` may be None only for a long side without barriers (a time exit reads closes).
        atr: ATR(14) at each bar (causal), needed with ``atr_multiple``; a bar whose ATR is NaN
            (warm-up) opens no trade.
        hold_max: the vertical barrier, bars held at most.
        fee, slippage: per side, fractions.
        side: ``long`` or ``short``.
        take_profit, stop_loss: barrier distances (fractions of the entry price, or ATR multiples
            with ``atr_multiple``); None: no barrier.
        borrow_rate, bars_per_year: a short's borrow cost per year, charged per bar held.

    Raises:
        ValueError: on arrays of different lengths or bad prices, or a parameter out of range.
    """
    rule = ExitRule(
        hold_max=hold_max,
        fee=fee,
        slippage=slippage,
        side=side,
        take_profit=take_profit,
        stop_loss=stop_loss,
        atr_multiple=atr_multiple,
        borrow_rate=borrow_rate,
        bars_per_year=bars_per_year,
    )
    prices = validate_prices("trade_outcomes", open_, high, low, close, atr, rule)
    return outcomes_for(prices, rule)


@dataclass(frozen=True)
class Prices:
    """Validated float64 price arrays of one length (``high``/``low``/``atr`` may be None)."""

    open: FloatArray
    high: FloatArray | None
    low: FloatArray | None
    close: FloatArray
    atr: FloatArray | None


def validate_prices(
    who: str,
    open_: npt.ArrayLike,
    high: npt.ArrayLike | None,
    low: npt.ArrayLike | None,
    close: npt.ArrayLike,
    atr: npt.ArrayLike | None,
    rule: ExitRule,
) -> Prices:
    """The arrays as float64, checked for what ``rule`` needs; messages start with ``who``."""
    given = {"open_": open_, "high": high, "low": low, "close": close, "atr": atr}
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in given.items() if v is not None}
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise ValueError(f"{who}: {name} must be 1-D, got shape {arr.shape}")
    lengths = {name: arr.shape[0] for name, arr in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{who}: the price arrays must have one length, got {lengths}")
    if lengths["close"] == 0:
        raise ValueError(f"{who}: needs at least one bar, got empty arrays")
    for name in ("open_", "high", "low", "close"):
        if name not in arrays:
            continue
        px = arrays[name]
        bad = ~(np.isfinite(px) & (px > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{who}: {name} prices must be finite and > 0, got {px[i]!r} at bar {i}"
            )
    if rule.has_barriers and ("high" not in arrays or "low" not in arrays):
        raise ValueError(
            f"{who}: barrier exits and short positions read each bar's high and low; pass them"
        )
    if "high" in arrays and "low" in arrays:
        o, c, hi, lo = arrays["open_"], arrays["close"], arrays["high"], arrays["low"]
        bad = (hi < np.maximum(o, c)) | (lo > np.minimum(o, c))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{who}: bar {i} has high {hi[i]!r} / low {lo[i]!r} outside its open and close; "
                "are high and low swapped?"
            )
    if rule.atr_multiple and (rule.take_profit is not None or rule.stop_loss is not None):
        a = arrays.get("atr")
        if a is None:
            raise ValueError(f"{who}: atr_multiple barriers need the atr array")
        if np.any(a[np.isfinite(a)] < 0) or np.isinf(a).any():
            raise ValueError(f"{who}: atr must be NaN (warm-up) or finite and >= 0")
    return Prices(
        arrays["open_"], arrays.get("high"), arrays.get("low"), arrays["close"], arrays.get("atr")
    )


def outcomes_for(p: Prices, rule: ExitRule) -> TradeOutcomes:
    """:func:`trade_outcomes` on validated arrays."""
    n = p.close.shape[0]
    last = n - 1
    hold = operator.index(rule.hold_max)
    long = rule.side == "long"
    exit_bar = np.full(n, -1, dtype=np.int64)
    reason = np.zeros(n, dtype=np.int8)
    raw_exit = np.full(n, np.nan)
    entry_price = np.full(n, np.nan)
    raw_entry = p.open[1:]  # the raw entry price of a signal at t is open[t + 1]
    entry_price[:last] = (
        raw_entry * (1.0 + rule.slippage) if long else raw_entry * (1.0 - rule.slippage)
    )

    tp = _level(rule.take_profit, +1 if long else -1, raw_entry, p.atr, rule.atr_multiple)
    sl = _level(rule.stop_loss, -1 if long else +1, raw_entry, p.atr, rule.atr_multiple)
    if not rule.has_barriers:
        # The time exit, or the last bar when the data ends first (every bar but the last trades):
        # bars t < m exit on time at t + hold, bars m <= t < last are forced at the last bar.
        m = max(last - hold + 1, 0)
        exit_bar[:m] = np.arange(hold, hold + m, dtype=np.int64)
        exit_bar[m:last] = last
        reason[:m] = ExitReason.TIME
        reason[m:last] = ExitReason.FORCED
        raw_exit[:m] = p.close[hold : hold + m]
        raw_exit[m:last] = p.close[last]
    else:
        assert p.high is not None and p.low is not None
        # Signal bars whose barriers can be set (an ATR barrier needs the ATR at the signal bar).
        tradable = np.ones(last, dtype=np.bool_)
        for lv in (tp, sl):
            if lv is not None:
                tradable &= np.isfinite(lv)
        pos = np.flatnonzero(tradable).astype(np.int64)
        for k in range(1, hold + 1):
            ended = pos + k > last
            if ended.any():  # survived to the last bar with bars still to go
                gone = pos[ended]
                exit_bar[gone], reason[gone], raw_exit[gone] = last, ExitReason.FORCED, p.close[-1]
                pos = pos[~ended]
            if pos.size == 0:
                break
            why, fill = _bar_exits(p, rule, pos, k, tp, sl, entry_price)
            done = why != ExitReason.NONE
            hit = pos[done]
            exit_bar[hit], reason[hit], raw_exit[hit] = hit + k, why[done], fill[done]
            pos = pos[~done]
        exit_bar[pos], reason[pos] = pos + hold, ExitReason.TIME
        raw_exit[pos] = p.close[pos + hold]

    # Over every bar at once: a bar without a trade has NaN prices, so its return is NaN too.
    entry_price[exit_bar < 0] = np.nan
    fee, slip = rule.fee, rule.slippage
    if long:
        exit_price = raw_exit * (1.0 - slip)
        # Units bought per 1.0 of committed capital: the capital also pays the entry fee.
        units_per_capital = 1.0 / (entry_price * (1.0 + fee))
        net = exit_price * (1.0 - fee) * units_per_capital - 1.0
    else:
        exit_price = raw_exit * (1.0 + slip)
        held = exit_bar - np.arange(n, dtype=np.int64)
        net = (2.0 - exit_price / entry_price * (1.0 + fee) - rule.borrow_per_bar * held) / (
            1.0 + fee
        ) - 1.0
        net[reason == ExitReason.LIQUIDATION] = -1.0
    return TradeOutcomes(
        exit_bar=read_only(exit_bar),
        exit_reason=read_only(reason),
        entry_price=read_only(entry_price),
        exit_price=read_only(exit_price),
        net_return=read_only(net),
    )


def _level(
    distance: float | None,
    sign: int,
    raw_entry: FloatArray,
    atr: FloatArray | None,
    atr_multiple: bool,
) -> FloatArray | None:
    """A barrier's raw price level per signal bar (NaN where it cannot be set), or None."""
    if distance is None:
        return None
    if atr_multiple:
        assert atr is not None
        d = distance * atr[:-1]  # ATR at the signal bar t, not at the entry bar t + 1
        d = np.where(d > 0, d, np.nan)  # a zero ATR (flat bars) gives no barrier to trade by
    else:
        d = distance * raw_entry
    return raw_entry + sign * d


def _bar_exits(
    p: Prices,
    rule: ExitRule,
    pos: IntArray,
    k: int,
    tp: FloatArray | None,
    sl: FloatArray | None,
    entry_price: FloatArray,
) -> tuple[CodeArray, FloatArray]:
    """Exit reason (NONE: still open) and raw fill at bar ``pos + k`` of the open trades."""
    assert p.high is not None and p.low is not None
    j = pos + k
    o, hi, lo = p.open[j], p.high[j], p.low[j]
    m = pos.shape[0]
    never = np.zeros(m, dtype=np.bool_)
    if rule.side == "long":
        tp_l = tp[pos] if tp is not None else None
        sl_l = sl[pos] if sl is not None else None
        stop_open = o <= sl_l if sl_l is not None else never
        stop_in = lo <= sl_l if sl_l is not None else never
        tp_open = o >= tp_l if tp_l is not None else never
        tp_in = hi >= tp_l if tp_l is not None else never
        liq_l = np.full(m, np.inf)
        liq_open = liq_in = never
    else:
        tp_l = tp[pos] if tp is not None else None
        sl_l = sl[pos] if sl is not None else None
        stop_open = o >= sl_l if sl_l is not None else never
        stop_in = hi >= sl_l if sl_l is not None else never
        tp_open = o <= tp_l if tp_l is not None else never
        tp_in = lo <= tp_l if tp_l is not None else never
        # The raw buy-back price at which the position's value reaches zero after k bars.
        factor = (2.0 - rule.borrow_per_bar * k) / (1.0 + rule.fee) / (1.0 + rule.slippage)
        liq_l = entry_price[pos] * factor
        liq_open = o >= liq_l
        liq_in = hi >= liq_l
    stop_first = stop_in & (sl_l <= liq_l) if sl_l is not None else never
    nan = np.full(m, np.nan)
    conditions = [liq_open, stop_open, tp_open, stop_first, liq_in, stop_in, tp_in]
    reasons = [
        ExitReason.LIQUIDATION,
        ExitReason.STOP_LOSS,
        ExitReason.TAKE_PROFIT,
        ExitReason.STOP_LOSS,
        ExitReason.LIQUIDATION,
        ExitReason.STOP_LOSS,
        ExitReason.TAKE_PROFIT,
    ]
    fills = [
        o,
        o,
        o,
        sl_l if sl_l is not None else nan,
        liq_l,
        sl_l if sl_l is not None else nan,
        tp_l if tp_l is not None else nan,
    ]
    why = np.select(conditions, [np.int8(r) for r in reasons], default=np.int8(ExitReason.NONE))
    fill = np.select(conditions, fills, default=np.nan)
    return why.astype(np.int8), fill


_A = TypeVar("_A", bound="np.ndarray[Any, Any]")


def read_only(arr: _A) -> _A:
    """The array, made read-only: frozen results should not be edited through their arrays."""
    arr.setflags(write=False)
    return arr
