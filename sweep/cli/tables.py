"""How the CLI prints: exit codes, numbers, units and plain-text tables.

One unit convention: machine-readable output (``--format csv|json``, ``--json``) carries
fractions as the registry stores them (``win_rate`` 0.534) and times as ISO 8601 in UTC; output
for people (tables, summaries, one-line results) shows fractions as percentages (53.4%) and
marks times UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sweep.core.metric_names import BACKTEST_METRICS, FRACTION_METRICS

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "FRACTION_METRICS",
    "fit_columns",
    "format_table",
    "metric_names",
    "num",
    "pct",
    "to_json",
    "utc_iso",
]

_SIGNED = frozenset({"alpha", "total_return", "bh_return", "annual_return", "avg_trade_return"})
# What a run's metrics hold besides the backtest's statistics (sweep.core.pipeline, study_stats)
_RUN_METRICS = (
    "n_fit",
    "n_valid",
    "n_test",
    "label_rate",
    "best_iteration",
    "cv_folds",
    "cv_sharpe_min",
    "cv_sharpe_std",
    "dsr",
    "pbo",
    "n_trials_study",
    "timing_p",
    "bars_per_year",
)


def metric_names() -> list[str]:
    """Every metric a registered run may hold, for ``--order`` and its did-you-mean."""
    names = list(BACKTEST_METRICS)
    return names + [n for n in _RUN_METRICS if n not in names]


def pct(v: Any, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal (the summary's own formatter, imported on first
    use: the study layer pulls in the database driver, and `sweep --help` must stay light)."""
    from sweep.study.summary import pct as summary_pct

    return summary_pct(v, signed)


def num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def utc_iso(v: datetime) -> str:
    """ISO 8601 in UTC (``2026-11-30T15:19:00.123456+00:00``)."""
    return v.astimezone(UTC).isoformat()


def machine_value(v: Any) -> Any:
    """A value for csv or json: times in UTC, everything else as stored."""
    return utc_iso(v) if isinstance(v, datetime) else v


def to_json(rows: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> str:
    """JSON text with times as ISO 8601 in UTC and fractions as stored."""

    def default(v: Any) -> Any:
        return utc_iso(v) if isinstance(v, datetime) else str(v)

    return json.dumps(rows, default=default, indent=2)


def _cell(col: str, v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, bool):
        return str(v)
    if col in FRACTION_METRICS and isinstance(v, int | float):
        return pct(v, signed=col in _SIGNED)
    if isinstance(v, float):
        return f"{v:.4f}"
    if isinstance(v, list | tuple):
        return "+".join(map(str, v))
    return str(v)


def table_width(rows: Sequence[dict[str, Any]], cols: Sequence[str]) -> int:
    """The width :func:`format_table` gives these columns."""
    return len(format_table(rows, cols).splitlines()[1])


def fit_columns(
    rows: Sequence[dict[str, Any]], cols: Sequence[str], width: int | None, drop: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The columns to show in ``width`` characters (no limit for None), leaving out those of
    ``drop`` first, in its order; returns (shown, left out)."""
    shown, left_out = list(cols), []
    for c in drop:
        if width is None or table_width(rows, shown) <= width:
            break
        if c in shown:
            shown.remove(c)
            left_out.append(c)
    return shown, left_out


def format_table(
    rows: Sequence[dict[str, Any]], cols: Sequence[str], rename: dict[str, str] | None = None
) -> str:
    """A plain-text table for people: fraction metrics as percentages, other floats with four
    decimals, times in UTC to the second (the header says so)."""
    rename = rename or {}

    def head(c: str) -> str:
        name = rename.get(c, c)
        is_time = any(isinstance(r.get(c), datetime) for r in rows)
        return f"{name} (UTC)" if is_time else name

    heads = [head(c) for c in cols]
    body = [[_cell(rename.get(c, c), r.get(c)) for c in cols] for r in rows]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(heads)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    if not body:
        lines.append("(no results)")
    return "\n".join(lines)
