"""OHLCV files on disk: their names, the two layouts, and the formats, read into one raw shape.

A data directory may be sweep's own folder or freqtrade's ``user_data/data/<exchange>``:

- spot: ``<dir>/BTC_USDT-1h.<ext>`` for ``BTC/USDT`` (both tools name it so);
- futures: ``<dir>/futures/BTC_USDT_USDT-1h-futures.<ext>`` for ``BTC/USDT:USDT``, as freqtrade
  writes it (``sweep``'s own ``<dir>/BTC_USDT_USDT-1h.<ext>`` is accepted too).

Formats, by extension: ``.parquet`` and ``.feather`` (a ``timestamp`` or freqtrade's ``date``
column: a datetime, or epoch milliseconds), ``.csv`` and ``.csv.gz`` (ISO 8601 UTC timestamps),
``.json`` and ``.json.gz`` (freqtrade's ``[[epoch_ms, open, high, low, close, volume], ...]``).

:func:`read_raw` returns every format in one shape: a ``timestamp`` column holding the values as
stored, then ``open high low close volume`` (and whatever other columns the file has), in file
order. It validates nothing about the values (that is :mod:`sweep.core.data`'s job); a file that
cannot be read at all (truncated or corrupt compression, not UTF-8, not JSON, not Parquet or
Feather, a directory) raises :class:`DataError` naming the file.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sweep.core.errors import DataError, DataFileNotFound

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {
    ".parquet": "parquet",
    ".feather": "feather",
    ".csv.gz": "csv.gz",
    ".csv": "csv",
    ".json.gz": "json.gz",
    ".json": "json",
}
"""File extensions sweep reads, in the order it prefers them when several hold the same bars:
typed binary formats first (exact floats, fast), then text."""

VALUE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
JSON_ROW = "[epoch_ms, open, high, low, close, volume]"
FUTURES_DIR = "futures"

# freqtrade's candle types in the futures folder: only ``futures`` holds traded prices (``mark``,
# ``index`` and ``premiumIndex`` are derived prices, ``funding_rate`` is not a price at all).
_NAME = re.compile(
    r"^(?P<base>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<tf>\d+[A-Za-z]{1,2})"
    r"(?:-(?P<candle>[A-Za-z_]+))?(?P<ext>\.parquet|\.feather|\.csv\.gz|\.csv|\.json\.gz|\.json)$"
)


def file_format(path: Path) -> str:
    """The format name of ``path`` by its extension (``csv.gz``, ``feather``, ...)."""
    for ext, name in FORMATS.items():
        if path.name.endswith(ext):
            return name
    raise DataError(
        "not an OHLCV file name",
        file=path.name,
        hint=f"sweep reads {', '.join(FORMATS)}",
    )


def base_name(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTC_USDT``; ``BTC/USDT:USDT`` -> ``BTC_USDT_USDT`` (freqtrade's rule)."""
    return symbol.replace("/", "_").replace(":", "_")


def symbol_from_base(base: str) -> str:
    """The inverse of :func:`base_name`: first ``_`` is ``/``, a second one is ``:``."""
    symbol = base.replace("_", "/", 1)
    return symbol.replace("_", ":", 1)


def candidate_paths(data_dir: Path, symbol: str, timeframe: str) -> list[Path]:
    """Where the bars of ``symbol`` at ``timeframe`` may be, in the order they are preferred."""
    base = f"{base_name(symbol)}-{timeframe}"
    paths = []
    if ":" in symbol:  # a futures contract: freqtrade's folder first
        paths += [data_dir / FUTURES_DIR / f"{base}-futures{ext}" for ext in FORMATS]
    paths += [data_dir / f"{base}{ext}" for ext in FORMATS]
    return paths


def looked_for(symbol: str, timeframes: list[str]) -> str:
    """The names :func:`candidate_paths` tries, as one compact brace pattern."""
    tfs = "{" + ",".join(timeframes) + "}" if len(timeframes) > 1 else timeframes[0]
    exts = "{" + ",".join(e.lstrip(".") for e in FORMATS) + "}"
    base = base_name(symbol)
    own = f"{base}-{tfs}.{exts}"
    if ":" in symbol:
        return f"{FUTURES_DIR}/{base}-{tfs}-futures.{exts} and {own}"
    return own


@dataclass(frozen=True)
class DataFile:
    """One OHLCV file found in a data directory, identified by its name."""

    path: Path
    symbol: str
    timeframe: str
    format: str

    def relative_to(self, data_dir: Path) -> str:
        return str(self.path.relative_to(data_dir))


def scan_data_dir(data_dir: Path) -> list[DataFile]:
    """Every OHLCV file in ``data_dir`` and its freqtrade ``futures/`` folder, sorted by symbol,
    then timeframe name, then preference of format. Other names (``pairs.json``, trades files,
    freqtrade's mark/index/funding-rate candles) are not OHLCV price files and are left out."""
    found = []
    for folder, futures in ((data_dir, False), (data_dir / FUTURES_DIR, True)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            m = _NAME.match(path.name)
            if m is None:
                continue
            if m.group("candle") != ("futures" if futures else None):
                continue
            fmt = FORMATS[m.group("ext")]
            found.append(DataFile(path, symbol_from_base(m.group("base")), m.group("tf"), fmt))
    order = list(FORMATS.values())
    return sorted(found, key=lambda f: (f.symbol, f.timeframe, order.index(f.format)))


def exchange_folders(data_dir: Path) -> list[str]:
    """Subfolders of ``data_dir`` that hold OHLCV files (freqtrade's ``user_data/data`` has one
    per exchange), for a hint when ``data.dir`` points one level too high."""
    if not data_dir.is_dir():
        return []
    folders = (p for p in data_dir.iterdir() if p.is_dir() and p.name != FUTURES_DIR)
    return sorted(p.name for p in folders if scan_data_dir(p))


_warned: set[tuple[Path, ...]] = set()


def warn_if_several(present: list[Path]) -> None:
    key = tuple(present)
    if len(present) > 1 and key not in _warned:
        _warned.add(key)
        log.warning(
            "%s: also found %s; using the first (formats are preferred in the order %s)",
            present[0],
            ", ".join(p.name for p in present[1:]),
            " ".join(FORMATS.values()),
        )


def not_found(symbol: str, timeframe: str, tried: list[str], data_dir: Path) -> DataFileNotFound:
    if data_dir.is_file():
        where = f"{data_dir.resolve()} (a file, not a directory)"
    else:
        where = f"{data_dir.resolve()}" + ("" if data_dir.is_dir() else " (no such directory)")
    hints = []
    files = scan_data_dir(data_dir)
    same = [f.relative_to(data_dir) for f in files if f.symbol == symbol]
    if same:
        hints.append(
            f"{symbol} has {', '.join(same[:6])}: none at {timeframe} or a finer timeframe "
            "that divides it"
        )
    pair = symbol.split(":")[0]
    related = [f for f in files if f.symbol != symbol and f.symbol.split(":")[0] == pair]
    if related:
        names = ", ".join(f.relative_to(data_dir) for f in related[:6])
        hints.append(f"did you mean {related[0].symbol}? ({names})")
    folders = exchange_folders(data_dir)
    if folders:
        hints.append(
            f"{data_dir} holds exchange folders ({', '.join(folders)}): point data.dir at one, "
            f"e.g. {data_dir / folders[0]}"
        )
    hints.append(
        f"put {base_name(symbol)}-{timeframe}.csv.gz (or a finer timeframe) in "
        f"{data_dir} or set data.dir / SWEEP_DATA_DIR"
    )
    return DataFileNotFound(
        f"no OHLCV file for {symbol} {timeframe} in {where}; looked for "
        + looked_for(symbol, tried),
        key="symbol",
        value=symbol,
        hint="; ".join(hints),
    )


# --- reading ------------------------------------------------------------------------------------


def read_raw(path: Path) -> pd.DataFrame:
    """Read any supported file into the raw frame described in the module docstring."""
    fmt = file_format(path)
    if path.is_dir():
        raise DataError(
            "is a directory, not a file",
            file=path.name,
            hint="move the folder away, or put the OHLCV file itself under this name",
        )
    try:
        if fmt in ("parquet", "feather"):
            raw = _read_arrow(path, fmt)
        elif fmt in ("json", "json.gz"):
            raw = _read_json(path, fmt)
        else:
            # Timestamps as strings: pandas' own date guessing would hide which row is malformed.
            raw = pd.read_csv(path, dtype={"timestamp": str, "date": str})
    except DataError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(
            f"truncated or corrupt gzip data ({e})",
            file=path.name,
            hint="the file was cut short or damaged: download or compress it again "
            "(`gzip -t FILE` tests it)",
        ) from e
    except UnicodeDecodeError as e:
        raise _not_utf8(path, e) from e
    except pd.errors.EmptyDataError as e:
        raise DataError(
            "empty file: no header and no bars",
            file=path.name,
            hint="download the data again; the first line must be "
            "timestamp,open,high,low,close,volume",
        ) from e
    except pd.errors.ParserError as e:
        raise DataError(
            f"malformed CSV: {_first_line(e)}",
            file=path.name,
            hint="every line needs the same six comma-separated fields",
        ) from e
    except OSError as e:
        raise DataError(
            f"cannot read the file: {e.strerror or e}",
            file=path.name,
            hint="check the file's permissions and that it is a regular file",
        ) from e
    if "timestamp" not in raw.columns and "date" in raw.columns:
        raw = raw.rename(columns={"date": "timestamp"})  # freqtrade's name for the bar's open
    return raw


def _read_arrow(path: Path, fmt: str) -> pd.DataFrame:
    import pyarrow

    try:
        raw = pd.read_parquet(path, engine="pyarrow") if fmt == "parquet" else pd.read_feather(path)
    except (pyarrow.ArrowException, OSError) as e:
        # Arrow reports damaged compressed pages ("Corrupt snappy compressed data", "LZ4
        # decompress failed") as a bare OSError with no errno; one with an errno is the file
        # system's (permissions, a special file), which read_raw words as such.
        if isinstance(e, OSError) and e.errno is not None:
            raise
        raise DataError(
            f"not a readable {fmt} file: {_first_line(e)}",
            file=path.name,
            hint=f"the file is damaged or is not {fmt}: convert or download it again",
        ) from e
    if raw.index.name in ("timestamp", "date"):  # written with the time as the index
        raw = raw.reset_index()
    return raw


def _read_json(path: Path, fmt: str) -> pd.DataFrame:
    data = path.read_bytes()
    if fmt == "json.gz":
        data = gzip.decompress(data)
    if not data.strip():
        raise DataError(
            "empty file: no bars",
            file=path.name,
            hint=f"a JSON OHLCV file is an array of {JSON_ROW} rows; download the data again",
        )
    text = data.decode("utf-8")
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}",
            file=path.name,
            hint="the file is truncated or damaged: download it again",
        ) from e
    if not isinstance(rows, list):
        raise DataError(
            f"expected a JSON array of {JSON_ROW} rows",
            file=path.name,
            value=type(rows).__name__,
            hint="freqtrade writes OHLCV as an array of arrays (orient 'values')",
        )
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != 1 + len(VALUE_COLUMNS):
            raise DataError(
                f"row {i + 1} is not {JSON_ROW}",
                file=path.name,
                key="row",
                value=_short(row),
                hint="every row holds six values, the time first",
            )
        stamp = row[0]
        if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int | float)):
            raise DataError(
                f"timestamp at row {i + 1} is not a number of epoch milliseconds",
                file=path.name,
                key="timestamp",
                value=_short(stamp),
                hint="freqtrade's JSON holds the bar's open time in epoch milliseconds",
            )
    return pd.DataFrame(rows, columns=["timestamp", *VALUE_COLUMNS])


def _not_utf8(path: Path, error: UnicodeDecodeError) -> DataError:
    byte = error.object[error.start] if error.start < len(error.object) else None
    what = f"byte 0x{byte:02x}" if isinstance(byte, int) else "a byte"
    line = _first_non_utf8_line(path)
    where = f" at line {line}" if line else ""
    return DataError(
        f"not UTF-8 text: {what}{where} is not valid UTF-8",
        file=path.name,
        hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)",
    )


def _first_non_utf8_line(path: Path) -> int | None:
    # A multi-byte UTF-8 character never contains a newline byte, so lines decode on their own.
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for number, line in enumerate(f, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return number
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    # Without a final full stop: the hint follows after "; ".
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
