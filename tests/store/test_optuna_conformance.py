"""sweep writes Optuna's tables as Optuna does: the same trials told through Optuna's own API and
through sweep's statements (``sweep.store.optuna_tables``, the very calls a worker makes) read
back identically with ``optuna.load_study``, in any local time zone.

Each time zone runs in a subprocess with ``TZ`` set (Python reads it at start-up), against a
server whose own time zone is whatever the test session's is, so at least two of the three runs
have a client clock that disagrees with the server's session time zone.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    params: dict[str, Any]
    state: str
    values: list[float] | None = None
    reports: list[tuple[int, float]] = field(default_factory=list)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case(
        {"x": 0.5, "n": 3, "c": "a"},
        "COMPLETE",
        [1.25],
        [(1, 0.5), (2, 1.0)],
        {"experiment_id": "s-t0001", "sharpe": 1.25, "gate_passed": True},
        {"constraints": [-0.2, 0.0]},
    ),
    # pruned: Optuna's tell gives it its last reported value (step 3, not the largest value)
    Case({"x": 0.1, "n": 1, "c": "b"}, "PRUNED", None, [(1, 0.3), (3, -0.25), (2, 0.9)]),
    # pruned with a NaN last report: no value, as in Optuna
    Case({"x": 0.2, "n": 2, "c": "a"}, "PRUNED", None, [(1, 0.3), (2, math.nan)]),
    # pruned before any report: no value
    Case({"x": 0.3, "n": 2, "c": "b"}, "PRUNED"),
    Case({"x": 0.9, "n": 5, "c": "b"}, "FAIL", None, [], {"fail_reason": "no trades"}),
    Case({"x": 0.7, "n": 4, "c": "a"}, "COMPLETE", [math.inf], [(1, -math.inf)]),
    Case({"x": 0.6, "n": 2, "c": "b"}, "COMPLETE", [-3.5e-7], [], {"nested": {"a": [1, 2]}}),
]


def _suggest(trial: Any) -> None:
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_int("n", 1, 5)
    trial.suggest_categorical("c", ["a", "b"])


def _fixed_sampler() -> Any:
    """A sampler that proposes the parameters it is given (``enqueue_trial`` would add a
    ``fixed_params`` system attribute to one side only)."""
    import optuna

    class Fixed(optuna.samplers.RandomSampler):
        def __init__(self) -> None:
            super().__init__()
            self.params: dict[str, Any] = {}

        def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
            return self.params[name]

    return Fixed()


def tell_both_ways(url: str) -> list[str]:
    """Tell CASES to study ``by-optuna`` with Optuna's API and to ``by-sweep`` with sweep's
    statements, interleaved trial by trial; return the differences found on reading back."""
    import optuna

    from sweep.store import optuna_tables
    from sweep.store.db import sqlalchemy_url
    from sweep.store.registry import open_registry

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")  # heartbeats outside optimize(), experimental features
    storage = optuna.storages.RDBStorage(sqlalchemy_url(url), heartbeat_interval=1, grace_period=2)
    sampler = _fixed_sampler()
    ref = optuna.create_study(
        storage=storage, study_name="by-optuna", direction="maximize", sampler=sampler
    )
    ours = optuna.create_study(storage=storage, study_name="by-sweep", direction="maximize")
    # in memory, as a worker's mirror
    mirror = optuna.create_study(direction="maximize", sampler=sampler)
    conn = open_registry(url)
    problems: list[str] = []
    before = datetime.now() - timedelta(seconds=1)
    for case in CASES:
        sampler.params = case.params
        t = ref.ask()
        _suggest(t)
        for step, v in case.reports:
            t.report(v, step)
        for k, v in case.user_attrs.items():
            t.set_user_attr(k, v)
        for k, v in case.system_attrs.items():
            storage.set_trial_system_attr(t._trial_id, k, v)
        ref.tell(t, case.values, state=optuna.trial.TrialState[case.state])

        local = mirror.ask()
        _suggest(local)
        with conn.transaction():
            trial_id, _ = optuna_tables.create_trial(conn, ours._study_id, local)
        # the first heartbeat agrees with the staleness check's clock: not stale at once
        optuna.storages.fail_stale_trials(ours)
        if storage.get_trial(trial_id).state.name != "RUNNING":
            problems.append(f"trial {trial_id} was failed as stale right after its creation")
            continue
        for step, v in case.reports:
            optuna_tables.report_value(conn, trial_id, step, v)
        with conn.transaction():
            optuna_tables.set_user_attrs(conn, trial_id, case.user_attrs)
            optuna_tables.set_system_attrs(conn, trial_id, case.system_attrs)
            optuna_tables.finish_trial(conn, trial_id, case.state, case.values)
    after = datetime.now() + timedelta(seconds=1)
    conn.close()
    storage.engine.dispose()

    fresh = optuna.storages.RDBStorage(sqlalchemy_url(url))
    a = optuna.load_study(study_name="by-optuna", storage=fresh).get_trials()
    b = optuna.load_study(study_name="by-sweep", storage=fresh).get_trials()
    if len(a) != len(b):
        return [*problems, f"{len(a)} trials told by Optuna, {len(b)} by sweep"]
    for x, y in zip(a, b, strict=True):
        where = f"trial {x.number} ({x.state.name})"
        same = {
            "number": (x.number, y.number),
            "state": (x.state, y.state),
            "values": (_nan_safe(x.values), _nan_safe(y.values)),
            "intermediate_values": (
                _nan_safe(x.intermediate_values),
                _nan_safe(y.intermediate_values),
            ),
            "user_attrs": (x.user_attrs, y.user_attrs),
            "system_attrs": (x.system_attrs, y.system_attrs),
            "params": (x.params, y.params),
            "distributions": (x.distributions, y.distributions),
        }
        problems += [f"{where}: {k} {u!r} != {v!r}" for k, (u, v) in same.items() if u != v]
        for k in ("datetime_start", "datetime_complete"):
            u, v = getattr(x, k), getattr(y, k)
            if u is None or v is None or abs((u - v).total_seconds()) > 1:
                problems.append(f"{where}: {k} {u} (Optuna) vs {v} (sweep)")
            elif not before <= v <= after:
                problems.append(f"{where}: {k} {v} is not local time now ({before}..{after})")
    fresh.engine.dispose()
    return problems


def _nan_safe(v: Any) -> Any:
    """NaN != NaN; compare it as a string."""
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, dict):
        return {k: _nan_safe(u) for k, u in v.items()}
    if isinstance(v, list):
        return [_nan_safe(u) for u in v]
    return v


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo"])
def test_trials_told_by_sweep_read_back_as_optunas_own(fresh_db: str, tz: str) -> None:
    p = subprocess.run(
        [sys.executable, __file__, fresh_db],
        env={**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == f"agree: {len(CASES)} trials under TZ={tz}", p.stdout + p.stderr


def test_an_unknown_optuna_schema_is_refused_with_one_line(fresh_db: str) -> None:
    from sweep.core.errors import RegistryError
    from sweep.store.optuna_tables import SCHEMA_REVISION
    from sweep.study.optuna_study import create_storage

    create_storage(fresh_db).engine.dispose()  # Optuna's tables at the revision sweep speaks
    with psycopg.connect(fresh_db, autocommit=True) as c:
        (rev,) = c.execute("SELECT version_num FROM alembic_version").fetchone() or (None,)
        assert rev == SCHEMA_REVISION
        c.execute("UPDATE alembic_version SET version_num = 'v9.9.9.a'")
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as e:
        create_storage(fresh_db)
    line = e.value.one_line()
    assert "\n" not in line
    assert "schema revision v9.9.9.a" in line and SCHEMA_REVISION in line
    assert time.monotonic() - t0 < 5


if __name__ == "__main__":
    found = tell_both_ways(sys.argv[1])
    if found:
        print("\n".join(found))
        sys.exit(1)
    print(f"agree: {len(CASES)} trials under TZ={os.environ.get('TZ')}")


def test_trials_created_meanwhile_by_optuna_never_share_a_number(fresh_db: str) -> None:
    """Optuna numbers a new trial (e.g. a stale trial's retry) under the studies row's lock;
    sweep's insert waiting for that lock must count the trial Optuna inserted."""
    import threading

    import optuna

    from sweep.store import optuna_tables
    from sweep.store.db import sqlalchemy_url
    from sweep.store.registry import open_registry

    storage = optuna.storages.RDBStorage(sqlalchemy_url(fresh_db))
    study = optuna.create_study(storage=storage, study_name="numbers")
    storage.engine.dispose()
    mirror = optuna.create_study()
    local = mirror.ask()
    local.suggest_float("x", 0, 1)
    conn = open_registry(fresh_db)
    got: list[tuple[int, int]] = []
    with psycopg.connect(fresh_db) as optuna_like:
        # Optuna's _create_new_trial: lock the studies row, insert, number = trials before it
        optuna_like.execute(
            "SELECT study_id FROM studies WHERE study_id = %s FOR UPDATE", (study._study_id,)
        )
        optuna_like.execute(
            "INSERT INTO trials (number, study_id, state, datetime_start) "
            "SELECT count(*), %s, 'WAITING', NULL FROM trials WHERE study_id = %s",
            (study._study_id, study._study_id),
        )

        def create() -> None:
            with conn.transaction():
                got.append(optuna_tables.create_trial(conn, study._study_id, local))

        t = threading.Thread(target=create)
        t.start()
        time.sleep(0.5)  # sweep's insert is waiting for the lock now
        assert t.is_alive()
        optuna_like.commit()
        t.join(timeout=30)
    conn.close()
    numbers = sql_numbers(fresh_db, study._study_id)
    assert numbers == [0, 1], numbers
    assert got and got[0][1] == 1


def sql_numbers(url: str, study_id: int) -> list[int]:
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT number FROM trials WHERE study_id = %s ORDER BY number", (study_id,)
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_a_workers_tally_counts_and_numbers_as_the_whole_study_does(fresh_db: str) -> None:
    """A worker's claims read only the trials after the first one still running or waiting
    (``TrialTally``); whatever the states and whoever wrote them, its counts equal counting the
    whole study, and the trials it numbers get the numbers Optuna would give them."""
    import optuna

    from sweep.store import optuna_tables
    from sweep.store.db import sqlalchemy_url
    from sweep.store.registry import open_registry
    from sweep.study.optuna_study import FAIL_REASON, TrialTally, trial_counts

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.RDBStorage(sqlalchemy_url(fresh_db))
    study = optuna.create_study(storage=storage, study_name="tally")
    other = optuna.create_study(storage=storage, study_name="elsewhere")  # ids interleave
    conn = open_registry(fresh_db)
    tally = TrialTally("tally")
    seen: list[int] = []

    from optuna.trial import TrialState

    def check() -> None:
        assert tally.counts(conn) == trial_counts(conn, "tally")
        seen.append(tally.upto)

    def finished(state: TrialState, value: float | None = None, reason: str = "") -> None:
        t = study.ask()
        t.suggest_float("x", 0, 1)
        other.tell(other.ask(), 0.0)
        if reason:
            t.set_user_attr(FAIL_REASON, reason)
        study.tell(t, value, state=state)

    check()  # an empty study
    assert tally.upto == 0
    finished(TrialState.COMPLETE, 1.0)
    finished(TrialState.FAIL, reason="no trades")  # a result: counted
    finished(TrialState.FAIL)  # lost (as a dead worker's): not counted
    check()
    assert tally.upto == study.trials[-1]._trial_id  # all settled
    running = study.ask()
    finished(TrialState.PRUNED)
    study.enqueue_trial({"x": 0.5})  # WAITING
    check()
    assert tally.upto == running._trial_id - 1  # stops below the first trial not finished
    counts = tally.counts(conn)
    assert (counts.complete, counts.failed, counts.lost, counts.pruned) == (1, 1, 1, 1)
    assert (counts.running, counts.waiting, counts.total) == (1, 1, 6)
    # a trial this worker numbers now counts the unsettled ones above the tally's edge
    mirror = optuna.create_study()
    local = mirror.ask()
    local.suggest_float("x", 0, 1)
    with conn.transaction():
        _, number = optuna_tables.create_trial(
            conn, study._study_id, local, after=tally.upto, before=tally.settled_total
        )
    assert number == 6 == len(study.trials) - 1
    study.tell(running, 0.5)
    waiting = study.ask()  # takes the enqueued trial
    study.tell(waiting, 0.7)
    check()  # the new RUNNING trial (sweep's) holds the edge now
    assert tally.upto < max(t._trial_id for t in study.trials)
    conn.execute(
        "UPDATE trials SET state = 'COMPLETE' WHERE study_id = %s AND state = 'RUNNING'",
        (study._study_id,),
    )
    conn.commit()
    finished(TrialState.COMPLETE, 2.0)
    check()
    assert tally.upto == max(t._trial_id for t in study.trials)
    assert seen == sorted(seen)  # the edge only moves on
    counts = tally.counts(conn)
    assert (counts.complete, counts.running, counts.waiting, counts.total) == (5, 0, 0, 8)
    conn.close()
    storage.engine.dispose()
