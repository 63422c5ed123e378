"""A study's progress display: one rich progress line on a terminal, a plain line per tenth of
the budget elsewhere (logs, CI).

On a terminal the line is drawn by rich (``Live``, its ``ProgressBar``) and laid out for the
terminal's width each time it is drawn, so it never wraps (:func:`fit_line`).
:meth:`StudyProgress.close` ends the line, so whatever comes next (the summary, or the
interruption's message after Ctrl-C) starts on a clean line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from sweep.study.engine import Progress as StudyProgressSnapshot

__all__ = ["StudyProgress", "clock", "fit_line", "progress_text"]


def clock(seconds: float | None) -> str:
    """``1:05`` or ``1:02:03``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def _parts(p: StudyProgressSnapshot) -> tuple[int, int, str, str]:
    """Done (capped at the target), target, the best-so-far text and the clocks text."""
    done = min(p.counts.counted, p.target)
    new = done - p.done_at_start
    eta = 0.0 if done >= p.target else (p.elapsed / new * (p.target - done)) if new > 0 else None
    best = "-" if p.best is None else f"{p.best:.3f}"
    flag = ", infeasible" if p.infeasible else ""
    who = f" ({p.best_id.rsplit('-', 1)[-1]}{flag})" if p.best_id else ""
    return (
        done,
        p.target,
        f"best {p.objective} {best}{who}  running {p.counts.running}",
        f"{clock(p.elapsed)} ETA {clock(eta)}",
    )


def progress_text(p: StudyProgressSnapshot) -> str:
    """The plain line: ``name  57/200 [#####.....] best sharpe 1.234 (t0042)  running 2
    0:42 ETA 1:45``."""
    done, target, best, clocks = _parts(p)
    fill = int((done / target if target else 1.0) * 24)
    return f"{p.name}  {done}/{target} [{'#' * fill}{'.' * (24 - fill)}] {best}  {clocks}"


def fit_line(p: StudyProgressSnapshot, width: int) -> list[str | int]:
    """What fits on one line of ``width`` columns, in display order: texts, and an int for the
    bar's width. The count always shows; then, as room allows: the best so far (short form),
    the study's name (cut with an ellipsis), the clocks, the best's long form, the running
    trials, and the bar."""
    done, target, _, clocks = _parts(p)
    count = f"{done}/{target}"
    best = "-" if p.best is None else f"{p.best:.3f}"
    who = p.best_id.rsplit("-", 1)[-1] if p.best_id else ""
    flag = ", infeasible" if p.infeasible else ""
    long_best = f"best {p.objective} {best}" + (f" ({who}{flag})" if who else "")
    short_best = f"best {best}" + (f" ({who}{'!' if p.infeasible else ''})" if who else "")
    shown: dict[str, str] = {"count": count}

    def used(extra: dict[str, str]) -> int:
        items = {**shown, **extra}
        return sum(len(t) for t in items.values()) + len(items) - 1

    def add(key: str, text: str) -> None:
        if text and used({key: text}) <= width:
            shown[key] = text

    add("best", short_best)
    add("name", _cut(p.name, min(max(12, width // 3), width - used({}) - 1)))
    add("clocks", clocks)
    if "best" in shown:
        add("best", long_best)
    add("running", f"running {p.counts.running}")
    bar = min(40, width - used({}) - 1)
    line: list[str | int] = [shown["name"]] if "name" in shown else []
    if bar >= 10:
        line.append(bar)
    line.append(count)
    line += [shown[k] for k in ("best", "running", "clocks") if k in shown]
    return line


def _cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` columns, cut with an ellipsis; empty below 5 columns."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width >= 5 else ""


# Columns left free at the end of the line: a terminal echoes Ctrl-C as "^C" after the cursor,
# which on a full line wrapped and left a broken line above the interruption's message.
_ECHO_ROOM = 3


class _Line:
    """The progress line as a rich renderable, laid out for the console's width when drawn."""

    def __init__(self) -> None:
        self.snapshot: StudyProgressSnapshot | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        p = self.snapshot
        if p is None:
            return
        parts = fit_line(p, max(options.max_width - _ECHO_ROOM, 1))
        # no padding: the one-column gaps are cells of their own, so the widths add up exactly
        grid = Table.grid(padding=0)
        cells: list[RenderableType] = []
        for i, part in enumerate(parts):
            if i:
                grid.add_column(width=1, no_wrap=True)
                cells.append(Text(" "))
            if isinstance(part, int):
                grid.add_column(width=part, no_wrap=True)
                done = min(p.counts.counted, p.target)
                cells.append(ProgressBar(total=p.target, completed=done, width=part))
            else:
                grid.add_column(width=len(part), no_wrap=True, overflow="ellipsis")
                cells.append(Text(part, style="bold" if i == 0 else ""))
        grid.add_row(*cells)
        yield grid


class StudyProgress:
    """The display for :func:`sweep.study.engine.run_study`'s ``on_progress``."""

    def __init__(self, stream: TextIO, *, console: Console | None = None) -> None:
        self.stream = stream
        self.console = console or Console(file=stream, highlight=False)
        self.tty = self.console.is_terminal
        self.last_decile = -1
        self._line = _Line()
        self._live: Live | None = None
        self._robust_done: int | None = None
        self._robust_open = False

    def update(self, p: StudyProgressSnapshot) -> None:
        if not self.tty:
            self._plain(p)
            return
        self._line.snapshot = p
        if self._live is None:
            self._live = Live(
                self._line,
                console=self.console,
                auto_refresh=False,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        self._live.refresh()

    def _plain(self, p: StudyProgressSnapshot) -> None:
        done = min(p.counts.counted, p.target)
        decile = int((done / p.target if p.target else 1.0) * 10)
        if decile == self.last_decile:
            return
        self.last_decile = decile
        self.stream.write(progress_text(p) + "\n")
        self.stream.flush()

    def robust(self, done: int, total: int) -> None:
        """Robust selection's neighbourhood runs, after the search (``sweep.select: robust``): on
        a terminal one line of its own under the study's, rewritten in place and cut to fit."""
        if done == self._robust_done:
            return
        self._robust_done = done
        line = f"robust selection: {done}/{total} neighbour runs of the top trials"
        if self.tty:
            if self._live is not None:  # the study's line stays as it was last drawn
                self._live.stop()
                self._live = None
            width = max(self.console.width - _ECHO_ROOM, 1)
            self.stream.write("\r" + _cut(line, width).ljust(width))
            self._robust_open = True
        elif done in (0, total) or done * 10 // total != (done - 1) * 10 // total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line (idempotent): the next output starts on a clean line."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._robust_open:
            self.stream.write("\n")
            self.stream.flush()
            self._robust_open = False
