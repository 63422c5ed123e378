"""Golden values (by hand, arithmetic in the comments) and invariants of the metrics."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.backtest import run_backtest
from sweep.core.metrics import (
    Metrics,
    alpha,
    alpha_exposure,
    annual_return,
    auc,
    avg_trade_return,
    bh_return,
    compute_metrics,
    max_drawdown,
    profit_factor,
    sharpe,
    sortino,
    total_return,
    win_rate,
)

# The same 10-bar period as tests/test_backtest.py.
OPEN = np.array([100, 100, 100, 95, 120, 125, 100, 90, 100, 100], dtype=np.float64)
CLOSE = np.array([100, 100, 95, 120, 125, 100, 90, 100, 100, 105], dtype=np.float64)
PROBA = np.array([0.1, 0.9, 0.2, 0.3, 0.4, 0.5, 0.1, 0.2, 0.3, 0.4])
LABELS = np.array([0, 1, 1, 1, 0, 0, 0, 1, 0, 0], dtype=np.float64)

EXPECTED_KEYS = {
    "sharpe",
    "sortino",
    "win_rate",
    "total_return",
    "bh_return",
    "alpha",
    "alpha_exposure",
    "max_drawdown",
    "n_trades",
    "exposure",
    "profit_factor",
    "avg_trade_return",
    "auc",
    "n_bars",
    "annual_return",
}


def test_zero_trades_is_a_defined_result() -> None:
    bt = run_backtest(
        OPEN, CLOSE, np.zeros(10), entry_threshold=0.5, size=1, hold_max=3, fee=0, slippage=0
    )
    m = compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=1)
    # bh = close[9] / open[0] - 1 = 105 / 100 - 1 = 0.05; alpha = 0 - 0.05.
    assert m == Metrics(
        sharpe=0.0,
        sortino=0.0,
        win_rate=0.0,
        total_return=0.0,
        bh_return=pytest.approx(0.05),  # type: ignore[arg-type]
        alpha=pytest.approx(-0.05),  # type: ignore[arg-type]
        alpha_exposure=0.0,  # nothing committed: the benchmark holds nothing either
        max_drawdown=0.0,
        n_trades=0,
        exposure=0.0,
        profit_factor=None,
        avg_trade_return=0.0,
        auc=None,
        n_bars=10,
        annual_return=0.0,
    )
    d = m.to_dict()
    assert set(d) == EXPECTED_KEYS
    json.dumps(d, allow_nan=False)


def test_one_trade_every_metric() -> None:
    # Signal at bar 1 only (0.9 > 0.6); size 0.5, hold 3, fee 1%, slippage 1% (see test_backtest):
    # equity = [1, 1, e2, e3, e4, e4, e4, e4, e4, e4] with
    #   e2 = 0.5 + 0.5 * 95 / 102.01 = 0.96564062, e3 = 0.5 + 0.5 * 120 / 102.01 = 1.08817763,
    #   e4 = 0.5 + 0.5 * 122.5125 / 102.01 = 1.10049260; net trade return 122.5125/102.01 - 1.
    bt = run_backtest(
        OPEN, CLOSE, PROBA, entry_threshold=0.6, size=0.5, hold_max=3, fee=0.01, slippage=0.01
    )
    m = compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=0.5, proba=PROBA, labels=LABELS)
    e2 = 0.5 + 0.5 * 95 / 102.01
    e3 = 0.5 + 0.5 * 120 / 102.01
    e4 = 0.5 + 0.5 * 122.5125 / 102.01
    r = np.array([0, 0, e2 - 1, e3 / e2 - 1, e4 / e3 - 1, 0, 0, 0, 0, 0])
    # r = [0, 0, -0.03435938, 0.12689711, 0.01131706, 0 x5]; mean = 0.10385479 / 10 = 0.01038548
    # std(ddof=1) = 0.04260013 -> sharpe = 0.01038548 / 0.04260013 * sqrt(10) = 0.77093124
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(10), rel=1e-9)
    assert m.sharpe == pytest.approx(0.7709312428, abs=1e-9)
    # downside dev = sqrt(0.03435938^2 / 10) = 0.01086539 -> sortino = 0.01038548 / 0.01086539
    #   * sqrt(10) = 3.02260412
    assert m.sortino == pytest.approx(r.mean() / math.sqrt((e2 - 1) ** 2 / 10) * math.sqrt(10))
    assert m.sortino == pytest.approx(3.0226041204, abs=1e-9)
    assert m.win_rate == 1.0
    assert m.total_return == pytest.approx(e4 - 1, rel=1e-12)  # 0.10049260
    assert m.bh_return == pytest.approx(0.05)  # 105 / 100 - 1
    assert m.alpha == pytest.approx(e4 - 1 - 0.05, rel=1e-12)  # 0.05049260
    # Committed on average: exposure 0.3 x size 0.5 = 0.15 of equity; that much buy and hold
    # earns 0.15 x 5% = 0.75%: alpha_exposure = 0.10049260 - 0.0075 = 0.09299260.
    assert m.alpha_exposure == pytest.approx(e4 - 1 - 0.0075, rel=1e-12)
    # Peak is the initial 1.0 when bar 2 closes at e2: 1 - 0.96564062 = 0.03435938.
    assert m.max_drawdown == pytest.approx(1 - e2, rel=1e-12)
    assert m.n_trades == 1
    assert m.exposure == pytest.approx(0.3)  # bars 2, 3, 4
    assert m.profit_factor is None  # no losing trade
    assert m.avg_trade_return == pytest.approx(122.5125 / 102.01 - 1, rel=1e-12)
    # Positives (bars 1, 2, 3, 7) p = 0.9, 0.2, 0.3, 0.2; negatives p = .1 .4 .5 .1 .3 .4.
    # Pairs won (ties 1/2): 0.9 -> 6, 0.2 -> 2, 0.3 -> 2 + 0.5, 0.2 -> 2; 12.5 / (4 * 6) = 0.52083
    assert m.auc == pytest.approx(12.5 / 24)
    assert m.n_bars == 10
    # 10 bars at 10 bars a year is one year, so the CAGR is the total return.
    assert m.annual_return == pytest.approx(e4 - 1, rel=1e-12)
    json.dumps(m.to_dict(), allow_nan=False)


def test_two_trades_metrics() -> None:
    # hold 2, signals 1 and 3, no costs, size 1: trades +20% and -1/6, equity ends at 1.0,
    # path [1, 1, .95, 1.2, 1.25, 1, 1, 1, 1, 1].
    proba = np.array([0.1, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    bt = run_backtest(
        OPEN, CLOSE, proba, entry_threshold=0.6, size=1, hold_max=2, fee=0, slippage=0
    )
    m = compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=1)
    assert m.n_trades == 2
    assert m.win_rate == 0.5
    assert m.total_return == pytest.approx(0.0, abs=1e-12)
    assert m.profit_factor == pytest.approx(0.2 / (1 / 6))  # = 1.2
    assert m.avg_trade_return == pytest.approx((0.2 - 1 / 6) / 2)
    assert m.max_drawdown == pytest.approx(0.2)  # 1.25 -> 1.0
    assert m.exposure == pytest.approx(0.4)


def test_sharpe_known_mean_and_std() -> None:
    # r = [.01, -.01, .02, 0]: mean .005; deviations .005 -.015 .015 -.005, squares sum 5e-4,
    # var(ddof=1) = 5e-4 / 3; sharpe^2 = .005^2 / (5e-4 / 3) * 4 = 0.15 * 4 = 0.6.
    assert sharpe([0.01, -0.01, 0.02, 0.0], 4) == pytest.approx(math.sqrt(0.6))


def test_sharpe_degenerate() -> None:
    assert sharpe([], 252) == 0.0
    assert sharpe([0.01], 252) == 0.0
    assert sharpe([0.01, 0.01, 0.01], 252) == 0.0  # std 0


def test_sortino_known_value() -> None:
    # Downside: min(r, 0) = [0, -.01, 0, 0] -> mean square 1e-4 / 4, dev .005;
    # sortino = .005 / .005 * sqrt(4) = 2.
    assert sortino([0.01, -0.01, 0.02, 0.0], 4) == pytest.approx(2.0)
    assert sortino([0.01, 0.02], 4) == 0.0  # no losing bar
    assert sortino([0.01], 4) == 0.0


def test_max_drawdown_known_curves() -> None:
    # Peaks 1.1 1.1 1.2 1.2 1.2; drawdowns 0, .1, 0, .25, 1/6 -> 0.25.
    assert max_drawdown([1.1, 0.99, 1.2, 0.9, 1.0]) == pytest.approx(0.25)
    # The initial 1.0 is a peak: 0.8 is a 20% drawdown.
    assert max_drawdown([0.8, 0.9]) == pytest.approx(0.2)
    assert max_drawdown([1.0, 1.1, 1.2]) == 0.0


def test_win_rate_and_average() -> None:
    assert win_rate([]) == 0.0
    assert win_rate([0.1, -0.1, 0.0, 0.2]) == 0.5  # 0.0 is not a win
    assert avg_trade_return([]) == 0.0
    assert avg_trade_return([0.1, -0.1, 0.0, 0.2]) == pytest.approx(0.05)


def test_profit_factor() -> None:
    assert profit_factor([]) is None
    assert profit_factor([0.1, 0.2]) is None  # no losing trade
    assert profit_factor([0.0]) is None
    assert profit_factor([-0.1]) == 0.0
    # (0.1 + 0.2) / (0.05 + 0.1) = 2
    assert profit_factor([0.1, -0.05, 0.2, -0.1]) == pytest.approx(2.0)


def test_alpha_exposure_matches_the_committed_fraction() -> None:
    # 40% of the bars in the market with 50% of equity: 20% committed on average. The market
    # rose 30%, so holding 20% of equity in it earned 6%; the strategy made 8%.
    assert alpha_exposure(0.08, 0.30, 0.4, 0.5) == pytest.approx(0.02)
    # Fully invested all the time, it is the seed's alpha.
    assert alpha_exposure(0.08, 0.30, 1.0, 1.0) == pytest.approx(alpha(0.08, 0.30))
    # Never in the market: the benchmark holds nothing, whatever the market did.
    assert alpha_exposure(0.0, 3.5, 0.0, 0.02) == 0.0


def test_alpha_exposure_of_a_backtest_equals_a_matched_buy_and_hold() -> None:
    # Two trades, size 1, no costs (see test_two_trades_metrics): exposure 0.4, total return 0.
    proba = np.array([0.1, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    bt = run_backtest(
        OPEN, CLOSE, proba, entry_threshold=0.6, size=1, hold_max=2, fee=0, slippage=0
    )
    m = compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=1)
    # 40% of equity bought at the first open and held: 0.4 x (105 / 100 - 1) = 0.02.
    held = 0.4 * CLOSE[-1] / OPEN[0] + 0.6 - 1
    assert m.alpha_exposure == pytest.approx(m.total_return - held, abs=1e-12)
    assert m.alpha_exposure == pytest.approx(-0.02, abs=1e-12)
    assert m.alpha == pytest.approx(-0.05, abs=1e-12)  # the seed's alpha is unchanged


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("ratio", [sharpe, sortino])
def test_sharpe_of_a_series_with_nan_is_an_error(bad: float, ratio: object) -> None:
    r = np.array([0.01, -0.02, 0.03, 0.0, 0.01])
    assert callable(ratio)
    assert math.isfinite(ratio(r, 2190))
    r[2] = bad
    with pytest.raises(ValueError, match=r"returns must be finite.*at bar 2"):
        ratio(r, 2190)
    # Not even a series too short to have a Sharpe ratio hides it.
    with pytest.raises(ValueError, match="finite"):
        ratio(np.array([bad]), 2190)


def test_returns_and_alpha() -> None:
    assert total_return([1.0, 1.2, 0.9]) == pytest.approx(-0.1)
    assert bh_return([50.0, 60.0], [55.0, 75.0]) == pytest.approx(0.5)  # 75 / 50 - 1
    assert alpha(0.1, 0.25) == pytest.approx(-0.15)


def test_annual_return() -> None:
    # 20 bars at 10 a year = 2 years: 1.21 ** (1/2) - 1 = 0.1
    assert annual_return(0.21, 20, 10) == pytest.approx(0.1)
    # 5 bars = half a year: 1.1 ** 2 - 1 = 0.21
    assert annual_return(0.1, 5, 10) == pytest.approx(0.21)
    assert annual_return(-1.0, 5, 10) == -1.0
    assert annual_return(1.0, 1, 1e6) == math.inf


def test_to_dict_replaces_non_finite_with_none() -> None:
    bt = run_backtest(
        OPEN, CLOSE, np.zeros(10), entry_threshold=0.5, size=1, hold_max=3, fee=0, slippage=0
    )
    m = compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=1)
    d = Metrics(**{**m.__dict__, "annual_return": math.inf}).to_dict()
    assert d["annual_return"] is None
    assert all(type(v) in (int, float, type(None)) for v in d.values())


def test_compute_metrics_validates() -> None:
    bt = run_backtest(
        OPEN, CLOSE, np.zeros(10), entry_threshold=0.5, size=1, hold_max=3, fee=0, slippage=0
    )
    with pytest.raises(ValueError, match="test bars"):
        compute_metrics(bt, OPEN[:-1], CLOSE[:-1], bars_per_year=10, size=1)
    with pytest.raises(ValueError, match="bars_per_year"):
        compute_metrics(bt, OPEN, CLOSE, bars_per_year=0, size=1)
    for size in (0.0, 1.5, math.nan):
        with pytest.raises(ValueError, match="size"):
            compute_metrics(bt, OPEN, CLOSE, bars_per_year=10, size=size)


def test_auc_known_rankings() -> None:
    assert auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5  # all ties
    # Positives p = .3, .5; negatives .1, .3, .6: .3 beats .1 and ties .3 -> 1.5; .5 beats .1, .3
    # -> 2; (1.5 + 2) / 6 = 0.58333. Rank check: ranks .1:1 .3:2.5 .3:2.5 .5:4 .6:5, R_pos = 6.5,
    # (6.5 - 3) / 6 = 0.58333.
    assert auc([0.1, 0.3, 0.3, 0.5, 0.6], [0, 1, 0, 1, 0]) == pytest.approx(3.5 / 6)


def test_auc_none_and_nan_handling() -> None:
    assert auc([0.1, 0.2], [1, 1]) is None
    assert auc([], []) is None
    # NaN in either array drops that bar: what is left is a perfect ranking.
    assert auc([0.1, np.nan, 0.9, 0.5], [0, 1, 1, np.nan]) == 1.0
    with pytest.raises(ValueError, match="0 or 1"):
        auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="one length"):
        auc([0.1, 0.2], [0])


def brute_force_auc(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float | None:
    pos = p[y == 1]
    neg = p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


# Few distinct values so ties are common.
tied_scores = st.lists(
    st.tuples(st.integers(0, 5).map(lambda k: k / 5), st.integers(0, 1)), min_size=0, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(tied_scores)
def test_auc_matches_pair_count_and_is_symmetric(rows: list[tuple[float, int]]) -> None:
    p = np.array([r[0] for r in rows], dtype=np.float64)
    y = np.array([r[1] for r in rows], dtype=np.float64)
    got = auc(p, y)
    expected = brute_force_auc(p, y)
    if expected is None:
        assert got is None
        return
    assert got is not None
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= got <= 1.0
    flipped = auc(1 - p, y)
    assert flipped is not None
    assert flipped == pytest.approx(1 - got, abs=1e-12)


returns_lists = st.lists(st.floats(-0.5, 0.5), min_size=0, max_size=50)


@settings(max_examples=200, deadline=None)
@given(returns_lists)
def test_drawdown_and_win_rate_bounds(r: list[float]) -> None:
    equity = np.cumprod(1 + np.array(r, dtype=np.float64))
    assert 0.0 <= max_drawdown(equity) <= 1.0
    assert 0.0 <= win_rate(r) <= 1.0
    pf = profit_factor(r)
    assert pf is None or pf >= 0.0
    assert math.isfinite(sharpe(r, 2190))
    assert math.isfinite(sortino(r, 2190))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(1.0, 1000.0), min_size=2, max_size=40),
    st.floats(0.0, 1.0),
    st.integers(1, 6),
)
def test_compute_metrics_on_random_backtests(
    close_list: list[float], threshold: float, hold_max: int
) -> None:
    close = np.array(close_list)
    open_ = np.r_[close[0], close[:-1]]
    proba = np.linspace(0, 1, len(close))[::-1]
    bt = run_backtest(
        open_,
        close,
        proba,
        entry_threshold=threshold,
        size=0.3,
        hold_max=hold_max,
        fee=0.001,
        slippage=0.001,
    )
    labels = (np.arange(len(close)) % 2).astype(np.float64)
    m = compute_metrics(bt, open_, close, bars_per_year=2190, size=0.3, proba=proba, labels=labels)
    assert 0.0 <= m.max_drawdown <= 1.0
    assert 0.0 <= m.win_rate <= 1.0
    assert m.auc is not None and 0.0 <= m.auc <= 1.0
    assert m.alpha == pytest.approx(m.total_return - m.bh_return)
    json.dumps(m.to_dict(), allow_nan=False)
