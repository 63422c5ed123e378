"""Tests for sweep.core.datacheck: every check counted on its own, and coverage measured."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.core.data import clear_cache, find_data_file, load_market_data, read_raw_checked
from sweep.core.datacheck import DataReport, build_report, check_bars, measure_coverage, report_rows

DATA_DIR = Path(__file__).resolve().parents[2] / "data"


def good_raw(n: int = 24) -> pd.DataFrame:
    """``n`` clean hourly bars as a CSV reader returns them: every value a string."""
    stamps = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": "100",
            "high": "102",
            "low": "99",
            "close": "101",
            "volume": "10",
        }
    )


def counts(raw: pd.DataFrame, timeframe: str = "1h") -> dict[str, tuple[int, int | None]]:
    """The checks that found something: name -> (count, first row)."""
    return {f.check: (f.count, f.first_row) for f in check_bars(raw, timeframe) if f.count}


def test_clean_bars_pass_every_check() -> None:
    assert counts(good_raw()) == {}


# (column, value put in row 6, the checks that must fire)
ONE_BAD_VALUE: list[tuple[str, str, set[str]]] = [
    ("timestamp", "yesterday", {"unreadable timestamps"}),
    ("timestamp", "2024-01-01T04:30:00Z", {"timestamps off the 1h grid"}),
    ("timestamp", "2024-01-01T04:00:00Z", {"duplicate timestamps"}),
    ("timestamp", "2023-12-31T05:00:00Z", {"timestamps out of order"}),
    ("close", "abc", {"missing or non-numeric values"}),
    ("close", "", {"missing or non-numeric values"}),
    ("high", "inf", {"non-finite values (inf)"}),
    ("low", "-inf", {"non-finite values (inf)"}),
    ("low", "0", {"prices <= 0"}),
    ("low", "-5", {"prices <= 0"}),
    ("high", "2e12", {"prices > 1e+12"}),
    ("volume", "-1", {"negative volume"}),
    ("volume", "0", {"zero-volume bars"}),
    ("high", "100.5", {"high < max(open, close)"}),
    ("low", "100.5", {"low > min(open, close)"}),
    ("high", "98", {"high < max(open, close)", "high < low"}),
]


@pytest.mark.parametrize(("column", "value", "fired"), ONE_BAD_VALUE)
def test_each_problem_is_counted_with_its_first_row(
    column: str, value: str, fired: set[str]
) -> None:
    raw = good_raw()
    raw.loc[5, column] = value
    found = counts(raw)
    assert set(found) == fired
    assert all(first == 6 for _, first in found.values())
    assert all(count == 1 for count, _ in found.values())


def test_all_rows_are_counted_not_only_the_first() -> None:
    raw = good_raw()
    raw.loc[[3, 9, 17], "high"] = "inf"
    raw.loc[[2, 20], "volume"] = "-3"
    found = counts(raw)
    assert found == {"non-finite values (inf)": (3, 4), "negative volume": (2, 3)}
    report = build_report(
        raw,
        file="f.csv",
        file_format="csv",
        symbol="BTC/USDT",
        timeframe="1h",
        source_timeframe="1h",
    )
    assert report.problems == 5 and not report.ok
    first = next(f for f in report.findings if f.check == "non-finite values (inf)")
    assert first.first_value == "high=inf"


def test_zero_volume_is_reported_but_not_a_problem() -> None:
    raw = good_raw()
    raw.loc[4, "volume"] = "0"
    report = build_report(
        raw, file="f.csv", file_format="csv", symbol="X/Y", timeframe="1h", source_timeframe="1h"
    )
    assert report.ok
    assert [f.count for f in report.findings if f.check == "zero-volume bars"] == [1]


def test_epoch_seconds_and_empty_files_are_problems() -> None:
    seconds = pd.DataFrame(
        {"timestamp": [1704067200, 1704070800], **{c: [1.0, 1.0] for c in ("open", "high", "low")}}
    ).assign(close=1.0, volume=1.0)
    assert counts(seconds)["epoch seconds, not milliseconds"] == (2, 1)
    assert counts(good_raw(0)) == {"no bars": (1, None)}


# --- coverage -----------------------------------------------------------------------------------


def weekday_hours(start: str, end: str, skip_hour: int | None = None) -> pd.DatetimeIndex:
    """Hourly bars on weekdays only (a market closed at weekends), optionally with a daily
    one-hour break."""
    hours = pd.date_range(start, end, freq="h", tz="UTC", inclusive="left")
    keep = hours.day_of_week < 5
    if skip_hour is not None:
        keep &= hours.hour != skip_hour
    return hours[keep]


def test_bars_per_year_of_a_market_closed_at_weekends() -> None:
    index = weekday_hours("2020-12-28", "2023-01-03")  # Monday to Tuesday: 2021, 2022 complete
    cov = measure_coverage(index, "1h")
    assert cov is not None
    weekdays = [np.busday_count(f"{y}-01-01", f"{y + 1}-01-01") for y in (2021, 2022)]
    assert cov.complete_years == [2021, 2022]
    assert cov.bars_per_year == float(np.median(weekdays)) * 24
    assert cov.days_per_year == round(cov.bars_per_year / 24, 1)
    assert cov.bars_per_year_24_7 == 8760
    weekends = int(np.count_nonzero(np.diff(index.as_unit("ns").asi8) > 3600 * 10**9))
    assert cov.gaps == cov.weekend_gaps == weekends
    assert cov.missing_bars == 48 * weekends and cov.longest_gap == 48
    assert cov.bars == len(index)


def test_daily_breaks_are_gaps_but_not_weekend_gaps() -> None:
    index = weekday_hours("2024-01-01", "2024-01-15", skip_hour=22)  # two weeks, Monday first
    cov = measure_coverage(index, "1h")
    assert cov is not None
    breaks = 10  # 22:00 on each of the ten weekdays (23:00 is open again, Fridays too)
    assert cov.weekend_gaps == 1  # the weekend between the two weeks
    assert cov.gaps == breaks + cov.weekend_gaps
    assert cov.missing_bars == breaks + 48
    assert (cov.longest_gap, cov.longest_gap_after) == (48, "2024-01-05T23:00:00Z")


def test_without_a_complete_year_bars_per_year_is_annualised() -> None:
    index = pd.date_range("2024-03-01", periods=240, freq="h", tz="UTC")
    cov = measure_coverage(index, "1h")
    assert cov is not None
    assert cov.complete_years == []
    assert cov.bars_per_year == pytest.approx(24 * 365.25)
    assert "no complete calendar year" in cov.bars_per_year_basis


def test_coverage_ignores_unreadable_duplicate_and_unsorted_stamps() -> None:
    index = pd.DatetimeIndex(
        ["2024-01-01T02:00", "2024-01-01T00:00", None, "2024-01-01T00:00", "2024-01-01T05:00"],
        tz="UTC",
    )
    cov = measure_coverage(index, "1h")
    assert cov is not None
    assert (cov.bars, cov.gaps, cov.missing_bars) == (3, 2, 3)
    assert (cov.longest_gap, cov.longest_gap_after) == (2, "2024-01-01T02:00:00Z")
    assert measure_coverage(pd.DatetimeIndex([], tz="UTC"), "1h") is None


@pytest.mark.parametrize("symbol", ["BTC/USDT", "XAU/USD", "USD/JPY"])
def test_shipped_files_bars_per_year_is_the_median_of_complete_years(symbol: str) -> None:
    clear_cache()
    frame = load_market_data(symbol, "1h", DATA_DIR).frame
    cov = measure_coverage(frame.index, "1h")
    assert cov is not None
    per_year = pd.Series(1, index=frame.index).groupby(frame.index.year).sum()
    first, last = frame.index[0], frame.index[-1]
    complete = [
        y
        for y in per_year.index
        if first <= pd.Timestamp(f"{y}-01-01", tz="UTC")
        and last >= pd.Timestamp(f"{y}-12-31T23:00", tz="UTC")
    ]
    assert cov.complete_years == complete
    assert cov.bars_per_year == float(per_year[complete].median())
    assert cov.gaps == load_market_data(symbol, "1h", DATA_DIR).fingerprint.gaps
    if symbol == "BTC/USDT":
        assert cov.bars_per_year > 0.99 * cov.bars_per_year_24_7  # crypto trades 24/7
    else:
        assert cov.bars_per_year < 0.75 * cov.bars_per_year_24_7  # FX and gold close
        assert cov.weekend_gaps >= 50 * len(complete)


def test_report_on_the_shipped_gold_file() -> None:
    path, tf = find_data_file("XAU/USD", "1h", DATA_DIR)
    raw = read_raw_checked(path)
    report = build_report(
        raw,
        file=path.name,
        file_format="csv.gz",
        symbol="XAU/USD",
        timeframe="1h",
        source_timeframe=tf,
    )
    assert report.ok and report.rows == len(raw)
    rows = report_rows(report)
    assert rows[-1] == {"check": "verdict", "result": "ok", "detail": "sweep reads this file"}
    per_year = next(r for r in rows if r["check"] == "bars per year")
    assert per_year["result"] == round(report.coverage.bars_per_year) if report.coverage else False
    assert "backtest.days_per_year" in per_year["detail"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is True and data["problems"] == 0
    assert set(data) == {*DataReport.__dataclass_fields__, "ok", "problems"}
