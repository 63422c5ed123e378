"""Market regimes read only earlier bars; the regime table splits a run's own per-bar returns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sweep.core.data import load_market_data
from sweep.core.metrics import sharpe
from sweep.core.regimes import (
    REGIMES,
    TREND_DAYS,
    VOL_MEDIAN_DAYS,
    BarRegimes,
    bar_regimes,
    regime_table,
)

from conftest import DATA_DIR  # isort: skip


@pytest.fixture(scope="module")
def btc_close() -> np.ndarray:
    market = load_market_data("BTC/USDT", "4h", DATA_DIR)
    return market.frame["close"].to_numpy()[:6000]


def test_labels_are_causal(btc_close: np.ndarray) -> None:
    full = bar_regimes(btc_close, "4h")
    for t in (800, 2500, 5999):
        # bars after t removed: labels up to t unchanged
        cut = bar_regimes(btc_close[: t + 1], "4h")
        np.testing.assert_array_equal(cut.up, full.up[: t + 1])
        np.testing.assert_array_equal(cut.high_vol, full.high_vol[: t + 1])
        # bar t's own close changed: its label unchanged (it reads bars up to t - 1)
        moved = btc_close[: t + 1].copy()
        moved[t] *= 3.0
        shocked = bar_regimes(moved, "4h")
        np.testing.assert_array_equal(shocked.up, full.up[: t + 1])
        np.testing.assert_array_equal(shocked.high_vol, full.high_vol[: t + 1])


def test_warm_up_has_no_regime_then_every_bar_has_one(btc_close: np.ndarray) -> None:
    r = bar_regimes(btc_close, "4h")
    trend_bars, vol_bars = TREND_DAYS * 6, VOL_MEDIAN_DAYS * 6
    assert np.isnan(r.up[:trend_bars]).all() and not np.isnan(r.up[trend_bars:]).any()
    assert np.isnan(r.high_vol[:vol_bars]).all()
    assert set(np.unique(r.high_vol[vol_bars + 7 * 6 :])) == {0.0, 1.0}


def test_a_rising_market_is_up_and_a_calm_one_low() -> None:
    n = 24 * 400
    t = np.arange(n)
    rng = np.random.default_rng(0)
    noise = np.where(t < n // 2, 0.001, 0.02) * rng.standard_normal(n)  # calm, then wild
    close = 100 * np.exp(np.cumsum(0.0005 + noise))
    r = bar_regimes(close, "1h")
    late = slice(n // 2 + 24 * 10, n // 2 + 24 * 60)
    early = slice(24 * 120, n // 2)
    assert np.nanmean(r.high_vol[late]) > 0.9  # volatility jumped above its trailing median
    assert np.nanmean(r.high_vol[early]) < 0.6
    steady = 100 * np.exp(0.001 * t)  # a steady rise: always above its trailing median
    assert np.nanmean(bar_regimes(steady, "1h").up) == 1.0


def test_regime_table_splits_the_returns() -> None:
    rng = np.random.default_rng(1)
    n = 400
    returns = rng.normal(0.0005, 0.01, n)
    up = np.r_[np.full(50, np.nan), (rng.random(n - 50) > 0.5).astype(float)]
    high = np.r_[np.full(80, np.nan), (rng.random(n - 80) > 0.5).astype(float)]
    table = regime_table(returns, BarRegimes(up, high), bars_per_year=2190)
    assert list(table) == list(REGIMES)
    assert table["all"]["bars"] == n and table["all"]["share"] == 1.0
    assert table["up"]["bars"] + table["down"]["bars"] == n - 50
    assert table["high_vol"]["bars"] + table["low_vol"]["bars"] == n - 80
    combos = ("up_high_vol", "up_low_vol", "down_high_vol", "down_low_vol")
    assert sum(int(table[k]["bars"] or 0) for k in combos) == int(
        np.sum(~np.isnan(up) & ~np.isnan(high))
    )
    assert table["all"]["sharpe"] == pytest.approx(sharpe(returns, 2190))
    mask = up == 1.0
    assert table["up"]["sharpe"] == pytest.approx(sharpe(returns[mask], 2190))
    assert table["up"]["total_return"] == pytest.approx(float(np.prod(1 + returns[mask]) - 1))


def test_regime_table_edge_cases() -> None:
    empty = regime_table(np.zeros(3), BarRegimes(np.full(3, np.nan), np.full(3, np.nan)), 365)
    assert empty["up"] == {
        "bars": 0,
        "share": 0.0,
        "sharpe": None,
        "sortino": None,
        "total_return": None,
        "annual_return": None,
        "max_drawdown": None,
    }
    assert empty["all"]["sharpe"] == 0.0  # flat: no variation
    with pytest.raises(ValueError, match="3 returns but 2 labelled bars"):
        regime_table(np.zeros(3), BarRegimes(np.zeros(2), np.zeros(2)), 365)
    assert all(v is None or math.isfinite(v) for row in empty.values() for v in row.values())
