"""Running a study: validate before trial 0, start workers, watch progress, record the end."""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sweep.core.config import study_name_problem
from sweep.core.errors import ConfigError, SweepError
from sweep.store.db import connect, database_url
from sweep.store.registry import open_registry, query
from sweep.study.folds import fit_default_folds
from sweep.study.optuna_study import (
    PER_TRIAL_SEEDED,
    TrialCounts,
    create_storage,
    finish_study,
    heartbeat_settings,
    name_metrics,
    open_study,
    publish_study_attrs,
    register_study,
    trial_counts,
)
from sweep.study.runner import load_dataset
from sweep.study.space import SearchSpace, first_value
from sweep.study.study_stats import conclude_study
from sweep.study.summary import StudySummary, summarize
from sweep.study.verdict import write_verdict
from sweep.study.worker import Worker, WorkerPlan, worker_main

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A snapshot for the progress display."""

    name: str
    target: int
    counts: TrialCounts
    best: float | None
    best_id: str | None
    objective: str
    elapsed: float
    done_at_start: int
    infeasible: bool = False  # the best so far misses the study's constraints (none meets them)


def data_fingerprints(space: SearchSpace) -> dict[str, Any]:
    """Load every (symbol, timeframe) the space can reach, so missing or bad data fails before
    trial 0; return their fingerprints."""
    symbols, timeframes = [space.template["symbol"]], [space.template["timeframe"]]
    for p in space.params:
        if p.path == "symbol":
            symbols = list(p.options)
        if p.path == "timeframe":
            timeframes = list(p.options)
    values = {p.path: first_value(p) for p in space.params}
    out: dict[str, Any] = {}
    for sym, tf in itertools.product(symbols, timeframes):
        v = dict(values)
        if "symbol" in v:
            v["symbol"] = sym
        if "timeframe" in v:
            v["timeframe"] = tf
        cfg = space.config_for(v, "fingerprint-check")
        try:
            out[f"{sym} {tf}"] = load_dataset(cfg).market.fingerprint.to_dict()
        except SweepError as e:
            if e.file is None:  # say which space file asked for the data (as `sweep run` does)
                e.file = space.file
                e.args = (e.one_line(),)
            raise
    return out


def run_study(
    space: SearchSpace,
    *,
    name: str | None = None,
    n_trials: int | None = None,
    jobs: int | None = None,
    timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> StudySummary:
    """Run (or resume, or join) a study until ``n_trials`` trials are counted."""
    name = name or space.study_name
    problem = study_name_problem(name)
    if problem:
        raise ConfigError(problem, key="--study", value=name, hint="e.g. --study btc-4h-v2")
    heartbeat_settings()  # a bad SWEEP_HEARTBEAT_* fails here, before the study is registered
    n_trials = n_trials if n_trials is not None else space.settings.trials
    if n_trials < 1:
        raise ConfigError("must be >= 1", key="--trials", value=n_trials)
    cores = os.cpu_count() or 1
    jobs = jobs if jobs is not None else cores
    if jobs < 1:
        raise ConfigError("must be >= 1", key="--jobs", value=jobs)
    nthread = max(1, cores // jobs)
    sampler = space.settings.sampler
    if jobs > 1 and sampler not in PER_TRIAL_SEEDED:
        log.warning(
            "sampler %s keeps its state in each worker: the %d workers run independent %s "
            "searches (use --jobs 1 for one search)",
            sampler,
            jobs,
            sampler,
        )
    ctx = _worker_context() if jobs > 1 else None  # its imports overlap the checks below
    fingerprints = data_fingerprints(space)
    space = fit_default_folds(space)  # before trial 0: the default folds must fit the data
    url = database_url()
    conn = open_registry(url)
    try:
        register_study(conn, space, name, n_trials, fingerprints)
        storage = create_storage(url)
        # create it once, before the workers race
        name_metrics(open_study(storage, space, name), space)
        write_verdict(conn, name, None)  # resumed: its trials' verdict is pending again
        done_at_start = trial_counts(conn, name).counted
        deadline = time.time() + timeout if timeout else None
        plans = [
            WorkerPlan(
                url,
                space.file,
                space.raw,
                name,
                n_trials,
                nthread,
                i,
                deadline,
                cwd=os.getcwd(),
                env=dict(os.environ),
            )
            for i in range(jobs)
        ]
        watcher = _Watcher(url, name, n_trials, space.settings, done_at_start, on_progress)
        watcher.start()
        status = "failed"
        try:
            if jobs == 1:
                Worker(plans[0], space).run()
            else:
                assert ctx is not None
                _run_processes(ctx, plans)
            # Only --timeout ends a run before the budget is met without an exception: then the
            # study is resumable, not done.
            met = trial_counts(conn, name).counted >= n_trials
            status = "completed" if met else "timed_out"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            watcher.stop()
            summary = summarize(conn, name)
            best = summary.best if summary else None
            stats: dict[str, Any] = {}
            try:
                stats = conclude_study(conn, name, best)
            except Exception as e:  # the study's end is recorded even if its statistics fail
                log.warning("study statistics failed: %s", e)
            if best and summary:
                stats["best_value"] = (best["metrics"] or {}).get(summary.objectives[0])
            finish_study(
                conn,
                name,
                status,
                (int(best["trial_number"]), str(best["experiment_id"])) if best else None,
                stats,
            )
            try:
                chosen = (int(best["trial_number"]), str(best["experiment_id"])) if best else None
                publish_study_attrs(storage, name, chosen, stats)
            except Exception as e:  # the dashboard's view is secondary to the study's record
                log.warning("could not set the study's attributes for the dashboard: %s", e)
        result = summarize(conn, name)
        assert result is not None
        return result
    finally:
        conn.close()


def _worker_context() -> Any:
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


def _run_processes(ctx: Any, plans: list[WorkerPlan]) -> None:
    procs = [
        ctx.Process(target=worker_main, args=(p,), name=f"sweep-worker-{p.worker}") for p in plans
    ]
    try:
        for p in procs:
            p.start()  # the first waits for the fork server's imports
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            if p.pid is None:
                continue  # interrupted before it started
            p.join(timeout=120)
            if p.is_alive():
                p.terminate()
        raise
    codes = [p.exitcode for p in procs]
    if all(c != 0 for c in codes):
        raise SweepError(
            f"every worker failed (exit codes {codes})",
            hint="run again with --debug --jobs 1 to see the error",
        )
    for p, c in zip(procs, codes, strict=True):
        if c != 0:
            log.warning("%s exited with %s; the others finished the budget", p.name, c)


class _Watcher:
    """Polls the database for progress and calls ``on_progress`` (a separate connection)."""

    def __init__(
        self,
        url: str,
        name: str,
        target: int,
        settings: Any,
        done_at_start: int,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.url, self.name, self.target = url, name, target
        self.objective = settings.objectives[0]
        self.constrained = bool(settings.thresholds)
        self.maximize = settings.directions[0] == "maximize"
        self.done_at_start = done_at_start
        self.on_progress = on_progress
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-progress", daemon=True)

    def start(self) -> None:
        if self.on_progress is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            conn = connect(self.url, autocommit=True)
        except SweepError as e:
            log.debug("no progress: %s", e)
            return
        with conn:
            while True:
                stopping = self._stop.wait(0.5)
                try:
                    self._poll_once(conn)
                except Exception as e:  # progress is best effort; workers report real errors
                    log.debug("progress poll failed: %s", e)
                if stopping:
                    return

    def _poll_once(self, conn: Any) -> None:
        assert self.on_progress is not None
        counts = trial_counts(conn, self.name)
        row = conn.execute(
            query("study_best"),
            {"metric": self.objective, "study_name": self.name, "maximize": self.maximize},
        ).fetchone()
        self.on_progress(
            Progress(
                self.name,
                self.target,
                counts,
                row[1] if row else None,
                row[0] if row else None,
                self.objective,
                time.monotonic() - self.t0,
                self.done_at_start,
                infeasible=bool(row and self.constrained and not row[2]),
            )
        )
