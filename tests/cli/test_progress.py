"""The study's progress line: one line that never wraps, whatever the terminal's width, and a
clean line after Ctrl-C."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import sys
import time

import pytest
from conftest import StudyDir, is_counted, optuna_trials, tiny_space
from rich.console import Console

from sweep.cli.progress import StudyProgress, fit_line
from sweep.study.engine import Progress
from sweep.study.optuna_study import TrialCounts

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def snapshots(name: str, objective: str) -> list[Progress]:
    """A study's progress from start to end: nothing yet, a best that misses the constraints,
    a best that meets them."""
    out = [Progress(name, 200, TrialCounts(running=2), None, None, objective, 0.4, 0)]
    for k in (1, 57, 150, 200):
        out.append(
            Progress(
                name,
                200,
                TrialCounts(complete=k, running=2),
                -0.123456 if k < 100 else 12.3456,
                f"{name}-t{k:04d}",
                objective,
                3.0 * k,
                0,
                infeasible=k < 100,
            )
        )
    return out


@pytest.mark.parametrize("width", [80, 40, 20])
@pytest.mark.parametrize(
    ("name", "objective"),
    [("btc-4h", "sharpe"), ("btc-4h-momentum-volume-a-long-study-name", "avg_trade_return")],
)
def test_the_progress_line_never_wraps(width: int, name: str, objective: str) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system="truecolor")
    bar = StudyProgress(buf, console=console)
    steps = snapshots(name, objective)
    for p in steps:
        bar.update(p)
        parts = fit_line(p, width)
        assert sum(x if isinstance(x, int) else len(x) for x in parts) + len(parts) - 1 <= width
    bar.close()
    bar.close()  # idempotent: an interrupted run closes it once more
    text = ANSI.sub("", buf.getvalue())
    # redrawn in place: one line feed in all, from close(), which leaves a clean line
    assert text.count("\n") == 1 and text.endswith("\n"), repr(text)
    drawn = [s for s in re.split(r"[\r\n]", text) if s]
    assert len(drawn) >= len(steps)
    # three columns stay free for the terminal's echo of Ctrl-C ("^C"), which must not wrap
    assert all(len(s) <= width - 3 for s in drawn), [s for s in drawn if len(s) > width - 3]
    assert "200/200" in drawn[-1]  # the count always shows
    if width >= 40:
        assert "best" in drawn[-1] and "12.346" in drawn[-1]
    if width >= 80 and len(name) < 20:
        assert "ETA" in drawn[-1] and "━" in drawn[-1]  # the clocks, and rich's bar


def test_off_a_terminal_a_plain_line_per_tenth_of_the_budget() -> None:
    buf = io.StringIO()
    bar = StudyProgress(buf)  # a StringIO is no terminal
    for k in range(0, 201):
        bar.update(Progress("s", 200, TrialCounts(complete=k), 1.0, "s-t0001", "sharpe", k, 0))
    bar.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 11 and "\x1b" not in buf.getvalue()
    assert lines[-1].startswith("s  200/200 [########################] best sharpe 1.000 (t0001)")


def _read_until_exit(fd: int, pid: int, on_output: object, limit: float) -> tuple[bytes, int]:
    """Everything the child writes to its terminal until it exits, and its exit status."""
    out = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                chunk = b""
            if not chunk:
                break
            out += chunk
            on_output(out)  # type: ignore[operator]
    else:
        os.kill(pid, 9)
        raise AssertionError("the study did not end in time:\n" + out.decode(errors="replace"))
    _, status = os.waitpid(pid, 0)
    return out, os.waitstatus_to_exitcode(status)


def test_in_a_40_column_terminal_ctrl_c_leaves_a_clean_line(study_dir: StudyDir) -> None:
    """A study in a real terminal (a pty, 40 columns): the progress line is redrawn in place
    and never wider than the terminal; Ctrl-C typed on the terminal ends it with the
    interruption's message on a line of its own; the resumed run reports its own budget."""
    name = "pty-40"
    study_dir.write("space.yaml", tiny_space(name))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(study_dir.env, TERM="xterm-256color")
    argv = [sys.executable, "-m", "sweep.cli", "run", "space.yaml", "--trials", "60"]
    argv += ["--jobs", "1"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: its own session, the pty as its controlling terminal
        try:
            import fcntl
            import termios

            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
            os.chdir(study_dir.path)
            os.execve(sys.executable, argv, env)
        finally:
            os._exit(127)
    sent = False

    def interrupt_after_two_trials(out: bytes) -> None:
        nonlocal sent
        shown = ANSI.sub("", out.decode(errors="replace"))
        if not sent and re.search(r"\b([2-9]|\d\d)/60\b", shown):
            os.write(fd, b"\x03")  # Ctrl-C, typed: the terminal signals its foreground group
            sent = True

    raw, code = _read_until_exit(fd, pid, interrupt_after_two_trials, limit=240)
    os.close(fd)
    text = ANSI.sub("", raw.decode(errors="replace"))
    assert sent, text
    assert code == 130, text
    lines = text.replace("\r\n", "\n").split("\n")
    message = "interrupted; run the same command again to resume"
    # the message is a whole line, after the progress line was ended with a line feed
    assert message in lines, lines
    before = "\n".join(lines[: lines.index(message)])
    drawn = [s for s in re.split(r"[\r\n]", before) if s and s != "^C"]
    assert drawn, text
    assert all(len(s) <= 40 for s in drawn), [s for s in drawn if len(s) > 40]
    assert before.count("\n") <= 2, before  # redrawn in place, not a line per refresh
    assert "Traceback" not in text

    # resumed with a smaller budget than the interrupted run's: the summary says so
    done = sum(is_counted(t) for t in optuna_trials(study_dir.url, name))
    assert 2 <= done < 60
    resumed = study_dir.sweep("run", "space.yaml", "--trials", str(done + 1), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert f"target {done + 1})" in resumed.stdout and "target 60" not in resumed.stdout
