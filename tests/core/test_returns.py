"""Daily compounding, compact storage and alignment of trial returns."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.returns import ENCODING, DailyReturns, align, daily_returns, decode, encode


def test_bars_compound_to_calendar_days_and_gaps_are_zero_days() -> None:
    idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 12:00", "2024-01-03 04:00"], tz="UTC")
    out = daily_returns(idx, np.array([0.10, -0.05, 0.02]))
    assert out.first_day == date(2024, 1, 1)
    # 1.10 * 0.95 - 1 on day one, nothing traded on day two, 2% on day three
    np.testing.assert_allclose(out.values, [1.10 * 0.95 - 1, 0.0, 0.02], rtol=1e-12)
    assert out.last_day == date(2024, 1, 3)


def test_encode_decode_round_trip_within_float32() -> None:
    rng = np.random.default_rng(0)
    values = np.where(rng.random(900) < 0.9, 0.0, rng.normal(0, 0.01, 900))
    series = DailyReturns(date(2023, 1, 1), values)
    blob = encode(series)
    back = decode(series.first_day, len(values), ENCODING, blob)
    np.testing.assert_allclose(back.values, values, rtol=1e-6, atol=1e-9)
    # a sparse strategy (90% flat days) stores in far fewer bytes than float32 per day
    assert len(blob) < 0.5 * 4 * len(values)


def test_decode_rejects_unknown_encoding_and_wrong_length() -> None:
    blob = encode(DailyReturns(date(2023, 1, 1), np.zeros(10)))
    with pytest.raises(ValueError, match="encoding"):
        decode(date(2023, 1, 1), 10, "raw", blob)
    with pytest.raises(ValueError, match="expected 11"):
        decode(date(2023, 1, 1), 11, ENCODING, blob)


def test_align_takes_the_common_days() -> None:
    a = DailyReturns(date(2024, 1, 1), np.arange(5, dtype=float))  # Jan 1..5
    b = DailyReturns(date(2024, 1, 3), np.arange(10, 14, dtype=float))  # Jan 3..6
    start, m = align([a, b])
    assert start == date(2024, 1, 3)
    np.testing.assert_array_equal(m, [[2, 10], [3, 11], [4, 12]])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2), min_size=1, max_size=60))
def test_total_growth_is_preserved(rs: list[float]) -> None:
    idx = pd.date_range("2024-03-01", periods=len(rs), freq="5h", tz="UTC")
    out = daily_returns(idx, np.array(rs))
    assert np.prod(1 + out.values) == pytest.approx(np.prod(1 + np.array(rs)), rel=1e-9)
