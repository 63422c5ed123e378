"""Golden values (computed by hand, arithmetic in the comments) and properties of run_backtest."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.backtest import BacktestResult, run_backtest

# A fixed 10-bar test period. open[i] is the previous close except at bar 3 (a gap down).
#   bar:      0    1    2    3    4    5    6    7    8    9
OPEN = np.array([100, 100, 100, 95, 120, 125, 100, 90, 100, 100], dtype=np.float64)
CLOSE = np.array([100, 100, 95, 120, 125, 100, 90, 100, 100, 105], dtype=np.float64)
N = 10


def proba_with(
    signal_bars: list[int], *, nan_bars: tuple[int, ...] = ()
) -> npt.NDArray[np.float64]:
    """0.9 on the signal bars, 0.1 elsewhere (threshold 0.6 in the tests), NaN where asked."""
    p = np.full(N, 0.1)
    p[signal_bars] = 0.9
    p[list(nan_bars)] = np.nan
    return p


def bt(proba: npt.NDArray[np.float64], **kw: float) -> BacktestResult:
    params: dict[str, float] = {
        "entry_threshold": 0.6,
        "size": 1.0,
        "hold_max": 3,
        "fee": 0.0,
        "slippage": 0.0,
    }
    params.update(kw)
    return run_backtest(
        OPEN,
        CLOSE,
        proba,
        entry_threshold=params["entry_threshold"],
        size=params["size"],
        hold_max=int(params["hold_max"]),
        fee=params["fee"],
        slippage=params["slippage"],
    )


def assert_no_trades(res: BacktestResult) -> None:
    assert len(res.trades) == 0
    np.testing.assert_array_equal(res.equity, np.ones(N))
    np.testing.assert_array_equal(res.returns, np.zeros(N))
    assert res.exposure == 0.0
    assert res.trades.entry_bar.dtype == np.int64
    assert res.trades.net_return.dtype == np.float64
    assert res.trades.forced_exit.dtype == np.bool_


def test_no_signal_is_flat() -> None:
    assert_no_trades(bt(proba_with([])))


def test_signal_equal_to_threshold_does_not_trade() -> None:
    # The rule is strictly greater than.
    assert_no_trades(bt(np.full(N, 0.6)))


def test_signal_on_last_bar_is_ignored() -> None:
    # Bar 9 has no next open to enter at.
    assert_no_trades(bt(proba_with([9])))


def test_nan_proba_never_signals() -> None:
    assert_no_trades(bt(np.full(N, np.nan)))
    # NaN at bar 1 is no signal; the real signal at bar 6 still trades (entry 7, exit 9).
    res = bt(proba_with([6], nan_bars=(1,)))
    assert res.trades.entry_bar.tolist() == [7]
    assert res.trades.exit_bar.tolist() == [9]


def test_one_trade_with_fees_slippage_and_partial_size() -> None:
    # Signal at bar 1 (0.9 > 0.6), size 0.5, hold_max 3, fee 1%, slippage 1%.
    res = bt(proba_with([1]), size=0.5, fee=0.01, slippage=0.01)
    t = res.trades
    assert len(t) == 1
    # Entry at the open of bar 2; held bars 2, 3, 4; exit at the close of bar 1 + 3 = 4.
    assert t.entry_bar.tolist() == [2]
    assert t.exit_bar.tolist() == [4]
    assert t.forced_exit.tolist() == [False]
    # entry price = open[2] * 1.01 = 100 * 1.01 = 101.0
    # exit price  = close[4] * 0.99 = 125 * 0.99 = 123.75
    assert t.entry_price[0] == pytest.approx(101.0, rel=1e-12)
    assert t.exit_price[0] == pytest.approx(123.75, rel=1e-12)
    # Committed C = 0.5 * 1.0 = 0.5, which includes the entry fee: notional 0.5 / 1.01,
    # units u = 0.5 / (1.01 * 101) = 0.5 / 102.01 = 0.00490148...
    # Exit value after fee V = u * 123.75 * 0.99 = 0.5 * 122.5125 / 102.01 = 0.60049260
    # net = V / C - 1 = 122.5125 / 102.01 - 1 = 0.20098520
    assert t.net_return[0] == pytest.approx(122.5125 / 102.01 - 1, rel=1e-12)
    assert t.net_return[0] == pytest.approx(0.2009851975, abs=1e-10)
    # Equity = cash 0.5 + u * close while held, cash + V on the exit bar:
    #   bar 2: 0.5 + 0.5 * 95 / 102.01       = 0.96564062  (entry fee + slippage already paid)
    #   bar 3: 0.5 + 0.5 * 120 / 102.01      = 1.08817763
    #   bar 4: 0.5 + 0.5 * 122.5125 / 102.01 = 1.10049260  (exit fee + slippage paid)
    #   then flat.
    e2 = 0.5 + 0.5 * 95 / 102.01
    e3 = 0.5 + 0.5 * 120 / 102.01
    e4 = 0.5 + 0.5 * 122.5125 / 102.01
    expected = [1.0, 1.0, e2, e3, e4, e4, e4, e4, e4, e4]
    np.testing.assert_allclose(res.equity, expected, rtol=1e-12)
    np.testing.assert_allclose(
        res.equity[[2, 3, 4]], [0.9656406235, 1.0881776296, 1.1004925988], atol=1e-10
    )
    # returns: [0, 0, e2 - 1, e3/e2 - 1, e4/e3 - 1, 0, ...]
    #        = [0, 0, -0.03435938, 0.12689711, 0.01131706, 0, ...]
    expected_returns = [0, 0, e2 - 1, e3 / e2 - 1, e4 / e3 - 1, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(res.returns, expected_returns, rtol=1e-12, atol=1e-15)
    # Equity grows by 1 + size * net on the trade: 1 + 0.5 * 0.20098520 = 1.10049260
    assert res.equity[-1] == pytest.approx(1 + 0.5 * t.net_return[0], rel=1e-12)
    # Position held during bars 2, 3, 4 of 10.
    assert res.exposure == pytest.approx(0.3)


def test_zero_cost_full_size_trade_is_the_price_ratio() -> None:
    # Signal at bar 1, hold 3: entry open[2] = 100, exit close[4] = 125 -> +25%.
    res = bt(proba_with([1]))
    assert res.trades.net_return[0] == pytest.approx(0.25, rel=1e-12)
    # Equity is close / 100 while held: 0.95, 1.20, 1.25.
    np.testing.assert_allclose(res.equity, [1, 1, 0.95, 1.2, 1.25, 1.25, 1.25, 1.25, 1.25, 1.25])


def test_two_trades_reentry_at_exit_bar() -> None:
    # hold_max 2. Signal at 1 -> trade held 2, 3, exit at close 3. The signal at 2 arrives while
    # that trade is open and is ignored. The signal at 3 (the exit bar) re-enters at open 4,
    # held 4, 5, exit at close 5.
    res = bt(proba_with([1, 2, 3]), hold_max=2)
    t = res.trades
    assert t.entry_bar.tolist() == [2, 4]
    assert t.exit_bar.tolist() == [3, 5]
    assert t.forced_exit.tolist() == [False, False]
    # Trade 1: 100 -> close[3] = 120: +20%.  Trade 2: open[4] = 120 -> close[5] = 100: -1/6.
    np.testing.assert_allclose(t.entry_price, [100, 120])
    np.testing.assert_allclose(t.exit_price, [120, 100])
    np.testing.assert_allclose(t.net_return, [0.2, 100 / 120 - 1], rtol=1e-12)
    # Equity: bar 2 95/100 = 0.95, bar 3 1.2, bar 4 1.2 * 125/120 = 1.25, bar 5 1.2 * 100/120 = 1.0
    np.testing.assert_allclose(
        res.equity, [1, 1, 0.95, 1.2, 1.25, 1.0, 1.0, 1.0, 1.0, 1.0], rtol=1e-12
    )
    assert res.exposure == pytest.approx(0.4)


def test_fees_hit_equity_on_the_bar_they_are_paid() -> None:
    # Two back-to-back trades, fee 1%, no slippage, size 1, hold 2 (as above).
    res = bt(proba_with([1, 3]), hold_max=2, fee=0.01)
    # Trade 1: units = 1 / (100 * 1.01); bar 2: 95 / 101 = 0.94059406; bar 3 exits:
    #   120 * 0.99 / 101 = 1.17623762 = equity before trade 2.
    e3 = 120 * 0.99 / 101
    # Trade 2 enters at open 4 = 120: units = e3 / (120 * 1.01);
    #   bar 4: e3 * 125 / 121.2 = 1.21311717; bar 5: e3 * 100 * 0.99 / 121.2 = 0.96077964
    expected = [1, 1, 95 / 101, e3, e3 * 125 / 121.2, e3 * 99 / 121.2]
    np.testing.assert_allclose(res.equity[:6], expected, rtol=1e-12)
    np.testing.assert_allclose(res.trades.net_return, [120 * 0.99 / 101 - 1, 99 / 121.2 - 1])


def test_forced_exit_at_end_of_test_period() -> None:
    # Signal at 7, hold 3 would exit at close 10; the period ends at bar 9 -> forced exit there.
    res = bt(proba_with([7]), hold_max=3)
    t = res.trades
    assert (t.entry_bar.tolist(), t.exit_bar.tolist(), t.forced_exit.tolist()) == ([8], [9], [True])
    # open[8] = 100 -> close[9] = 105: +5%; held bars 8, 9.
    assert t.net_return[0] == pytest.approx(0.05, rel=1e-12)
    assert res.equity[-1] == pytest.approx(1.05, rel=1e-12)
    assert res.exposure == pytest.approx(0.2)


def test_exit_exactly_on_last_bar_is_not_forced() -> None:
    # Signal at 6, hold 3 -> exit at close 9, which is the planned exit.
    res = bt(proba_with([6]), hold_max=3)
    assert res.trades.exit_bar.tolist() == [9]
    assert res.trades.forced_exit.tolist() == [False]


def test_signal_at_second_to_last_bar_trades_one_bar() -> None:
    res = bt(proba_with([8]), hold_max=5)
    assert res.trades.entry_bar.tolist() == [9]
    assert res.trades.exit_bar.tolist() == [9]
    assert res.trades.forced_exit.tolist() == [True]
    # open[9] = 100 -> close[9] = 105
    assert res.trades.net_return[0] == pytest.approx(0.05)


def test_single_bar_period() -> None:
    res = run_backtest(
        [100.0], [101.0], [0.9], entry_threshold=0.5, size=1, hold_max=1, fee=0, slippage=0
    )
    assert len(res.trades) == 0
    assert res.equity.tolist() == [1.0]


def test_result_arrays_are_read_only() -> None:
    res = bt(proba_with([1]))
    with pytest.raises(ValueError):
        res.equity[0] = 2.0
    with pytest.raises(ValueError):
        res.trades.net_return[0] = 2.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"proba": np.full(N - 1, 0.1)}, "same length"),
        ({"open_": np.full((N, 1), 100.0)}, "1-D"),
        ({"open_": np.zeros(0), "close": np.zeros(0), "proba": np.zeros(0)}, "at least one bar"),
        ({"close": np.r_[CLOSE[:-1], np.nan]}, "finite and > 0"),
        ({"open_": np.r_[0.0, OPEN[1:]]}, "finite and > 0"),
        ({"hold_max": 0}, "hold_max"),
        ({"hold_max": 2.5}, "hold_max"),
        ({"size": 0.0}, "size"),
        ({"size": 1.5}, "size"),
        ({"fee": -0.001}, "fee"),
        ({"fee": 1.0}, "fee"),
        ({"slippage": -0.1}, "slippage"),
        ({"entry_threshold": math.nan}, "entry_threshold"),
    ],
)
def test_invalid_inputs_raise_value_error(change: dict[str, object], message: str) -> None:
    kwargs: dict[str, object] = {
        "open_": OPEN,
        "close": CLOSE,
        "proba": proba_with([1]),
        "entry_threshold": 0.6,
        "size": 1.0,
        "hold_max": 3,
        "fee": 0.0,
        "slippage": 0.0,
    }
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        run_backtest(**kwargs)  # type: ignore[arg-type]


# --- a bar-by-bar reference implementation, the rules read literally -------------------------


def reference_backtest(
    open_: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    proba: npt.NDArray[np.float64],
    threshold: float,
    size: float,
    hold_max: int,
    fee: float,
    slippage: float,
) -> tuple[list[float], list[tuple[int, int, float, bool]]]:
    n = len(close)
    equity: list[float] = []
    trades: list[tuple[int, int, float, bool]] = []
    cash, units, committed, entry, pending = 1.0, 0.0, 0.0, -1, False
    for i in range(n):
        if pending:  # enter at this bar's open
            committed = size * cash
            units = committed / (1 + fee) / (open_[i] * (1 + slippage))
            cash -= committed
            entry, pending = i, False
        exit_planned = entry >= 0 and (i == entry + hold_max - 1 or i == n - 1)
        if exit_planned:
            value = units * close[i] * (1 - slippage) * (1 - fee)
            cash += value
            trades.append((entry, i, value / committed - 1, i < entry + hold_max - 1))
            units, entry = 0.0, -1
        equity.append(cash + units * close[i])
        if entry < 0 and i < n - 1 and proba[i] > threshold:
            pending = True
    return equity, trades


prices = st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=60)
probas = st.one_of(st.floats(0.0, 1.0), st.just(math.nan))


@st.composite
def markets(draw: st.DrawFn) -> tuple[npt.NDArray[np.float64], ...]:
    close = np.array(draw(prices))
    n = len(close)
    gaps = np.array(draw(st.lists(st.floats(0.8, 1.25), min_size=n, max_size=n)))
    open_ = np.r_[close[0] * gaps[0], close[:-1] * gaps[1:]]
    proba = np.array(draw(st.lists(probas, min_size=n, max_size=n)))
    return open_, close, proba


@settings(max_examples=200, deadline=None)
@given(
    markets(),
    st.floats(0.0, 1.0),
    st.floats(0.01, 1.0),
    st.integers(1, 8),
    st.floats(0.0, 0.05),
    st.floats(0.0, 0.05),
)
def test_matches_bar_by_bar_reference(
    market: tuple[npt.NDArray[np.float64], ...],
    threshold: float,
    size: float,
    hold_max: int,
    fee: float,
    slippage: float,
) -> None:
    open_, close, proba = market
    res = run_backtest(
        open_,
        close,
        proba,
        entry_threshold=threshold,
        size=size,
        hold_max=hold_max,
        fee=fee,
        slippage=slippage,
    )
    ref_equity, ref_trades = reference_backtest(
        open_, close, proba, threshold, size, hold_max, fee, slippage
    )
    np.testing.assert_allclose(res.equity, ref_equity, rtol=1e-9)
    t = res.trades
    assert list(zip(t.entry_bar.tolist(), t.exit_bar.tolist(), strict=True)) == [
        (e, x) for e, x, _, _ in ref_trades
    ]
    np.testing.assert_allclose(
        t.net_return, [r for _, _, r, _ in ref_trades], rtol=1e-9, atol=1e-12
    )
    assert t.forced_exit.tolist() == [f for _, _, _, f in ref_trades]
    # Invariants.
    assert np.all(res.equity > 0)
    assert len(res.returns) == len(close)
    assert 0.0 <= res.exposure <= 1.0
    assert np.all(t.exit_bar - t.entry_bar + 1 <= hold_max)
    assert np.all(t.entry_bar[1:] > t.exit_bar[:-1])
    assert res.equity[-1] == pytest.approx(float(np.prod(1 + size * t.net_return)), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(markets(), st.integers(1, 8))
def test_costless_full_size_trade_return_is_price_ratio(
    market: tuple[npt.NDArray[np.float64], ...], hold_max: int
) -> None:
    open_, close, proba = market
    res = run_backtest(
        open_, close, proba, entry_threshold=0.5, size=1.0, hold_max=hold_max, fee=0, slippage=0
    )
    t = res.trades
    # atol: a return near 0 is a difference of two numbers near 1, exact only to about 1e-16
    np.testing.assert_allclose(
        t.net_return, close[t.exit_bar] / open_[t.entry_bar] - 1, rtol=1e-12, atol=1e-15
    )
    assert np.all(res.equity > 0)


def test_speed_20k_bars() -> None:
    import time

    rng = np.random.default_rng(0)
    n = 20_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[100.0, close[:-1]]
    proba = rng.random(n)
    kwargs = {"size": 0.5, "hold_max": 6, "fee": 0.001, "slippage": 0.0005}
    run_backtest(open_, close, proba, entry_threshold=0.5, **kwargs)  # type: ignore[arg-type]
    start = time.perf_counter()
    for _ in range(20):
        run_backtest(open_, close, proba, entry_threshold=0.5, **kwargs)  # type: ignore[arg-type]
    per_call = (time.perf_counter() - start) / 20
    # Target is < 5 ms; the bound is loose so a busy CI machine does not flake.
    assert per_call < 0.05
