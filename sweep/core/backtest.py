"""Backtest of a probability signal over the test period, long or short.

All arrays are the test-period bars, one value per bar, same length ``n``. What one trade is
(entry, barriers, exits, fills, net return, a short's borrow and liquidation) is defined once,
in :mod:`sweep.core.trades`: this module walks the signals and takes those trades. The rules:

1. **Signal.** The decision at bar ``t`` reads only ``proba[t]``, which was computed from
   information up to the close of bar ``t``. A trade is signalled when
   ``proba[t] > entry_threshold`` (strictly greater; a NaN probability never signals) and no trade
   is open at the close of bar ``t``. Signals while a trade is open are ignored, not queued.
2. **Entry** at the open of bar ``t + 1``, so a signal on the last bar can never trade. Entry price
   ``open[t + 1] * (1 + slippage)`` long, ``* (1 - slippage)`` short.
3. **Capital.** The trade commits ``size`` (``0 < size <= 1``) of the equity at the close of bar
   ``t``; the rest stays in cash earning 0. The committed capital ``C`` *includes* the entry fee:
   it buys (or sells short) a notional ``N = C / (1 + fee)`` of the asset, i.e.
   ``N / entry_price`` units, and pays ``fee * N``.
4. **Exit** by the first of: a take-profit or stop-loss barrier (``take_profit``/``stop_loss``,
   from each bar's open, high and low; a gap fills at the open; both inside one bar: the stop
   first), a short's liquidation, the close of bar ``t + hold_max`` (the trade is held at most
   ``hold_max`` bars, ``t + 1 .. t + hold_max``), or, if the test period ends first, the close of
   the last bar (a *forced* exit: still a closed trade, flagged ``forced_exit``). Without barriers
   and long, the exit is the close of ``t + hold_max``, as in the seed. Exit price: the raw exit
   price times ``1 - slippage`` long (``1 + slippage`` short); the exit fee is ``fee`` times that
   exit notional. The trade is closed at the close of its exit bar, so a signal on the exit bar
   itself may enter again at the next open.
5. **Net trade return** ``= V / C - 1`` where ``V`` is what the position returns to cash after
   the exit fee and ``C`` is the committed capital including the entry fee. Long, in closed form::

       net_return = exit_price * (1 - fee) / (entry_price * (1 + fee)) - 1

   Short: ``(2 - exit_price / entry_price * (1 + fee) - borrow * h) / (1 + fee) - 1``, with
   ``h`` the bars held and ``borrow = borrow_rate / bars_per_year`` (:mod:`sweep.core.trades`).
   It is what the trade did to the capital it used, independent of ``size``; the trade multiplies
   total equity by ``1 + size * net_return``. With ``fee = slippage = 0`` a long's is
   ``close[exit_bar] / open[entry_bar] - 1``.
6. **Equity** is marked to market at each bar's close, starting from 1.0 before the first bar:
   while a trade is open (entry bar up to the bar before its exit) equity is
   ``cash + units * close[i]`` long, ``cash + N * (2 - close[i] / entry_price - borrow * h_i)``
   short (``h_i`` bars held so far; no slippage or exit fee on the mark); on the exit bar it is
   ``cash + V``. Fees therefore hit equity when they are paid: the entry fee (and entry slippage)
   in the entry bar, the exit fee (and exit slippage) in the exit bar. Between trades equity is
   flat. ``returns[i] = equity[i] / equity[i - 1] - 1`` with ``equity[-1] := 1.0``, so
   ``len(returns) == n`` and ``returns[0] == 0`` (nothing can be held during bar 0).
7. **Exposure** is the fraction of bars during which a position is held, counting every bar from
   entry to exit inclusive (a trade with ``hold_max = h`` that exits on time covers ``h`` bars).
8. **Ruin.** A liquidated short loses its committed capital (net -1); with ``size = 1`` that is
   the whole equity: equity is 0 from its exit bar on, those later bars return 0, and no trade
   follows. With ``size < 1`` the cash left keeps trading.

Only the trades are walked in Python (each step is one list look-up of the next signal); everything
per bar is vectorised, so a 20k-bar backtest takes a few milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sweep.core.trades import (
    ExitReason,
    ExitRule,
    Side,
    TradeOutcomes,
    outcomes_for,
    read_only,
    trade_outcomes,
    validate_prices,
)

__all__ = [
    "BacktestResult",
    "ExitReason",
    "TradeOutcomes",
    "Trades",
    "run_backtest",
    "trade_outcomes",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int8]


@dataclass(frozen=True, eq=False)
class Trades:
    """The closed trades of a backtest, one element per trade, in time order.

    Bars are indices into the test-period arrays. ``entry_price`` and ``exit_price`` include
    slippage; ``net_return`` includes slippage and both fees (see the module docstring, rule 5);
    ``exit_reason`` holds :class:`~sweep.core.trades.ExitReason` codes. The arrays are read-only.
    """

    entry_bar: IntArray
    exit_bar: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    net_return: FloatArray
    forced_exit: BoolArray
    exit_reason: CodeArray

    def __len__(self) -> int:
        return int(self.entry_bar.shape[0])


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-bar equity and returns (length ``n``), the closed trades and the exposure.

    ``equity[i]`` is the portfolio value at the close of bar ``i`` (1.0 before the first bar);
    ``exposure`` is the fraction of bars with an open position. The arrays are read-only.
    """

    equity: FloatArray
    returns: FloatArray
    trades: Trades
    exposure: float


def run_backtest(
    open_: npt.ArrayLike,
    close: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    entry_threshold: float,
    size: float,
    hold_max: int,
    fee: float,
    slippage: float,
    high: npt.ArrayLike | None = None,
    low: npt.ArrayLike | None = None,
    atr: npt.ArrayLike | None = None,
    side: Side = "long",
    take_profit: float | None = None,
    stop_loss: float | None = None,
    atr_multiple: bool = False,
    borrow_rate: float = 0.0,
    bars_per_year: float | None = None,
) -> BacktestResult:
    """Backtest trades on ``proba > entry_threshold`` over the test bars.

    Args:
        open_: open price of each test bar (finite, > 0).
        close: close price of each test bar (finite, > 0).
        proba: model probability at each bar's close; NaN means "no signal".
        entry_threshold: a trade is signalled when ``proba[t]`` is strictly above it.
        size: fraction of current equity committed per trade, ``0 < size <= 1``.
        hold_max: bars held at most per trade (the time exit at the close of ``t + hold_max``).
        fee: fraction of the notional charged on each side, ``0 <= fee < 1``.
        slippage: adverse price move on each side, ``0 <= slippage < 1``.
        high, low: each bar's high and low; needed for barriers and for a short side.
        atr: ATR(14) per bar (causal), for ``atr_multiple`` barriers.
        side, take_profit, stop_loss, atr_multiple, borrow_rate, bars_per_year: the trade's side
            and exits, as :func:`sweep.core.trades.trade_outcomes` defines them.

    Returns:
        The equity curve, per-bar returns, trades and exposure (rules in the module docstring).

    Raises:
        ValueError: if the arrays are not 1-D of one common non-zero length, prices are not finite
            and positive, or a parameter is out of range.
    """
    rule = _rule(
        hold_max,
        fee,
        slippage,
        side,
        take_profit,
        stop_loss,
        atr_multiple,
        borrow_rate,
        bars_per_year,
    )
    prices = validate_prices("run_backtest", open_, high, low, close, atr, rule)
    proba_a = _validate(prices.close, proba, entry_threshold, size)
    outcomes = outcomes_for(prices, rule)
    return backtest_outcomes(prices.close, proba_a, outcomes, rule, entry_threshold, size)


def backtest_outcomes(
    close: FloatArray,
    proba: FloatArray,
    outcomes: TradeOutcomes,
    rule: ExitRule,
    entry_threshold: float,
    size: float,
) -> BacktestResult:
    """The backtest that takes the precomputed trades ``outcomes`` (of these same bars)."""
    n = close.shape[0]
    signal_bar = _schedule_trades(proba > entry_threshold, outcomes.exit_bar)
    if size == 1.0 and rule.side == "short":
        # A liquidated short that committed the whole equity leaves nothing to trade with.
        ruin = np.flatnonzero(outcomes.net_return[signal_bar] <= -1.0)
        if ruin.size:
            signal_bar = signal_bar[: ruin[0] + 1]
    entry_bar = signal_bar + 1
    exit_bar = outcomes.exit_bar[signal_bar]
    entry_price = outcomes.entry_price[signal_bar]
    net_return = outcomes.net_return[signal_bar]
    reason = outcomes.exit_reason[signal_bar]

    equity = _equity_curve(close, entry_bar, exit_bar, entry_price, net_return, size, rule)
    previous = np.empty_like(equity)
    previous[0] = 1.0
    previous[1:] = equity[:-1]
    # After a ruin (equity 0, module rule 8) nothing is held: those bars return 0.
    returns = np.divide(equity, previous, out=np.ones_like(equity), where=previous > 0) - 1.0

    held_bars = int(np.sum(exit_bar - entry_bar + 1))
    trades = Trades(
        entry_bar=read_only(entry_bar),
        exit_bar=read_only(exit_bar),
        entry_price=read_only(entry_price),
        exit_price=read_only(outcomes.exit_price[signal_bar]),
        net_return=read_only(net_return),
        forced_exit=read_only(reason == ExitReason.FORCED),
        exit_reason=read_only(reason),
    )
    return BacktestResult(
        equity=read_only(equity),
        returns=read_only(returns),
        trades=trades,
        exposure=held_bars / n,
    )


def _schedule_trades(signal: BoolArray, exit_bar: IntArray) -> IntArray:
    """Signal bars of the trades taken, one Python step per trade: a signal opens the trade of
    its bar when no trade is open, and the next trade may signal on the exit bar itself."""
    n = signal.shape[0]
    # next_signal[i]: first bar >= i whose signal can open a trade (n if none). A bar with no
    # trade (the last bar: no next open to enter at) never counts.
    candidates = np.where(signal & (exit_bar >= 0), np.arange(n, dtype=np.int64), n)
    next_signal = np.minimum.accumulate(candidates[::-1])[::-1]
    # The trade is closed at the close of its exit bar, so that bar may signal again: after the
    # trade signalled at t, the next one is next_signal[exit_bar[t]].
    after: list[int] = np.where(exit_bar >= 0, next_signal[exit_bar], n).tolist()
    taken: list[int] = []
    t = int(next_signal[0]) if n else 0
    while t < n:
        taken.append(t)
        t = after[t]
    return np.array(taken, dtype=np.int64)


def _equity_curve(
    close: FloatArray,
    entry_bar: IntArray,
    exit_bar: IntArray,
    entry_price: FloatArray,
    net_return: FloatArray,
    size: float,
    rule: ExitRule,
) -> FloatArray:
    """Mark-to-market equity at each close, vectorised over bars."""
    n = close.shape[0]
    if entry_bar.shape[0] == 0:
        return np.ones(n, dtype=np.float64)
    # Each trade multiplies equity by 1 + size * net_return; level[k] is equity before trade k
    # (level[0] = 1.0) and level[k + 1] the equity after it.
    level = np.empty(entry_bar.shape[0] + 1, dtype=np.float64)
    level[0] = 1.0
    np.cumprod(1.0 + size * net_return, out=level[1:])

    bars = np.arange(n, dtype=np.int64)
    # Index of the latest trade entered at or before each bar (-1 before the first trade).
    k = np.searchsorted(entry_bar, bars, side="right") - 1
    # Flat bars and exit bars carry the equity after the latest trade (1.0 before any).
    equity = level[k + 1]
    holding = (k >= 0) & (bars < exit_bar[np.maximum(k, 0)])
    kh = k[holding]
    fee = rule.fee
    if rule.side == "long":
        # Units bought per 1.0 of committed capital: the capital also pays the entry fee.
        units_per_capital = 1.0 / (entry_price * (1.0 + fee))
        # cash (1 - size of the equity before the trade) + units held, marked at the close.
        held_value = size * units_per_capital[kh] * close[holding]
    else:
        # The short's value per 1.0 of committed capital: collateral N plus the open profit,
        # less the borrow accrued so far (module rule 6).
        held = bars[holding] - entry_bar[kh] + 1
        value = (2.0 - close[holding] / entry_price[kh] - rule.borrow_per_bar * held) / (1.0 + fee)
        held_value = size * value
    equity[holding] = level[kh] * (1.0 - size + held_value)
    return equity


def _rule(
    hold_max: int,
    fee: float,
    slippage: float,
    side: Side,
    take_profit: float | None,
    stop_loss: float | None,
    atr_multiple: bool,
    borrow_rate: float,
    bars_per_year: float | None,
) -> ExitRule:
    try:
        return ExitRule(
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
    except ValueError as e:
        raise ValueError(f"run_backtest: {e}") from None


def _validate(
    close: FloatArray, proba: npt.ArrayLike, entry_threshold: float, size: float
) -> FloatArray:
    proba_a = np.asarray(proba, dtype=np.float64)
    if proba_a.ndim != 1:
        raise ValueError(f"run_backtest: proba must be 1-D, got shape {proba_a.shape}")
    if proba_a.shape[0] != close.shape[0]:
        raise ValueError(
            f"run_backtest: open_, close and proba must have the same length, got "
            f"{close.shape[0]} prices and {proba_a.shape[0]} probabilities; "
            "pass the test-period bars of one frame"
        )
    if not 0.0 < size <= 1.0:
        raise ValueError(f"run_backtest: size must be in (0, 1], got {size!r}")
    if math.isnan(entry_threshold):
        raise ValueError("run_backtest: entry_threshold must be a number, got nan")
    return proba_a
