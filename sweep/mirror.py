"""An in-memory copy of a study's finished trials, for sampling without storage round trips.

Optuna's RDB storage costs a database round trip (through the SQLAlchemy ORM) for every
``suggest_*`` and every attribute, which at a 4h trial is as much time as the model. So each worker
samples in an in-memory study that mirrors the shared one: before each trial, the trials other
workers finished are read from Optuna's tables in one query and added; the worker's own trials are
added as they finish. Its sampler therefore sees every finished trial of the study (and, for
constant liar, its own running one), and the shared study receives each new trial in one
transaction, its parameters included.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.distributions import json_to_distribution
from optuna.trial import TrialState

from sweep.registry import Connection, query

_INF = {"INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}


class Mirror:
    """The in-memory study a worker samples from, kept in step with the shared study."""

    def __init__(self, study: optuna.Study, study_name: str) -> None:
        self.study = study
        self.study_name = study_name
        self.known: set[int] = set()  # shared-study trial ids already in the mirror

    def sync(self, conn: Connection) -> int:
        """Add the shared study's finished trials the mirror lacks; return how many."""
        rows = conn.execute(
            query("optuna_finished_trials"),
            {"study_name": self.study_name, "known": sorted(self.known)},
        ).fetchall()
        for trial_id, state, params, values, intermediate in rows:
            self.add_finished(
                int(trial_id), str(state), params or [], values or [], intermediate or []
            )
        return len(rows)

    def add_finished(
        self,
        trial_id: int,
        state: str,
        params: list[Any],
        values: list[Any],
        intermediate: list[Any],
    ) -> None:
        self.known.add(trial_id)
        distributions = {}
        external = {}
        for name, internal, dist_json in params:
            dist = json_to_distribution(dist_json)
            distributions[name] = dist
            external[name] = dist.to_external_repr(internal)
        vals = [_value(v, t) for _, v, t in values] if state == "COMPLETE" else None
        inter = {int(step): _value(v, t) for step, v, t in intermediate}
        self.study.add_trial(
            optuna.trial.create_trial(
                state=TrialState[state],
                params=external,
                distributions=distributions,
                values=vals,
                intermediate_values=inter,
            )
        )


def _value(v: float | None, kind: str) -> float:
    return float(v) if v is not None else _INF.get(kind, math.nan)
