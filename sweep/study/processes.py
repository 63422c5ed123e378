"""Worker processes: how they start (a fork server that imported the pipeline once) and how the
parent waits for them, forwards Ctrl-C and reports their failures. Shared by study workers and
robustness evaluations."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sweep.core.errors import SweepError
from sweep.study.interrupts import interrupt_once, interrupts_deferred
from sweep.study.lifecycle import EXIT_DATABASE_LOST, DatabaseLost, die_with_parent

log = logging.getLogger(__name__)

__all__ = ["available_cores", "run_processes", "worker_context"]


def available_cores() -> int:
    """The cores this process may use: its CPU affinity (a Slurm allocation, taskset), capped by
    a cgroup v2 CPU quota (a container's CPU limit), which ``os.cpu_count()`` ignores: workers
    and XGBoost threads sized for a whole node would fight over two allotted cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def worker_context() -> Any:
    """How worker processes start. On Linux, forked from a fork server that imported
    ``sweep.study.worker`` once (its start returns at once, so those imports overlap the parent's
    data checks): a worker runs within milliseconds instead of importing Optuna, XGBoost and pandas
    itself. The server has run no query and no parallel region; the only threads it holds are
    library pools with fork handlers (OpenBLAS). Elsewhere, fresh interpreters (spawn)."""
    if not sys.platform.startswith("linux"):
        return mp.get_context("spawn")
    from multiprocessing import forkserver

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["sweep.study.worker"])
    # The server is in the terminal's process group and imports before it ignores SIGINT: a
    # Ctrl-C during the checks must stop this process, not kill the server with a traceback.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)
    return ctx


def enter_worker(cwd: str | None, env: dict[str, str] | None, parent_pid: int | None) -> None:
    """A worker process's first steps: the parent's working directory and environment (a worker
    forked from a fork server started earlier would otherwise have the server's), one clean
    Ctrl-C, and an end with the process that started it (:func:`die_with_parent`)."""
    if cwd is not None:
        os.chdir(cwd)
    if env is not None:
        os.environ.clear()
        os.environ.update(env)
    interrupt_once()
    die_with_parent(parent_pid)


def run_processes(
    ctx: Any,
    target: Callable[[Any], object],
    plans: Sequence[Any],
    name: str = "sweep-worker",
    on_tick: Callable[[], None] | None = None,
    url: str | None = None,
) -> None:
    """Run ``target(plan)`` in one process per plan and wait for them all (``on_tick`` about
    twice a second meanwhile). Ctrl-C is forwarded to the workers, which release their work; a
    worker that lost the database (``url``) is :class:`DatabaseLost`, said once; if every worker
    failed, :class:`SweepError`."""
    procs = [ctx.Process(target=target, args=(p,), name=f"{name}-{i}") for i, p in enumerate(plans)]
    try:
        # A Ctrl-C while workers start is acted on once all have started: a start cut short
        # still has the fork server fork the worker, with no pid here to signal or wait for (it
        # ran on unseen, or died with a traceback once this process had gone).
        with interrupts_deferred():
            for p in procs:
                p.start()  # the first waits for the fork server's imports
        for p in procs:
            while p.is_alive():
                p.join(timeout=0.5)
                if on_tick is not None:
                    on_tick()
    except KeyboardInterrupt:
        _stop(procs)
        raise
    codes = [p.exitcode for p in procs]
    if url is not None and EXIT_DATABASE_LOST in codes:
        raise DatabaseLost(url)
    if all(c != 0 for c in codes):
        raise SweepError(
            f"every worker failed (exit codes {codes})",
            hint="run again with --debug --jobs 1 to see the error",
        )
    for p, c in zip(procs, codes, strict=True):
        if c != 0:
            log.warning("%s exited with %s; the others finished the work", p.name, c)


def _stop(procs: Sequence[Any], wait_s: float = 120.0) -> None:
    """Interrupt the started workers and wait for each (``wait_s`` at most, then end it). The
    interrupt is sent again every half second: a worker inherits the fork server's ignored
    SIGINT until it sets its own handler, so a copy that arrives before then is lost."""
    started = [p for p in procs if p.pid is not None]
    for p in started:
        if p.is_alive():
            os.kill(p.pid, signal.SIGINT)
    for p in started:
        deadline = time.monotonic() + wait_s
        p.join(timeout=0.5)
        while p.is_alive() and time.monotonic() < deadline:
            os.kill(p.pid, signal.SIGINT)
            p.join(timeout=0.5)
        if p.is_alive():
            p.terminate()
