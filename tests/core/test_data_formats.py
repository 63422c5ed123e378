"""freqtrade's data directory and formats, and files sweep must refuse in one line.

The freqtrade files are written the way freqtrade's data handlers write them
(freqtrade/data/history/datahandlers/*.py): feather with lz4 at level 9, parquet with pandas'
defaults, json and json.gz with ``to_json(orient="values")`` after the ``date`` column is turned
into int64 epoch milliseconds; columns ``date, open, high, low, close, volume``; spot files in the
exchange folder, futures files in its ``futures/`` folder named ``<PAIR>-<tf>-futures.<ext>``.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.core.data import MAX_PRICE, clear_cache, load_market_data
from sweep.core.datafiles import scan_data_dir
from sweep.core.errors import DataError, DataFileNotFound

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HEADER = "timestamp,open,high,low,close,volume\n"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    """The shipped BTC/USDT 1h bars as freqtrade holds them in memory: a ``date`` column."""
    frame = load_market_data("BTC/USDT", "1h", DATA_DIR).frame
    return frame.reset_index().rename(columns={"timestamp": "date"})


def write_freqtrade(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """``frame`` (date, open, high, low, close, volume) stored as freqtrade's handler for
    ``fmt`` stores it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = frame.reset_index(drop=True).loc[:, ["date", "open", "high", "low", "close", "volume"]]
    if fmt == "feather":
        data.to_feather(path, compression_level=9, compression="lz4")
    elif fmt == "parquet":
        data.to_parquet(path)
    else:
        data = data.copy()
        data["date"] = data["date"].dt.as_unit("ms").astype("int64")
        data.to_json(path, orient="values", compression="gzip" if fmt == "jsongz" else None)
    return path


EXTENSION = {"feather": "feather", "parquet": "parquet", "json": "json", "jsongz": "json.gz"}


@pytest.mark.parametrize("fmt", ["feather", "parquet", "json", "jsongz"])
def test_freqtrade_spot_file_gives_the_same_bars_and_fingerprint(
    tmp_path: Path, btc: pd.DataFrame, fmt: str
) -> None:
    exchange = tmp_path / "user_data" / "data" / "binance"
    write_freqtrade(btc, exchange / f"BTC_USDT-1h.{EXTENSION[fmt]}", fmt)
    source = load_market_data("BTC/USDT", "4h", DATA_DIR)
    read = load_market_data("BTC/USDT", "4h", exchange)
    pd.testing.assert_frame_equal(read.frame, source.frame)
    assert read.fingerprint.sha256 == source.fingerprint.sha256
    assert read.fingerprint.rows == source.fingerprint.rows
    assert read.fingerprint.file == f"BTC_USDT-1h.{EXTENSION[fmt]}"


def test_freqtrade_futures_file(tmp_path: Path, btc: pd.DataFrame) -> None:
    exchange = tmp_path / "binance"
    write_freqtrade(btc, exchange / "futures" / "BTC_USDT_USDT-1h-futures.feather", "feather")
    # freqtrade's other futures candle types are not traded prices and are never read
    mark = btc.assign(close=btc["close"] * 2, high=btc["high"] * 2)
    write_freqtrade(mark, exchange / "futures" / "BTC_USDT_USDT-1h-mark.feather", "feather")
    data = load_market_data("BTC/USDT:USDT", "1h", exchange)
    assert data.fingerprint.file == "BTC_USDT_USDT-1h-futures.feather"
    source = load_market_data("BTC/USDT", "1h", DATA_DIR)
    assert data.fingerprint.sha256 == source.fingerprint.sha256
    with pytest.raises(DataFileNotFound) as info:
        load_market_data("BTC/USDT", "1h", exchange)  # the spot pair has no file here
    assert "did you mean BTC/USDT:USDT?" in str(info.value)
    assert "futures/BTC_USDT_USDT-1h-futures.feather" in str(info.value)


@pytest.mark.parametrize(
    "make_date",
    [
        pytest.param(lambda d: d.dt.tz_localize(None), id="naive datetime"),
        pytest.param(lambda d: d.dt.as_unit("ms").astype("int64"), id="epoch ms int"),
        pytest.param(lambda d: d.dt.as_unit("ms").astype("int64").astype(float), id="epoch ms"),
        pytest.param(lambda d: d.dt.tz_convert("Asia/Tokyo"), id="other time zone"),
    ],
)
@pytest.mark.parametrize("fmt", ["feather", "parquet"])
def test_date_column_as_datetime_or_epoch_milliseconds(
    tmp_path: Path, btc: pd.DataFrame, fmt: str, make_date: Callable[[pd.Series], pd.Series]
) -> None:
    part = btc.iloc[:500].copy()
    part["date"] = make_date(part["date"])
    write_freqtrade(part, tmp_path / f"BTC_USDT-1h.{fmt}", fmt)
    read = load_market_data("BTC/USDT", "1h", tmp_path).frame
    assert list(read.index) == list(btc["date"].iloc[:500])
    assert str(read.index.tz) == "UTC"


def test_timestamp_as_parquet_index_and_csv_date_header(tmp_path: Path, btc: pd.DataFrame) -> None:
    part = btc.iloc[:100]
    (tmp_path / "a").mkdir()
    part.set_index("date").to_parquet(tmp_path / "a" / "BTC_USDT-1h.parquet")
    (tmp_path / "b").mkdir()
    csv = part.assign(date=part["date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    csv.to_csv(tmp_path / "b" / "BTC_USDT-1h.csv", index=False)
    a = load_market_data("BTC/USDT", "1h", tmp_path / "a")
    b = load_market_data("BTC/USDT", "1h", tmp_path / "b")
    assert a.fingerprint.sha256 == b.fingerprint.sha256
    assert a.fingerprint.rows == 100


def test_several_formats_of_one_market_warn_and_prefer_the_typed_one(
    tmp_path: Path, btc: pd.DataFrame, caplog: pytest.LogCaptureFixture
) -> None:
    part = btc.iloc[:100]
    write_freqtrade(part, tmp_path / "BTC_USDT-1h.json", "json")
    write_freqtrade(part, tmp_path / "BTC_USDT-1h.feather", "feather")
    with caplog.at_level(logging.WARNING, logger="sweep.core.datafiles"):
        data = load_market_data("BTC/USDT", "1h", tmp_path)
    assert data.fingerprint.file == "BTC_USDT-1h.feather"
    assert "also found BTC_USDT-1h.json" in caplog.text


def test_scan_lists_spot_and_futures_and_skips_other_files(
    tmp_path: Path, btc: pd.DataFrame
) -> None:
    part = btc.iloc[:50]
    write_freqtrade(part, tmp_path / "BTC_USDT-1h.feather", "feather")
    write_freqtrade(part, tmp_path / "ETH_BTC-5m.json.gz", "jsongz")
    write_freqtrade(part, tmp_path / "futures" / "ETH_USDT_USDT-4h-futures.parquet", "parquet")
    write_freqtrade(part, tmp_path / "futures" / "ETH_USDT_USDT-8h-funding_rate.feather", "feather")
    (tmp_path / "pairs.json").write_text('["BTC/USDT"]')
    (tmp_path / "BTC_USDT-trades.json.gz").write_bytes(gzip.compress(b"[]"))
    found = [
        (f.symbol, f.timeframe, f.format, f.relative_to(tmp_path)) for f in scan_data_dir(tmp_path)
    ]
    assert found == [
        ("BTC/USDT", "1h", "feather", "BTC_USDT-1h.feather"),
        ("ETH/BTC", "5m", "json.gz", "ETH_BTC-5m.json.gz"),
        ("ETH/USDT:USDT", "4h", "parquet", "futures/ETH_USDT_USDT-4h-futures.parquet"),
    ]


def test_user_data_folder_one_level_too_high_gets_a_hint(tmp_path: Path, btc: pd.DataFrame) -> None:
    write_freqtrade(btc.iloc[:50], tmp_path / "data" / "binance" / "BTC_USDT-1h.feather", "feather")
    with pytest.raises(DataFileNotFound) as info:
        load_market_data("BTC/USDT", "1h", tmp_path / "data")
    assert "holds exchange folders (binance): point data.dir at one" in str(info.value)


# --- refused files ------------------------------------------------------------------------------

ROWS = [f"2024-01-01T{h:02d}:00:00Z,100,101,99,100.5,10\n" for h in range(24)]
CSV = HEADER + "".join(ROWS)
JSON_ROW = "[1704067200000,100,101,99,100.5,10]"


def bad_row(row: str) -> str:
    return HEADER + "".join(ROWS[:5]) + row + "".join(ROWS[6:])


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


def corrupt_crc(data: bytes) -> bytes:
    broken = bytearray(data)
    broken[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    return bytes(broken)


# (file name, content, key in the error or None, fragment of the message)
BAD_FILES: list[tuple[str, bytes, str | None, str]] = [
    (
        "BTC_USDT-1h.csv",
        bad_row("2024-01-01T05:00:00Z,100,inf,99,100,1\n").encode(),
        "high",
        "not a finite number at row 6 (line 7 of the file) (got inf)",
    ),
    (
        "BTC_USDT-1h.csv",
        bad_row("2024-01-01T05:00:00Z,-Infinity,101,99,100,1\n").encode(),
        "open",
        "not a finite number",
    ),
    (
        "BTC_USDT-1h.csv",
        bad_row("2024-01-01T05:00:00Z,100,1e400,99,100,1\n").encode(),
        "high",
        "not a finite number",
    ),
    (
        "BTC_USDT-1h.csv",
        bad_row("2024-01-01T05:00:00Z,100,101,99,100,inf\n").encode(),
        "volume",
        "not a finite number",
    ),
    (
        "BTC_USDT-1h.csv",
        bad_row("2024-01-01T05:00:00Z,1.7e12,1.7e12,99,100,1\n").encode(),
        "open",
        "price must be <= 1e+12",
    ),
    ("BTC_USDT-1h.csv.gz", gz(CSV)[:60], None, "truncated or corrupt gzip data"),
    ("BTC_USDT-1h.csv.gz", b"", None, "empty file"),
    ("BTC_USDT-1h.csv.gz", b"definitely not gzip", None, "truncated or corrupt gzip data"),
    ("BTC_USDT-1h.csv.gz", corrupt_crc(gz(CSV)), None, "truncated or corrupt gzip data"),
    (
        "BTC_USDT-1h.csv",
        (CSV + "2024-01-02T00:00:00Z,1,2,1,1,1 caf\xe9\n").encode("latin-1"),
        None,
        "not UTF-8 text: byte 0xe9 at line 26",
    ),
    (
        "BTC_USDT-1h.csv.gz",
        gzip.compress("timestamp,open,high,l\xf6w,close,volume\n".encode("latin-1")),
        None,
        "not UTF-8 text: byte 0xf6 at line 1",
    ),
    ("BTC_USDT-1h.csv", b"", None, "empty file"),
    ("BTC_USDT-1h.csv", HEADER.encode(), None, "no bars"),
    ("BTC_USDT-1h.json", b"", None, "empty file"),
    ("BTC_USDT-1h.json", b"[]", None, "no bars"),
    ("BTC_USDT-1h.json", f"[{JSON_ROW},[17040".encode(), None, "not valid JSON at line 1"),
    ("BTC_USDT-1h.json", b'{"date": [1]}', None, "expected a JSON array of [epoch_ms, open"),
    ("BTC_USDT-1h.json", b"[[1704067200000,100,101,99,100.5]]", "row", "row 1 is not [epoch_ms"),
    (
        "BTC_USDT-1h.json",
        b'[["2024-01-01",100,101,99,100.5,10]]',
        "timestamp",
        "not a number of epoch milliseconds",
    ),
    (
        "BTC_USDT-1h.json",
        b"[[1704067200,100,101,99,100.5,10]]",
        "timestamp",
        "look like epoch seconds",
    ),
    (
        "BTC_USDT-1h.json",
        b"[[1704067200000,100,Infinity,99,100.5,10]]",
        "high",
        "not a finite number at row 1",
    ),
    ("BTC_USDT-1h.json", b"[[1704067200000,100,NaN,99,100.5,10]]", "high", "missing value"),
    (
        "BTC_USDT-1h.json",
        "[[1704067200000,100,101,99,100.5,10]] \xff".encode("latin-1"),
        None,
        "not UTF-8 text: byte 0xff",
    ),
    ("BTC_USDT-1h.json.gz", gz(f"[{JSON_ROW}]")[:-12], None, "truncated or corrupt gzip data"),
    ("BTC_USDT-1h.parquet", b"", None, "not a readable parquet file"),
    ("BTC_USDT-1h.parquet", b"PAR1 garbage PAR1", None, "not a readable parquet file"),
    ("BTC_USDT-1h.feather", b"ARROW1 garbage", None, "not a readable feather file"),
]


@pytest.mark.parametrize(
    ("name", "content", "key", "fragment"),
    BAD_FILES,
    ids=[f"{i}-{case[0].split('.', 1)[1]}-{case[3][:24]}" for i, case in enumerate(BAD_FILES)],
)
def test_bad_file_is_refused_in_one_line(
    tmp_path: Path, name: str, content: bytes, key: str | None, fragment: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as info:
        load_market_data("BTC/USDT", "1h", tmp_path)
    error = info.value
    line = error.one_line()
    assert "\n" not in line
    assert line.startswith(f"{name}: ")
    assert error.file == name and error.key == key
    assert fragment in line, line
    assert error.hint


@pytest.mark.parametrize("fmt", ["feather", "parquet"])
def test_damaged_compressed_pages_are_a_damaged_file(
    tmp_path: Path, btc: pd.DataFrame, fmt: str
) -> None:
    # Arrow raises a bare OSError (no errno) for a page that does not decompress ("Corrupt
    # snappy compressed data", "LZ4 decompress failed"): the file is damaged, not unreadable.
    path = write_freqtrade(btc, tmp_path / f"BTC_USDT-1h.{fmt}", fmt)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 5000] = bytes(range(250)) * 20
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        load_market_data("BTC/USDT", "1h", tmp_path)
    line = info.value.one_line()
    assert line.startswith(f"BTC_USDT-1h.{fmt}: not a readable {fmt} file: "), line
    assert f"the file is damaged or is not {fmt}" in line
    assert ".;" not in line and "permissions" not in line


def test_price_bound_is_inclusive(tmp_path: Path) -> None:
    row = f"2024-01-01T05:00:00Z,{MAX_PRICE},{MAX_PRICE},{MAX_PRICE},{MAX_PRICE},1\n"
    (tmp_path / "BTC_USDT-1h.csv").write_text(bad_row(row))
    assert load_market_data("BTC/USDT", "1h", tmp_path).frame["high"].max() == MAX_PRICE


def test_huge_volume_is_a_market_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "BTC_USDT-1h.csv").write_text(bad_row("2024-01-01T05:00:00Z,1,1,1,1,1e20\n"))
    assert load_market_data("BTC/USDT", "1h", tmp_path).frame["volume"].max() == 1e20


def test_a_directory_named_like_a_data_file(tmp_path: Path) -> None:
    (tmp_path / "BTC_USDT-1h.feather").mkdir()
    with pytest.raises(DataError, match="is a directory, not a file"):
        load_market_data("BTC/USDT", "4h", tmp_path)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(DataFileNotFound, match=r"\(a file, not a directory\)"):
        load_market_data("BTC/USDT", "4h", tmp_path / "f")


def test_no_inf_reaches_the_frame_of_any_format(tmp_path: Path, btc: pd.DataFrame) -> None:
    part = btc.iloc[:20].copy()
    part.loc[7, "high"] = np.inf
    for fmt in ("feather", "parquet", "json", "jsongz"):
        folder = tmp_path / fmt
        write_freqtrade(part, folder / f"BTC_USDT-1h.{EXTENSION[fmt]}", fmt)
        with pytest.raises(DataError) as info:
            load_market_data("BTC/USDT", "1h", folder)
        # to_json writes inf as null: freqtrade's JSON cannot hold it, so it arrives as missing
        expected = "missing value (NaN)" if fmt.startswith("json") else "not a finite number"
        assert f"{expected} at row 8" in info.value.message
        assert info.value.key == "high"
