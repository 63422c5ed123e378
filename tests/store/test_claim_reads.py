"""A claim's reads cost the same at any study size: the mirror's look, the tally's counts and the
new trial's numbering read only the trials since the worker's last look, by index, whatever plan
the server picks. Measured as the rows the server fetches from ``trials`` (its own per-transaction
counters), not as time: a prepared statement's generic plan does not know the last id seen, and
with Optuna's indexes alone it scanned every trial of the study."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from sweep.store import optuna_tables
from sweep.store.registry import Connection, open_registry
from sweep.study.mirror import Mirror
from sweep.study.optuna_study import TrialTally, create_storage

STUDY_SIZE = 1500


def _local(gen: optuna.Study) -> optuna.Trial:
    t = gen.ask()
    t.suggest_float("x", 0.0, 1.0)
    t.suggest_int("n", 1, 9)
    return t


@pytest.fixture
def big(fresh_db: str) -> tuple[str, int]:
    """A study of STUDY_SIZE finished trials, written as workers write them, and another study's
    trials interleaved (so ids are not the study's alone)."""
    open_registry(fresh_db).close()
    storage = create_storage(fresh_db, claims=True)  # adds sweep's index
    study_id = optuna.create_study(storage=storage, study_name="big")._study_id
    other_id = optuna.create_study(storage=storage, study_name="other")._study_id
    storage.engine.dispose()
    gen = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    conn = open_registry(fresh_db)
    with conn.transaction(), conn.pipeline():
        for i in range(STUDY_SIZE):
            for sid in (study_id, other_id) if i % 10 == 0 else (study_id,):
                trial_id, _ = optuna_tables.create_trial(conn, sid, _local(gen))
                optuna_tables.finish_trial(conn, trial_id, "COMPLETE", [float(i)])
    conn.close()
    return fresh_db, study_id


def _fetched(conn: Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
        "FROM pg_stat_xact_user_tables WHERE relname = 'trials'"
    ).fetchone()
    return int(row[0]) if row else 0


# statistics as a study that grew since the server last analyzed it (the planner thinks it
# small), then analyzed (it knows)
@pytest.mark.parametrize("analyzed", [False, True], ids=["stale stats", "analyzed"])
@pytest.mark.parametrize("plans", ["force_generic_plan", "force_custom_plan"])
def test_a_claims_reads_fetch_the_new_trials_not_the_study(
    big: tuple[str, int], plans: str, analyzed: bool
) -> None:
    url, study_id = big
    conn = open_registry(url)
    if analyzed:
        conn.execute("ANALYZE trials")
    conn.prepare_threshold = 0  # prepared at once, as every statement is after 5 runs
    conn.execute(f"SET plan_cache_mode = {plans}")
    mirror = Mirror(
        "big",
        directions=[optuna.study.StudyDirection.MINIMIZE],
        sampler=optuna.samplers.RandomSampler(seed=1),
        pruner=optuna.pruners.NopPruner(),
    )
    tally = TrialTally("big")
    gen = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=4))
    mirror.sync(conn)
    start = tally.counts(conn)  # both have seen the whole study now
    assert start.total == STUDY_SIZE
    # another worker's trial starts; this worker's next claim reads it, counts, numbers its own
    with conn.transaction():
        running, _ = optuna_tables.create_trial(conn, study_id, _local(gen))
    mirror.sync(conn)
    assert running in mirror.running
    costs: dict[str, Any] = {}
    for step in range(3):
        with conn.transaction():
            before = _fetched(conn)
            counts = tally.counts(conn)
            costs[f"counts {step}"] = _fetched(conn) - before
            before = _fetched(conn)
            mirror.sync(conn)
            costs[f"look {step}"] = _fetched(conn) - before
            before = _fetched(conn)
            trial_id, number = optuna_tables.create_trial(
                conn, study_id, _local(gen), after=tally.upto, before=tally.settled_total
            )
            costs[f"create {step}"] = _fetched(conn) - before
            optuna_tables.finish_trial(conn, trial_id, "COMPLETE", [0.0])
        assert number == counts.total  # numbered as Optuna numbers it
        mirror.known.add(trial_id)
    # the trial running elsewhere finishes: the look sees it through its id, and the tally too
    with conn.transaction():
        optuna_tables.finish_trial(conn, running, "COMPLETE", [1.0])
    with conn.transaction():
        before = _fetched(conn)
        mirror.sync(conn)
        costs["look, a watched trial done"] = _fetched(conn) - before
        before = _fetched(conn)
        assert tally.counts(conn).complete == start.complete + 4
        costs["counts, a watched trial done"] = _fetched(conn) - before
    assert running not in mirror.running
    conn.close()
    # a handful of rows each (the new and the watched trials), never the study's 1,500
    assert costs and all(n <= 12 for n in costs.values()), costs


def test_the_index_is_added_once_and_a_role_that_may_not_is_told(
    fresh_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    open_registry(fresh_db).close()
    conn = open_registry(fresh_db)

    def indexes() -> int:
        (n,) = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'trials' "
            "AND indexdef LIKE '%(study_id, trial_id)%'"
        ).fetchone() or (0,)
        return int(n)

    create_storage(fresh_db).engine.dispose()  # an export or the dashboard: no claims
    assert indexes() == 0
    create_storage(fresh_db, claims=True).engine.dispose()
    create_storage(fresh_db, claims=True).engine.dispose()  # a second start finds it
    assert indexes() == 1
    # a role that does not own Optuna's tables cannot add it: one warning, and its work goes on
    conn.execute("DROP INDEX sweep_trials_study_trial")
    role = f"sweep_reader_{conn.info.backend_pid}"
    conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        conn.execute(f"GRANT SELECT ON trials TO {role}")
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {role}")
            with caplog.at_level("WARNING", logger="sweep.store.optuna_tables"):
                optuna_tables.ensure_indexes(conn)
            (count,) = conn.execute("SELECT count(*) FROM trials").fetchone() or (None,)
        assert count == 0
        assert "could not add sweep's index" in caplog.text
        assert "optuna_trials_index.sql" in caplog.text
    finally:
        conn.execute(f"REVOKE ALL ON trials FROM {role}")
        conn.execute(f"DROP ROLE {role}")
        conn.close()
