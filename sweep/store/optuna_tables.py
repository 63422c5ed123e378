"""The one module that writes Optuna's tables directly, and the one that imports Optuna's private
modules.

sweep creates, reports and finishes trials with single SQL statements instead of Optuna's ORM
(each ``suggest_*`` and attribute is a round trip there). Every such statement lives in
``sql/queries/optuna_*.sql`` and is run from here, so the schema sweep speaks to is in one place:
the RDB storage of Optuna 4.x (``studies``, ``trials``, ``trial_params``, ``trial_values``,
``trial_intermediate_values``, ``trial_user_attributes``, ``trial_system_attributes``,
``trial_heartbeats``). Values are stored in Optuna's own representations (JSON-encoded attributes,
distributions as Optuna's JSON, intermediate values with their finite/inf/nan kind).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import optuna
from optuna.distributions import distribution_to_json
from optuna.storages._heartbeat import BaseHeartbeatThread, get_heartbeat_thread
from optuna.storages._rdb.models import TrialIntermediateValueModel

from sweep.store.registry import Connection, query

__all__ = [
    "BaseHeartbeatThread",
    "create_trial",
    "finish_trial",
    "get_heartbeat_thread",
    "report_value",
    "set_system_attrs",
    "set_user_attrs",
    "set_values",
    "waiting_trial",
]


def waiting_trial(conn: Connection, study_name: str) -> int | None:
    """The id of a re-queued (WAITING) trial of the study, if any."""
    row = conn.execute(query("optuna_waiting_trial"), {"study_name": study_name}).fetchone()
    return int(row[0]) if row is not None else None


def create_trial(conn: Connection, study_id: int, local: optuna.Trial) -> tuple[int, int]:
    """Insert a RUNNING trial with the parameters sampled on ``local`` (a mirror trial) in one
    statement instead of Optuna's two queries per parameter; returns ``(trial_id, number)``."""
    dists = local.distributions
    names = list(local.params)
    row = conn.execute(
        query("optuna_create_trial"),
        {
            "study_id": study_id,
            "now": datetime.now(),
            "names": names,
            "values": [float(dists[n].to_internal_repr(local.params[n])) for n in names],
            "distributions": [distribution_to_json(dists[n]) for n in names],
        },
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


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


def finish_trial(conn: Connection, trial_id: int, state: str) -> bool:
    """Move a RUNNING trial to ``state`` (COMPLETE, PRUNED or FAIL); False if it was not RUNNING
    any more (failed as stale by another process)."""
    row = conn.execute(
        query("optuna_finish_trial"), {"trial_id": trial_id, "state": state, "now": datetime.now()}
    ).fetchone()
    return row is not None


def set_values(conn: Connection, trial_id: int, values: list[float]) -> None:
    conn.execute(
        query("optuna_set_values"),
        {"trial_id": trial_id, "objectives": list(range(len(values))), "values": values},
    )


def set_user_attrs(conn: Connection, trial_id: int, attrs: Mapping[str, Any]) -> None:
    with conn.transaction():
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
