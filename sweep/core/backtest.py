"""Long-only backtest of a probability signal over the test period.

All arrays are the test-period bars, one value per bar, same length ``n``. The rules:

1. **Signal.** The decision at bar ``t`` reads only ``proba[t]``, which was computed from
   information up to the close of bar ``t``. A long trade is signalled when
   ``proba[t] > entry_threshold`` (strictly greater; a NaN probability never signals) and no trade
   is open at the close of bar ``t``. Signals while a trade is open are ignored, not queued.
2. **Entry** at the open of bar ``t + 1``, so a signal on the last bar can never trade. Entry price
   ``open[t + 1] * (1 + slippage)``.
3. **Capital.** The trade commits ``size`` (``0 < size <= 1``) of the equity at the close of bar
   ``t``; the rest stays in cash earning 0. The committed capital ``C`` *includes* the entry fee:
   it buys a notional ``N = C / (1 + fee)`` of the asset, i.e. ``N / entry_price`` units, and pays
   ``fee * N``.
4. **Exit** at the close of bar ``t + hold_max``: the trade is held for ``hold_max`` bars,
   ``t + 1 .. t + hold_max``. If the test period ends first, it exits at the close of the last bar
   (a *forced* exit: still a closed trade, flagged ``forced_exit``). There is no other exit rule
   (no stop loss, no take profit). Exit price ``close[exit_bar] * (1 - slippage)``; the exit fee is
   ``fee`` times that exit notional. The trade is closed at the close of its exit bar, so a signal
   on the exit bar itself may enter again at the next open.
5. **Net trade return** ``= V / C - 1`` where ``V = units * exit_price * (1 - fee)`` is what the
   position returns to cash after the exit fee and ``C`` is the committed capital including the
   entry fee. In closed form::

       net_return = exit_price * (1 - fee) / (entry_price * (1 + fee)) - 1

   It is what the trade did to the capital it used, independent of ``size``; the trade multiplies
   total equity by ``1 + size * net_return``. With ``fee = slippage = 0`` it is
   ``close[exit_bar] / open[entry_bar] - 1``.
6. **Equity** is marked to market at each bar's close, starting from 1.0 before the first bar:
   while a trade is open (entry bar up to the bar before its exit) equity is
   ``cash + units * close[i]`` (no slippage on the mark); on the exit bar it is ``cash + V``.
   Fees therefore hit equity when they are paid: the entry fee (and entry slippage) in the entry
   bar, the exit fee (and exit slippage) in the exit bar. Between trades equity is flat.
   ``returns[i] = equity[i] / equity[i - 1] - 1`` with ``equity[-1] := 1.0``, so
   ``len(returns) == n`` and ``returns[0] == 0`` (nothing can be held during bar 0).
7. **Exposure** is the fraction of bars during which a position is held, counting every bar from
   entry to exit inclusive (a trade with ``hold_max = h`` that is not forced covers ``h`` bars).

Only the trades are walked in Python (each step is one list look-up of the next signal); everything
per bar is vectorised, so a 20k-bar backtest takes well under a few milliseconds.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["BacktestResult", "Trades", "run_backtest"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Trades:
    """The closed trades of a backtest, one element per trade, in time order.

    Bars are indices into the test-period arrays. ``entry_price`` and ``exit_price`` include
    slippage; ``net_return`` includes slippage and both fees (see the module docstring, rule 5).
    The arrays are read-only.
    """

    entry_bar: IntArray
    exit_bar: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    net_return: FloatArray
    forced_exit: BoolArray

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
) -> BacktestResult:
    """Backtest long trades on ``proba > entry_threshold`` over the test bars.

    Args:
        open_: open price of each test bar (finite, > 0).
        close: close price of each test bar (finite, > 0).
        proba: model probability at each bar's close; NaN means "no signal".
        entry_threshold: a trade is signalled when ``proba[t]`` is strictly above it.
        size: fraction of current equity committed per trade, ``0 < size <= 1``.
        hold_max: bars held per trade (exit at the close of bar ``t + hold_max``), ``>= 1``.
        fee: fraction of the notional charged on each side, ``0 <= fee < 1``.
        slippage: adverse price move on each side, ``0 <= slippage < 1``.

    Returns:
        The equity curve, per-bar returns, trades and exposure (rules in the module docstring).

    Raises:
        ValueError: if the arrays are not 1-D of one common non-zero length, prices are not finite
            and positive, or a parameter is out of range.
    """
    open_a, close_a, proba_a = _validate(
        open_, close, proba, entry_threshold, size, hold_max, fee, slippage
    )
    n = close_a.shape[0]
    hold = operator.index(hold_max)
    entry_bar, exit_bar = _schedule_trades(proba_a > entry_threshold, n, hold)

    entry_price = open_a[entry_bar] * (1.0 + slippage)
    exit_price = close_a[exit_bar] * (1.0 - slippage)
    # Units bought per 1.0 of committed capital: the capital also pays the entry fee.
    units_per_capital = 1.0 / (entry_price * (1.0 + fee))
    net_return = exit_price * (1.0 - fee) * units_per_capital - 1.0
    forced_exit = exit_bar < entry_bar - 1 + hold

    equity = _equity_curve(close_a, entry_bar, exit_bar, units_per_capital, net_return, size)
    previous = np.empty_like(equity)
    previous[0] = 1.0
    previous[1:] = equity[:-1]
    returns = equity / previous - 1.0

    held_bars = int(np.sum(exit_bar - entry_bar + 1))
    trades = Trades(
        entry_bar=_read_only(entry_bar),
        exit_bar=_read_only(exit_bar),
        entry_price=_read_only(entry_price),
        exit_price=_read_only(exit_price),
        net_return=_read_only(net_return),
        forced_exit=_read_only(forced_exit),
    )
    return BacktestResult(
        equity=_read_only(equity),
        returns=_read_only(returns),
        trades=trades,
        exposure=held_bars / n,
    )


def _schedule_trades(signal: BoolArray, n: int, hold_max: int) -> tuple[IntArray, IntArray]:
    """Entry and exit bars of the trades the signal opens, one Python step per trade."""
    # next_signal[i]: first bar >= i whose signal can open a trade (n if none). A signal on the
    # last bar has no next open to enter at, so it never counts.
    candidates = np.where(signal, np.arange(n, dtype=np.int64), n)
    candidates[n - 1] = n
    next_signal: list[int] = np.minimum.accumulate(candidates[::-1])[::-1].tolist()
    entries: list[int] = []
    exits: list[int] = []
    t = next_signal[0]
    while t < n:
        exit_ = min(t + hold_max, n - 1)
        entries.append(t + 1)
        exits.append(exit_)
        # The trade is closed at the close of its exit bar, so that bar may signal again.
        t = next_signal[exit_]
    return np.array(entries, dtype=np.int64), np.array(exits, dtype=np.int64)


def _equity_curve(
    close: FloatArray,
    entry_bar: IntArray,
    exit_bar: IntArray,
    units_per_capital: FloatArray,
    net_return: FloatArray,
    size: float,
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
    # cash (1 - size of the equity before the trade) + units held, marked at the close.
    equity[holding] = level[kh] * (1.0 - size + size * units_per_capital[kh] * close[holding])
    return equity


def _validate(
    open_: npt.ArrayLike,
    close: npt.ArrayLike,
    proba: npt.ArrayLike,
    entry_threshold: float,
    size: float,
    hold_max: int,
    fee: float,
    slippage: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    arrays = {
        "open_": np.asarray(open_, dtype=np.float64),
        "close": np.asarray(close, dtype=np.float64),
        "proba": np.asarray(proba, dtype=np.float64),
    }
    for name, arr in arrays.items():
        if arr.ndim != 1:
            raise ValueError(f"run_backtest: {name} must be 1-D, got shape {arr.shape}")
    lengths = {name: arr.shape[0] for name, arr in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"run_backtest: open_, close and proba must have the same length, got {lengths}; "
            "pass the test-period bars of one frame"
        )
    if lengths["close"] == 0:
        raise ValueError("run_backtest: needs at least one bar, got empty arrays")
    for name in ("open_", "close"):
        arr = arrays[name]
        bad = ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"run_backtest: {name} prices must be finite and > 0, got {arr[i]!r} at bar {i}"
            )
    if isinstance(hold_max, bool) or not isinstance(hold_max, int | np.integer) or hold_max < 1:
        raise ValueError(f"run_backtest: hold_max must be an integer >= 1, got {hold_max!r}")
    if not 0.0 < size <= 1.0:
        raise ValueError(f"run_backtest: size must be in (0, 1], got {size!r}")
    if not 0.0 <= fee < 1.0:
        raise ValueError(f"run_backtest: fee must be in [0, 1), got {fee!r}")
    if not 0.0 <= slippage < 1.0:
        raise ValueError(f"run_backtest: slippage must be in [0, 1), got {slippage!r}")
    if math.isnan(entry_threshold):
        raise ValueError("run_backtest: entry_threshold must be a number, got nan")
    return arrays["open_"], arrays["close"], arrays["proba"]


_A = TypeVar("_A", bound="np.ndarray[Any, Any]")


def _read_only(arr: _A) -> _A:
    # Frozen results should not be edited through their arrays either.
    arr.setflags(write=False)
    return arr
