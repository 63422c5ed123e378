"""How the processes of a study live and end.

- **Workers die with their parent.** A worker watches the process that started the study (a
  ``sweep run`` or ``sweep worker``); when it ends, even by SIGKILL, the worker is interrupted as
  by Ctrl-C (its running trial is released, not counted) and exits. On Linux it watches a pidfd
  (no polling, no pid reuse) and also asks the kernel for SIGINT when its own parent (the fork
  server) dies.
- **Participants.** Every ``sweep run`` or ``sweep worker`` of a study, on any host, keeps its own
  row and heartbeat in ``sweep_participants``; a study is marked ``interrupted`` (or
  ``timed_out``) only when the last live participant leaves, so one host leaving never stops
  or mislabels the others.
- **A lost database** ends the run with one line that names the server and says that the same
  command resumes, instead of a traceback per process and thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from typing import Any

import psycopg

from sweep.core.errors import RegistryError
from sweep.store.db import masked
from sweep.store.registry import Connection, query

log = logging.getLogger(__name__)

__all__ = [
    "EXIT_DATABASE_LOST",
    "DatabaseLost",
    "connection_lost",
    "die_with_parent",
    "join_study",
    "leave_study",
    "quiet_lost_connections",
    "record_beat",
]

EXIT_DATABASE_LOST = 75  # EX_TEMPFAIL: a worker that lost the database; the parent says so once
_PR_SET_PDEATHSIG = 1
_FORCE_EXIT_AFTER_S = 60.0  # after the parent died: time to release the trial, then exit anyway


class DatabaseLost(RegistryError):
    """The connection to PostgreSQL was lost mid-study (server down, restarted, unreachable)."""

    exit_code = EXIT_DATABASE_LOST

    def __init__(self, url: str, cause: BaseException | None = None) -> None:
        first = str(cause).strip().splitlines()[0] if cause and str(cause).strip() else ""
        why = f" ({first})" if first else ""
        super().__init__(
            f"lost the connection to PostgreSQL at {masked(url)}{why}",
            hint="finished trials are recorded; run the same command again to resume",
        )


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database went away, as opposed to a query
    that failed: psycopg's OperationalError (server closed the connection, admin shutdown,
    cannot connect), a closed connection, or SQLAlchemy's wrappers of those."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, DatabaseLost):
            return True
        if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
            return True
        if type(e).__module__.startswith("sqlalchemy") and (
            getattr(e, "connection_invalidated", False)
            or type(e).__name__ in ("OperationalError", "InterfaceError")
        ):
            return True
        e = e.__cause__ or e.__context__
    return False


def quiet_lost_connections() -> None:
    """In a process running trials: a background thread (Optuna's trial heartbeat) that dies
    because the database went away prints nothing, nor does psycopg when it abandons a pipeline
    on a dead connection; the study reports the loss once."""
    psycopg_log = logging.getLogger("psycopg")
    if not any(isinstance(f, _DeadPipelineFilter) for f in psycopg_log.filters):
        psycopg_log.addFilter(_DeadPipelineFilter())
    previous = threading.excepthook
    if getattr(previous, "quiet_lost_connections", False):
        return

    def hook(args: Any) -> None:
        if args.exc_value is not None and connection_lost(args.exc_value):
            return
        previous(args)

    hook.quiet_lost_connections = True  # type: ignore[attr-defined]
    threading.excepthook = hook


class _DeadPipelineFilter(logging.Filter):
    """Drops psycopg's "error ignored terminating <Pipeline>: the connection is lost"."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


def die_with_parent(parent_pid: int | None) -> None:
    """Interrupt this process (SIGINT: the worker releases its trial and exits) when
    ``parent_pid`` ends, and end it for good if it is still alive a minute later."""
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)
    threading.Thread(
        target=_watch, args=(parent_pid,), name="sweep-parent-watch", daemon=True
    ).start()


def _watch(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None  # already gone
    except (OSError, AttributeError):  # no pidfd (old kernel, not Linux): poll
        while _alive(pid):
            time.sleep(1.0)
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [])
        finally:
            os.close(fd)
    log.warning("the process that started this worker (pid %d) ended; stopping", pid)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(_FORCE_EXIT_AFTER_S)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- participants ---------------------------------------------------------------------------------
def join_study(conn: Connection, study_name: str, command: str, jobs: int, grace: float) -> int:
    """Register this process as a participant of the study; return its id. Participants whose
    heartbeat is older than ``grace`` seconds died without leaving: they are marked lost."""
    with conn.transaction():
        row = conn.execute(
            query("participant_join"),
            {
                "study_name": study_name,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "command": command,
                "jobs": jobs,
                "grace": grace,
            },
        ).fetchone()
    assert row is not None
    return int(row[0])


def record_beat(conn: Connection, participant: int) -> None:
    """This participant is alive (called every heartbeat interval)."""
    conn.execute(query("participant_beat"), {"id": participant})


def leave_study(conn: Connection, participant: int, status: str, grace: float) -> int:
    """Mark the participant gone with its ``status``; return how many other participants are
    still alive (heartbeat younger than ``grace`` seconds). The caller holds the study's lock in
    the same transaction, so two participants leaving at once never both see the other."""
    row = conn.execute(
        query("participant_leave"), {"id": participant, "status": status, "grace": grace}
    ).fetchone()
    return int(row[0]) if row else 0
