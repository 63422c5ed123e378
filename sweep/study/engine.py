"""Running a study: validate before trial 0, start workers, watch progress, record the end."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sweep.core.config import study_name_problem
from sweep.core.errors import ConfigError, SweepError
from sweep.store.artifacts import artifact_location, check_store
from sweep.store.db import ENV_PGBOUNCER, behind_pooler, connect, database_url, pooler_setting
from sweep.store.registry import open_registry, query
from sweep.study.folds import fit_default_folds
from sweep.study.interrupts import interrupts_noticed
from sweep.study.lifecycle import (
    DatabaseLost,
    connection_lost,
    join_study,
    leave_study,
    quiet_lost_connections,
    record_beat,
)
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
    study_lock_key,
    trial_counts,
)
from sweep.study.processes import available_cores, run_processes, worker_context
from sweep.study.robust import RobustRequest, run_robustness
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
    command: str = "run",
    on_robust: Callable[[int, int], None] | None = None,
) -> StudySummary:
    """Run (or resume, or join) a study until ``n_trials`` trials are counted. ``command``
    (``run`` or ``worker``) names this participant in ``sweep_participants``. With
    ``sweep.select: robust``, then evaluate the top K trials' neighbourhoods (``on_robust(done,
    total)`` as they finish), so that the study's chosen trial is the robust one."""
    name = name or space.study_name
    problem = study_name_problem(name)
    if problem:
        raise ConfigError(problem, key="--study", value=name, hint="e.g. --study btc-4h-v2")
    _, grace = heartbeat_settings()  # a bad SWEEP_HEARTBEAT_* fails here, before registering
    pooler_setting()  # and a bad SWEEP_PGBOUNCER
    artifact_location()  # and a bad SWEEP_ARTIFACTS, before the data are loaded
    n_trials = n_trials if n_trials is not None else space.settings.trials
    if n_trials < 1:
        raise ConfigError("must be >= 1", key="--trials", value=n_trials)
    cores = available_cores()
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
    ctx = worker_context() if jobs > 1 else None  # its imports overlap the checks below
    quiet_lost_connections()
    fingerprints = data_fingerprints(space)
    space = fit_default_folds(space)  # before trial 0: the default folds must fit the data
    check_store(artifact_location())  # an unreachable or read-only store fails before trial 0
    url = database_url()
    conn = open_registry(url)
    try:
        register_study(conn, space, name, n_trials, fingerprints)
        storage = create_storage(url, claims=True)
        # create it once, before the workers race, with the objectives' names for the dashboard
        name_metrics(open_study(storage, space, name), space)
        # the workers open their own; this pool would stay idle (it reconnects at the end)
        storage.engine.dispose()
        write_verdict(conn, name, None)  # resumed: its trials' verdict is pending again
        participant = join_study(conn, name, command, jobs, grace)
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
                # what this process found out about a pooler, so workers need not ask again
                env={**os.environ, ENV_PGBOUNCER: "1" if behind_pooler(url) else "0"},
                parent_pid=os.getpid(),
            )
            for i in range(jobs)
        ]
        watcher = _Watcher(
            url, name, n_trials, space.settings, done_at_start, on_progress, participant
        )
        watcher.start()
        status = "failed"
        lost: DatabaseLost | None = None
        try:
            if jobs == 1:
                with interrupts_noticed():
                    Worker(plans[0], space).run()
            else:
                assert ctx is not None
                run_processes(ctx, worker_main, plans, url=url)
            # Only --timeout ends a run before the budget is met without an exception: then the
            # study is resumable, not done.
            met = trial_counts(conn, name).counted >= n_trials
            status = "completed" if met else "timed_out"
            if met and space.settings.select == "robust":
                # Robust selection chooses among the top K by their neighbourhoods: evaluate
                # those not registered yet (a resumed or re-run study evaluates only the rest).
                request = RobustRequest(name, neighbours_only=True, jobs=min(jobs, 256))
                run_robustness(request, url=url, ctx=ctx, on_progress=on_robust)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except BaseException as e:
            if not connection_lost(e):
                raise
            lost = e if isinstance(e, DatabaseLost) else DatabaseLost(url, e)
            raise lost from None
        finally:
            watcher.stop()
            if lost is None:
                _record_end(conn, url, storage, name, status, participant)
        result = summarize(conn, name)
        assert result is not None
        return result
    except BaseException as e:
        if connection_lost(e) and not isinstance(e, DatabaseLost):
            raise DatabaseLost(url, e) from None
        raise
    finally:
        conn.close()


def _record_end(
    conn: Any, url: str, storage: Any, name: str, status: str, participant: int
) -> None:
    """This participant leaves; the study's counts, best trial and statistics are recorded, and
    its status too when no other participant is still at work."""
    try:
        summary = summarize(conn, name)
        best = summary.best if summary else None
        stats: dict[str, Any] = {}
        try:
            stats = conclude_study(conn, name, best)
        except Exception as e:  # the study's end is recorded even if its statistics fail
            if connection_lost(e):
                raise
            log.warning("study statistics failed: %s", e)
        if best and summary:
            stats["best_value"] = (best["metrics"] or {}).get(summary.objectives[0])
        _, grace = heartbeat_settings()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (study_lock_key(name),))
            others = leave_study(conn, participant, status, grace)
            finish_study(
                conn,
                name,
                status,
                (int(best["trial_number"]), str(best["experiment_id"])) if best else None,
                stats,
                others=others,
            )
        try:
            chosen = (int(best["trial_number"]), str(best["experiment_id"])) if best else None
            publish_study_attrs(storage, name, chosen, stats)
        except Exception as e:  # the dashboard's view is secondary to the study's record
            log.warning("could not set the study's attributes for the dashboard: %s", e)
        if others and status != "completed":
            log.info("%d other participant(s) of %s are still running it", others, name)
    except BaseException as e:
        if connection_lost(e):
            raise DatabaseLost(url, e) from None
        raise


class _Watcher:
    """On a connection of its own: this participant's heartbeat, and progress polled for
    ``on_progress``."""

    def __init__(
        self,
        url: str,
        name: str,
        target: int,
        settings: Any,
        done_at_start: int,
        on_progress: Callable[[Progress], None] | None,
        participant: int | None = None,
    ) -> None:
        self.url, self.name, self.target = url, name, target
        self.participant = participant
        self.beat_every = float(heartbeat_settings()[0])
        self.objective = settings.objectives[0]
        self.constrained = bool(settings.thresholds)
        self.maximize = settings.directions[0] == "maximize"
        self.done_at_start = done_at_start
        self.on_progress = on_progress
        self.t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-progress", daemon=True)

    def start(self) -> None:
        if self.on_progress is not None or self.participant is not None:
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
        beaten = time.monotonic()
        with conn:
            while True:
                stopping = self._stop.wait(0.5 if self.on_progress else self.beat_every)
                try:
                    if self.participant is not None and (
                        time.monotonic() - beaten >= self.beat_every or self.on_progress is None
                    ):
                        record_beat(conn, self.participant)
                        beaten = time.monotonic()
                    if self.on_progress is not None:
                        self._poll_once(conn)
                except Exception as e:  # best effort; the workers report real errors
                    log.debug("progress poll or heartbeat failed: %s", e)
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
