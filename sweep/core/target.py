"""Prediction targets: what the model learns, for the side the config trades.

``binary``: ``y[t] = 1`` when ``close[t + horizon] / close[t] - 1 > threshold``, else 0 (the
seed's target, long side). With a short side, the fall: ``1 - close[t + horizon] / close[t] >
threshold``. The label reads ``horizon`` bars ahead (its *reach*), which is why
:mod:`sweep.core.split` purges that many bars between train and test.

``trade``: ``y[t] = 1`` when the very trade the backtest would open on a signal at ``t``
(:func:`sweep.core.trades.trade_outcomes`, with the position's side and exits, fees, slippage and
borrow) nets more than ``threshold``. Its reach is ``hold_max`` bars: entry at the open of
``t + 1``, exit no later than the close of ``t + hold_max``.

``triple_barrier`` (López de Prado, *Advances in Financial Machine Learning*, ch. 3):
``y[t] = 1`` when the take-profit barrier of that trade is touched first, 0 when the stop-loss
(or a short's liquidation) is touched first or the vertical barrier ``hold_max`` comes first. The
barriers are the target's ``take_profit`` and ``stop_loss`` (fractions of the entry price, or
multiples of ATR(14) at ``t``), and the label is computed by the same code the backtest exits
with, so with the position's exits left to default a perfect predictor of the label wins every
trade whenever a take-profit exit beats the costs. Reach: ``hold_max`` bars, as ``trade``.

Every target gives NaN where its reach runs past the last bar (the last ``horizon`` or
``hold_max`` rows); those rows are dropped, so the unlabelled tail does not depend on prices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import talib

from sweep.core.config import ExperimentConfig
from sweep.core.trades import ExitReason, ExitRule, Prices, TradeOutcomes, outcomes_for

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ATR_PERIOD = 14


def binary_target(
    close: npt.NDArray[np.float64], horizon: int, threshold: float, side: str = "long"
) -> npt.NDArray[np.float64]:
    """Forward-return label as float (1.0, 0.0, NaN for the last ``horizon`` rows); with
    ``side='short'`` the label is 1 when the close falls by more than ``threshold``."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    close = np.asarray(close, dtype=np.float64)
    y = np.full(close.shape[0], np.nan)
    if close.shape[0] > horizon:
        fwd = close[horizon:] / close[:-horizon] - 1.0
        move = fwd if side == "long" else -fwd
        y[:-horizon] = (move > threshold).astype(np.float64)
    return y


def signal_atr(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """ATR(14) (Wilder, TA-Lib) at each bar: causal, NaN for the first 14 bars."""
    return np.asarray(talib.ATR(high, low, close, timeperiod=ATR_PERIOD), dtype=np.float64)


def trade_target(outcomes: TradeOutcomes, hold_max: int, threshold: float) -> FloatArray:
    """1.0 where the trade signalled at ``t`` nets more than ``threshold``, else 0.0; NaN where
    its reach ``t + hold_max`` passes the last bar, or where no trade can open."""
    y = (outcomes.net_return > threshold).astype(np.float64)
    return _censor(y, outcomes, hold_max)


def triple_barrier_target(outcomes: TradeOutcomes, hold_max: int) -> FloatArray:
    """1.0 where the trade signalled at ``t`` exits at its take-profit barrier, else 0.0; NaN as
    :func:`trade_target`. ``outcomes`` must carry the target's barriers."""
    y = (outcomes.exit_reason == ExitReason.TAKE_PROFIT).astype(np.float64)
    return _censor(y, outcomes, hold_max)


def _censor(y: FloatArray, outcomes: TradeOutcomes, hold_max: int) -> FloatArray:
    n = y.shape[0]
    y[max(n - hold_max, 0) :] = np.nan
    y[outcomes.exit_bar < 0] = np.nan
    return y


@dataclass(frozen=True)
class Labels:
    """A config's labels over a whole price series, and where each label stops reading.

    ``y``: 1.0 / 0.0 / NaN per bar. ``end``: the last bar each label reads (binary:
    ``t + horizon``; trade and triple_barrier: the trade's exit bar, i.e. the first barrier touch,
    at most ``t + hold_max``); -1 where ``y`` is NaN. ``reach``: the bound on ``end - t`` that the
    purge gaps use. ``outcomes``: the backtest's trades of the series when ``exit_rule`` was given
    (None for binary without one).
    """

    y: FloatArray
    end: IntArray
    reach: int
    outcomes: TradeOutcomes | None


def make_labels(
    kind: str,
    prices: Prices,
    *,
    side: str,
    hold_max: int,
    horizon: int | None = None,
    threshold: float | None = None,
    label_rule: ExitRule | None = None,
) -> Labels:
    """Labels of target ``kind`` (``binary``, ``trade``, ``triple_barrier``).

    ``binary`` needs ``horizon`` and ``threshold``; ``trade`` needs ``threshold`` and
    ``label_rule``, the backtest's own exit rule; ``triple_barrier`` needs ``label_rule`` with the
    target's barriers."""
    n = prices.close.shape[0]
    t = np.arange(n, dtype=np.int64)
    if kind == "binary":
        assert horizon is not None and threshold is not None
        y = binary_target(prices.close, horizon, threshold, side)
        end = np.where(np.isnan(y), -1, t + horizon)
        return Labels(y, end, horizon, None)
    assert label_rule is not None
    outcomes = outcomes_for(prices, label_rule)
    if kind == "trade":
        assert threshold is not None
        y = trade_target(outcomes, hold_max, threshold)
    elif kind == "triple_barrier":
        y = triple_barrier_target(outcomes, hold_max)
    else:
        raise ValueError(f"unknown target type {kind!r}")
    end = np.where(np.isnan(y), -1, outcomes.exit_bar)
    return Labels(y, end, hold_max, outcomes)


def average_uniqueness(start: IntArray, end: IntArray) -> FloatArray:
    """Average uniqueness of each label (AFML ch. 4.4), among the labels given.

    Label ``i`` spans bars ``start[i] .. end[i]`` (inclusive). ``c[b]`` counts the labels whose
    span covers bar ``b``; the label's uniqueness is the mean of ``1 / c[b]`` over its span: 1.0
    for a label that shares no bar, ``1 / m`` for ``m`` labels on identical spans.
    """
    start = np.asarray(start, dtype=np.int64)
    end = np.asarray(end, dtype=np.int64)
    if start.shape != end.shape or start.ndim != 1:
        raise ValueError("average_uniqueness: start and end must be 1-D of one length")
    if start.size == 0:
        return np.zeros(0)
    if np.any(end < start):
        raise ValueError("average_uniqueness: every span needs end >= start")
    lo = int(start.min())
    s, e = start - lo, end - lo
    width = int(e.max()) + 2
    delta = np.bincount(s, minlength=width) - np.bincount(e + 1, minlength=width)
    concurrency = np.cumsum(delta)[:-1]
    inverse = np.zeros(width, dtype=np.float64)
    covered = concurrency > 0
    inverse[1:][covered] = 1.0 / concurrency[covered]
    cum = np.cumsum(inverse)  # cum[b + 1] = sum of 1 / c over bars 0..b
    return (cum[e + 1] - cum[s]) / (e - s + 1)


def uniqueness_weights(start: IntArray, end: IntArray) -> FloatArray:
    """Sample weights from :func:`average_uniqueness`, scaled to mean 1 (so ``min_child_weight``
    and the learning rate keep their meaning)."""
    u = average_uniqueness(start, end)
    if u.size == 0:
        return u
    return u * (u.size / float(u.sum()))


# --- from a config ------------------------------------------------------------------------------


def backtest_rule(cfg: ExperimentConfig, bars_per_year: float) -> ExitRule:
    """The side and exits the backtest trades with: the position's barriers, or with a
    ``triple_barrier`` target and no barrier set on the position, the target's."""
    pos, tgt = cfg.position, cfg.target
    if tgt.type == "triple_barrier" and not pos.has_barriers:
        tp, sl, atr = tgt.take_profit, tgt.stop_loss, tgt.atr_multiple
    else:
        tp, sl, atr = pos.take_profit, pos.stop_loss, pos.atr_multiple
    return ExitRule(
        hold_max=pos.hold_max,
        fee=cfg.backtest.fee,
        slippage=cfg.backtest.slippage,
        side=pos.side,
        take_profit=tp,
        stop_loss=sl,
        atr_multiple=atr,
        borrow_rate=cfg.backtest.borrow_rate,
        bars_per_year=bars_per_year,
    )


def label_rule(cfg: ExperimentConfig, bars_per_year: float) -> ExitRule | None:
    """The trade a ``trade`` or ``triple_barrier`` label is computed from (None for binary):
    the backtest's own, except that ``triple_barrier`` always uses the target's barriers."""
    tgt = cfg.target
    if tgt.type == "binary":
        return None
    rule = backtest_rule(cfg, bars_per_year)
    if tgt.type == "triple_barrier":
        rule = replace(
            rule,
            take_profit=tgt.take_profit,
            stop_loss=tgt.stop_loss,
            atr_multiple=tgt.atr_multiple,
        )
    return rule


def needs_atr(*rules: ExitRule | None) -> bool:
    """Whether any of the rules sets a barrier in ATR multiples."""
    return any(
        r is not None and r.atr_multiple and (r.take_profit is not None or r.stop_loss is not None)
        for r in rules
    )


def config_labels(cfg: ExperimentConfig, prices: Prices, bars_per_year: float) -> Labels:
    """The labels of ``cfg``'s target over a whole price series (``prices.atr`` set when a
    barrier is in ATR multiples)."""
    tgt = cfg.target
    return make_labels(
        tgt.type,
        prices,
        side=cfg.position.side,
        hold_max=cfg.position.hold_max,
        horizon=tgt.horizon,
        threshold=tgt.threshold,
        label_rule=label_rule(cfg, bars_per_year),
    )
