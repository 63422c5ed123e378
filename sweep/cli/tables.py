"""How the CLI prints: exit codes, numbers and plain-text tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "format_table", "num", "pct"]


def pct(v: Any, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal (the summary's own formatter, imported on first
    use: the study layer pulls in the database driver, and `sweep --help` must stay light)."""
    from sweep.study.summary import pct as summary_pct

    return summary_pct(v, signed)


def num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def format_table(
    rows: Sequence[dict[str, Any]], cols: Sequence[str], rename: dict[str, str] | None = None
) -> str:
    """A plain-text table; floats with 4 significant decimals, timestamps to the second."""
    rename = rename or {}

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}"
        if hasattr(v, "strftime"):
            return str(v.strftime("%Y-%m-%d %H:%M:%S"))
        return str(v)

    head = [rename.get(c, c) for c in cols]
    body = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    if not body:
        lines.append("(no results)")
    return "\n".join(lines)
