"""The one definition of a trade: golden exits by hand, and a bar-by-bar reference.

Golden cases use a signal at bar 0, so the trade enters at the open of bar 1 (100 in every case)
and the barrier levels are round numbers; arithmetic is in the comments.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.backtest import ExitReason, run_backtest, trade_outcomes

FloatArray = npt.NDArray[np.float64]
R = ExitReason


def bars(*rows: tuple[float, float, float, float]) -> dict[str, FloatArray]:
    """OHLC arrays from ``(open, high, low, close)`` rows."""
    a = np.array(rows, dtype=np.float64)
    return {"open_": a[:, 0], "high": a[:, 1], "low": a[:, 2], "close": a[:, 3]}


FLAT = (100.0, 100.0, 100.0, 100.0)
QUIET = (100.0, 101.0, 99.0, 100.0)  # inside +-2% barriers


def first(px: dict[str, FloatArray], **kw: Any) -> tuple[int, int, float, float]:
    """(exit bar, reason, raw exit price, net return) of the trade signalled at bar 0."""
    params: dict[str, Any] = {"hold_max": 3, "fee": 0.0, "slippage": 0.0}
    params.update(kw)
    out = trade_outcomes(**px, **params)
    side = params.get("side", "long")
    slip = params["slippage"]
    raw = out.exit_price[0] / ((1 - slip) if side == "long" else (1 + slip))
    return int(out.exit_bar[0]), int(out.exit_reason[0]), float(raw), float(out.net_return[0])


# --- long barriers ---------------------------------------------------------------------------


def test_take_profit_inside_a_bar_fills_at_the_barrier() -> None:
    # entry 100; take-profit 100 * 1.02 = 102 touched by bar 2's high 102.5
    px = bars(FLAT, QUIET, (100, 102.5, 99.5, 101), QUIET)
    assert first(px, take_profit=0.02, stop_loss=0.02) == (
        2,
        R.TAKE_PROFIT,
        102.0,
        pytest.approx(0.02),
    )


def test_stop_inside_a_bar_fills_at_the_barrier() -> None:
    px = bars(FLAT, QUIET, (100, 100.5, 97.5, 99), QUIET)
    exit_bar, why, raw, net = first(px, take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (2, R.STOP_LOSS, 98.0)
    assert net == pytest.approx(-0.02, rel=1e-12)


def test_both_barriers_inside_one_bar_assume_the_stop_first() -> None:
    px = bars(FLAT, QUIET, (100, 103, 97, 102), QUIET)
    exit_bar, why, raw, _ = first(px, take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (2, R.STOP_LOSS, 98.0)


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    # bar 2 opens at 96, below the stop at 98: the fill is 96, not 98
    px = bars(FLAT, QUIET, (96, 97, 95, 96.5), QUIET)
    exit_bar, why, raw, net = first(px, take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (2, R.STOP_LOSS, 96.0)
    assert net == pytest.approx(-0.04, rel=1e-12)


def test_a_gap_through_the_take_profit_fills_at_the_open() -> None:
    px = bars(FLAT, QUIET, (105, 106, 97, 104), QUIET)  # opens above 102; its low would stop
    exit_bar, why, raw, net = first(px, take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (2, R.TAKE_PROFIT, 105.0)
    assert net == pytest.approx(0.05, rel=1e-12)


def test_the_entry_bar_itself_can_touch_a_barrier() -> None:
    # entered at the open of bar 1 (100); its low 97 passes the stop at 98 that same bar
    px = bars(FLAT, (100, 100.5, 97, 99), QUIET)
    assert first(px, stop_loss=0.02)[:3] == (1, R.STOP_LOSS, 98.0)


def test_no_touch_exits_on_time_at_the_vertical_barrier() -> None:
    # hold_max 3: held bars 1, 2, 3, exit at the close of bar 3 (99 -> -1%)
    px = bars(FLAT, QUIET, QUIET, (100, 101, 99, 99), QUIET)
    exit_bar, why, raw, net = first(px, take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (3, R.TIME, 99.0)
    assert net == pytest.approx(-0.01, rel=1e-12)


def test_the_data_ending_first_is_a_forced_exit_and_the_last_bar_has_no_trade() -> None:
    px = bars(FLAT, QUIET, (100, 101, 99, 100.5))
    out = trade_outcomes(**px, hold_max=3, fee=0.0, slippage=0.0, take_profit=0.02)
    assert out.exit_bar.tolist() == [2, 2, -1]
    assert out.exit_reason.tolist() == [R.FORCED, R.FORCED, R.NONE]
    assert np.isnan(out.net_return[2]) and np.isnan(out.entry_price[2])
    assert out.net_return[0] == pytest.approx(0.005, rel=1e-12)
    assert out.tradable.tolist() == [True, True, False]


def test_fees_and_slippage_on_a_take_profit() -> None:
    # fee 0.1%, slippage 0.05%: entry 100 * 1.0005 = 100.05; exit 102 * 0.9995 = 101.949
    px = bars(FLAT, QUIET, (100, 102.5, 99.5, 101), QUIET)
    out = trade_outcomes(**px, hold_max=3, fee=0.001, slippage=0.0005, take_profit=0.02)
    assert out.entry_price[0] == pytest.approx(100.05, rel=1e-12)
    assert out.exit_price[0] == pytest.approx(101.949, rel=1e-12)
    assert out.net_return[0] == pytest.approx(101.949 * 0.999 / (100.05 * 1.001) - 1, rel=1e-12)


def test_atr_barriers_read_the_signal_bars_atr_not_the_entry_bars() -> None:
    # ATR at the signal bar 0 is 1.0, at the entry bar 1 it is 10.0: with 2 x ATR the
    # take-profit is 100 + 2 * 1 = 102 (touched at bar 2), not 100 + 2 * 10 = 120.
    px = bars(FLAT, QUIET, (100, 102.5, 99.5, 101), QUIET)
    atr = np.array([1.0, 10.0, 10.0, 10.0])
    out = trade_outcomes(
        **px, atr=atr, hold_max=3, fee=0, slippage=0, take_profit=2.0, atr_multiple=True
    )
    assert (out.exit_bar[0], out.exit_reason[0]) == (2, R.TAKE_PROFIT)
    assert out.exit_price[0] == pytest.approx(102.0)
    # A signal whose ATR is still warming up (NaN) opens no trade.
    atr[0] = np.nan
    out = trade_outcomes(
        **px, atr=atr, hold_max=3, fee=0, slippage=0, take_profit=2.0, atr_multiple=True
    )
    assert out.exit_bar[0] == -1 and out.exit_reason[0] == R.NONE


# --- shorts ----------------------------------------------------------------------------------


def test_short_take_profit_and_stop_are_mirrored() -> None:
    # short at 100: take-profit 98 (bar 2's low 97.5 touches it), stop 102
    px = bars(FLAT, QUIET, (100, 100.5, 97.5, 99), QUIET)
    exit_bar, why, raw, net = first(px, side="short", take_profit=0.02, stop_loss=0.02)
    assert (exit_bar, why, raw) == (2, R.TAKE_PROFIT, 98.0)
    # net = (2 - 98 / 100) - 1 = 0.02
    assert net == pytest.approx(0.02, rel=1e-12)
    px = bars(FLAT, QUIET, (100, 103, 97, 99), QUIET)  # both inside: the stop at 102 first
    assert first(px, side="short", take_profit=0.02, stop_loss=0.02)[:3] == (
        2,
        R.STOP_LOSS,
        102.0,
    )


def test_short_net_return_with_fees_slippage_and_borrow() -> None:
    # fee 1%, slippage 1%, borrow 36.5% a year over 365 bars a year: 0.1% a bar.
    # entry 100 * 0.99 = 99; time exit after 3 bars at close 95 * 1.01 = 95.95
    # net = (2 - 95.95 / 99 * 1.01 - 0.001 * 3) / 1.01 - 1
    px = bars(FLAT, QUIET, QUIET, (100, 101, 94, 95), QUIET)
    out = trade_outcomes(
        **px,
        hold_max=3,
        fee=0.01,
        slippage=0.01,
        side="short",
        borrow_rate=0.365,
        bars_per_year=365.0,
    )
    assert (out.exit_bar[0], out.exit_reason[0]) == (3, R.TIME)
    assert out.entry_price[0] == pytest.approx(99.0, rel=1e-12)
    assert out.exit_price[0] == pytest.approx(95.95, rel=1e-12)
    expected = (2 - 95.95 / 99 * 1.01 - 0.003) / 1.01 - 1
    assert out.net_return[0] == pytest.approx(expected, rel=1e-12)
    # 95.95 / 99 * 1.01 = 0.978884; (2 - 0.978884 - 0.003) / 1.01 - 1 = 0.008036
    assert out.net_return[0] == pytest.approx(0.0080358, abs=1e-7)


def test_short_liquidation_loses_exactly_the_committed_capital() -> None:
    # No fee, slippage or borrow: the short is worth 0 when the price doubles (100 -> 200).
    px = bars(FLAT, (100, 150, 99, 150), (150, 210, 150, 180), QUIET)
    exit_bar, why, raw, net = first(px, side="short")
    assert (exit_bar, why, raw, net) == (2, R.LIQUIDATION, 200.0, -1.0)
    # A gap beyond it also nets -1: the loss is capped at the committed capital.
    px = bars(FLAT, QUIET, (250, 260, 240, 250), QUIET)
    assert first(px, side="short")[:2] + first(px, side="short")[3:] == (2, R.LIQUIDATION, -1.0)
    # A stop below the liquidation price is hit first on the way up: -50%, not -100%.
    px = bars(FLAT, QUIET, (120, 210, 119, 180), QUIET)
    exit_bar, why, raw, net = first(px, side="short", stop_loss=0.5)
    assert (exit_bar, why, raw) == (2, R.STOP_LOSS, 150.0)
    assert net == pytest.approx(-0.5, rel=1e-12)


def test_liquidation_price_includes_fees_slippage_and_borrow() -> None:
    # fee 1%, slippage 1%, borrow 1% a bar: entry 99; after 2 bars the value is zero at a
    # buy-back of 99 * (2 - 0.02) / 1.01 = 194.0594..., a raw price of that / 1.01 = 192.138...
    level = 99 * (2 - 0.02) / 1.01 / 1.01
    kw: dict[str, Any] = {
        "side": "short",
        "fee": 0.01,
        "slippage": 0.01,
        "borrow_rate": 1.0,
        "bars_per_year": 100.0,
    }
    below = bars(FLAT, QUIET, (100, level - 0.01, 99, 150), QUIET)
    assert first(below, **kw)[1] == R.TIME
    above = bars(FLAT, QUIET, (100, level + 0.01, 99, 150), QUIET)
    exit_bar, why, raw, net = first(above, **kw)
    assert (exit_bar, why, net) == (2, R.LIQUIDATION, -1.0)
    assert raw == pytest.approx(level, rel=1e-12)


def test_short_equity_is_marked_to_market() -> None:
    # size 1, no costs: short at 100, closes 90 then 95 (time exit at bar 2):
    # equity = 2 - close / 100 while held: 1.10, then 1.05 realised
    px = bars(FLAT, (100, 101, 89, 90), (90, 96, 89, 95), FLAT)
    res = run_backtest(
        px["open_"],
        px["close"],
        [0.9, 0.1, 0.1, 0.1],
        high=px["high"],
        low=px["low"],
        entry_threshold=0.5,
        size=1.0,
        hold_max=2,
        fee=0.0,
        slippage=0.0,
        side="short",
    )
    np.testing.assert_allclose(res.equity, [1.0, 1.1, 1.05, 1.05], rtol=1e-12)
    assert res.trades.exit_reason.tolist() == [R.TIME]
    assert res.trades.net_return[0] == pytest.approx(0.05, rel=1e-12)


def test_a_liquidated_short_of_the_whole_equity_is_ruin() -> None:
    # size 1: the short signalled at bar 0 is liquidated at bar 2 (the price doubles); equity is
    # 0 from there, those bars return 0, and the signal at bar 3 opens nothing.
    px = bars(FLAT, QUIET, (150, 210, 150, 180), FLAT, QUIET, FLAT)
    kw: dict[str, Any] = {"hold_max": 2, "fee": 0.0, "slippage": 0.0, "side": "short"}
    proba = [0.9, 0.1, 0.1, 0.9, 0.1, 0.1]
    res = run_backtest(
        px["open_"], px["close"], proba, high=px["high"], low=px["low"], entry_threshold=0.5,
        size=1.0, **kw,
    )  # fmt: skip
    assert res.trades.exit_reason.tolist() == [R.LIQUIDATION]
    np.testing.assert_array_equal(res.equity, [1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(res.returns, [0.0, 0.0, -1.0, 0.0, 0.0, 0.0])
    # with half the equity committed, half is left and the next signal trades
    half = run_backtest(
        px["open_"], px["close"], proba, high=px["high"], low=px["low"], entry_threshold=0.5,
        size=0.5, **kw,
    )  # fmt: skip
    assert half.trades.exit_reason.tolist() == [R.LIQUIDATION, R.TIME]
    assert half.equity[2] == 0.5


# --- bad input -------------------------------------------------------------------------------


GOOD: dict[str, Any] = {**bars(FLAT, QUIET, QUIET), "hold_max": 2, "fee": 0.0, "slippage": 0.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hold_max": 0}, "hold_max"),
        ({"fee": 1.0}, "fee"),
        ({"slippage": -0.1}, "slippage"),
        ({"side": "sideways"}, "side"),
        ({"take_profit": 0.0}, "take_profit"),
        ({"stop_loss": math.inf}, "stop_loss"),
        ({"borrow_rate": -0.1}, "borrow_rate"),
        ({"side": "short", "borrow_rate": 0.1}, "bars_per_year"),
        ({"bars_per_year": 0.0}, "bars_per_year"),
        ({"take_profit": 0.02, "high": None}, "high and low"),
        ({"side": "short", "low": None}, "high and low"),
        ({"take_profit": 1.0, "atr_multiple": True}, "atr"),
        ({"high": np.array([100.0, 100.0, 98.0])}, "swapped"),
        ({"close": np.array([100.0, 100.0])}, "one length"),
        ({"open_": np.array([100.0, np.nan, 100.0])}, "finite and > 0"),
    ],
)
def test_bad_arguments_raise_value_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trade_outcomes(**{**GOOD, **change})


# --- a bar-by-bar reference, the rules read literally ----------------------------------------


def reference_trade(
    o: FloatArray,
    h: FloatArray,
    lo: FloatArray,
    c: FloatArray,
    atr: FloatArray | None,
    t: int,
    p: dict[str, Any],
) -> tuple[int, int, float]:
    """(exit bar, reason, net return) of the trade signalled at ``t``; -1/NONE/nan: none."""
    n = len(c)
    if t >= n - 1:
        return -1, R.NONE, math.nan
    long = p["side"] == "long"
    fee, slip, hold = p["fee"], p["slippage"], p["hold_max"]
    borrow = p["borrow_rate"] / p["bars_per_year"] if not long else 0.0
    e = o[t + 1]
    ep = e * (1 + slip) if long else e * (1 - slip)

    def dist(x: float) -> float:
        return x * atr[t] if p["atr_multiple"] and atr is not None else x * e

    tp = sl = None
    for name in ("take_profit", "stop_loss"):
        # an ATR barrier needs an ATR: none in the warm-up (NaN), nor a zero distance
        if p[name] is not None and p["atr_multiple"] and not dist(p[name]) > 0:
            return -1, R.NONE, math.nan
    if p["take_profit"] is not None:
        tp = e + dist(p["take_profit"]) if long else e - dist(p["take_profit"])
    if p["stop_loss"] is not None:
        sl = e - dist(p["stop_loss"]) if long else e + dist(p["stop_loss"])

    def net(raw: float, j: int) -> float:
        if long:
            return raw * (1 - slip) * (1 - fee) / (ep * (1 + fee)) - 1
        n_units = 1.0 / (1 + fee) / ep  # units per 1.0 of capital; notional 1 / (1 + fee)
        notional = 1.0 / (1 + fee)
        xp = raw * (1 + slip)
        value = notional + n_units * (ep - xp) - fee * n_units * xp - notional * borrow * (j - t)
        return value - 1

    for j in range(t + 1, min(t + hold, n - 1) + 1):
        k = j - t
        liq = ep * (2 - borrow * k) / (1 + fee) / (1 + slip) if not long else math.inf
        up = (lambda x, lvl: x >= lvl) if long else (lambda x, lvl: x <= lvl)  # favourable
        down = (lambda x, lvl: x <= lvl) if long else (lambda x, lvl: x >= lvl)  # adverse
        if o[j] >= liq:
            return j, R.LIQUIDATION, -1.0
        if sl is not None and down(o[j], sl):
            return j, R.STOP_LOSS, net(o[j], j)
        if tp is not None and up(o[j], tp):
            return j, R.TAKE_PROFIT, net(o[j], j)
        adverse_extreme = lo[j] if long else h[j]
        stop_hit = sl is not None and down(adverse_extreme, sl)
        liq_hit = h[j] >= liq
        if stop_hit and (not liq_hit or sl <= liq):  # type: ignore[operator]
            return j, R.STOP_LOSS, net(sl, j)  # type: ignore[arg-type]
        if liq_hit:
            return j, R.LIQUIDATION, -1.0
        if tp is not None and up(h[j] if long else lo[j], tp):
            return j, R.TAKE_PROFIT, net(tp, j)
    if t + hold <= n - 1:
        return t + hold, R.TIME, net(c[t + hold], t + hold)
    return n - 1, R.FORCED, net(c[n - 1], n - 1)


@st.composite
def ohlc(draw: st.DrawFn) -> tuple[FloatArray, ...]:
    close = np.array(draw(st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=40)))
    n = len(close)
    gaps = np.array(draw(st.lists(st.floats(0.7, 1.4), min_size=n, max_size=n)))
    open_ = np.r_[close[0] * gaps[0], close[:-1] * gaps[1:]]
    up = np.array(draw(st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n)))
    down = np.array(draw(st.lists(st.floats(0.0, 0.3), min_size=n, max_size=n)))
    high = np.maximum(open_, close) * (1 + up)
    low = np.minimum(open_, close) * (1 - down)
    atr = np.array(draw(st.lists(st.floats(0.0, 50.0), min_size=n, max_size=n)))
    atr[: draw(st.integers(0, 3))] = np.nan
    return open_, high, low, close, atr


exit_params = st.fixed_dictionaries(
    {
        "side": st.sampled_from(["long", "short"]),
        "hold_max": st.integers(1, 8),
        "fee": st.floats(0.0, 0.02),
        "slippage": st.floats(0.0, 0.02),
        "take_profit": st.one_of(st.none(), st.floats(0.005, 0.5)),
        "stop_loss": st.one_of(st.none(), st.floats(0.005, 0.9)),
        "atr_multiple": st.booleans(),
        "borrow_rate": st.floats(0.0, 2.0),
        "bars_per_year": st.just(50.0),
    }
)


@settings(max_examples=300, deadline=None)
@given(ohlc(), exit_params)
def test_trade_outcomes_match_the_bar_by_bar_reference(
    prices: tuple[FloatArray, ...], p: dict[str, Any]
) -> None:
    o, h, lo, c, atr = prices
    out = trade_outcomes(o, h, lo, c, atr, **p)
    for t in range(len(c)):
        exit_bar, why, net = reference_trade(o, h, lo, c, atr, t, p)
        assert (int(out.exit_bar[t]), int(out.exit_reason[t])) == (exit_bar, why), t
        if exit_bar < 0:
            assert math.isnan(out.net_return[t])
        else:
            assert out.net_return[t] == pytest.approx(net, rel=1e-9, abs=1e-12), t
            assert t < out.exit_bar[t] <= t + p["hold_max"]
            assert out.net_return[t] >= -1.0


def reference_equity(
    o: FloatArray,
    h: FloatArray,
    lo: FloatArray,
    c: FloatArray,
    atr: FloatArray,
    proba: FloatArray,
    size: float,
    p: dict[str, Any],
) -> list[float]:
    """Cash-and-position accounting bar by bar, exits from :func:`reference_trade`."""
    n = len(c)
    long = p["side"] == "long"
    fee, slip = p["fee"], p["slippage"]
    borrow = p["borrow_rate"] / p["bars_per_year"] if not long else 0.0
    equity: list[float] = []
    cash, open_trade, pending = 1.0, None, None
    for i in range(n):
        if pending is not None:
            t, committed = pending
            ep = o[i] * (1 + slip) if long else o[i] * (1 - slip)
            units = committed / (1 + fee) / ep
            exit_bar, _, net = reference_trade(o, h, lo, c, atr, t, p)
            cash -= committed
            open_trade = (i, ep, units, committed, exit_bar, net)
            pending = None
        if open_trade is not None:
            entry, ep, units, committed, exit_bar, net = open_trade
            if i == exit_bar:
                cash += committed * (1 + net)
                open_trade = None
                equity.append(cash)
            elif long:
                equity.append(cash + units * c[i])
            else:
                notional = committed / (1 + fee)
                held = i - entry + 1
                equity.append(cash + notional + units * (ep - c[i]) - notional * borrow * held)
        else:
            equity.append(cash)
        tradable = reference_trade(o, h, lo, c, atr, i, p)[0] >= 0
        if open_trade is None and tradable and proba[i] > 0.5:
            pending = (i, size * cash)
    return equity


@settings(max_examples=200, deadline=None)
@given(ohlc(), exit_params, st.floats(0.01, 1.0), st.data())
def test_backtest_with_barriers_and_shorts_matches_cash_accounting(
    prices: tuple[FloatArray, ...], p: dict[str, Any], size: float, data: st.DataObject
) -> None:
    o, h, lo, c, atr = prices
    proba = np.array(data.draw(st.lists(st.floats(0, 1), min_size=len(c), max_size=len(c))))
    res = run_backtest(o, c, proba, high=h, low=lo, atr=atr, entry_threshold=0.5, size=size, **p)
    np.testing.assert_allclose(
        res.equity, reference_equity(o, h, lo, c, atr, proba, size, p), rtol=1e-9, atol=1e-12
    )
    t = res.trades
    ruined = size == 1.0 and bool(np.any(t.exit_reason == R.LIQUIDATION))
    assert np.all(res.equity > 0) or ruined
    assert np.all(np.isfinite(res.returns))
    assert np.all(t.entry_bar[1:] > t.exit_bar[:-1])
    out = trade_outcomes(o, h, lo, c, atr, **p)
    # the backtest's trades are exactly the precomputed trades of their signal bars
    np.testing.assert_array_equal(t.exit_bar, out.exit_bar[t.entry_bar - 1])
    np.testing.assert_array_equal(t.net_return, out.net_return[t.entry_bar - 1])
    np.testing.assert_array_equal(t.forced_exit, t.exit_reason == R.FORCED)
