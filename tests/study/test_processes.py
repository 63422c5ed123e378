"""Worker processes and Ctrl-C: every started worker is interrupted and waited for, also one
that had not set its own SIGINT handler when the first copy arrived."""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
import time
from pathlib import Path

import pytest

from sweep.study.processes import run_processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork context")


def _late_handler(ready: str) -> None:
    """A worker as the fork server starts one: SIGINT ignored until it sets its handler (here a
    second after saying it is ready), then interrupted as sweep's workers are."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Path(ready).write_text("ready")
    time.sleep(1.0)

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(130)

    signal.signal(signal.SIGINT, handler)
    time.sleep(60)


def test_a_worker_that_missed_the_first_interrupt_is_interrupted_again(tmp_path: Path) -> None:
    ready = tmp_path / "ready"

    def ctrl_c_once_the_worker_is_ready() -> None:
        if ready.exists():
            raise KeyboardInterrupt

    ctx = mp.get_context("fork")
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_processes(
            ctx, _late_handler, [str(ready)], "test-worker", on_tick=ctrl_c_once_the_worker_is_ready
        )
    # interrupted once its handler is set, not left to the 120 s wait and then terminated
    assert time.monotonic() - t0 < 20
