"""The report's page: one self-contained HTML file.

plotly.js is embedded once, in the head; the figures follow as one JSON block drawn by a short
script, so the page loads nothing from the network and opens offline. Numbers for people:
fractions as percentages, times in UTC.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import plotly.io as pio
import plotly.offline

from sweep.report.figures import Figure

__all__ = ["Page", "esc", "kv", "num", "pct", "table", "when"]


def esc(v: Any) -> str:
    return str(html.escape(str(v), quote=True))


def pct(v: Any, signed: bool = False, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{float(v) * 100:{'+' if signed else ''}.{digits}f}%"


def num(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{float(v):.{digits}f}"


def when(v: Any) -> str:
    """A time in UTC, to the minute."""
    if v is None:
        return "n/a"
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return str(v.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return str(v)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    cls: str = "",
    raw: bool = False,
) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are trusted HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return (
        f'<div class="scroll"><table class="{esc(cls)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def kv(pairs: Iterable[tuple[str, Any]], *, raw: bool = False) -> str:
    """A two-column table of names and values."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v if raw else esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


_CSS = """
:root { --ink:#1b2430; --muted:#5b6673; --line:#dde2e7; --bg:#f6f7f9; --accent:#1f4e79; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--ink);
       background:var(--bg); }
header.top { background:#fff; border-bottom:1px solid var(--line); padding:18px 28px 10px; }
header.top h1 { margin:0 0 4px; font-size:22px; }
header.top .sub { color:var(--muted); }
nav { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line);
      padding:6px 28px; font-size:13px; }
nav a { color:var(--accent); margin-right:14px; text-decoration:none; }
main { padding:8px 28px 40px; max-width:1400px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; margin:16px 0;
          padding:14px 18px; }
section h2 { margin:0 0 10px; font-size:17px; }
section h3 { margin:16px 0 6px; font-size:14px; color:var(--muted); }
table { border-collapse:collapse; font-size:13px; margin:4px 0 10px; }
th, td { border-bottom:1px solid var(--line); padding:3px 10px 3px 0; text-align:left;
         vertical-align:top; }
td { font-variant-numeric: tabular-nums; }
table.kv th { color:var(--muted); font-weight:500; padding-right:18px; }
table.monthly td, table.monthly th { text-align:right; padding:3px 6px; }
.cards { display:flex; flex-wrap:wrap; gap:10px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 14px; min-width:150px; }
.card .label { color:var(--muted); font-size:12px; }
.card .value { font-size:20px; font-weight:600; }
.card .detail { color:var(--muted); font-size:12px; }
.verdict-edge { background:#e7f5ea; border-color:#9fd3aa; }
.verdict-no_edge { background:#fdecea; border-color:#f2b8b5; }
.verdict-undecided { background:#fff6e0; border-color:#f0d48a; }
.verdict-none { background:#f0f2f4; }
.warn { background:#fff6e0; border:1px solid #f0d48a; border-radius:6px; padding:8px 12px;
        margin:8px 0; }
.note { color:var(--muted); font-size:13px; }
pre { background:#f3f5f7; border:1px solid var(--line); border-radius:4px; padding:10px;
      overflow:auto; font-size:12px; max-height:480px; }
.plot { width:100%; }
.metrics { display:flex; flex-wrap:wrap; gap:4px 18px; margin:4px 0 10px; }
.metric .label { color:var(--muted); font-size:12px; }
.scroll { overflow-x:auto; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit,minmax(520px,1fr)); gap:12px; }
"""

_DRAW = """
(function () {
  var figures = JSON.parse(document.getElementById("sweep-figures").textContent);
  var config = {displaylogo: false, responsive: true};
  figures.forEach(function (f) {
    Plotly.newPlot(f.id, f.figure.data, f.figure.layout, config);
  });
})();
"""


@dataclass
class Page:
    """A report page being built: sections of HTML, and the figures they place."""

    title: str
    subtitle: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # (id, title, html)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (div id, figure JSON)

    def figure(self, f: Figure) -> str:
        """The HTML for a figure: its div (drawn on load), or the note saying why it is
        missing."""
        if f.figure is None:
            return (
                f'<div class="note" data-missing-figure="{esc(f.key)}">'
                f"{esc(f.title)}: not shown ({esc(f.note)})</div>"
            )
        div_id = f"fig-{len(self.figures) + 1}-{f.key}"
        self.figures.append((div_id, str(pio.to_json(f.figure, validate=False, pretty=False))))
        # the div is as tall as the figure: a responsive plot takes its container's height
        height = int(f.figure.layout.height or 450)
        return (
            f'<div class="plot" id="{div_id}" data-figure="{esc(f.key)}" '
            f'style="height:{height}px"></div>'
        )

    def add(self, section_id: str, title: str, body: str) -> None:
        self.sections.append((section_id, title, body))

    def render(self) -> str:
        nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in self.sections)
        body = "".join(
            f'<section id="{esc(i)}"><h2>{esc(t)}</h2>{b}</section>' for i, t, b in self.sections
        )
        blob = "[" + ",".join(f'{{"id":"{i}","figure":{j}}}' for i, j in self.figures) + "]"
        blob = blob.replace("</", "<\\/")  # a JSON string may not end the script element
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(self.title)}</title><style>{_CSS}</style>"
            # plotly.js once, and only on a page with a plot
            + (f"<script>{plotly.offline.get_plotlyjs()}</script>" if self.figures else "")
            + "</head>"
            f'<body data-figures="{len(self.figures)}">'
            f'<header class="top"><h1>{esc(self.title)}</h1>'
            f'<div class="sub">{self.subtitle}</div></header>'
            f"<nav>{nav}</nav><main>{body}</main>"
            + (
                f'<script type="application/json" id="sweep-figures">{blob}</script>'
                f"<script>{_DRAW}</script>"
                if self.figures
                else ""
            )
            + "</body></html>\n"
        )
