"""Trade, triple-barrier and short labels; their reach; average uniqueness (AFML ch. 4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.target import (
    average_uniqueness,
    binary_target,
    make_labels,
    uniqueness_weights,
)
from sweep.core.trades import ExitReason, ExitRule, Prices, outcomes_for

FloatArray = npt.NDArray[np.float64]


def prices(rows: list[tuple[float, float, float, float]], atr: FloatArray | None = None) -> Prices:
    a = np.array(rows, dtype=np.float64)
    return Prices(a[:, 0], a[:, 1], a[:, 2], a[:, 3], atr)


# bars 0..5; a long entered at the open of bar 1 (100)
ROWS = [
    (100, 100, 100, 100),
    (100, 101, 99, 100),  # 1: quiet
    (100, 102.5, 99.5, 102),  # 2: high passes +2%
    (102, 103, 96, 97),  # 3: low passes -2% of 102 and of 100
    (97, 98, 96, 97.5),  # 4
    (97.5, 99, 97, 98),  # 5
]


def test_trade_label_is_the_trades_net_return_above_the_threshold() -> None:
    rule = ExitRule(hold_max=2, fee=0.001, slippage=0.0005)
    labels = make_labels(
        "trade", prices(ROWS), side="long", hold_max=2, threshold=0.0, label_rule=rule
    )
    out = outcomes_for(prices(ROWS), rule)
    # net return of the trade signalled at t, hold 2: t=0: 100 -> close[2] 102 (+2% less costs);
    # t=1: 100 -> 97; t=2: 102 -> 97.5; t=3: 97 -> 98 (+1.03% less 0.3% costs)
    assert out.net_return[0] > 0 and out.net_return[1] < 0 and out.net_return[3] > 0
    np.testing.assert_array_equal(labels.y[:4], [1.0, 0.0, 0.0, 1.0])
    # the last hold_max rows: their reach passes the last bar
    assert np.isnan(labels.y[4:]).all()
    assert labels.reach == 2
    assert labels.end[:4].tolist() == [2, 3, 4, 5]
    # a threshold above a trade's net return makes it a 0
    higher = make_labels(
        "trade", prices(ROWS), side="long", hold_max=2, threshold=0.02, label_rule=rule
    )
    np.testing.assert_array_equal(higher.y[:4], [0.0, 0.0, 0.0, 0.0])


def test_triple_barrier_label_is_the_take_profit_touched_first() -> None:
    rule = ExitRule(hold_max=3, fee=0.0, slippage=0.0, take_profit=0.02, stop_loss=0.02)
    labels = make_labels("triple_barrier", prices(ROWS), side="long", hold_max=3, label_rule=rule)
    out = outcomes_for(prices(ROWS), rule)
    # t=0: entry 100, tp 102 touched at bar 2 -> 1. t=1: entry 100, bar 2 touches 102 -> 1.
    # t=2: entry 102, tp 104.04 / sl 99.96: bar 3's low 96 stops it -> 0.
    np.testing.assert_array_equal(labels.y[:3], [1.0, 1.0, 0.0])
    assert out.exit_reason[:3].tolist() == [
        ExitReason.TAKE_PROFIT,
        ExitReason.TAKE_PROFIT,
        ExitReason.STOP_LOSS,
    ]
    # the label's real reach is its first touch; the purge bound is hold_max
    assert labels.end[:3].tolist() == [2, 2, 3]
    assert labels.reach == 3
    assert np.isnan(labels.y[3:]).all()


def test_short_labels_read_the_fall() -> None:
    close = np.array([100.0, 98.0, 103.0, 99.0])
    # binary short: 1 when the close falls by more than the threshold over the horizon
    np.testing.assert_array_equal(
        binary_target(close, 1, 0.01, side="short"), [1.0, 0.0, 1.0, np.nan]
    )
    np.testing.assert_array_equal(binary_target(close, 1, 0.01), [0.0, 1.0, 0.0, np.nan])
    # triple barrier short: the take-profit is below the entry
    rule = ExitRule(hold_max=3, fee=0.0, slippage=0.0, side="short", take_profit=0.02)
    labels = make_labels("triple_barrier", prices(ROWS), side="short", hold_max=3, label_rule=rule)
    # t=0 and t=1: entry 100, tp 98: bar 3's low 96 -> 1; t=2: entry 102, tp 99.96: bar 3 -> 1
    np.testing.assert_array_equal(labels.y[:3], [1.0, 1.0, 1.0])


def test_an_atr_warm_up_row_has_no_label() -> None:
    atr = np.array([np.nan, 1.0, 1.0, 1.0, 1.0, 1.0])
    rule = ExitRule(hold_max=2, fee=0, slippage=0, take_profit=2.0, atr_multiple=True)
    labels = make_labels(
        "triple_barrier", prices(ROWS, atr), side="long", hold_max=2, label_rule=rule
    )
    assert math.isnan(labels.y[0]) and labels.end[0] == -1
    assert not math.isnan(labels.y[1])


# --- reach: a label never reads a bar after t + reach -------------------------------------------


@st.composite
def series(draw: st.DrawFn) -> Prices:
    n = draw(st.integers(2, 60))
    steps = np.array(draw(st.lists(st.floats(-0.08, 0.08), min_size=n, max_size=n)))
    close = 100 * np.exp(np.cumsum(steps))
    open_ = np.r_[100.0, close[:-1]] * np.exp(
        np.array(draw(st.lists(st.floats(-0.03, 0.03), min_size=n, max_size=n)))
    )
    wick = np.array(draw(st.lists(st.floats(0.0, 0.05), min_size=n, max_size=n)))
    high = np.maximum(open_, close) * (1 + wick)
    low = np.minimum(open_, close) * (1 - wick[::-1])
    atr = np.r_[np.nan, np.abs(np.diff(close))]
    return Prices(open_, high, low, close, atr)


def label_args(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    side = draw(st.sampled_from(["long", "short"]))
    hold = draw(st.integers(1, 10))
    atr_multiple = draw(st.booleans())
    tp = draw(st.floats(0.005, 0.1)) if kind == "triple_barrier" else None
    sl = draw(st.one_of(st.none(), st.floats(0.005, 0.1)))
    if kind == "trade" and draw(st.booleans()):
        sl, tp = None, None  # the seed-like time exit
    rule = ExitRule(
        hold_max=hold,
        fee=0.001,
        slippage=0.0005,
        side=side,
        take_profit=tp,
        stop_loss=sl,
        atr_multiple=atr_multiple,
        borrow_rate=0.1,
        bars_per_year=2190.0,
    )
    return {
        "side": side,
        "hold_max": hold,
        "horizon": draw(st.integers(1, 10)),
        "threshold": draw(st.floats(0.0, 0.02)) if kind == "trade" else 0.005,
        "label_rule": None if kind == "binary" else rule,
    }


def cut(p: Prices, m: int) -> Prices:
    return Prices(
        *(a[:m] if a is not None else None for a in (p.open, p.high, p.low, p.close, p.atr))
    )


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["binary", "trade", "triple_barrier"]), series(), st.data())
def test_a_label_reads_nothing_after_its_reach(kind: str, p: Prices, data: st.DataObject) -> None:
    """The contract the purge gaps rely on: the label at t is the same when every bar after
    t + reach is removed, and its last bar read (``end``) is within the reach."""
    args = label_args(data.draw, kind)
    full = make_labels(kind, p, **args)
    n = p.close.shape[0]
    labelled = np.flatnonzero(~np.isnan(full.y))
    assert labelled.size == max(n - full.reach, 0) or kind != "binary"
    # the unlabelled tail is exactly the reach (or more, where an ATR barrier has no ATR yet)
    assert np.isnan(full.y[max(n - full.reach, 0) :]).all()
    for t in labelled:
        assert t < full.end[t] <= t + full.reach
        shorter = make_labels(kind, cut(p, int(t) + full.reach + 1), **args)
        assert shorter.y[t] == full.y[t]
        assert shorter.end[t] == full.end[t]


# --- average uniqueness --------------------------------------------------------------------------


def test_average_uniqueness_golden() -> None:
    # spans [0, 2], [1, 3], [2, 4]: concurrency per bar 1, 2, 3, 2, 1
    # u0 = (1 + 1/2 + 1/3) / 3, u1 = (1/2 + 1/3 + 1/2) / 3, u2 = (1/3 + 1/2 + 1) / 3
    u = average_uniqueness(np.array([0, 1, 2]), np.array([2, 3, 4]))
    np.testing.assert_allclose(u, [11 / 18, 4 / 9, 11 / 18], rtol=1e-12)
    # disjoint spans are fully unique; m identical spans share each bar m ways
    np.testing.assert_allclose(average_uniqueness(np.array([0, 3]), np.array([2, 5])), [1, 1])
    np.testing.assert_allclose(average_uniqueness(np.full(4, 7), np.full(4, 9)), [0.25] * 4)
    # the weights are the uniqueness scaled to mean 1
    w = uniqueness_weights(np.array([0, 1, 2]), np.array([2, 3, 4]))
    np.testing.assert_allclose(w, np.array([11 / 18, 4 / 9, 11 / 18]) / (5 / 9), rtol=1e-12)
    assert w.mean() == pytest.approx(1.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 12)), min_size=1, max_size=40))
def test_average_uniqueness_matches_the_definition(spans: list[tuple[int, int]]) -> None:
    start = np.array([s for s, _ in spans])
    end = start + np.array([w for _, w in spans])
    u = average_uniqueness(start, end)
    concurrency = {b: sum(s <= b <= e for s, e in zip(start, end, strict=True)) for b in range(70)}
    for i, (s, e) in enumerate(zip(start, end, strict=True)):
        expected = np.mean([1 / concurrency[b] for b in range(s, e + 1)])
        assert u[i] == pytest.approx(expected, rel=1e-12)
        assert 0 < u[i] <= 1 + 1e-12  # a difference of cumulative sums rounds


def test_average_uniqueness_refuses_bad_spans() -> None:
    with pytest.raises(ValueError, match="end >= start"):
        average_uniqueness(np.array([3]), np.array([2]))
    with pytest.raises(ValueError, match="one length"):
        average_uniqueness(np.array([1, 2]), np.array([3]))
    assert average_uniqueness(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).size == 0
