"""One study worker: claim a trial, run it through the experiment pipeline, record it; repeat.

A trial costs few storage round trips. The sampler runs on an in-memory mirror of the study
(:mod:`sweep.study.mirror`); a claimed trial is created in the shared study with its parameters
in one transaction, under the study's advisory lock that keeps the budget exact; at the end its user
attributes are written in one statement and its state and values with one ``tell``-equivalent
call. Everything runs on the worker's main thread: a background storage thread was measured to
slow XGBoost threefold by competing for the interpreter lock. Claims and finishes use psycopg's
pipeline mode, so statements whose results are not needed yet cost no round trip. Each worker
opens its own connections.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import alembic.migration  # noqa: F401  (Optuna's storage imports it at first use: see below)
import optuna
import sqlalchemy.orm
from optuna.trial import TrialState

from sweep.core.config import ExperimentConfig
from sweep.core.errors import SweepError
from sweep.store import optuna_tables
from sweep.store.registry import open_registry
from sweep.study.interrupts import interrupted, interrupts_deferred
from sweep.study.lifecycle import (
    EXIT_DATABASE_LOST,
    connection_lost,
    quiet_lost_connections,
)
from sweep.study.mirror import Mirror
from sweep.study.optuna_study import (
    CONSTRAINTS_KEY,
    ENV_GRACE,
    INTERRUPTED,
    PER_TRIAL_SEEDED,
    Claim,
    TrialTally,
    create_storage,
    make_pruner,
    make_sampler,
    open_study,
    quiet_optuna,
    space_distributions,
    study_directions,
    study_lock_key,
    trial_experiment_id,
    trial_id_offset,
    trial_seed,
)
from sweep.study.processes import enter_worker
from sweep.study.record import record_trial
from sweep.study.runner import (
    Computed,
    clock,
    compute,
    load_dataset,
    remove_model,
    since,
)
from sweep.study.space import SearchSpace, parse_space

log = logging.getLogger(__name__)

# What every worker's first storage would do at its first query: the fork server that imports
# this module pays it once, before any worker is forked, instead of each worker on its way to
# its first claim.
sqlalchemy.orm.configure_mappers()


@dataclass(frozen=True)
class WorkerPlan:
    """Everything a worker process needs (picklable: the space travels as its raw mapping)."""

    url: str
    space_file: str
    space_raw: dict[str, Any]
    study_name: str
    n_trials: int
    nthread: int
    worker: int
    deadline: float | None = None  # time.time() after which no trial is claimed
    # The parent's working directory and environment when the study started: a worker forked
    # from a fork server started earlier (or by an earlier study in the same process) would
    # otherwise see the server's (SWEEP_HOME, data paths relative to the working directory).
    cwd: str | None = None
    env: dict[str, str] | None = None
    # the process that started the study (`sweep run` / `sweep worker`): the worker stops when
    # it ends (sweep.study.lifecycle.die_with_parent)
    parent_pid: int | None = None


@dataclass
class _Claimed:
    trial_id: int
    number: int
    values: dict[str, Any]
    heartbeat: optuna_tables.HeldTrial
    local: optuna.Trial | None  # the mirror's trial (None for a re-queued trial)
    # constraint values of its result (sweep.constraints), set when it is recorded complete or
    # pruned
    constraints: dict[str, float] = field(default_factory=dict)


@dataclass
class _Outcome:
    config: ExperimentConfig | None
    computed: Computed | None = None
    error: str | None = None


class _TrialLost(Exception):
    """The trial stopped being ours (failed as stale elsewhere) before it was recorded."""

    @classmethod
    def of(cls, number: int, what: str) -> _TrialLost:
        return cls(
            f"trial {number} was failed as stale by another process while it ran "
            f"(raise {ENV_GRACE} if trials outlast the grace period); {what}"
        )


@dataclass
class WorkerReport:
    finished: int = 0
    failed: int = 0


class Worker:
    """The trial loop of one process."""

    def __init__(self, plan: WorkerPlan, space: SearchSpace | None = None) -> None:
        self.plan = plan
        self.space = space or parse_space(plan.space_raw, file=plan.space_file)
        s = self.space.settings
        self.storage = create_storage(plan.url, prepared=True)  # by run_study, before workers
        self.study = open_study(self.storage, self.space, plan.study_name, plan.worker)
        self.study_id = self.study._study_id
        self.search_space = space_distributions(self.space)
        self.mirror = Mirror(
            plan.study_name,
            directions=study_directions(s),
            sampler=make_sampler(
                s, plan.worker, len(self.space.params), search_space=self.search_space
            ),
            pruner=make_pruner(s),
        )
        self.conn = open_registry(plan.url)
        self.id_offset = trial_id_offset(self.conn, plan.study_name)
        self.tally = TrialTally(plan.study_name)
        self.report = WorkerReport()
        self.prune = s.pruner.on
        self.heartbeat = optuna_tables.Heartbeat(self.storage)
        interval = self.storage.get_heartbeat_interval() or 5
        self._stale_every = float(interval)
        self._stale_checked = 0.0

    # -- claiming -----------------------------------------------------------------------------
    def _claim(self) -> _Claimed | Claim:
        """Fail stale trials (every heartbeat interval), then under the study's advisory lock:
        check the budget, take a re-queued trial or create a new one with the mirror's sampled
        parameters. Everything under the lock runs on this worker's one psycopg connection."""
        if self.plan.deadline is not None and time.time() > self.plan.deadline:
            return Claim.DONE
        name = self.plan.study_name
        now = time.monotonic()
        if now - self._stale_checked >= self._stale_every:
            # Optuna's own check, outside the lock: it is safe on its own (a trial is failed
            # once; re-queued trials are numbered under the studies row's lock, as ours are)
            optuna.storages.fail_stale_trials(self.study)
            self._stale_checked = now
        local: optuna.Trial | None = None
        with self.conn.transaction(), self.conn.pipeline():
            # One round trip for the lock, the counts and the mirror's look: the server runs
            # them in order, so both queries see every trial the lock's previous holder made.
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (study_lock_key(name),))
            counted = self.tally.look(self.conn)
            looked = self.mirror.look(self.conn)
            counts = self.tally.read(counted)
            self.mirror.apply(looked.fetchall())
            if counts.counted >= self.plan.n_trials:
                return Claim.DONE
            if counts.counted + counts.running >= self.plan.n_trials:
                return Claim.WAIT
            taken = optuna_tables.take_waiting_trial(self.conn, name) if counts.waiting else None
            if taken is not None:
                trial_id, number, values = taken
            else:
                self._reseed(counts.total)
                local = self.mirror.study.ask()
                values = self.space.suggest(local)
                trial_id, number = optuna_tables.create_trial(
                    self.conn,
                    self.study_id,
                    local,
                    after=self.tally.upto,
                    before=self.tally.settled_total,
                )
        return self._start(trial_id, number, values, local)

    def _reseed(self, next_number: int) -> None:
        """A fresh sampler seeded for this trial (:func:`sweep.study.optuna_study.trial_seed`).
        Samplers whose state lives in the study (cmaes, nsgaii, qmc) keep their per-worker
        instance."""
        s = self.space.settings
        if s.sampler in PER_TRIAL_SEEDED:
            self.mirror.study.sampler = make_sampler(
                s,
                0,
                len(self.space.params),
                seed=trial_seed(s, next_number),
                search_space=self.search_space,
            )

    def _start(
        self, trial_id: int, number: int, values: dict[str, Any], local: optuna.Trial | None
    ) -> _Claimed:
        return _Claimed(trial_id, number, values, self.heartbeat.hold(trial_id), local)

    # -- running ------------------------------------------------------------------------------
    def _compute(self, c: _Claimed) -> _Outcome:
        eid = trial_experiment_id(self.plan.study_name, c.number, self.id_offset)
        try:
            cfg = self.space.config_for(c.values, eid)
        except SweepError as e:
            return _Outcome(None, error=f"invalid config: {e.one_line()}")
        t0 = clock()
        ds = None
        try:
            ds = load_dataset(cfg)
            folds = cfg.training.cv.folds if cfg.training.cv is not None else 0
            on_fold = self._fold_callback(c, folds) if self.prune else None
            return _Outcome(
                cfg, compute(cfg, nthread=self.plan.nthread, dataset=ds, on_fold=on_fold)
            )
        except _TrialLost:
            raise  # not this trial's result: see run()
        except optuna.TrialPruned as e:
            assert ds is not None
            fp = ds.market.fingerprint.to_dict()
            wall, cpu = since(t0)
            return _Outcome(cfg, Computed(cfg, fp, None, str(e), wall, "pruned", cpu))
        except SweepError as e:
            return self._failed(cfg, ds, e.one_line(), t0)
        except Exception as e:  # a model or library error is this trial's result
            log.exception("trial %s failed", eid)
            return self._failed(cfg, ds, f"{type(e).__name__}: {e}", t0)

    @staticmethod
    def _failed(cfg: ExperimentConfig, ds: Any, error: str, t0: tuple[float, float]) -> _Outcome:
        """A failure outside the pipeline, registered like a pipeline failure."""
        fp = ds.market.fingerprint.to_dict() if ds is not None else {}
        wall, cpu = since(t0)
        return _Outcome(cfg, Computed(cfg, fp, None, error, wall, "failed", cpu))

    def _fold_callback(
        self, c: _Claimed, folds: int
    ) -> Callable[[int, dict[str, float | int | None]], None]:
        objective = self.space.settings.objectives[0]
        paired = self.space.settings.pruner.type == "wilcoxon"
        seen: list[float] = []

        def on_fold(k: int, metrics: dict[str, float | int | None]) -> None:
            # The running mean of the folds so far: the trial's value is the mean over all folds,
            # and one noisy fold (a few trades) should not decide alone.
            fold_value = metrics.get(objective)
            seen.append(float(fold_value) if fold_value is not None else 0.0)
            # Wilcoxon compares trials fold by fold: it needs each fold's own score.
            value = seen[-1] if paired else sum(seen) / len(seen)
            if not optuna_tables.report_value(self.conn, c.trial_id, k, float(value)):
                raise _TrialLost.of(c.number, f"stopped after fold {k}")
            if c.local is None:
                return  # a re-queued trial has no mirror trial to judge
            c.local.report(float(value), step=k)
            if k >= folds:
                return  # after the last fold, stopping saves nothing and loses the result
            if c.local.should_prune():
                raise optuna.TrialPruned(
                    f"pruned after fold {k}: mean {objective} {value:.3f} over {k} folds"
                )

        return on_fold

    # -- finishing ----------------------------------------------------------------------------
    def _finish(self, c: _Claimed, outcome: _Outcome) -> None:
        """Record the trial: registry rows, model file, and the Optuna trial's attributes, state
        and values, all in one transaction (a crash leaves the trial RUNNING, for the heartbeat
        to fail and re-queue, never half-recorded). A trial that another process failed as
        stale meanwhile is dropped (:class:`_TrialLost`), its model file removed."""
        model_path: str | None = None
        rec = None
        try:
            with self.conn.transaction(), self.conn.pipeline():
                rec = record_trial(
                    self.conn,
                    self.space.settings,
                    self.plan.study_name,
                    c.trial_id,
                    c.number,
                    outcome.computed,
                    outcome.error,
                )
                state, values, model_path = rec.state, rec.values, rec.model_path
                c.constraints = rec.constraints
                if not optuna_tables.finish_trial(self.conn, c.trial_id, state.name, values):
                    raise _TrialLost.of(c.number, "dropped")
        except BaseException:
            if model_path is not None:  # its registry row was rolled back with the rest
                remove_model(Path(model_path))
            if rec is not None and rec.artifacts is not None:
                rec.artifacts.remove()
            raise
        finally:
            c.heartbeat.join()
        self._tell_mirror(c, state, values)
        if state is TrialState.FAIL:
            self.report.failed += 1
        else:
            self.report.finished += 1

    def _tell_mirror(self, c: _Claimed, state: TrialState, values: list[float] | None) -> None:
        self.mirror.known.add(c.trial_id)
        if c.local is not None:
            if state is not TrialState.FAIL and c.constraints:
                self.mirror.storage.set_trial_system_attr(
                    c.local._trial_id, CONSTRAINTS_KEY, list(c.constraints.values())
                )
            self.mirror.study.tell(c.local, values, state=state)
        elif state is not TrialState.FAIL:
            frozen = self.storage.get_trial(c.trial_id)
            self.mirror.study.add_trial(frozen)

    def _abandon(self, c: _Claimed) -> None:
        """A claimed trial that will not run to the end: not a result, not counted. (If it was
        recorded already, it is left as it is.)"""
        try:
            with self.conn.transaction():
                if optuna_tables.finish_trial(self.conn, c.trial_id, "FAIL"):
                    optuna_tables.set_user_attrs(self.conn, c.trial_id, {INTERRUPTED: True})
        finally:
            c.heartbeat.join()

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> WorkerReport:
        current: _Claimed | None = None
        wait = 0.1
        try:
            while True:
                if interrupted():  # a Ctrl-C whose KeyboardInterrupt a destructor swallowed
                    raise KeyboardInterrupt
                # A Ctrl-C between the claim's commit and `current` would leave the new trial
                # RUNNING (until a heartbeat check fails it): it is acted on once it is held.
                with interrupts_deferred():
                    got = self._claim()
                    if isinstance(got, _Claimed):
                        current = got
                if got is Claim.DONE:
                    break
                if got is Claim.WAIT:
                    time.sleep(wait)
                    wait = min(wait * 2, 2.0)
                    continue
                assert current is not None
                wait = 0.1
                try:
                    self._finish(current, self._compute(current))
                except _TrialLost as e:  # failed as stale elsewhere: no result, not counted
                    log.warning("%s", e)
                    current.heartbeat.join()  # a no-op if _finish stopped it already
                    self._tell_mirror(current, TrialState.FAIL, None)
                current = None
        except BaseException as e:
            if current is not None:
                if connection_lost(e):  # nothing to release it with; its heartbeat stops
                    current.heartbeat.join()
                else:
                    try:
                        self._abandon(current)
                    except Exception as e2:  # the heartbeat will fail it later
                        if not connection_lost(e2):
                            log.warning("could not release trial %d: %s", current.number, e2)
            raise
        finally:
            self.heartbeat.close()
            self.conn.close()
        return self.report


def worker_main(plan: WorkerPlan) -> WorkerReport:
    """Entry point of a worker process."""
    enter_worker(plan.cwd, plan.env, plan.parent_pid)
    quiet_optuna()
    quiet_lost_connections()
    try:
        return Worker(plan).run()
    except KeyboardInterrupt:
        # run() has released this worker's trial; the parent reports the interruption once.
        raise SystemExit(130) from None
    except Exception as e:
        if connection_lost(e):  # the parent says so once, naming the server
            raise SystemExit(EXIT_DATABASE_LOST) from None
        raise
