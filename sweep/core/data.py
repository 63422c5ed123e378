"""OHLCV market data: locate the file, load it, validate it, resample it, fingerprint it.

Files are named ``BTC_USDT-1h.csv.gz`` (symbol with ``/`` as ``_``, then the timeframe) and hold
``timestamp,open,high,low,close,volume`` with ISO 8601 UTC timestamps labelling the bar OPEN;
freqtrade's layout and formats (feather, parquet, json, json.gz) are read as well
(:mod:`sweep.core.datafiles`). A coarser timeframe with no file of its own is resampled from the
finest finer file that divides it. Gaps in the hourly (or whatever) grid are counted and
reported, never filled: filling would invent prices the market never traded.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from sweep.core import datafiles
from sweep.core.errors import ConfigError, DataError

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

COLUMNS: tuple[str, ...] = datafiles.VALUE_COLUMNS
EXTENSIONS: tuple[str, ...] = tuple(datafiles.FORMATS)

MAX_PRICE = 1e12
"""Prices above this are refused as a unit or column error, not a market. The dearest quotes
that exist are about 1e10 (a bitcoin in Iranian rials or Vietnamese dong; BRK.A is 7e5), while
the usual mistakes land far above: epoch milliseconds shifted into a price column are 1.7e12,
prices in wei 1e18. Volumes are bounded only far above any market (MAX_VOLUME)."""
MAX_VOLUME = 1e30
"""Volumes above this are parsing errors, not trades. Markets legitimately reach 1e15 units an
hour (meme tokens) and beyond in tiny units, so the bound is far above them; it only keeps the
volume features finite: 1e300 overflows price x volume and squared deviations to infinity,
while 1e30 x a price of 1e12, squared, stays far inside float64."""


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


def find_data_file(symbol: str, timeframe: str, data_dir: Path) -> tuple[Path, str]:
    """Find the OHLCV file for ``symbol`` at ``timeframe``: returns (path, source timeframe).

    Tries every name of :func:`sweep.core.datafiles.candidate_paths` (each format, freqtrade's
    ``futures/`` folder for ``BASE/QUOTE:SETTLE``) for the timeframe itself, then for every finer
    timeframe that divides it evenly, finest first (resampling from the finest source keeps the
    most bars whose bins are complete).
    """
    duration = _check_timeframe(timeframe)
    finer = [tf for tf, d in TIMEFRAMES.items() if d < duration and duration % d == pd.Timedelta(0)]
    for tf in [timeframe, *finer]:
        candidates = datafiles.candidate_paths(data_dir, symbol, tf)
        present = [p for p in candidates if p.exists()]
        for p in present:
            if not p.is_file():
                raise DataError(
                    "is a directory, not a file",
                    file=str(p),
                    hint="move the folder away, or put the OHLCV file itself under this name",
                )
        if present:
            datafiles.warn_if_several(present)
            return present[0], tf
    raise datafiles.not_found(symbol, timeframe, [timeframe, *finer], data_dir)


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


def load_file(path: Path, timeframe: str) -> pd.DataFrame:
    """One file's validated bars, whatever its format, as bars of ``timeframe`` (the file's own
    timeframe: no resampling). Cached like :func:`load_market_data`: do not modify the frame.
    Raises DataError at the first problem, ConfigError for an unknown timeframe."""
    _check_timeframe(timeframe)
    path = path.resolve()
    stat = path.stat()
    return _read_validated(str(path), stat.st_mtime_ns, stat.st_size, timeframe)


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


def _row_label(path: Path, i: int) -> str:
    """Where row ``i`` (0-based, header excluded) is, in words a user can find in the file."""
    if datafiles.file_format(path) in ("csv", "csv.gz"):
        return f"row {i + 1} (line {i + 2} of the file)"
    return f"row {i + 1}"


@functools.lru_cache(maxsize=4)
def _read_validated(path_str: str, mtime_ns: int, size: int, timeframe: str) -> pd.DataFrame:
    """Read a file into the canonical frame, raising DataError at the first problem found.

    Cached on its own so a study trying several timeframes or date ranges reads each file once.
    """
    path = Path(path_str)
    raw = read_raw_checked(path)
    if raw.empty:
        raise DataError(
            "no bars: the file holds no rows",
            file=path.name,
            hint="download the data again",
        )
    index = _parse_timestamps(raw["timestamp"], path)
    values = {col: _parse_numbers(raw[col], col, path) for col in COLUMNS}
    frame = pd.DataFrame(values, index=index)
    _check_order(index, path, timeframe)
    _check_values(frame, path)
    return frame


def read_raw_checked(path: Path) -> pd.DataFrame:
    """The file's raw frame (:func:`sweep.core.datafiles.read_raw`) once its columns are checked:
    exactly ``timestamp`` (or freqtrade's ``date``) and the five value columns."""
    raw = datafiles.read_raw(path)
    got = [str(c) for c in raw.columns]
    missing = [c for c in ("timestamp", *COLUMNS) if c not in got]
    extra = [c for c in got if c not in ("timestamp", *COLUMNS)]
    if missing or extra:
        raise DataError(
            f"columns must be exactly timestamp (or date),{','.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else ""),
            file=path.name,
            key=(missing or extra)[0],
            value=got,
            hint="rename or drop columns so the header reads timestamp,open,high,low,close,volume",
        )
    return raw


def coerce_timestamps(column: pd.Series) -> pd.Series:
    """A raw timestamp column as UTC datetimes, NaT where a value cannot be read.

    Datetimes are kept (naive ones are UTC: freqtrade and sweep write only UTC); numbers are
    epoch milliseconds, as freqtrade writes them; strings are ISO 8601.
    """
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(column):
        return pd.to_datetime(column, utc=True)
    if is_epoch(column):
        return pd.to_datetime(column, unit="ms", utc=True, errors="coerce")
    text = column.astype("string")
    try:  # one pass, kept when every year fits the nanosecond range (the usual file)
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        year = parsed.dt.year
        if not ((year > 2261) | (year < 1678)).any():
            return parsed
    except (ValueError, OverflowError):  # pandas' OutOfBoundsDatetime is a ValueError
        pass
    # Years outside pandas' nanosecond range (1678-2261) can raise even with errors="coerce", or
    # parse at a coarser unit and fail later: they become NaT here, so the row is named as
    # unparseable instead of a traceback.
    year = pd.to_numeric(text.str.extract(r"^\s*([+-]?\d{4,})", expand=False), errors="coerce")
    text = text.where(~((year > 2261) | (year < 1678)))
    return pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")


def is_epoch(column: pd.Series) -> bool:
    """Whether a raw timestamp column holds numbers (epoch milliseconds)."""
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def looks_like_epoch_seconds(column: pd.Series) -> bool:
    """Numeric timestamps all inside 1970's first four months (|t| < 1e10 ms): epoch SECONDS."""
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(np.abs(finite).max()) < 1e10


def _parse_timestamps(column: pd.Series, path: Path) -> pd.DatetimeIndex:
    epoch = is_epoch(column)
    if epoch and looks_like_epoch_seconds(column):
        raise DataError(
            f"numeric timestamps look like epoch seconds at {_row_label(path, 0)}",
            file=path.name,
            key="timestamp",
            value=_plain(column.iloc[0]),
            hint="sweep reads numeric timestamps as epoch milliseconds, as freqtrade writes them",
        )
    parsed = coerce_timestamps(column)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{'missing or out-of-range' if epoch else 'unparseable'} timestamp at "
            f"{_row_label(path, i)}",
            file=path.name,
            key="timestamp",
            value=_plain(column.iloc[i]),
            hint="numeric timestamps are epoch milliseconds (1677 to 2262)"
            if epoch
            else "timestamps must be ISO 8601 UTC, e.g. 2017-08-17T04:00:00Z",
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
            value=None if pd.isna(original) else _plain(original),
            hint="every bar needs all five numbers; drop the bar (a gap) rather than guess it",
        )
    infinite = np.flatnonzero(np.isinf(numbers))
    if infinite.size:
        i = int(infinite[0])
        raise DataError(
            f"non-finite value at {_row_label(path, i)}",
            file=path.name,
            key=key,
            value=_plain(column.iloc[i]),
            hint="every price and volume must be a finite number; fix or drop the bar",
        )
    return numbers


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages show ``inf``, not ``np.float64``."""
    return value.item() if isinstance(value, np.generic) else value


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
    refetch = "fix the file, or re-download it"
    absurd = "a unit or column mix-up (epoch milliseconds are 1.7e12); check the file's columns"
    checks: list[tuple[np.ndarray, str, str, str]] = [
        *((frame[col].to_numpy() <= 0, col, "price must be > 0", refetch) for col in COLUMNS[:4]),
        *(
            (frame[col].to_numpy() > MAX_PRICE, col, f"price must be <= {MAX_PRICE:.0e}", absurd)
            for col in COLUMNS[:4]
        ),
        (v < 0, "volume", "volume must be >= 0", refetch),
        (v > MAX_VOLUME, "volume", f"volume must be <= {MAX_VOLUME:.0e}", absurd),
        (h < np.maximum(o, c), "high", "high must be >= max(open, close)", refetch),
        (low > np.minimum(o, c), "low", "low must be <= min(open, close)", refetch),
    ]
    for bad, key, rule, hint in checks:
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
                hint=hint,
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
