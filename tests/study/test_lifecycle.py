"""How a study's processes live and end: workers die with their parent, every participant keeps
its own heartbeat (one leaving never stops or mislabels the others), and a lost database ends a
run with one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time

import psutil
import psycopg
from conftest import StudyDir, is_counted, optuna_trials, sql
from psycopg.conninfo import conninfo_to_dict
from test_study import (
    FAST_STALE,
    assert_consistent,
    gone_within,
    slow_space,
    study_meta,
    wait_for_registered,
    wait_for_running,
    worker_pids,
)


def _wait_for_study(sd: StudyDir, name: str, proc: subprocess.Popen[str], limit: float) -> None:
    """Until Optuna's tables hold the study (its first run creates them)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, f"sweep run ended early: {sd.output(proc)}"
        with contextlib.suppress(KeyError, psycopg.errors.UndefinedTable):
            optuna_trials(sd.url, name)
            return
        time.sleep(0.2)
    raise AssertionError(f"study {name} not in Optuna's tables after {limit} s")


def test_workers_stop_and_release_their_trials_when_their_run_is_killed(
    study_dir: StudyDir,
) -> None:
    name = "slow-orphans"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "12", "--jobs", "2", "--no-progress")
    proc = study_dir.popen(*cmd, env=FAST_STALE)
    workers: list[int] = []
    try:
        wait_for_registered(study_dir, name, 1, proc)
        wait_for_running(study_dir, name, 2, proc)
        workers = worker_pids(proc.pid)
        assert len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, as `kill -9 <pid of sweep run>`
        proc.wait(timeout=10)
        assert gone_within(workers, 20) == [], "workers outlived their sweep run"
    finally:
        for pid in [proc.pid, *workers]:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
    trials = optuna_trials(study_dir.url, name)
    assert [t.number for t in trials if t.state.name == "RUNNING"] == []
    released = [t for t in trials if t.user_attrs.get("interrupted")]
    assert len(released) == 2, "each worker releases the trial it held"
    assert all(t.state.name == "FAIL" and not is_counted(t) for t in released)
    assert sum(is_counted(t) for t in trials) < 12
    # nobody is left to say so, but the listing shows it as resumable once the heartbeat is old
    time.sleep(3.5)
    listed = study_dir.sweep("studies", "--format", "json", env=FAST_STALE)
    assert listed.returncode == 0, listed.stderr
    assert f'"study_name": "{name}",\n    "status": "interrupted"' in listed.stdout
    assert '"participants": 0' in listed.stdout
    # the next participant to join marks the dead one lost, left at its last heartbeat
    joined = study_dir.sweep("worker", name, "--timeout", "1", "--quiet", env=FAST_STALE)
    assert joined.returncode == 0, joined.stderr
    rows = sql(
        study_dir.url,
        "SELECT pid, status, left_at = heartbeat AS at_last_beat FROM sweep_participants "
        "WHERE study_name = %s ORDER BY id",
        (name,),
    )
    assert [(r["pid"], r["status"], r["at_last_beat"]) for r in rows[:1]] == [
        (proc.pid, "lost", True)
    ]
    assert [r["status"] for r in rows[1:]] in (["interrupted"], ["timed_out"], ["completed"])


def test_one_participant_leaving_never_stops_or_mislabels_the_others(study_dir: StudyDir) -> None:
    name = "slow-two-hosts"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "6", "--jobs", "1", "--no-progress")
    first = study_dir.popen(*cmd)
    second = study_dir.popen(*cmd)
    try:
        # both inside a trial (generous limits: slow trials on a shared, loaded machine)
        _wait_for_study(study_dir, name, first, limit=300)
        wait_for_running(study_dir, name, 2, first, limit=300)
        assert second.poll() is None
        os.killpg(first.pid, signal.SIGINT)  # Ctrl-C on one host
        assert first.wait(timeout=60) == 130, study_dir.output(first)
        assert second.poll() is None, "the other participant must go on"
        assert study_meta(study_dir.url, name)["status"] == "running"
        assert second.wait(timeout=600) == 0, study_dir.output(second)
    finally:
        for p in (first, second):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert_consistent(study_dir.url, name, 6)
    assert study_meta(study_dir.url, name)["status"] == "completed"
    rows = sql(
        study_dir.url,
        "SELECT pid, command, status, left_at IS NOT NULL AS left FROM sweep_participants "
        "WHERE study_name = %s ORDER BY id",
        (name,),
    )
    by_pid = {r["pid"]: r for r in rows}
    assert by_pid[first.pid]["status"] == "interrupted" and by_pid[first.pid]["left"]
    assert by_pid[second.pid]["status"] == "completed" and by_pid[second.pid]["left"]
    assert {r["command"] for r in rows} == {"run"}


def test_a_lost_database_ends_the_run_with_one_line_and_the_same_command_resumes(
    study_dir: StudyDir, server_url: str
) -> None:
    name = "slow-db-lost"
    dbname = conninfo_to_dict(study_dir.url)["dbname"]
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "8", "--jobs", "2", "--no-progress")
    proc = study_dir.popen(*cmd, env=FAST_STALE)
    try:
        wait_for_registered(study_dir, name, 1, proc)
        wait_for_running(study_dir, name, 2, proc)
        with psycopg.connect(server_url, autocommit=True) as admin:
            # the server goes away for this database: connections cut, new ones refused
            admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (dbname,),
            )
            rc = proc.wait(timeout=90)
            admin.execute(f'ALTER DATABASE "{dbname}" WITH ALLOW_CONNECTIONS true')
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out, err = study_dir.output(proc)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 75, err
    assert len(lines) == 1, err
    parts = conninfo_to_dict(study_dir.url)
    assert lines[0].startswith("error: lost the connection to PostgreSQL at ")
    assert f"{parts['host']}:{parts['port']}/{dbname}" in lines[0]
    assert "run the same command again to resume" in lines[0]
    assert "Traceback" not in err + out

    again = study_dir.sweep(*cmd, env=FAST_STALE)
    assert again.returncode == 0, again.stderr
    assert_consistent(study_dir.url, name, 8)
    assert study_meta(study_dir.url, name)["status"] == "completed"


def test_a_participant_marked_lost_that_beats_again_is_running_again(fresh_db: str) -> None:
    """A participant whose heartbeat went stale (a paused process: Ctrl-Z, a suspended host) is
    marked lost by the next one to join; once it beats again it is at work, and one leaving
    counts it (or the study would be labelled interrupted while it still runs its trials)."""
    from sweep.store.registry import open_registry
    from sweep.study.lifecycle import join_study, leave_study, record_beat

    conn = open_registry(fresh_db)
    try:
        conn.execute(
            "INSERT INTO sweep_studies (study_name, space, space_hash, objectives, directions, "
            "sampler, pruner, n_trials_target, data_fingerprint, code_version) VALUES "
            "('paused', '{}', 'h', '{sharpe}', '{maximize}', 'tpe', 'none', 6, '{}', 'test')"
        )
        paused = join_study(conn, "paused", "run", 1, 20)
        conn.execute(
            "UPDATE sweep_participants SET heartbeat = now() - interval '1 minute' WHERE id = %s",
            (paused,),
        )
        other = join_study(conn, "paused", "worker", 1, 20)
        status = "SELECT status, left_at IS NULL FROM sweep_participants WHERE id = %s"
        assert conn.execute(status, (paused,)).fetchone() == ("lost", False)
        record_beat(conn, paused)  # it was only paused: it goes on with the study
        assert conn.execute(status, (paused,)).fetchone() == ("running", True)
        with conn.transaction():
            assert leave_study(conn, other, "interrupted", 20) == 1
    finally:
        conn.close()
