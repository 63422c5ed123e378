"""Validation reports on OHLCV bars: every problem counted, coverage measured; frames in.

:func:`check_bars` looks at a file's raw frame (:func:`sweep.core.data.read_raw_checked`) and counts
every problem the loader would refuse, instead of stopping at the first: unreadable or missing
timestamps, order, duplicates, bars off the timeframe's grid, missing and non-finite values,
prices out of bounds, negative volume, OHLC inconsistency. :func:`measure_coverage` describes the
bars a study would see: span, gaps against the regular grid, and the bars per year measured, so
markets that close (FX, metals, equities) can be annualised with their real bar count instead of
a 24/7 calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sweep.core.data import (
    COLUMNS,
    MAX_PRICE,
    TIMEFRAMES,
    coerce_timestamps,
    is_epoch,
    looks_like_epoch_seconds,
)
from sweep.core.data import bars_per_year as nominal_bars_per_year

_DAY_NS = 86_400 * 10**9
_SATURDAY = 5  # Monday is 0; the epoch day 0 (1970-01-01) was a Thursday (3)


@dataclass(frozen=True)
class Finding:
    """One check: how many rows fail it, and the first of them (row number and value)."""

    check: str
    count: int
    first_row: int | None = None  # 1-based, header excluded
    first_value: str | None = None
    problem: bool = True  # False: worth knowing, not a reason to refuse (zero-volume bars)


@dataclass(frozen=True)
class Coverage:
    """The span and regularity of a series of bars at one timeframe."""

    timeframe: str
    bars: int
    first_bar: str
    last_bar: str
    gaps: int  # runs of missing bars against the regular grid
    missing_bars: int
    longest_gap: int
    longest_gap_after: str | None  # the bar the longest gap follows
    weekend_gaps: int  # gaps that span a Saturday (UTC): market closures, not outages
    bars_per_year: float  # measured, see ``bars_per_year_basis``
    bars_per_year_basis: str
    complete_years: list[int]
    bars_per_year_24_7: float  # 365 days of bars: sweep's default annualisation
    days_per_year: float  # the ``backtest.days_per_year`` that annualises with the measured count


@dataclass(frozen=True)
class DataReport:
    """What ``sweep data check`` prints: the file, each check, and the coverage."""

    file: str
    format: str
    symbol: str
    timeframe: str
    source_timeframe: str
    rows: int
    findings: list[Finding]
    coverage: Coverage | None  # at the source timeframe; None when no timestamp is readable
    resampled: Coverage | None = None  # at ``timeframe``, when resampled from a finer file
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        """Rows failing a check the loader enforces (a row failing two checks counts twice)."""
        return sum(f.count for f in self.findings if f.problem)

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"], out["problems"] = self.ok, self.problems
        return out


def build_report(
    raw: pd.DataFrame,
    *,
    file: str,
    file_format: str,
    symbol: str,
    timeframe: str,
    source_timeframe: str,
) -> DataReport:
    """The report on one file's raw frame, its bars read at ``source_timeframe``."""
    stamps = pd.DatetimeIndex(coerce_timestamps(raw["timestamp"]))
    seconds = is_epoch(raw["timestamp"]) and looks_like_epoch_seconds(raw["timestamp"])
    return DataReport(
        file=file,
        format=file_format,
        symbol=symbol,
        timeframe=timeframe,
        source_timeframe=source_timeframe,
        rows=len(raw),
        findings=check_bars(raw, source_timeframe),
        # Seconds read as milliseconds all fall in January 1970: no coverage worth printing.
        coverage=None if seconds else measure_coverage(stamps, source_timeframe),
    )


# --- checks ---------------------------------------------------------------------------------------


def check_bars(raw: pd.DataFrame, timeframe: str) -> list[Finding]:
    """Every check of the loader, counted over the whole frame, in the loader's order.

    ``raw``: a ``timestamp`` column (strings, datetimes or epoch milliseconds) and the five value
    columns as stored (strings or numbers), in file order.
    """
    column = raw["timestamp"]
    stamps = coerce_timestamps(column)
    findings = [Finding("no bars", 0 if len(raw) else 1)]
    findings.append(_where("unreadable timestamps", stamps.isna().to_numpy(), column))
    if is_epoch(column) and looks_like_epoch_seconds(column):
        findings.append(_where("epoch seconds, not milliseconds", np.ones(len(raw), bool), column))
    ns = _ns(stamps)
    valid = ~stamps.isna().to_numpy()
    order = np.zeros(len(raw), bool)
    dup = np.zeros(len(raw), bool)
    vi = np.flatnonzero(valid)
    steps = np.diff(ns[vi])
    order[vi[1:][steps < 0]] = True
    dup[vi] = pd.Series(ns[vi]).duplicated().to_numpy()
    misaligned = valid & (ns % TIMEFRAMES[timeframe].value != 0)
    findings += [
        _where("timestamps out of order", order, column),
        _where("duplicate timestamps", dup, column),
        _where(f"timestamps off the {timeframe} grid", misaligned, column),
    ]
    numbers = {
        c: pd.to_numeric(raw[c], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        for c in COLUMNS
    }
    findings.append(_first_of("missing or non-numeric values", raw, numbers, np.isnan))
    findings.append(_first_of("non-finite values (inf)", raw, numbers, np.isinf))
    o, h, low, c, v = (numbers[col] for col in COLUMNS)
    prices = {col: numbers[col] for col in COLUMNS[:4]}
    with np.errstate(invalid="ignore"):
        findings += [
            _first_of("prices <= 0", raw, prices, lambda x: np.isfinite(x) & (x <= 0)),
            _first_of(
                f"prices > {MAX_PRICE:.0e}", raw, prices, lambda x: np.isfinite(x) & (x > MAX_PRICE)
            ),
            _where("negative volume", v < 0, raw["volume"]),
            _where("high < max(open, close)", h < np.fmax(o, c), raw["high"]),
            _where("low > min(open, close)", low > np.fmin(o, c), raw["low"]),
            _where("high < low", h < low, raw["high"]),
            _where("zero-volume bars", v == 0, raw["volume"], problem=False),
        ]
    return findings


def _where(check: str, bad: np.ndarray, values: pd.Series, *, problem: bool = True) -> Finding:
    hits = np.flatnonzero(bad)
    if not hits.size:
        return Finding(check, 0, problem=problem)
    i = int(hits[0])
    return Finding(check, int(hits.size), i + 1, _show(values.iloc[i]), problem)


def _first_of(
    check: str,
    raw: pd.DataFrame,
    numbers: dict[str, np.ndarray],
    test: Callable[[np.ndarray], np.ndarray],
) -> Finding:
    """Rows where ``test`` holds in any of ``numbers``' columns; the first named by column."""
    bad = {col: np.asarray(test(x), bool) for col, x in numbers.items()}
    rows = np.logical_or.reduce(list(bad.values()))
    hits = np.flatnonzero(rows)
    if not hits.size:
        return Finding(check, 0)
    i = int(hits[0])
    col = next(col for col in numbers if bad[col][i])
    return Finding(check, int(hits.size), i + 1, f"{col}={_show(raw[col].iloc[i])}")


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- coverage -----------------------------------------------------------------------------------


def measure_coverage(index: pd.Index, timeframe: str) -> Coverage | None:
    """Span, gaps and bars per year of ``index`` (bar opens) on the ``timeframe`` grid.

    Bars per year is the median bar count over the complete calendar years the series spans
    (years whose 1 January 00:00 UTC to 31 December close lie within the first and last bar),
    so a market's closures (weekends, holidays, daily breaks) are counted as they are. With no
    complete year it is the bar count annualised over the span (365.25 days a year).
    Unreadable, duplicate and unsorted timestamps are dropped first.
    """
    stamps = pd.DatetimeIndex(index.dropna()).unique().sort_values()
    if len(stamps) == 0:
        return None
    bar = TIMEFRAMES[timeframe].value
    ns = stamps.as_unit("ns").asi8
    steps = np.diff(ns) // bar
    where = np.flatnonzero(steps > 1)
    missing = steps[where] - 1
    longest = int(np.argmax(missing)) if missing.size else -1
    start, end = ns[where] + bar, ns[where + 1] - bar  # the missing bars' opens, inclusive
    first_day, last_day = start // _DAY_NS, end // _DAY_NS
    next_saturday = first_day + (_SATURDAY - (first_day + 3)) % 7
    per_year, complete, basis = _bars_per_year(stamps, ns, bar)
    per_day = _DAY_NS / bar
    return Coverage(
        timeframe=timeframe,
        bars=len(stamps),
        first_bar=_iso(stamps[0]),
        last_bar=_iso(stamps[-1]),
        gaps=int(missing.size),
        missing_bars=int(missing.sum()),
        longest_gap=int(missing[longest]) if missing.size else 0,
        longest_gap_after=_iso(stamps[int(where[longest])]) if missing.size else None,
        weekend_gaps=int(np.count_nonzero(next_saturday <= last_day)),
        bars_per_year=per_year,
        bars_per_year_basis=basis,
        complete_years=complete,
        bars_per_year_24_7=nominal_bars_per_year(timeframe),
        days_per_year=round(per_year / per_day, 1),
    )


def _bars_per_year(
    stamps: pd.DatetimeIndex, ns: np.ndarray, bar: int
) -> tuple[float, list[int], str]:
    years = stamps.year.to_numpy()
    first, end = int(ns[0]), int(ns[-1]) + bar  # the series covers [first, end)
    complete = [
        int(y)
        for y in range(int(years[0]), int(years[-1]) + 1)
        if first <= pd.Timestamp(year=y, month=1, day=1, tz="UTC").value
        and pd.Timestamp(year=y + 1, month=1, day=1, tz="UTC").value <= end
    ]
    if complete:
        counts = [int(np.count_nonzero(years == y)) for y in complete]
        span = f"{complete[0]}" if len(complete) == 1 else f"{complete[0]}-{complete[-1]}"
        n = len(complete)
        basis = f"median of {n} complete calendar year{'s' if n > 1 else ''} ({span})"
        return float(np.median(counts)), complete, basis
    span_years = (end - first) / (365.25 * _DAY_NS)
    span = f"{span_years:.2f} years" if span_years >= 1 else f"{(end - first) / _DAY_NS:.1f} days"
    basis = f"annualised over {span} (no complete calendar year)"
    return len(stamps) / span_years, [], basis


# --- presentation ---------------------------------------------------------------------------------


def report_rows(report: DataReport) -> list[dict[str, Any]]:
    """The report as (check, result, detail) rows, for a table or CSV."""
    rows: list[dict[str, Any]] = [
        {"check": "file", "result": report.file, "detail": f"{report.format}, {report.rows} rows"},
        {"check": "market", "result": f"{report.symbol} {report.source_timeframe}", "detail": ""},
    ]
    for f in report.findings:
        detail = f"first at row {f.first_row}: {f.first_value}" if f.first_row else ""
        rows.append({"check": f.check, "result": f.count, "detail": detail})
    for cov in (report.coverage, report.resampled):
        if cov is not None:
            prefix = "" if cov is report.coverage else f"{cov.timeframe} "
            rows += _coverage_rows(cov, prefix)
    rows += [{"check": "note", "result": "", "detail": note} for note in report.notes]
    verdict = "ok" if report.ok else "refused"
    problems = "1 problem" if report.problems == 1 else f"{report.problems} problems"
    refused = f"{problems}; sweep refuses it"
    detail = "sweep reads this file" if report.ok else refused
    rows.append({"check": "verdict", "result": verdict, "detail": detail})
    return rows


def _coverage_rows(cov: Coverage, prefix: str) -> list[dict[str, Any]]:
    longest = f"; longest {cov.longest_gap} bars after {cov.longest_gap_after}" if cov.gaps else ""
    span = f"{cov.first_bar} to {cov.last_bar}"
    gaps = f"{cov.missing_bars} missing bars{longest}; {cov.weekend_gaps} span a weekend"
    return [
        {"check": f"{prefix}bars", "result": cov.bars, "detail": span},
        {"check": f"{prefix}gaps", "result": cov.gaps, "detail": gaps},
        {
            "check": f"{prefix}bars per year",
            "result": round(cov.bars_per_year),
            "detail": f"{cov.bars_per_year_basis}; 24/7 would be {cov.bars_per_year_24_7:.0f}; "
            f"backtest.days_per_year {cov.days_per_year:g} matches it",
        },
    ]


def _ns(stamps: pd.Series) -> np.ndarray:
    """int64 nanoseconds (0 where NaT: callers mask those rows)."""
    index = pd.DatetimeIndex(stamps).as_unit("ns")
    ns = index.asi8.copy()
    ns[index.isna()] = 0
    return ns


def _iso(stamp: pd.Timestamp) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
