"""One study worker: claim a trial, run it through the experiment pipeline, record it; repeat.

Storage talk is kept off the critical path. An I/O thread does every Optuna and registry call
(claim + ``suggest_*``, model file, registry rows, user attributes, ``tell``) while the main thread
only runs the pipeline; the next trial is claimed while the current one computes. The order of
I/O tasks is fixed (claim k+1 is queued before finish k), so a one-worker study with a seeded
sampler proposes the same trials every time. Each worker opens its own connections.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.storages._heartbeat import BaseHeartbeatThread, get_heartbeat_thread

from sweep.config import ExperimentConfig
from sweep.errors import SweepError
from sweep.registry import open_registry
from sweep.runner import Computed, compute, load_dataset, persist
from sweep.space import SearchSpace, parse_space
from sweep.study import (
    FAIL_REASON,
    INTERRUPTED,
    Claim,
    claim_trial,
    create_storage,
    open_study,
    quiet_optuna,
    trial_experiment_id,
)

log = logging.getLogger(__name__)

ATTR_METRICS = ("sharpe", "win_rate", "alpha", "max_drawdown", "n_trades", "total_return")


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


@dataclass
class _Claimed:
    trial: optuna.Trial
    values: dict[str, Any]
    heartbeat: BaseHeartbeatThread


@dataclass
class _Outcome:
    config: ExperimentConfig | None
    computed: Computed | None = None
    error: str | None = None


@dataclass
class WorkerReport:
    finished: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    """The trial loop of one process."""

    def __init__(self, plan: WorkerPlan, space: SearchSpace | None = None) -> None:
        self.plan = plan
        self.space = space or parse_space(plan.space_raw, file=plan.space_file)
        self.storage = create_storage(plan.url)
        self.study = open_study(self.storage, self.space, plan.study_name, plan.worker)
        self.conn = open_registry(plan.url)  # used by the I/O thread only
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweep-io")
        self.report = WorkerReport()
        self.prune = self.space.settings.pruner != "none"

    # -- I/O thread ---------------------------------------------------------------------------
    def _claim(self) -> _Claimed | Claim:
        if self.plan.deadline is not None and time.time() > self.plan.deadline:
            return Claim.DONE
        got = claim_trial(self.conn, self.study, self.plan.study_name, self.plan.n_trials)
        if isinstance(got, Claim):
            return got
        heartbeat = get_heartbeat_thread(got._trial_id, self.storage)
        heartbeat.start()
        try:
            values = self.space.suggest(got)
        except BaseException:
            heartbeat.join()
            raise
        return _Claimed(got, values, heartbeat)

    def _finish(self, c: _Claimed, outcome: _Outcome) -> None:
        try:
            trial, computed = c.trial, outcome.computed
            reason = outcome.error
            if computed is not None:
                ro = persist(
                    self.conn, computed, study_name=self.plan.study_name, trial_number=trial.number
                )
                trial.set_user_attr("experiment_id", ro.experiment_id)
                if ro.status == "pruned":
                    trial.set_user_attr("pruned_reason", ro.error)
                    self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    self.report.finished += 1
                    return
                if ro.status == "ok" and ro.metrics is not None:
                    for k in ATTR_METRICS:
                        trial.set_user_attr(k, ro.metrics.get(k))
                    trial.set_user_attr("gate_passed", ro.gate_passed)
                    values = [ro.metrics.get(o) for o in self.space.settings.objectives]
                    if all(v is not None for v in values):
                        self.study.tell(trial, [float(v) for v in values])  # type: ignore[arg-type]
                        self.report.finished += 1
                        return
                    reason = "objective undefined: " + ", ".join(
                        o
                        for o, v in zip(self.space.settings.objectives, values, strict=True)
                        if v is None
                    )
                else:
                    reason = ro.error
            trial.set_user_attr(FAIL_REASON, reason or "unknown error")
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            self.report.failed += 1
        finally:
            c.heartbeat.join()

    def _abandon(self, c: _Claimed) -> None:
        """A claimed trial that will not run to the end: not a result, not counted."""
        try:
            c.trial.set_user_attr(INTERRUPTED, True)
            self.study.tell(c.trial, state=optuna.trial.TrialState.FAIL)
        finally:
            c.heartbeat.join()

    # -- main thread --------------------------------------------------------------------------
    def _compute(self, c: _Claimed) -> _Outcome:
        eid = trial_experiment_id(self.plan.study_name, c.trial.number)
        try:
            cfg = self.space.config_for(c.values, eid)
        except SweepError as e:
            return _Outcome(None, error=f"invalid config: {e.one_line()}")
        t0 = time.perf_counter()
        ds = None
        try:
            ds = load_dataset(cfg)
            on_fold = self._pruning_callback(c.trial) if self.prune else None
            return _Outcome(
                cfg, compute(cfg, nthread=self.plan.nthread, dataset=ds, on_fold=on_fold)
            )
        except optuna.TrialPruned as e:
            assert ds is not None
            fp = ds.market.fingerprint.to_dict()
            return _Outcome(
                cfg, Computed(cfg, fp, None, str(e), time.perf_counter() - t0, "pruned")
            )
        except SweepError as e:
            return _Outcome(cfg, error=e.one_line())
        except Exception as e:  # a model or library error is this trial's result
            log.exception("trial %s failed", eid)
            return _Outcome(cfg, error=f"{type(e).__name__}: {e}")

    def _pruning_callback(
        self, trial: optuna.Trial
    ) -> Callable[[int, dict[str, float | int | None]], None]:
        objective = self.space.settings.objectives[0]

        def on_fold(k: int, metrics: dict[str, float | int | None]) -> None:
            value = metrics.get(objective)
            if value is None:
                return
            trial.report(float(value), step=k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {k}: {objective} {float(value):.3f}")

        return on_fold

    def run(self) -> WorkerReport:
        pending: Future[_Claimed | Claim] = self.io.submit(self._claim)
        current: _Claimed | None = None
        finishes: list[Future[None]] = []
        wait = 0.1
        try:
            while True:
                got = pending.result()
                if got is Claim.DONE:
                    break
                if got is Claim.WAIT:
                    time.sleep(wait)
                    wait = min(wait * 2, 2.0)
                    pending = self.io.submit(self._claim)
                    continue
                assert isinstance(got, _Claimed)
                wait = 0.1
                current = got
                pending = self.io.submit(self._claim)  # claim the next while this one computes
                outcome = self._compute(current)
                finishes.append(self.io.submit(self._finish, current, outcome))
                current = None
                for f in [f for f in finishes if f.done()]:
                    f.result()  # a failed registry write stops the worker
                    finishes.remove(f)
            for f in finishes:
                f.result()
        except BaseException:
            self._stop(pending, current)
            raise
        finally:
            self.io.shutdown(wait=True)
            self.conn.close()
        return self.report

    def _stop(self, pending: Future[_Claimed | Claim], current: _Claimed | None) -> None:
        """Ctrl-C or an error: let queued writes finish, then release our claimed trials."""
        leftovers = [current] if current is not None else []
        try:
            got = pending.result(timeout=60)
            if isinstance(got, _Claimed):
                leftovers.append(got)
        except BaseException:
            pass
        for c in leftovers:
            try:
                self.io.submit(self._abandon, c).result(timeout=60)
            except BaseException as e:  # the heartbeat will fail it later
                log.warning("could not release trial %d: %s", c.trial.number, e)


def worker_main(plan: WorkerPlan) -> WorkerReport:
    """Entry point of a worker process."""
    _interrupt_once()
    quiet_optuna()
    try:
        return Worker(plan).run()
    except KeyboardInterrupt:
        # run() has released this worker's trials; the parent reports the interruption once.
        raise SystemExit(130) from None


def _interrupt_once() -> None:
    """The first SIGINT raises KeyboardInterrupt; later ones (the terminal's and the parent's
    forwarded copy) are ignored so the clean-up is not interrupted."""

    def handler(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
