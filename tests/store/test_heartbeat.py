"""A worker's trial heartbeat: one thread for the worker's life, beating for the trial it holds
and for nothing else, through Optuna's own ``record_heartbeat`` on a real server."""

from __future__ import annotations

import threading
import time
from typing import Any

import optuna
import pytest

from sweep.store import optuna_tables
from sweep.store.db import sqlalchemy_url
from sweep.store.registry import open_registry


@pytest.fixture
def storage(fresh_db: str) -> Any:
    open_registry(fresh_db).close()
    st = optuna.storages.RDBStorage(sqlalchemy_url(fresh_db), heartbeat_interval=1)
    yield st
    st.engine.dispose()


def _new_trial(fresh_db: str, study_id: int) -> int:
    local = optuna.create_study().ask()
    local.suggest_float("x", 0, 1)
    conn = open_registry(fresh_db)
    with conn.transaction():
        trial_id, _ = optuna_tables.create_trial(conn, study_id, local)
    conn.close()
    return trial_id


def _beat(fresh_db: str, trial_id: int) -> Any:
    conn = open_registry(fresh_db)
    row = conn.execute(
        "SELECT heartbeat FROM trial_heartbeats WHERE trial_id = %s", (trial_id,)
    ).fetchone()
    conn.close()
    return row[0] if row else None


def _threads() -> int:
    return sum(t.name == "sweep-heartbeat" and t.is_alive() for t in threading.enumerate())


def test_one_thread_beats_for_the_trial_held_and_stops_on_release(
    storage: Any, fresh_db: str
) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study_id = optuna.create_study(storage=storage, study_name="beats")._study_id
    first, second = _new_trial(fresh_db, study_id), _new_trial(fresh_db, study_id)
    written = {t: _beat(fresh_db, t) for t in (first, second)}
    assert all(written.values())  # the claim's own statement wrote the first beat
    before = _threads()
    hb = optuna_tables.Heartbeat(storage)
    held = hb.hold(first)
    time.sleep(2.5)  # an interval of 1 s: two beats or more
    assert _beat(fresh_db, first) > written[first]
    held.join()
    stopped = _beat(fresh_db, first)
    held.join()  # twice: a no-op
    held = hb.hold(second)
    time.sleep(2.5)
    assert _beat(fresh_db, first) == stopped  # released: never beaten again
    assert _beat(fresh_db, second) > written[second]
    assert _threads() == before + 1  # the same thread for both trials
    held.join()
    hb.close()
    with pytest.raises(RuntimeError, match="closed"):
        hb.hold(second)  # never silently: a trial held after close would go stale
    deadline = time.monotonic() + 5
    while _threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _threads() == before


def test_a_beat_that_fails_stops_that_trial_only_and_is_reported(
    storage: Any, fresh_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study_id = optuna.create_study(storage=storage, study_name="fails")._study_id
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))
    trial_id = _new_trial(fresh_db, study_id)
    conn = open_registry(fresh_db)
    conn.execute("ALTER TABLE trial_heartbeats RENAME TO heartbeats_away")  # beats now fail
    hb = optuna_tables.Heartbeat(storage)
    held = hb.hold(trial_id)
    deadline = time.monotonic() + 10
    while not reported and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reported) == 1 and "trial_heartbeats" in str(reported[0].__cause__)
    time.sleep(1.5)
    assert len(reported) == 1  # that trial is not beaten again
    conn.execute("ALTER TABLE heartbeats_away RENAME TO trial_heartbeats")
    conn.close()
    held.join()
    trial_id = _new_trial(fresh_db, study_id)
    written = _beat(fresh_db, trial_id)
    held = hb.hold(trial_id)  # the thread lives on for the next trial
    time.sleep(2.5)
    assert _beat(fresh_db, trial_id) > written
    held.join()
    hb.close()
