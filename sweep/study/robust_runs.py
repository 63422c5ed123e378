"""Running robustness evaluations: each one a registered run (role ``robust``), in this process or
in worker processes that take the next evaluation from a shared counter until none is left.

An evaluation is one transaction (its experiment, result, returns and ``robust_evaluations``
rows): an interrupted one leaves nothing, so the next command runs it again; one that another
process recorded meanwhile is dropped (:class:`RobustRecorded`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sweep.core.config import ExperimentConfig
from sweep.core.errors import SweepError
from sweep.core.pipeline import Dataset, ExperimentResult
from sweep.core.regimes import BarRegimes, bar_regimes, regime_table
from sweep.store.registry import RobustLink, RobustRecorded, open_registry
from sweep.study.interrupts import interrupted
from sweep.study.processes import enter_worker
from sweep.study.runner import Computed, clock, compute, load_dataset, persist, since

log = logging.getLogger(__name__)

__all__ = ["EvalSpec", "RobustWorkerPlan", "evaluate", "regimes_of", "robust_worker_main"]


@dataclass(frozen=True)
class EvalSpec:
    """One robustness evaluation to run: its config (cv set, its own experiment id) and what it
    is (``RobustLink`` without the results)."""

    config: ExperimentConfig
    study_name: str
    candidate_id: str
    kind: str
    eval_key: str
    label: str
    changes: dict[str, Any]
    objective: str


def regimes_of(result: ExperimentResult, ds: Dataset) -> dict[str, Any]:
    """The run's scored bars split by market regime (:mod:`sweep.core.regimes`)."""
    cfg = result.config
    frame = ds.market.frame
    labels = bar_regimes(frame["close"].to_numpy(), cfg.timeframe)
    pos = frame.index.get_indexer(result.test_index)
    scored = BarRegimes(labels.up[pos], labels.high_vol[pos])
    return regime_table(result.test_returns, scored, result.bars_per_year)


def evaluate(conn: Any, spec: EvalSpec, nthread: int) -> str | None:
    """Run and register one evaluation; its status, or None if another process recorded it
    first. Pipeline and data problems are the evaluation's result (a ``failed`` row)."""
    cfg = spec.config
    t0 = clock()
    ds: Dataset | None = None
    try:
        ds = load_dataset(cfg)
        computed = compute(cfg, nthread=nthread, dataset=ds)
    except SweepError as e:
        computed = _failed(cfg, ds, e.one_line(), t0)
    except Exception as e:  # a model or library error is this evaluation's result
        log.exception("robustness run %s failed", cfg.experiment_id)
        computed = _failed(cfg, ds, f"{type(e).__name__}: {e}", t0)
    value: float | None = None
    passed = False
    regimes = None
    result = computed.result
    if result is not None and ds is not None:
        raw = result.metrics.get(spec.objective)
        value = None if raw is None else float(raw)
        passed = result.verdict.passed
        regimes = regimes_of(result, ds)
    link = RobustLink(
        study_name=spec.study_name,
        candidate_id=spec.candidate_id,
        kind=spec.kind,
        eval_key=spec.eval_key,
        label=spec.label,
        changes=spec.changes,
        objective=spec.objective,
        value=value,
        passed=passed,
        regimes=regimes,
    )
    try:
        return persist(conn, computed, robust=link, objective=spec.objective).status
    except RobustRecorded:
        return None


def _failed(cfg: ExperimentConfig, ds: Dataset | None, error: str, t0: Any) -> Computed:
    fp = ds.market.fingerprint.to_dict() if ds is not None else {}
    wall, cpu = since(t0)
    return Computed(cfg, fp, None, error, wall, "failed", cpu)


@dataclass(frozen=True)
class RobustWorkerPlan:
    """What a worker needs: the evaluations, the shared counters (``next_index``: the next
    evaluation to take; ``done``: how many were registered) and the parent's cwd and env."""

    url: str
    specs: Sequence[EvalSpec]
    nthread: int
    next_index: Any  # multiprocessing Value('i')
    done: Any  # multiprocessing Value('i')
    cwd: str | None = None
    env: dict[str, str] | None = None
    # the `sweep robust` process: the worker stops when it ends (sweep.study.lifecycle)
    parent_pid: int | None = None


def run_specs(plan: RobustWorkerPlan, on_done: Callable[[], None] | None = None) -> int:
    """Take evaluations from the shared counter until none is left; return how many ran here
    (``on_done`` after each)."""
    conn = open_registry(plan.url)
    ran = 0
    try:
        while True:
            if interrupted():  # a Ctrl-C whose KeyboardInterrupt was swallowed
                raise KeyboardInterrupt
            with plan.next_index.get_lock():
                i = int(plan.next_index.value)
                plan.next_index.value = i + 1
            if i >= len(plan.specs):
                return ran
            evaluate(conn, plan.specs[i], plan.nthread)
            ran += 1
            with plan.done.get_lock():
                plan.done.value += 1
            if on_done is not None:
                on_done()
    finally:
        conn.close()


def robust_worker_main(plan: RobustWorkerPlan) -> int:
    """Entry point of a worker process."""
    enter_worker(plan.cwd, plan.env, plan.parent_pid)
    try:
        return run_specs(plan)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
