"""OHLCV market data: locate the file, load it, validate it, resample it, fingerprint it.

Files are named ``BTC_USDT-1h.csv.gz`` (symbol with ``/`` as ``_``, then the timeframe) and hold
``timestamp,open,high,low,close,volume`` with ISO 8601 UTC timestamps labelling the bar OPEN.
A coarser timeframe with no file of its own is resampled from the finest finer file that divides
it. Gaps in the hourly (or whatever) grid are counted and reported, never filled: filling would
invent prices the market never traded.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
import zlib
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sweep.core.errors import ConfigError, DataError, DataFileNotFound

log = logging.getLogger(__name__)

TIMEFRAMES: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "30m": pd.Timedelta(minutes=30),
    "1h": pd.Timedelta(minutes=60),
    "2h": pd.Timedelta(minutes=120),
    "4h": pd.Timedelta(minutes=240),
    "6h": pd.Timedelta(minutes=360),
    "8h": pd.Timedelta(minutes=480),
    "12h": pd.Timedelta(minutes=720),
    "1d": pd.Timedelta(minutes=1440),
}
"""Supported timeframes, finest first, and the duration of one bar."""

COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
# Prices and volumes above these are unit or parsing errors: the dearest quote sweep could read
# (BTC in Vietnamese dong) is near 3e9, the largest hourly volume of a meme token near 1e14.
# Far larger values overflow the features (price x volume, squared deviations) to infinity.
MAX_PRICE = 1e12
MAX_VOLUME = 1e18
EXTENSIONS: tuple[str, ...] = (".parquet", ".csv.gz", ".csv")


def _check_timeframe(timeframe: str) -> pd.Timedelta:
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        raise ConfigError(
            "unknown timeframe",
            key="timeframe",
            value=timeframe,
            hint=f"valid timeframes: {', '.join(TIMEFRAMES)}",
        ) from None


def bars_per_year(timeframe: str, days_per_year: float = 365.0) -> float:
    """Bars in one year: ``days_per_year * 1 day / bar``; crypto trades all 365 days."""
    return days_per_year * (pd.Timedelta("1D") / _check_timeframe(timeframe))


@dataclass(frozen=True)
class DataFingerprint:
    """What data a result was computed on, precise enough to detect any change in it.

    ``sha256`` hashes the final frame (after resampling and the start/end cut): the int64
    nanosecond index, then open, high, low, close, volume as little-endian float64, so identical
    data gives an identical hash whatever file format it came from. ``gaps`` and ``longest_gap``
    count missing bars against the regular grid of ``timeframe``.
    """

    file: str
    source_timeframe: str
    timeframe: str
    first_bar: str
    last_bar: str
    rows: int
    sha256: str
    gaps: int
    longest_gap: int

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (for model metadata and the registry)."""
        return dict(asdict(self))


@dataclass(frozen=True)
class MarketData:
    """A validated OHLCV frame: UTC DatetimeIndex ``timestamp`` (bar open), float64 columns
    ``open high low close volume``, sorted and unique. Shared via a cache: treat as read-only."""

    symbol: str
    timeframe: str
    frame: pd.DataFrame
    fingerprint: DataFingerprint


def resolve_data_dir(configured: str | Path | None) -> Path:
    """The configured directory, else ``$SWEEP_DATA_DIR``, else ``data`` under the cwd."""
    if configured:
        return Path(configured)
    env = os.environ.get("SWEEP_DATA_DIR")
    return Path(env) if env else Path("data")


def _base_name(symbol: str, timeframe: str) -> str:
    # ``BTC/USDT:USDT`` (futures) becomes ``BTC_USDT_USDT``, as freqtrade names its files.
    return f"{symbol.replace('/', '_').replace(':', '_')}-{timeframe}"


def find_data_file(symbol: str, timeframe: str, data_dir: Path) -> tuple[Path, str]:
    """Find the OHLCV file for ``symbol`` at ``timeframe``: returns (path, source timeframe).

    Tries ``.parquet``, ``.csv.gz``, ``.csv`` for the timeframe itself, then for every finer
    timeframe that divides it evenly, finest first (resampling from the finest source keeps
    the most bars whose bins are complete).
    """
    duration = _check_timeframe(timeframe)
    finer = [tf for tf, d in TIMEFRAMES.items() if d < duration and duration % d == pd.Timedelta(0)]
    looked: list[str] = []
    for tf in [timeframe, *finer]:
        for ext in EXTENSIONS:
            name = _base_name(symbol, tf) + ext
            looked.append(name)
            if (data_dir / name).is_file():
                return data_dir / name, tf
    where = f"{data_dir.resolve()}" + ("" if data_dir.is_dir() else " (no such directory)")
    raise DataFileNotFound(
        f"no OHLCV file for {symbol} {timeframe} in {where}; looked for {', '.join(looked)}",
        key="symbol",
        value=symbol,
        hint=(
            f"put {_base_name(symbol, timeframe)}.csv.gz (or a finer timeframe) in {data_dir} "
            "or set data.dir / SWEEP_DATA_DIR"
        ),
    )


def load_market_data(
    symbol: str,
    timeframe: str,
    data_dir: Path,
    start: datetime | None = None,
    end: datetime | None = None,
) -> MarketData:
    """Load, validate, resample and cut the OHLCV data for ``symbol`` at ``timeframe``.

    ``start`` is inclusive, ``end`` exclusive, both compared with bar-open times after
    resampling; naive datetimes are UTC. Results are cached per process on (path, mtime, size,
    timeframe, start, end), so the returned frame is shared: do not modify it.
    Raises DataFileNotFound, DataError (with file, key, value and the row), ConfigError.
    """
    path, source_tf = find_data_file(symbol, timeframe, data_dir)
    path = path.resolve()
    stat = path.stat()
    file_key = (str(path), stat.st_mtime_ns, stat.st_size)
    return _load_cached(*file_key, symbol, source_tf, timeframe, _utc(start), _utc(end))


def clear_cache() -> None:
    """Forget every cached MarketData (tests; long-lived processes after files change)."""
    _load_cached.cache_clear()
    _read_validated.cache_clear()


def _utc(moment: datetime | None) -> pd.Timestamp | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@functools.lru_cache(maxsize=16)
def _load_cached(
    path_str: str,
    mtime_ns: int,  # part of the cache key only: a rewritten file is read again
    size: int,
    symbol: str,
    source_tf: str,
    timeframe: str,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> MarketData:
    path = Path(path_str)
    frame = _read_validated(path_str, mtime_ns, size, source_tf)
    if timeframe != source_tf:
        frame = resample(frame, source_tf, timeframe)
    if start is not None:
        frame = frame[frame.index >= start]
    if end is not None:
        frame = frame[frame.index < end]
    if frame.empty:
        raise DataError(
            f"no complete {timeframe} bars in the requested range",
            file=path.name,
            key="data.start/data.end",
            value=f"{start} .. {end}",
            hint="widen data.start / data.end, or check the file covers that period",
        )
    fp = _fingerprint(frame, path.name, source_tf, timeframe)
    if fp.gaps:
        gaps = f"{fp.gaps} gaps in the {timeframe} grid (longest {fp.longest_gap} bars missing)"
        log.info("%s %s: %s; not filled", path.name, timeframe, gaps)
    return MarketData(symbol=symbol, timeframe=timeframe, frame=frame, fingerprint=fp)


def _read_raw(path: Path) -> pd.DataFrame:
    """The file as a frame; a file that cannot be read as its format is one DataError."""
    try:
        return _read_frame(path)
    except (OSError, EOFError, ValueError, zlib.error) as e:  # pyarrow's: OSError, ValueError
        problem, hint = _unreadable(e)
        raise DataError(problem, file=path.name, hint=hint) from e


def _unreadable(e: Exception) -> tuple[str, str]:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if isinstance(e, pd.errors.EmptyDataError):
        return "is empty", f"the first line is the header {_HEADER}"
    if isinstance(e, UnicodeDecodeError):
        return f"is not UTF-8 text ({e.reason})", "save the file as UTF-8"
    if isinstance(e, EOFError | zlib.error | gzip.BadGzipFile):
        return f"is not a complete gzip file ({first})", "re-download it"
    if isinstance(e, pd.errors.ParserError):
        return f"is not a readable CSV ({first})", f"each line holds the 6 fields of {_HEADER}"
    return f"cannot be read ({first})", "re-download it"


_HEADER = "timestamp,open,high,low,close,volume"


def _read_frame(path: Path) -> pd.DataFrame:
    if path.name.endswith(".parquet"):
        raw = pd.read_parquet(path, engine="pyarrow")
        if "timestamp" not in raw.columns and raw.index.name == "timestamp":
            raw = raw.reset_index()
        return raw
    # Timestamps as strings: pandas' own date guessing would hide which row is malformed.
    return pd.read_csv(path, dtype={"timestamp": str})


def _row_label(path: Path, i: int) -> str:
    """Where row ``i`` (0-based, header excluded) is, in words a user can find in the file."""
    if path.name.endswith(".parquet"):
        return f"row {i + 1}"
    return f"row {i + 1} (line {i + 2} of the file)"


@functools.lru_cache(maxsize=4)
def _read_validated(path_str: str, mtime_ns: int, size: int, timeframe: str) -> pd.DataFrame:
    """Read a file into the canonical frame, raising DataError at the first problem found.

    Cached on its own so a study trying several timeframes or date ranges reads each file once.
    """
    path = Path(path_str)
    raw = _read_raw(path)
    name = path.name
    if raw.empty:
        raise DataError(
            "has no rows", file=name, hint="the file holds its header and no bars; re-download it"
        )
    got = [str(c) for c in raw.columns]
    missing = [c for c in ("timestamp", *COLUMNS) if c not in got]
    extra = [c for c in got if c not in ("timestamp", *COLUMNS)]
    if missing or extra:
        raise DataError(
            f"columns must be exactly timestamp,{','.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else ""),
            file=name,
            key=(missing or extra)[0],
            value=got,
            hint="rename or drop columns so the header reads timestamp,open,high,low,close,volume",
        )
    index = _parse_timestamps(raw["timestamp"], path)
    values = {col: _parse_numbers(raw[col], col, path) for col in COLUMNS}
    frame = pd.DataFrame(values, index=index)
    _check_order(index, path, timeframe)
    _check_values(frame, path)
    return frame


def _parse_timestamps(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        parsed = pd.to_datetime(column, utc=True)
    else:
        parsed = pd.to_datetime(column, utc=True, format="ISO8601", errors="coerce")
    # pandas may parse at a coarser unit; the frame is in nanoseconds, whose range is narrower
    first, last = (pd.Timestamp(t, tz="UTC") for t in (pd.Timestamp.min, pd.Timestamp.max))
    parsed = parsed.where((parsed >= first) & (parsed <= last))
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"unparseable timestamp at {_row_label(path, i)}",
            file=path.name,
            key="timestamp",
            value=column.iloc[i],
            hint="timestamps must be ISO 8601 UTC from 1678 to 2261, e.g. 2017-08-17T04:00:00Z",
        )
    # Nanosecond resolution whatever the reader chose, so the fingerprint's int64 index is stable.
    return pd.DatetimeIndex(parsed.dt.as_unit("ns"), name="timestamp")


def _parse_numbers(column: pd.Series, key: str, path: Path) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        i = int(bad[0])
        original = column.iloc[i]
        what = (
            "missing value (NaN)"
            if pd.isna(original)
            else "not a finite number"
            if np.isinf(numbers[i])
            else "not a number"
        )
        raise DataError(
            f"{what} at {_row_label(path, i)}",
            file=path.name,
            key=key,
            value=None
            if pd.isna(original)
            else original
            if isinstance(original, str)
            else float(original),
            hint="every bar needs all five numbers; drop the bar (a gap) rather than guess it",
        )
    return numbers


def _check_order(index: pd.DatetimeIndex, path: Path, timeframe: str) -> None:
    ns = index.asi8
    step = np.diff(ns)
    for bad, problem in ((step < 0, "not sorted ascending"), (step == 0, "duplicated timestamp")):
        where = np.flatnonzero(bad)
        if where.size:
            i = int(where[0]) + 1
            raise DataError(
                f"{problem} at {_row_label(path, i)}, after {index[i - 1].isoformat()}",
                file=path.name,
                key="timestamp",
                value=index[i].isoformat(),
                hint="sort the file by timestamp and keep one bar per timestamp",
            )
    bar_ns = TIMEFRAMES[timeframe].value
    misaligned = np.flatnonzero(ns % bar_ns)
    if misaligned.size:
        i = int(misaligned[0])
        raise DataError(
            f"timestamp not aligned to the {timeframe} grid at {_row_label(path, i)}",
            file=path.name,
            key="timestamp",
            value=index[i].isoformat(),
            hint=f"bars must open on UTC multiples of {timeframe}; is the file's timeframe right?",
        )


def _check_values(frame: pd.DataFrame, path: Path) -> None:
    o, h, low, c, v = (frame[col].to_numpy() for col in COLUMNS)
    checks: list[tuple[np.ndarray, str, str]] = [
        *((frame[col].to_numpy() <= 0, col, "price must be > 0") for col in COLUMNS[:4]),
        *(
            (frame[col].to_numpy() > MAX_PRICE, col, f"price must be at most {MAX_PRICE:.0e}")
            for col in COLUMNS[:4]
        ),
        (v < 0, "volume", "volume must be >= 0"),
        (v > MAX_VOLUME, "volume", f"volume must be at most {MAX_VOLUME:.0e}"),
        (h < np.maximum(o, c), "high", "high must be >= max(open, close)"),
        (low > np.minimum(o, c), "low", "low must be <= min(open, close)"),
    ]
    for bad, key, rule in checks:
        where = np.flatnonzero(bad)
        if where.size:
            i = int(where[0])
            row = frame.iloc[i]
            raise DataError(
                f"{rule} at {_row_label(path, i)} ({frame.index[i].isoformat()}): "
                + ", ".join(f"{col}={float(row[col])!r}" for col in COLUMNS),
                file=path.name,
                key=key,
                value=float(row[key]),
                hint="fix the file, or re-download it",
            )


def resample(frame: pd.DataFrame, source_tf: str, timeframe: str) -> pd.DataFrame:
    """Aggregate ``frame`` (bars of ``source_tf``) into ``timeframe`` bars.

    Bins are UTC-aligned and anchored at the Unix epoch (4h bins open at 00, 04, ... 20 UTC; 1d
    at 00:00 UTC) and labelled by their open. open=first, high=max, low=min, close=last,
    volume=sum. A bin missing any source bar is dropped: its high/low/volume would understate
    the real bar, and a gap is more honest than a wrong bar.
    """
    source, target = _check_timeframe(source_tf), _check_timeframe(timeframe)
    if target % source != pd.Timedelta(0) or target < source:
        raise ConfigError(
            f"cannot resample {source_tf} bars into {timeframe}",
            key="timeframe",
            value=timeframe,
            hint=f"the timeframe must be a multiple of the source file's {source_tf}",
        )
    per_bin = int(target / source)
    ns = _ns(frame)
    bins = ns - ns % target.value  # numpy's % floors, so this holds before 1970 too
    grouped = frame.groupby(bins, sort=True)
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    complete = grouped.size().to_numpy() == per_bin
    out = out[complete]
    out.index = pd.DatetimeIndex(
        pd.to_datetime(out.index.to_numpy(dtype=np.int64), utc=True).as_unit("ns"),
        name="timestamp",
    )
    result: pd.DataFrame = out.astype(np.float64)
    return result


def _fingerprint(
    frame: pd.DataFrame, file_name: str, source_tf: str, timeframe: str
) -> DataFingerprint:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(_ns(frame), dtype="<i8").tobytes())
    for col in COLUMNS:
        digest.update(np.ascontiguousarray(frame[col].to_numpy(), dtype="<f8").tobytes())
    steps = np.diff(_ns(frame)) // TIMEFRAMES[timeframe].value
    missing = steps[steps > 1] - 1
    return DataFingerprint(
        file=file_name,
        source_timeframe=source_tf,
        timeframe=timeframe,
        first_bar=_iso(frame.index[0]),
        last_bar=_iso(frame.index[-1]),
        rows=len(frame),
        sha256=digest.hexdigest(),
        gaps=int(missing.size),
        longest_gap=int(missing.max()) if missing.size else 0,
    )


def _ns(frame: pd.DataFrame) -> np.ndarray:
    """The index as int64 nanoseconds since the epoch."""
    return pd.DatetimeIndex(frame.index).asi8


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
