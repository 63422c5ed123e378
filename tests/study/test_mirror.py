"""The worker's in-memory sampler study against the shared study in PostgreSQL: finished trials
are copied once, trials running elsewhere appear as RUNNING (what constant liar needs) and are
updated in place when they finish."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from sweep.store.db import sqlalchemy_url
from sweep.store.registry import open_registry
from sweep.study.mirror import DEFAULT_HISTORY, Mirror


@pytest.fixture
def shared(fresh_db: str) -> optuna.Study:
    open_registry(fresh_db).close()
    return optuna.create_study(
        study_name="mirrored",
        storage=sqlalchemy_url(fresh_db),
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=1),
    )


def _mirror(history: int | None = DEFAULT_HISTORY) -> Mirror:
    return Mirror(
        "mirrored",
        directions=[optuna.study.StudyDirection.MAXIMIZE],
        sampler=optuna.samplers.TPESampler(seed=1, constant_liar=True),
        pruner=optuna.pruners.NopPruner(),
        history=history,
    )


def _other_worker_starts(study: optuna.Study) -> optuna.Trial:
    t = study.ask()
    t.suggest_int("model.max_depth", 2, 8)
    t.suggest_float("target.threshold", 0.002, 0.03, log=True)
    return t


def test_a_trial_running_elsewhere_is_mirrored_as_running_then_finished(
    shared: optuna.Study, fresh_db: str
) -> None:
    mirror = _mirror()
    t = _other_worker_starts(shared)
    with open_registry(fresh_db) as conn:
        assert mirror.sync(conn) == 1
        (copy,) = mirror.study.get_trials()
        assert copy.state is TrialState.RUNNING
        assert copy.params == t.params
        assert mirror.sync(conn) == 0  # held already: not sent again

        t.report(0.25, step=1)
        shared.tell(t, 0.5)
        assert mirror.sync(conn) == 1
        (copy,) = mirror.study.get_trials()  # updated in place, not added again
        assert copy.state is TrialState.COMPLETE
        assert copy.values == [0.5]
        assert copy.intermediate_values == {1: 0.25}
        assert mirror.sync(conn) == 0


def test_finished_failed_and_pruned_trials(shared: optuna.Study, fresh_db: str) -> None:
    done = _other_worker_starts(shared)
    shared.tell(done, 1.0)
    failed = _other_worker_starts(shared)
    shared.tell(failed, state=TrialState.FAIL)
    mirror = _mirror()
    with open_registry(fresh_db) as conn:
        assert mirror.sync(conn) == 2
        # a failure carries nothing a sampler learns from: known, not copied
        assert [tr.state for tr in mirror.study.get_trials()] == [TrialState.COMPLETE]

        running = _other_worker_starts(shared)
        gone = _other_worker_starts(shared)
        assert mirror.sync(conn) == 2
        running.report(-0.1, step=1)
        shared.tell(running, state=TrialState.PRUNED)
        shared.tell(gone, state=TrialState.FAIL)  # e.g. failed as stale by a heartbeat check
        assert mirror.sync(conn) == 2
    states = [tr.state for tr in mirror.study.get_trials()]
    assert states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL]
    assert mirror.study.get_trials()[1].intermediate_values == {1: -0.1}


def test_the_sampler_study_holds_finished_and_running_trials(
    shared: optuna.Study, fresh_db: str
) -> None:
    for v in range(12):
        t = _other_worker_starts(shared)
        shared.tell(t, float(v))
    busy = _other_worker_starts(shared)
    mirror = _mirror()
    with open_registry(fresh_db) as conn:
        mirror.sync(conn)
    running = mirror.study.get_trials(states=(TrialState.RUNNING,))
    assert [r.params for r in running] == [busy.params]


def _constrain(study: optuna.Study, trial: optuna.Trial, values: list[float]) -> None:
    """Constraint values as sweep's workers (and Optuna's constraints_func path) store them."""
    study._storage.set_trial_system_attr(trial._trial_id, "constraints", values)


def test_constraint_values_reach_the_sampler_study(shared: optuna.Study, fresh_db: str) -> None:
    """A trial's constraint values (Optuna's `constraints` system attribute) come with it,
    whether it finished before the first look or while the mirror held it as running."""
    done = _other_worker_starts(shared)
    _constrain(shared, done, [-0.1, 0.5])
    shared.tell(done, 1.0)
    busy = _other_worker_starts(shared)
    mirror = _mirror()
    with open_registry(fresh_db) as conn:
        assert mirror.sync(conn) == 2
        _constrain(shared, busy, [-0.25])
        shared.tell(busy, 0.5)
        assert mirror.sync(conn) == 1
    got = {t.values[0]: list(t.constraints.values()) for t in mirror.study.get_trials()}
    assert got == {1.0: [-0.1, 0.5], 0.5: [-0.25]}
    # Optuna itself now sees which is feasible: best_trial skips the better, infeasible one
    assert mirror.study.best_trial.values == [0.5]


def test_a_requeued_trial_is_mirrored_once_it_runs_and_finishes(
    shared: optuna.Study, fresh_db: str
) -> None:
    """A WAITING trial (a retry) is nothing a sampler uses; the mirror looks at it again until
    it runs, though newer trials move its watermark past it."""
    done = _other_worker_starts(shared)
    shared.tell(done, 1.0)
    shared.enqueue_trial({"model.max_depth": 3, "target.threshold": 0.01})
    mirror = _mirror()
    with open_registry(fresh_db) as conn:
        assert mirror.sync(conn) == 1
        assert len(mirror.waiting) == 1
        later = _other_worker_starts(shared)  # takes the queued trial (Optuna's enqueue path)
        assert later.params == {"model.max_depth": 3, "target.threshold": 0.01}
        newer = _other_worker_starts(shared)
        shared.tell(newer, 2.0)
        assert mirror.sync(conn) == 2  # the retry now running, the newer one finished
        assert mirror.waiting == set()
        shared.tell(later, 3.0)
        assert mirror.sync(conn) == 1
        assert mirror.sync(conn) == 0
    values = sorted(t.values[0] for t in mirror.study.get_trials(states=(TrialState.COMPLETE,)))
    assert values == [1.0, 2.0, 3.0]


def test_the_history_is_bounded_to_the_best_and_the_most_recent(
    shared: optuna.Study, fresh_db: str
) -> None:
    values = [float((i * 37) % 101) for i in range(60)]  # best ones scattered through time

    def held(m: Mirror) -> list[float]:
        return sorted(t.values[0] for t in m.study.get_trials(states=(TrialState.COMPLETE,)))

    stepwise = _mirror(history=16)  # a worker that saw the trials come in batches of 10
    with open_registry(fresh_db) as conn:
        for i, v in enumerate(values):
            t = _other_worker_starts(shared)
            if i % 7 == 0:
                _constrain(shared, t, [0.5])  # infeasible: ranked below every feasible trial
            shared.tell(t, v)
            if i % 10 == 9:
                stepwise.sync(conn)
    busy = _other_worker_starts(shared)
    mirror = _mirror(history=16)  # a worker joining now: only the trials it keeps are built
    with open_registry(fresh_db) as conn:
        mirror.sync(conn)
        kept = mirror.study.get_trials(states=(TrialState.COMPLETE,))
        assert len(kept) == 16 and mirror.trimmed == 60 - 16
        feasible = [v for i, v in enumerate(values) if i % 7 != 0]
        best4 = sorted(feasible, reverse=True)[:4]
        recent12 = [v for v in values if v not in best4][-12:]
        assert held(mirror) == sorted(best4 + recent12)
        stepwise.trim()
        assert held(stepwise) == held(mirror)
        assert len(mirror.known) == 60 and len(mirror.running) == 1  # all accounted for
        # the trial running elsewhere is still held, and updated in place when it finishes
        (running,) = mirror.study.get_trials(states=(TrialState.RUNNING,))
        assert running.params == busy.params
        shared.tell(busy, 1000.0)
        assert mirror.sync(conn) == 1
    assert mirror.study.best_trial.values == [1000.0]
    assert mirror.study.get_trials(states=(TrialState.RUNNING,)) == []
    with pytest.raises(ValueError, match="at least 8"):
        Mirror(
            "x",
            directions=[optuna.study.StudyDirection.MAXIMIZE],
            sampler=optuna.samplers.RandomSampler(),
            pruner=optuna.pruners.NopPruner(),
            history=4,
        )
