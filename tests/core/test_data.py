"""Tests for sweep.core.data: finding, loading, validating, resampling and fingerprinting OHLCV."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.core.data import (
    TIMEFRAMES,
    bars_per_year,
    clear_cache,
    find_data_file,
    load_market_data,
    resolve_data_dir,
)
from sweep.core.errors import ConfigError, DataError, DataFileNotFound

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HEADER = "timestamp,open,high,low,close,volume"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # tmp files can reuse (path, mtime, size) across tests only in theory; be certain.
    clear_cache()
    yield
    clear_cache()


def hourly_rows(hours: list[int], day: str = "2024-01-01") -> list[str]:
    """CSV rows for the given hours of one day; price rises by 1 per hour, volume 10."""
    rows = []
    for h in hours:
        p = 100.0 + h
        rows.append(f"{day}T{h:02d}:00:00Z,{p},{p + 2},{p - 1},{p + 1},10")
    return rows


def write_csv(directory: Path, rows: list[str], name: str = "BTC_USDT-1h.csv") -> Path:
    path = directory / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


# --- timeframes and file lookup -----------------------------------------------------------------


def test_timeframes_and_bars_per_year() -> None:
    assert list(TIMEFRAMES) == ["1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]
    assert TIMEFRAMES["4h"] == pd.Timedelta(hours=4)
    assert bars_per_year("4h") == 2190.0
    assert bars_per_year("1d", days_per_year=252) == 252.0
    with pytest.raises(ConfigError, match="valid timeframes: 1m"):
        bars_per_year("3h")


def test_resolve_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SWEEP_DATA_DIR", str(tmp_path))
    assert resolve_data_dir("elsewhere") == Path("elsewhere")
    assert resolve_data_dir(None) == tmp_path
    monkeypatch.delenv("SWEEP_DATA_DIR")
    assert resolve_data_dir(None) == Path("data")


def test_find_prefers_exact_then_finest_divisor(tmp_path: Path) -> None:
    for name in ("BTC_USDT-1h.csv", "BTC_USDT-2h.csv.gz", "BTC_USDT-4h.parquet"):
        (tmp_path / name).write_text("")
    assert find_data_file("BTC/USDT", "4h", tmp_path) == (tmp_path / "BTC_USDT-4h.parquet", "4h")
    assert find_data_file("BTC/USDT", "8h", tmp_path) == (tmp_path / "BTC_USDT-1h.csv", "1h")
    (tmp_path / "BTC_USDT-1h.parquet").write_text("")
    assert find_data_file("BTC/USDT", "1h", tmp_path)[0].name == "BTC_USDT-1h.parquet"


def test_missing_file_lists_every_name_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFound) as info:
        find_data_file("SOL/USDT", "4h", tmp_path)
    message = str(info.value)
    # one brace pattern: every timeframe that can make 4h bars, every format
    looked = "SOL_USDT-{4h,1m,5m,15m,30m,1h,2h}.{parquet,feather,csv.gz,csv,json.gz,json}"
    assert looked in message
    assert "6h" not in message  # does not divide 4h
    assert str(tmp_path) in message
    assert "SWEEP_DATA_DIR" in message and "SOL_USDT-4h.csv.gz" in message
    assert isinstance(info.value, FileNotFoundError)


def test_unknown_timeframe_is_config_error() -> None:
    with pytest.raises(ConfigError, match="valid timeframes"):
        find_data_file("BTC/USDT", "3h", DATA_DIR)


# --- the real file ------------------------------------------------------------------------------


def test_real_btc_1h(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="sweep.core.data"):
        data = load_market_data("BTC/USDT", "1h", DATA_DIR)
    frame, fp = data.frame, data.fingerprint
    assert len(frame) == fp.rows == 70_811
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert isinstance(frame.index, pd.DatetimeIndex) and str(frame.index.tz) == "UTC"
    assert frame.index.name == "timestamp"
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (fp.gaps, fp.longest_gap) == (28, 33)
    assert fp.file == "BTC_USDT-1h.csv.gz" and fp.source_timeframe == fp.timeframe == "1h"
    assert fp.first_bar == "2017-08-17T04:00:00Z" and fp.last_bar.endswith("Z")
    assert "28 gaps" in caplog.text
    assert load_market_data("BTC/USDT", "1h", DATA_DIR) is data  # cached
    clear_cache()
    again = load_market_data("BTC/USDT", "1h", DATA_DIR)
    assert again is not data and again.fingerprint == fp
    assert set(fp.to_dict()) == {
        "file",
        "source_timeframe",
        "timeframe",
        "first_bar",
        "last_bar",
        "rows",
        "sha256",
        "gaps",
        "longest_gap",
    }


def test_real_btc_4h_resampled() -> None:
    data = load_market_data("BTC/USDT", "4h", DATA_DIR)
    fp = data.fingerprint
    assert (fp.source_timeframe, fp.timeframe) == ("1h", "4h")
    assert 17_500 < fp.rows < 17_750
    opens = pd.DatetimeIndex(data.frame.index)
    assert set(opens.hour) <= {0, 4, 8, 12, 16, 20}
    assert (opens.minute == 0).all()
    one_hour = load_market_data("BTC/USDT", "1h", DATA_DIR).frame
    first = data.frame.index[0]
    source = one_hour.loc[first : first + pd.Timedelta(hours=3)]
    assert len(source) == 4
    bar = data.frame.iloc[0]
    assert bar["open"] == source["open"].iloc[0] and bar["close"] == source["close"].iloc[-1]
    assert bar["high"] == source["high"].max() and bar["low"] == source["low"].min()
    assert bar["volume"] == pytest.approx(source["volume"].sum())


# --- resampling ---------------------------------------------------------------------------------


def test_resample_aligns_bins_and_drops_incomplete(tmp_path: Path) -> None:
    # 02:00..23:00 on day one: the 00-04 bin lacks 00 and 01; hour 13 is missing too.
    hours = [h for h in range(2, 24) if h != 13]
    write_csv(tmp_path, hourly_rows(hours))
    data = load_market_data("BTC/USDT", "4h", tmp_path)
    expected = ["2024-01-01T04:00", "2024-01-01T08:00", "2024-01-01T16:00", "2024-01-01T20:00"]
    assert list(data.frame.index) == [pd.Timestamp(t, tz="UTC") for t in expected]
    bar = data.frame.iloc[0]
    assert list(bar) == [104.0, 109.0, 103.0, 108.0, 40.0]
    assert (data.fingerprint.gaps, data.fingerprint.longest_gap) == (1, 1)
    assert data.fingerprint.rows == 4


def test_resample_daily_starts_at_midnight_utc(tmp_path: Path) -> None:
    rows = hourly_rows(list(range(24)), "2024-01-01") + hourly_rows(list(range(24)), "2024-01-02")
    write_csv(tmp_path, rows)
    data = load_market_data("BTC/USDT", "1d", tmp_path)
    assert list(data.frame.index) == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-02", tz="UTC"),
    ]


def test_start_end_cut(tmp_path: Path) -> None:
    write_csv(tmp_path, hourly_rows(list(range(24))))
    data = load_market_data(
        "BTC/USDT", "1h", tmp_path, start=datetime(2024, 1, 1, 5), end=datetime(2024, 1, 1, 9)
    )
    assert [t.hour for t in data.frame.index] == [5, 6, 7, 8]
    assert data.fingerprint.first_bar == "2024-01-01T05:00:00Z"
    assert data.fingerprint.last_bar == "2024-01-01T08:00:00Z"
    full = load_market_data("BTC/USDT", "1h", tmp_path)
    assert full.fingerprint.sha256 != data.fingerprint.sha256
    with pytest.raises(DataError, match="no complete 1h bars"):
        load_market_data("BTC/USDT", "1h", tmp_path, start=datetime(2030, 1, 1))


def test_parquet_round_trip(tmp_path: Path) -> None:
    csv_dir, parquet_dir = tmp_path / "csv", tmp_path / "parquet"
    csv_dir.mkdir()
    parquet_dir.mkdir()
    write_csv(csv_dir, hourly_rows(list(range(24))))
    from_csv = load_market_data("BTC/USDT", "1h", csv_dir)
    from_csv.frame.reset_index().to_parquet(parquet_dir / "BTC_USDT-1h.parquet")
    from_parquet = load_market_data("BTC/USDT", "1h", parquet_dir)
    pd.testing.assert_frame_equal(from_parquet.frame, from_csv.frame)
    assert from_parquet.fingerprint.sha256 == from_csv.fingerprint.sha256
    assert from_parquet.fingerprint.file == "BTC_USDT-1h.parquet"


# --- validation ---------------------------------------------------------------------------------

GOOD = hourly_rows([0, 1, 2, 3])


@pytest.mark.parametrize(
    ("rows", "key", "message"),
    [
        ([GOOD[0], GOOD[2], GOOD[1], GOOD[3]], "timestamp", "not sorted ascending at row 3"),
        ([GOOD[0], GOOD[1], GOOD[1], GOOD[2]], "timestamp", "duplicated timestamp at row 3"),
        ([GOOD[0], "yesterday,1,2,1,1,1", GOOD[2]], "timestamp", "unparseable timestamp at row 2"),
        ([GOOD[0], "2024-01-01T01:30:00Z,1,2,1,1,1"], "timestamp", "not aligned to the 1h grid"),
        ([GOOD[0], "2024-01-01T01:00:00Z,100,101,99,102,5"], "high", "high must be >= max"),
        ([GOOD[0], "2024-01-01T01:00:00Z,100,101,100.5,100.7,5"], "low", "low must be <= min"),
        ([GOOD[0], "2024-01-01T01:00:00Z,100,101,99,100,-1"], "volume", "volume must be >= 0"),
        ([GOOD[0], "2024-01-01T01:00:00Z,0,1,0,1,1"], "open", "price must be > 0"),
        ([GOOD[0], "2024-01-01T01:00:00Z,100,,99,100,1"], "high", "missing value (NaN) at row 2"),
        ([GOOD[0], "2024-01-01T01:00:00Z,100,abc,99,100,1"], "high", "not a number at row 2"),
    ],
)
def test_validation_errors(tmp_path: Path, rows: list[str], key: str, message: str) -> None:
    write_csv(tmp_path, rows)
    with pytest.raises(DataError) as info:
        load_market_data("BTC/USDT", "1h", tmp_path)
    error = info.value
    assert error.file == "BTC_USDT-1h.csv" and error.key == key
    assert message in error.message
    assert error.hint
    assert str(error).startswith(f"BTC_USDT-1h.csv: {key}: ")


def test_missing_and_extra_columns(tmp_path: Path) -> None:
    (tmp_path / "BTC_USDT-1h.csv").write_text(
        "timestamp,open,high,low,close\n2024-01-01T00:00:00Z,1,2,1,1\n"
    )
    with pytest.raises(DataError, match="missing volume") as info:
        load_market_data("BTC/USDT", "1h", tmp_path)
    assert (info.value.file, info.value.key) == ("BTC_USDT-1h.csv", "volume")
    clear_cache()
    (tmp_path / "BTC_USDT-1h.csv").write_text(
        HEADER + ",trades\n2024-01-01T00:00:00Z,1,2,1,1,1,7\n"
    )
    with pytest.raises(DataError, match="unexpected trades") as info:
        load_market_data("BTC/USDT", "1h", tmp_path)
    assert info.value.key == "trades"


def test_gzip_csv_and_symbol_naming(tmp_path: Path) -> None:
    frame = pd.DataFrame([r.split(",") for r in hourly_rows([0, 1, 2])], columns=HEADER.split(","))
    frame.to_csv(tmp_path / "ETH_USDT-1h.csv.gz", index=False)
    data = load_market_data("ETH/USDT", "1h", tmp_path)
    assert data.symbol == "ETH/USDT" and data.fingerprint.rows == 3
    assert data.fingerprint.file == "ETH_USDT-1h.csv.gz"
