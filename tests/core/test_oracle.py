"""The oracle contract on the shipped real data: the label is the thing the backtest earns.

A perfect predictor (probability = label) is backtested over BTC/USDT 4h (resampled from the
shipped 1h file) with the backtest's own side and exits. For ``trade`` every entered trade nets
more than ``threshold``; for ``triple_barrier`` with a take-profit above the round-trip costs
every entered trade exits at its take-profit and wins. For both sides. ``binary`` has no such
property (its horizon and threshold are not the trade), which is why the others exist.

The backtest runs over every labelled bar and the unlabelled tail after them, so each trade the
oracle enters completes as its label saw it. (A pipeline's test period also ends: its last trade
can be cut there, a forced exit, whatever the target.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sweep.core.backtest import BacktestResult, ExitReason, run_backtest
from sweep.core.config import ExperimentConfig
from sweep.core.data import bars_per_year, load_market_data
from sweep.core.experiment import validate_experiment
from sweep.core.target import (
    Labels,
    backtest_rule,
    config_labels,
    label_rule,
    needs_atr,
    signal_atr,
)
from sweep.core.trades import Prices

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load(
    (ROOT / "experiments" / "btc-xgb-4h-momentum.yaml").read_text()
)


def config(target: dict[str, Any], **position: Any) -> ExperimentConfig:
    data = copy.deepcopy(SEED)
    data["target"] = target
    data["position"].update(position)
    data["backtest"] = {"borrow_rate": 0.1}  # shorts pay 10% a year; longs pay none
    return validate_experiment(data)


@pytest.fixture(scope="module")
def bars() -> Prices:
    frame = load_market_data("BTC/USDT", "4h", ROOT / "data").frame
    high, low, close = (frame[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
    return Prices(
        frame["open"].to_numpy(dtype=np.float64), high, low, close, signal_atr(high, low, close)
    )


def oracle(cfg: ExperimentConfig, bars: Prices) -> tuple[Labels, BacktestResult]:
    """The labels of ``cfg`` and the backtest of probability = label over the whole series."""
    bpy = bars_per_year(cfg.timeframe, cfg.backtest.days_per_year)
    rule = backtest_rule(cfg, bpy)
    assert needs_atr(rule, label_rule(cfg, bpy)) == (
        cfg.target.atr_multiple or cfg.position.atr_multiple
    )
    labels = config_labels(cfg, bars, bpy)
    res = run_backtest(
        bars.open,
        bars.close,
        labels.y,  # NaN (the unlabelled tail) never signals
        high=bars.high,
        low=bars.low,
        atr=bars.atr,
        entry_threshold=0.5,
        size=cfg.position.size,
        hold_max=rule.hold_max,
        fee=rule.fee,
        slippage=rule.slippage,
        side=rule.side,
        take_profit=rule.take_profit,
        stop_loss=rule.stop_loss,
        atr_multiple=rule.atr_multiple,
        borrow_rate=rule.borrow_rate,
        bars_per_year=rule.bars_per_year,
    )
    return labels, res


TRADE_CASES = [
    ({"type": "trade", "threshold": 0.0}, {"side": "long", "hold_max": 6}),
    ({"type": "trade", "threshold": 0.0}, {"side": "short", "hold_max": 6}),
    ({"type": "trade", "threshold": 0.01}, {"side": "long", "hold_max": 12}),
    # the trade label follows the position's own barriers
    (
        {"type": "trade", "threshold": 0.005},
        {"side": "long", "hold_max": 12, "take_profit": 0.03, "stop_loss": 0.015},
    ),
    (
        {"type": "trade", "threshold": 0.005},
        {"side": "short", "hold_max": 12, "atr_multiple": True, "stop_loss": 1.5},
    ),
]


@pytest.mark.parametrize(("target", "position"), TRADE_CASES)
def test_every_oracle_trade_of_a_trade_target_nets_more_than_its_threshold(
    bars: Prices, target: dict[str, Any], position: dict[str, Any]
) -> None:
    cfg = config(target, **position)
    labels, res = oracle(cfg, bars)
    t = res.trades
    assert len(t) > 200  # a real test: hundreds of trades over the eight years
    assert not t.forced_exit.any()
    assert cfg.target.threshold is not None
    assert np.all(t.net_return > cfg.target.threshold)
    # each trade is the labelled trade of its signal bar
    assert np.all(labels.y[t.entry_bar - 1] == 1.0)
    np.testing.assert_array_equal(labels.end[t.entry_bar - 1], t.exit_bar)


BARRIER_CASES = [
    ({"take_profit": 0.02, "stop_loss": 0.01}, "long"),
    ({"take_profit": 0.02, "stop_loss": 0.01}, "short"),
    ({"take_profit": 0.05}, "long"),  # no stop: the vertical barrier and the take-profit
    ({"take_profit": 2.0, "stop_loss": 1.0, "atr_multiple": True}, "long"),
    ({"take_profit": 2.0, "stop_loss": 1.0, "atr_multiple": True}, "short"),
]


@pytest.mark.parametrize(("barriers", "side"), BARRIER_CASES)
def test_every_oracle_trade_of_a_triple_barrier_target_wins(
    bars: Prices, barriers: dict[str, Any], side: str
) -> None:
    cfg = config({"type": "triple_barrier", **barriers}, side=side, hold_max=12)
    labels, res = oracle(cfg, bars)
    t = res.trades
    assert len(t) > 200
    # the premise: every entered trade's take-profit lies beyond the round-trip costs
    signal = t.entry_bar - 1
    entry = bars.open[t.entry_bar]
    tp = cfg.target.take_profit
    assert tp is not None
    distance = tp * bars.atr[signal] / entry if cfg.target.atr_multiple else np.full(len(t), tp)
    cost = (1 + cfg.backtest.fee) * (1 + cfg.backtest.slippage) / (
        (1 - cfg.backtest.fee) * (1 - cfg.backtest.slippage)
    ) - 1
    assert distance.min() > cost + 0.0001
    assert np.all(t.exit_reason == ExitReason.TAKE_PROFIT)
    assert np.all(t.net_return > 0)
    assert np.all(labels.y[signal] == 1.0)


def test_the_binary_oracle_is_not_the_trade(bars: Prices) -> None:
    """The seed's target: knowing the label still loses trades when hold_max != horizon."""
    cfg = config({"type": "binary", "horizon": 3, "threshold": 0.008}, hold_max=6)
    _, res = oracle(cfg, bars)
    assert len(res.trades) > 200
    assert np.any(res.trades.net_return <= 0)
