"""Tests for sweep.core.features: the registry, group resolution, and the causality contract."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.core.data import load_market_data
from sweep.core.errors import ConfigError
from sweep.core.features import (
    FEATURE_GROUPS,
    FEATURES,
    compute_features,
    known_groups,
    resolve_features,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CONTRACT = {
    "momentum": ("rsi_14", "rsi_7", "macd_signal", "macd_hist", "roc_10"),
    "volume": ("obv_ratio", "vwap_deviation", "volume_zscore"),
    "volatility": ("atr_pct", "bb_width", "daily_range_pct"),
    "trend": ("ema_cross_9_21", "ema_cross_21_55", "adx_14"),
}
# Longest warm-up of any registered feature is EMA(55): 54 bars; 100 leaves room.
WARM_UP = 100


@pytest.fixture(scope="module")
def btc_1h() -> pd.DataFrame:
    return load_market_data("BTC/USDT", "1h", DATA_DIR).frame


@pytest.fixture(scope="module")
def btc_4h_slice() -> pd.DataFrame:
    frame = load_market_data("BTC/USDT", "4h", DATA_DIR).frame
    return frame.iloc[8_000:9_500]


# --- registry -----------------------------------------------------------------------------------


def test_contract_groups_present_in_order() -> None:
    for group, names in CONTRACT.items():
        assert FEATURE_GROUPS[group] == names


def test_every_feature_in_exactly_one_group() -> None:
    listed = [name for names in FEATURE_GROUPS.values() for name in names]
    assert sorted(listed) == sorted(FEATURES)
    assert len(listed) == len(set(listed))
    for name, definition in FEATURES.items():
        assert definition.name == name
        assert name in FEATURE_GROUPS[definition.group]
        assert definition.doc, f"{name} has no documented definition"


def test_known_groups() -> None:
    assert known_groups()[:4] == list(CONTRACT)


def test_resolve_features_order_and_dedupe() -> None:
    assert resolve_features(["trend", "momentum"]) == [*CONTRACT["trend"], *CONTRACT["momentum"]]
    assert resolve_features(["volume", "volume"]) == list(CONTRACT["volume"])
    assert resolve_features([]) == []


def test_unknown_group_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_features(["momentum", "volatilty"])
    error = info.value
    assert (error.key, error.value) == ("feature_groups", "volatilty")
    assert error.message == "unknown feature group"
    assert error.hint is not None
    assert "did you mean 'volatility'?" in error.hint and "known groups: momentum" in error.hint
    assert isinstance(error, ValueError)


def test_unknown_feature_and_timeframe(btc_4h_slice: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="did you mean 'rsi_14'"):
        compute_features(btc_4h_slice, "4h", ["rsi_41"])
    with pytest.raises(ConfigError, match="valid timeframes"):
        compute_features(btc_4h_slice, "3h")


# --- values -------------------------------------------------------------------------------------


def test_shape_dtype_and_selection(btc_4h_slice: pd.DataFrame) -> None:
    chosen = ["macd_hist", "rsi_14", "macd_signal"]
    features = compute_features(btc_4h_slice, "4h", chosen)
    assert list(features.columns) == chosen
    assert features.index.equals(btc_4h_slice.index)
    assert all(dtype == np.float64 for dtype in features.dtypes)
    everything = compute_features(btc_4h_slice, "4h")
    assert list(everything.columns) == list(FEATURES)
    pd.testing.assert_frame_equal(everything[chosen], features)


def test_real_data_finite_after_warm_up(btc_1h: pd.DataFrame) -> None:
    started = time.perf_counter()
    features = compute_features(btc_1h, "1h")
    elapsed = time.perf_counter() - started
    values = features.to_numpy()
    assert not np.isinf(values).any()
    assert np.isfinite(values[WARM_UP:]).all(), features.iloc[WARM_UP:].isna().sum().to_dict()
    assert elapsed < 1.0, f"all features on {len(btc_1h)} rows took {elapsed:.2f}s"


def test_scale_free(btc_4h_slice: pd.DataFrame) -> None:
    """Multiplying every price by 1000 leaves every feature unchanged (volume untouched)."""
    scaled = btc_4h_slice.copy()
    scaled[["open", "high", "low", "close"]] *= 1000.0
    base, big = compute_features(btc_4h_slice, "4h"), compute_features(scaled, "4h")
    pd.testing.assert_frame_equal(base, big, rtol=1e-6, atol=1e-9)


def test_zero_volume_gives_nan_not_inf() -> None:
    index = pd.date_range("2024-01-01", periods=80, freq="1h", tz="UTC", name="timestamp")
    close = 100.0 + np.sin(np.arange(80))
    frame = pd.DataFrame(
        {"open": close, "high": close + 1, "low": close - 1, "close": close, "volume": 0.0},
        index=index,
    )
    features = compute_features(frame, "1h")
    assert not np.isinf(features.to_numpy()).any()
    assert features[["obv_ratio", "vwap_deviation", "volume_zscore"]].isna().all().all()


def test_definitions_on_known_values() -> None:
    index = pd.date_range("2024-01-01", periods=30, freq="1D", tz="UTC", name="timestamp")
    close = np.linspace(100.0, 129.0, 30)
    frame = pd.DataFrame(
        {"open": close, "high": close + 2, "low": close - 3, "close": close, "volume": 1.0},
        index=index,
    )
    features = compute_features(frame, "1d")
    assert features["roc_10"].iloc[-1] == pytest.approx(129.0 / 119.0 - 1)
    assert features["daily_range_pct"].iloc[-1] == pytest.approx(5.0 / 129.0)  # 1 bar per day
    assert features["log_return_1"].iloc[-1] == pytest.approx(np.log(129.0 / 128.0))
    typical = (close + 2 + close - 3 + close) / 3
    assert features["vwap_deviation"].iloc[-1] == pytest.approx(129.0 / typical[-20:].mean() - 1)


# --- the causality contract ---------------------------------------------------------------------


def first_leak(
    compute: Callable[[pd.DataFrame], pd.DataFrame], frame: pd.DataFrame, cuts: list[int]
) -> tuple[int, str] | None:
    """The first (bar, column) whose value up to bar t changes when bars after t are removed."""
    full = compute(frame)
    for t in cuts:
        truncated = compute(frame.iloc[: t + 1])
        for column in full.columns:
            a = full[column].to_numpy()[: t + 1]
            b = truncated[column].to_numpy()
            same_nan = np.array_equal(np.isnan(a), np.isnan(b))
            if not same_nan or not np.allclose(a, b, rtol=1e-10, atol=1e-12, equal_nan=True):
                return t, column
    return None


def compute_one(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """One feature alone, so shared work (the MACD memo) cannot mask a leak in another."""
    return compute_features(frame, "4h", [name])


def test_causality_contract(btc_4h_slice: pd.DataFrame) -> None:
    """Every registered feature at bar t (and before) reads nothing after bar t."""
    cuts = [300, 700, 1000, len(btc_4h_slice) - 2, len(btc_4h_slice) - 1]
    for name in FEATURES:
        leak = first_leak(functools.partial(compute_one, name=name), btc_4h_slice, cuts)
        assert leak is None, f"feature {name} reads the future at bar {leak}"


def test_causality_check_catches_a_leak(btc_4h_slice: pd.DataFrame) -> None:
    """The contract test would fail a feature that peeks one bar ahead."""

    def peeking(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"next_close": frame["close"].shift(-1)})

    assert first_leak(peeking, btc_4h_slice, [300]) == (300, "next_close")
