"""The one module that writes Optuna's tables directly, and the one that imports Optuna's private
modules.

sweep creates, reports and finishes trials with single SQL statements instead of Optuna's ORM
(each ``suggest_*`` and attribute is a round trip there). Every such statement lives in
``sql/queries/optuna_*.sql`` and is run from here, so the schema sweep speaks to is in one place.

The schema spoken: Optuna's RDB storage at alembic revision :data:`SCHEMA_REVISION` as Optuna
5.x writes it (``studies``, ``trials``, ``trial_params``, ``trial_values``,
``trial_intermediate_values``, ``trial_user_attributes``, ``trial_system_attributes``,
``trial_heartbeats``). :func:`check_schema` refuses any other revision, and any other Optuna major
version, at start-up. sweep adds one index to these tables and nothing else
(:func:`ensure_indexes`). Values are stored in Optuna's own representations (JSON-encoded
attributes, distributions as Optuna's JSON, values and intermediate values with their
finite/inf/nan kind).

Times come from the database's clock, never the client's, in the forms Optuna 5 reads back:

- ``trials.datetime_start`` and ``datetime_complete``: naive UTC (Optuna 5 converts them to the
  reader's local time; Optuna 4 stored the writer's local time in the same revision, which is why
  the major version is checked too);
- ``trial_heartbeats.heartbeat``: ``now()`` in the session's time zone, as Optuna's own
  ``record_heartbeat`` stores it and its staleness check compares it.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import optuna
import psycopg
from optuna.artifacts._upload import ARTIFACTS_ATTR_PREFIX, ArtifactMeta
from optuna.distributions import distribution_to_json, json_to_distribution
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.storages._rdb.models import TrialIntermediateValueModel, TrialValueModel

from sweep.core.errors import RegistryError
from sweep.store.db import masked
from sweep.store.registry import Connection, query

log = logging.getLogger(__name__)

__all__ = [
    "ARTIFACTS_ATTR_PREFIX",
    "OPTUNA_MAJOR",
    "SCHEMA_REVISION",
    "ArtifactMeta",
    "Heartbeat",
    "HeldTrial",
    "artifact_attrs",
    "check_schema",
    "create_trial",
    "ensure_indexes",
    "finish_trial",
    "report_value",
    "set_system_attrs",
    "set_user_attrs",
    "take_waiting_trial",
]

#: The alembic revision of Optuna's tables that this module reads and writes (Optuna 5.0's head).
SCHEMA_REVISION = "v3.2.0.a"
#: The Optuna major version whose conventions (naive-UTC trial times) this module follows;
#: pyproject.toml pins the same range.
OPTUNA_MAJOR = 5


def check_schema(conn: Connection, url: str) -> bool:
    """Refuse, with one line, an Optuna whose major version or a database whose Optuna tables
    this module does not speak. Returns False when the database has no Optuna tables yet (Optuna
    creates them at its head; check again after)."""
    major = int(optuna.__version__.split(".")[0])
    if major != OPTUNA_MAJOR:
        raise RegistryError(
            f"Optuna {optuna.__version__} is installed; sweep writes Optuna's tables as Optuna "
            f"{OPTUNA_MAJOR} does (trial times as naive UTC)",
            hint=f"pip install 'optuna>={OPTUNA_MAJOR}.0,<{OPTUNA_MAJOR + 1}'",
        )
    try:
        row = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return False
        got = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error as e:
        raise RegistryError(f"cannot read Optuna's schema version at {masked(url)}: {e}") from e
    revision = str(got[0]) if got else None
    if revision != SCHEMA_REVISION:
        raise RegistryError(
            f"Optuna's tables at {masked(url)} are at schema revision {revision}; this sweep "
            f"reads and writes revision {SCHEMA_REVISION} (Optuna {OPTUNA_MAJOR}.x)",
            hint="use the sweep and Optuna versions that created them, or "
            "`optuna storage upgrade --storage URL` for an older schema",
        )
    return True


def ensure_indexes(conn: Connection) -> None:
    """Add sweep's index to Optuna's ``trials`` table if it is missing
    (``sql/queries/optuna_trials_index.sql``): a study's trials in id order, so that a claim
    reads the trials since its last look by index, at the same cost at any study size. Call it
    inside a transaction, under the schema's advisory lock, once the tables exist. A role that
    may not create it (the tables belong to another role) is told once; claims then cost more in
    large studies, but work."""
    row = conn.execute("SELECT to_regclass('sweep_trials_study_trial') IS NOT NULL").fetchone()
    if row and row[0]:
        return
    try:
        with conn.transaction():  # a savepoint: a refusal must not abort the caller's work
            # building it blocks writes to the trials table: never wait long behind another
            # transaction for that (every later start tries again)
            conn.execute("SET LOCAL lock_timeout = '10s'")
            conn.execute(query("optuna_trials_index"))
    except (
        psycopg.errors.InsufficientPrivilege,
        psycopg.errors.LockNotAvailable,
        psycopg.errors.QueryCanceled,
    ) as e:
        log.warning(
            "could not add sweep's index to Optuna's trials table (%s): claims in large studies "
            "will read every trial of the study; the tables' owner can run "
            "sql/queries/optuna_trials_index.sql",
            str(e).strip().splitlines()[0],
        )


def take_waiting_trial(conn: Connection, study_name: str) -> tuple[int, int, dict[str, Any]] | None:
    """Move the oldest re-queued (WAITING) trial of the study to RUNNING; return its id, number
    and parameters (external values), or None if there is none (or all are being taken)."""
    row = conn.execute(query("optuna_take_waiting"), {"study_name": study_name}).fetchone()
    if row is None:
        return None
    params = {
        name: json_to_distribution(dist).to_external_repr(internal)
        for name, internal, dist in row[2] or []
    }
    return int(row[0]), int(row[1]), params


def create_trial(
    conn: Connection, study_id: int, local: optuna.Trial, *, after: int = 0, before: int = 0
) -> tuple[int, int]:
    """Insert a RUNNING trial with the parameters sampled on ``local`` (a mirror trial) in one
    statement (after the studies row's lock) instead of Optuna's two queries per parameter;
    returns ``(trial_id, number)``. Call it inside a transaction. ``before``: how many trials
    the study has with ids up to ``after``, when the caller knows
    (:class:`sweep.study.optuna_study.TrialTally`): only the trials above are counted to number
    this one."""
    dists = local.distributions
    names = list(local.params)
    conn.execute(query("optuna_lock_study"), {"study_id": study_id})
    row = conn.execute(
        query("optuna_create_trial"),
        {
            "study_id": study_id,
            "after": after,
            "before": before,
            "names": names,
            "values": [float(dists[n].to_internal_repr(local.params[n])) for n in names],
            "distributions": [distribution_to_json(dists[n]) for n in names],
        },
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


class Heartbeat:
    """A worker's trial heartbeat: one thread for the worker's life, beating through Optuna's
    ``record_heartbeat`` for the trial it holds. :meth:`hold` starts beating for a trial claimed
    by :func:`create_trial` or :func:`take_waiting_trial`, less its first beat (the claim's own
    statement wrote that one), so the first is due an interval after the claim. (Optuna's
    ``HeartbeatThread`` is a thread per trial that beats at once: a second connection's round
    trip per trial, at the moment the worker samples its next parameters, and a thread started
    and joined per trial.)

    A beat that fails ends the beating for that trial, and is reported as the death of Optuna's
    per-trial thread was: the trial's heartbeat then goes stale, and another worker fails it."""

    def __init__(self, storage: BaseHeartbeat) -> None:
        self._storage = storage
        self._interval = storage.get_heartbeat_interval()
        self._cond = threading.Condition()
        self._trial: int | None = None  # the trial held
        self._due = 0.0  # monotonic time of its next beat
        self._beating: int | None = None  # the trial whose beat is being written right now
        self._closed = False
        self._thread: threading.Thread | None = None

    def hold(self, trial_id: int) -> HeldTrial:
        """Beat for ``trial_id`` until the handle's :meth:`HeldTrial.join`: one trial at a time
        (a trial still held stops beating)."""
        if self._interval is None:
            return HeldTrial(self, None)  # no heartbeat configured: nothing to keep alive
        with self._cond:
            if self._closed:
                raise RuntimeError("this worker's heartbeat is closed")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sweep-heartbeat", daemon=True
                )
                self._thread.start()
            self._trial = trial_id
            self._due = time.monotonic() + self._interval
            self._cond.notify_all()
        return HeldTrial(self, trial_id)

    def release(self, trial_id: int | None) -> None:
        """Stop beating for ``trial_id``; once this returns, no beat for it is being written or
        will be. A no-op for a trial not held (released already)."""
        with self._cond:
            if self._trial == trial_id:
                self._trial = None
                self._cond.notify_all()
            while trial_id is not None and self._beating == trial_id:
                self._cond.wait()

    def close(self) -> None:
        """End the thread (the worker is done), after the beat being written if any (waiting
        at most 10 seconds: a server that is gone fails it within the connect
        timeout)."""
        with self._cond:
            self._closed = True
            self._trial = None
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        assert self._interval is not None
        with self._cond:
            while not self._closed:
                wait = self._due - time.monotonic() if self._trial is not None else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                trial_id = self._beating = self._trial
                assert trial_id is not None
                self._cond.release()
                failed: BaseException | None = None
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception as e:
                    failed = e
                finally:
                    # even for a BaseException that ends this thread: a release waiting for
                    # this beat must not wait forever
                    self._cond.acquire()
                    self._beating = None
                    self._due = time.monotonic() + self._interval
                    if self._trial == trial_id and failed is not None:
                        self._trial = None  # as Optuna's thread dies: this trial goes stale
                    self._cond.notify_all()
                if failed is not None:
                    self._cond.release()  # a slow hook must not hold up hold() and release()
                    try:
                        self._report(failed)
                    finally:
                        self._cond.acquire()

    @staticmethod
    def _report(e: BaseException) -> None:
        """As the death of a thread is reported (``threading.excepthook``: silent for a lost
        database in a worker, see ``sweep.study.lifecycle.quiet_lost_connections``)."""
        threading.excepthook(
            threading.ExceptHookArgs((type(e), e, e.__traceback__, threading.current_thread()))
        )


@dataclass
class HeldTrial:
    """The trial a :class:`Heartbeat` beats for; :meth:`join` stops it (idempotent)."""

    heartbeat: Heartbeat
    trial_id: int | None

    def join(self) -> None:
        self.heartbeat.release(self.trial_id)


def report_value(conn: Connection, trial_id: int, step: int, value: float) -> bool:
    """``trial.report`` in one statement (the ORM's path cost about as much CPU per fold as
    pruning saved). False if the trial is no longer RUNNING."""
    stored, kind = TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
    with conn.transaction():
        row = conn.execute(
            query("optuna_report"),
            {"trial_id": trial_id, "step": step, "value": stored, "kind": kind.name},
        ).fetchone()
    return row is not None


def finish_trial(
    conn: Connection, trial_id: int, state: str, values: Sequence[float] | None = None
) -> bool:
    """Move a RUNNING trial to ``state`` (COMPLETE, PRUNED or FAIL) with its ``values``, as
    Optuna's ``tell`` does (a PRUNED trial without values gets its last reported intermediate
    value). False if it was not RUNNING any more (failed as stale by another process)."""
    stored = [TrialValueModel.value_to_stored_repr(float(v)) for v in values or ()]
    if any(v is not None and math.isnan(v) for v, _ in stored):
        raise ValueError(f"a trial's values cannot be NaN: {list(values or ())}")
    row = conn.execute(
        query("optuna_finish_trial"),
        {
            "trial_id": trial_id,
            "state": state,
            "objectives": list(range(len(stored))),
            "values": [v for v, _ in stored],
            "kinds": [k.name for _, k in stored],
        },
    ).fetchone()
    return row is not None


def set_user_attrs(conn: Connection, trial_id: int, attrs: Mapping[str, Any]) -> None:
    """Call it inside a transaction (with the trial's other records)."""
    conn.execute(
        query("optuna_set_user_attrs"),
        {
            "trial_id": trial_id,
            "keys": list(attrs),
            "values": [json.dumps(v) for v in attrs.values()],
        },
    )


def set_system_attrs(conn: Connection, trial_id: int, attrs: Mapping[str, Any]) -> None:
    conn.execute(
        query("optuna_set_system_attrs"),
        {
            "trial_id": trial_id,
            "keys": list(attrs),
            "values": [json.dumps(v) for v in attrs.values()],
        },
    )


def artifact_attrs(metas: Sequence[ArtifactMeta]) -> dict[str, str]:
    """The system attributes with which ``optuna.artifacts.upload_artifact`` links artifacts to
    a trial (``artifacts:<id>`` holding the meta as JSON text), for :func:`set_system_attrs` in
    the transaction that records the trial; ``get_all_artifact_meta`` and optuna-dashboard list
    them."""
    return {ARTIFACTS_ATTR_PREFIX + m.artifact_id: json.dumps(asdict(m)) for m in metas}
