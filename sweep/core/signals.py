"""Live signals: what the experiment's backtest does at each bar, up to the newest one.

The backtest's own code decides (:func:`sweep.core.backtest.backtest_outcomes` over the trades of
:func:`sweep.core.trades.outcomes_for`); nothing here re-states its entry or exit rule. The bars
are walked from ``walk_from`` (where the registered backtest started, so the positions carried
into the newest bars are the ones the backtest would hold) to the last bar, and each bar gets:

- ``enter``: the backtest opens a trade on this bar's signal (probability strictly above
  ``backtest.entry_threshold`` while flat), entering at the next bar's open;
- ``hold``: a trade opened on an earlier signal is still open during this bar (up to and
  including its exit bar, whose close it exits at);
- ``none``: neither.

``exit_time`` is the bar-open time of the trade's exit bar, and ``exit`` why it exits (``time``,
``take_profit``, ``stop_loss``, ``liquidation``), or ``open`` for a trade still open at the last
bar: its exit time is then the time exit, ``position.hold_max`` bars after its signal bar (a
barrier may close it earlier).

The newest bar matters most live, but the backtest never trades a signal on its last bar (there
is no next open in the data). A flat stand-in bar at the last close is appended so that the
backtest's own schedule decides the last bar too; it lies inside every earlier bar's range, so no
trade exits on it except those still open at the last bar, which are reported ``open``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sweep.core.backtest import backtest_outcomes
from sweep.core.config import ExperimentConfig
from sweep.core.data import TIMEFRAMES
from sweep.core.frames import per_year
from sweep.core.pipeline import config_prices
from sweep.core.trades import ExitReason, Prices, outcomes_for

__all__ = ["SIGNALS", "live_signals"]

SIGNALS = ("enter", "hold", "none")


def _with_stand_in(bars: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
    """``bars`` and one flat bar at the last close, one timeframe later."""
    last = float(bars["close"].iloc[-1])
    extra = pd.DataFrame(
        {"open": last, "high": last, "low": last, "close": last, "volume": 0.0},
        index=pd.DatetimeIndex([bars.index[-1] + step], name=bars.index.name),
    )
    return pd.concat([bars[list(extra.columns)], extra])


def live_signals(
    cfg: ExperimentConfig, bars: pd.DataFrame, proba: pd.Series, walk_from: pd.Timestamp
) -> pd.DataFrame:
    """One row per bar from ``walk_from`` to the last bar of ``bars`` (raw OHLCV at
    ``cfg.timeframe``): ``probability``, ``signal`` (:data:`SIGNALS`), ``exit_time`` and ``exit``
    (module docstring). ``proba`` is aligned to ``bars`` by index; NaN never signals."""
    step = TIMEFRAMES[cfg.timeframe]
    p = proba.reindex(bars.index).to_numpy(dtype=np.float64)
    extended = _with_stand_in(bars, step)
    # The exit rule and ATR over the whole series (ATR is causal: the stand-in changes no earlier
    # value), then the walk from walk_from, as the pipeline slices its test period.
    prices, rule, _ = config_prices(cfg, extended, per_year(cfg, bars))
    first = int(pd.DatetimeIndex(bars.index).searchsorted(walk_from))
    walked = Prices(
        prices.open[first:],
        None if prices.high is None else prices.high[first:],
        None if prices.low is None else prices.low[first:],
        prices.close[first:],
        None if prices.atr is None else prices.atr[first:],
    )
    n = len(bars) - first  # real bars walked; the stand-in is bar n of the walk
    walk_proba = np.append(p[first:], np.nan)
    bt = backtest_outcomes(
        walked.close,
        walk_proba,
        outcomes_for(walked, rule),
        rule,
        cfg.backtest.entry_threshold,
        cfg.position.size,
    )
    t = bt.trades
    signal = np.full(n, "none", dtype=object)
    trade_of = np.full(n, -1, dtype=np.int64)
    signal_bars = (t.entry_bar - 1).tolist()
    # In time order, so a trade signalled on the previous trade's exit bar takes that bar over.
    for k, (s, e) in enumerate(zip(signal_bars, t.exit_bar.tolist(), strict=True)):
        stop = min(e, n - 1)
        signal[s + 1 : stop + 1] = "hold"
        trade_of[s + 1 : stop + 1] = k
        signal[s] = "enter"
        trade_of[s] = k
    index = pd.DatetimeIndex(bars.index[first:])
    exit_time: list[pd.Timestamp | None] = [None] * n
    reason: list[str | None] = [None] * n
    for i in np.flatnonzero(trade_of >= 0).tolist():
        k = int(trade_of[i])
        e = int(t.exit_bar[k])
        if e >= n:  # exits on the stand-in bar: still open at the last bar
            exit_time[i] = index[signal_bars[k]] + rule.hold_max * step
            reason[i] = "open"
        else:
            exit_time[i] = index[e]
            reason[i] = ExitReason(int(t.exit_reason[k])).name.lower()
    return pd.DataFrame(
        {
            "probability": p[first:],
            "signal": signal.astype(str),
            "exit_time": pd.DatetimeIndex(exit_time, tz="UTC"),
            "exit": pd.Series(reason, index=index, dtype=object),
        },
        index=index,
    )
