"""Many machines behind a real PgBouncer in transaction mode, and the connections a study holds.

The "hosts" are `sweep` processes with a working directory and SWEEP_HOME each, sharing no files,
only the database URL (PgBouncer's). PgBouncer is Debian's `pgbouncer` (installed by .ci/run),
started here in front of the test server, with a server pool smaller than the number of workers.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import DATA_DIR, ROOT, debian_tool, sql, tiny_space
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from test_study import assert_consistent

SERVER_POOL = 4  # PgBouncer's server connections for the test database
HOSTS = 3
JOBS = 2
# host 0 is held stopped until hosts 1 and 2 have joined (below), so the budget is shared
TRIALS = 60
TEST_APP = "sweep-test-poll"  # the test's own connection, left out of the peak


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Bouncer:
    port: int

    def url_for(self, direct_url: str) -> str:
        """The same database and user, through PgBouncer."""
        params = conninfo_to_dict(direct_url)
        params.update(host="127.0.0.1", port=str(self.port))
        return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture
def pgbouncer(server_url: str) -> Iterator[Bouncer]:
    """PgBouncer in transaction mode in front of the test server."""
    binary = debian_tool("pgbouncer", "pgbouncer")
    server = conninfo_to_dict(server_url)
    user = str(server.get("user") or "postgres")
    home = Path(tempfile.mkdtemp(prefix="sweep-pgbouncer-"))
    port = free_port()
    (home / "users.txt").write_text(f'"{user}" ""\n')
    run_as = ""
    if os.geteuid() == 0:  # PgBouncer refuses to run as root; it drops to this user itself
        run_as = next(u for u in ("postgres", "embedded_postgres", "nobody") if _has_user(u))
        shutil.chown(home, run_as)
        shutil.chown(home / "users.txt", run_as)
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.get("host") or "127.0.0.1"} port={server.get("port") or 5432}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home / "users.txt"}
pool_mode = transaction
default_pool_size = {SERVER_POOL}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
logfile = {home / "pgbouncer.log"}
{"user = " + run_as if run_as else ""}
"""
    )
    proc = subprocess.Popen(
        [binary, str(home / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 20
        while not _accepts(port):
            assert proc.poll() is None, f"pgbouncer exited: {proc.stderr and proc.stderr.read()}"
            assert time.monotonic() < end, "pgbouncer did not listen within 20 s"
            time.sleep(0.05)
        yield Bouncer(port)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PeakConnections:
    """Polls pg_stat_activity (directly on the server) for the client connections to one
    database (the test's own polling connection left out)."""

    def __init__(self, direct_url: str) -> None:
        self.url = direct_url
        self.dbname = conninfo_to_dict(direct_url)["dbname"]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        params = conninfo_to_dict(self.url)
        params["dbname"] = "postgres"
        with psycopg.connect(make_conninfo(**params), autocommit=True) as c:  # type: ignore[arg-type]
            while not self._stop.wait(0.02):
                row = c.execute(
                    # connections only: a query's parallel workers and autovacuum are
                    # backends on the database too
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend' AND application_name <> %s",
                    (self.dbname, TEST_APP),
                ).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)


def make_host(
    root: Path, name: str, url: str, extra: dict[str, str]
) -> tuple[Path, dict[str, str]]:
    home = root / name
    (home / "data").mkdir(parents=True)
    shutil.copy(DATA_DIR / "BTC_USDT-1h.csv.gz", home / "data" / "BTC_USDT-1h.csv.gz")
    env = {k: v for k, v in os.environ.items() if k != "SWEEP_PGBOUNCER"}
    env.update(
        SWEEP_DATABASE_URL=url,
        SWEEP_HOME=str(home / ".sweep"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    )
    return home, env


def start(home: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sweep.cli", *args],
        cwd=home,
        env=env,
        stdout=(home / "out.txt").open("w"),
        stderr=(home / "err.txt").open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )


def test_three_hosts_behind_pgbouncer_share_one_budget(
    fresh_db: str, pgbouncer: Bouncer, tmp_path: Path
) -> None:
    name = "tiny-bounced"
    url = pgbouncer.url_for(fresh_db)
    # host 0 finds out about PgBouncer by itself; hosts 1 and 2 are told
    homes = [
        make_host(tmp_path, f"host-{i}", url, {} if i == 0 else {"SWEEP_PGBOUNCER": "1"})
        for i in range(HOSTS)
    ]
    (homes[0][0] / "space.yaml").write_text(yaml.safe_dump(tiny_space(name)))
    procs: list[subprocess.Popen[str]] = []
    # the test's own connection to the database, for polling (left out of the peak)
    poll = psycopg.connect(fresh_db, autocommit=True, application_name=TEST_APP)
    with poll, PeakConnections(fresh_db) as peak:
        try:
            procs.append(
                start(
                    *homes[0],
                    "run",
                    "space.yaml",
                    "--trials",
                    str(TRIALS),
                    "--jobs",
                    str(JOBS),
                    "--no-progress",
                )
            )
            end = time.monotonic() + 120
            while _joined(poll, name, "run") < 1:  # registered the study, built the storage
                assert procs[0].poll() is None, (homes[0][0] / "err.txt").read_text()
                assert time.monotonic() < end, "host 0 did not join its study within 120 s"
                time.sleep(0.05)
            # Host 0 waits (stopped, with its workers) until the others have joined: its 60
            # quick trials could otherwise all run before their start-up ends (seen on a fast
            # machine), and the three would never share the study. Bounded well within the
            # heartbeat grace, and ended early if a host exits.
            os.killpg(procs[0].pid, signal.SIGSTOP)
            try:
                for home, env in homes[1:]:
                    procs.append(
                        start(home, env, "worker", name, "--jobs", str(JOBS), "--no-progress")
                    )
                joined = time.monotonic() + 12
                while (
                    _joined(poll, name, "worker") < HOSTS - 1
                    and time.monotonic() < joined
                    and all(p.poll() is None for p in procs[1:])
                ):
                    time.sleep(0.1)
            finally:
                os.killpg(procs[0].pid, signal.SIGCONT)
            codes = [p.wait(timeout=900) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
    errs = [(home / "err.txt").read_text() for home, _ in homes]
    assert codes == [0] * HOSTS, errs
    assert all(e.strip() == "" for e in errs), errs

    trials = assert_consistent(fresh_db, name, TRIALS)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    ok = sql(
        fresh_db,
        "SELECT count(*) AS n FROM model_results r JOIN experiments e USING (experiment_id) "
        "WHERE e.study_name = %s AND r.status = 'ok'",
        (name,),
    )[0]["n"]
    per_host = [len(list((home / ".sweep" / "models").rglob("*.ubj"))) for home, _ in homes]
    assert sum(per_host) == ok, "each model is on the host that trained it"
    assert sum(n > 0 for n in per_host) >= 2, f"trials ran on one host only: {per_host}"
    participants = sql(
        fresh_db,
        "SELECT command, status FROM sweep_participants WHERE study_name = %s ORDER BY id",
        (name,),
    )
    assert [p["command"] for p in participants] == ["run", "worker", "worker"]
    assert {p["status"] for p in participants} == {"completed"}
    assert sql(fresh_db, "SELECT status FROM sweep_studies")[0]["status"] == "completed"
    # 3 hosts x (2 workers x 2 connections + 2 of the parent's) = 18 client connections at most,
    # served by PgBouncer's pool of SERVER_POOL
    print(f"peak server connections behind PgBouncer: {peak.peak} (pool {SERVER_POOL})")
    assert 1 <= peak.peak <= SERVER_POOL


def _joined(poll: psycopg.Connection[tuple[Any, ...]], name: str, command: str) -> int:
    """Participants of the study started by ``command`` (``run`` or ``worker``)."""
    try:
        row = poll.execute(
            "SELECT count(*) FROM sweep_participants WHERE study_name = %s AND command = %s",
            (name, command),
        ).fetchone()
    except psycopg.errors.UndefinedTable:  # the registry is not there yet
        return 0
    return int(row[0]) if row else 0


def _study_registered(poll: psycopg.Connection[tuple[Any, ...]], name: str) -> bool:
    try:
        row = poll.execute("SELECT 1 FROM sweep_studies WHERE study_name = %s", (name,))
        return row.fetchone() is not None
    except psycopg.errors.UndefinedTable:
        return False


def test_a_study_holds_two_connections_per_worker_and_two_of_its_own(
    fresh_db: str, tmp_path: Path
) -> None:
    name = "tiny-connections"
    home, env = make_host(tmp_path, "host", fresh_db, {})
    (home / "space.yaml").write_text(yaml.safe_dump(tiny_space(name)))
    with PeakConnections(fresh_db) as peak:
        proc = start(
            home, env, "run", "space.yaml", "--trials", "8", "--jobs", "3", "--no-progress"
        )
        try:
            rc = proc.wait(timeout=600)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert rc == 0, (home / "err.txt").read_text()
    assert_consistent(fresh_db, name, 8)
    print(f"peak connections of a --jobs 3 study: {peak.peak}")
    assert 3 <= peak.peak <= 2 * 3 + 3  # workers' two each; the parent's two (three at start)


def test_a_pooler_is_detected_and_prepared_statements_are_turned_off(
    fresh_db: str, pgbouncer: Bouncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sweep.store import db

    monkeypatch.delenv("SWEEP_PGBOUNCER", raising=False)
    bounced = pgbouncer.url_for(fresh_db)
    assert db.behind_pooler(bounced) is True
    assert db.behind_pooler(fresh_db) is False
    with db.connect(bounced) as c:
        assert c.prepare_threshold is None
    with db.connect(fresh_db) as c:
        assert c.prepare_threshold is not None
    monkeypatch.setenv("SWEEP_PGBOUNCER", "1")  # told: no detection, no prepared statements
    assert db.behind_pooler(fresh_db) is True
    with db.connect(fresh_db) as c:
        assert c.prepare_threshold is None


def test_waiting_for_the_schema_lock_holds_no_server_connection(
    fresh_db: str, pgbouncer: Bouncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processes that start together wait for the schema's advisory lock without holding a
    server connection: blocked inside a transaction, more waiters than the pool's connections
    held them all, and the holder, which needs a second connection for Optuna's own table
    creation, waited for one until PgBouncer gave up (a deadlock, then "lost the connection")."""
    from concurrent.futures import ThreadPoolExecutor

    from sweep.store.registry import open_registry
    from sweep.study.optuna_study import _OPTUNA_SCHEMA_LOCK, create_storage

    monkeypatch.setenv("SWEEP_PGBOUNCER", "1")
    open_registry(fresh_db).close()
    url = pgbouncer.url_for(fresh_db)
    waiters = SERVER_POOL + 2
    pool = ThreadPoolExecutor(waiters)
    started: list[Any] = []
    try:
        holding = psycopg.connect(fresh_db, autocommit=True, application_name=TEST_APP)
        with holding as holder, holder.transaction():
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (_OPTUNA_SCHEMA_LOCK,))
            started = [pool.submit(create_storage, url, claims=True) for _ in range(waiters)]
            time.sleep(2.0)  # every waiter has tried, and is waiting
            assert not any(f.done() for f in started)
            row = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
            assert row is not None and row[0] == 0, f"{row[0]} waiting inside a transaction"
            # and the pool is free: a new client gets a server connection at once (in a
            # thread: behind a full pool its query would queue for PgBouncer's 120 s)
            got: list[Any] = []

            def select_one() -> None:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as other:
                    other.prepare_threshold = None
                    got.append(other.execute("SELECT 1").fetchone())

            probe = threading.Thread(target=select_one, daemon=True)
            probe.start()
            probe.join(timeout=10)
            assert got == [(1,)], "a new client waited for a server connection"
    finally:
        # the lock is released by now (the holder's transaction ended): every waiter finishes
        storages: list[Any] = []
        for f in started:
            with contextlib.suppress(Exception):  # the assertion that failed says why
                storages.append(f.result(timeout=120))
        pool.shutdown(wait=True)
        for st in storages:
            st.engine.dispose()
    assert len(storages) == waiters  # each built its storage (the first created the tables)
    tables = sql(fresh_db, "SELECT to_regclass('trials') IS NOT NULL AS ok")
    assert tables[0]["ok"]
