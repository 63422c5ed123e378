"""An in-memory copy of a study's trials, for sampling without storage round trips.

Optuna's RDB storage costs a database round trip (through the SQLAlchemy ORM) for every
``suggest_*`` and every attribute, which at a 4h trial is as much time as the model. So each worker
samples in an in-memory study that mirrors the shared one: before each trial, one query reads what
changed in Optuna's tables since the last look, and the worker's own trials are added as they
finish. The mirror holds every finished trial of the study and the trials other workers are
running right now, as RUNNING with their parameters: that is what TPE's constant liar needs to
keep parallel workers from proposing the same region. A running trial that finishes elsewhere is
updated in place (state, values, intermediate values, constraint values), so it is never counted
twice. Finished trials carry their constraint values (``sweep.constraints``), so feasibility
steers sampling in every worker.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.study import StudyDirection
from optuna.trial import TrialState

from sweep.store.registry import Connection, query
from sweep.study.optuna_study import CONSTRAINTS_KEY

_INF = {"INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}


class Mirror:
    """The in-memory study a worker samples from, kept in step with the shared study."""

    def __init__(
        self,
        study_name: str,
        *,
        directions: Sequence[StudyDirection],
        sampler: optuna.samplers.BaseSampler,
        pruner: optuna.pruners.BasePruner,
    ) -> None:
        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(
            storage=self.storage, directions=list(directions), sampler=sampler, pruner=pruner
        )
        self._study_id = self.storage.get_study_id_from_name(self.study.study_name)
        self.study_name = study_name
        self.known: set[int] = set()  # shared trial ids whose final state the mirror has
        self.running: dict[int, int] = {}  # others' running trials: shared id -> mirror id

    def sync(self, conn: Connection) -> int:
        """Bring in what changed in the shared study; return how many trials changed."""
        rows = conn.execute(
            query("optuna_trials_to_mirror"),
            {
                "study_name": self.study_name,
                "known": sorted(self.known),
                "running": sorted(self.running),
            },
        ).fetchall()
        for trial_id, state, params, values, intermediate, constraints in rows:
            tid, st = int(trial_id), str(state)
            system = {CONSTRAINTS_KEY: json.loads(constraints)} if constraints else {}
            if st == "RUNNING":
                self._add_running(tid, params or [])
            elif tid in self.running:
                self._finish_running(tid, st, values or [], intermediate or [], system)
            elif st == "FAIL":
                self.known.add(tid)  # nothing a sampler learns from
            else:
                self.add_finished(tid, st, params or [], values or [], intermediate or [], system)
        return len(rows)

    def add_finished(
        self,
        trial_id: int,
        state: str,
        params: list[Any],
        values: list[Any],
        intermediate: list[Any],
        system_attrs: dict[str, Any],
    ) -> None:
        """A finished trial; ``system_attrs`` carries its constraint values, if any."""
        self.known.add(trial_id)
        distributions, external = _params(params)
        vals = [_value(v, t) for _, v, t in values] if state == "COMPLETE" else None
        inter = {int(step): _value(v, t) for step, v, t in intermediate}
        self.study.add_trial(
            optuna.trial.create_trial(
                state=TrialState[state],
                params=external,
                distributions=distributions,
                values=vals,
                intermediate_values=inter,
                system_attrs=system_attrs,
            )
        )

    def _add_running(self, trial_id: int, params: list[Any]) -> None:
        distributions, external = _params(params)
        frozen = optuna.trial.create_trial(
            state=TrialState.RUNNING, params=external, distributions=distributions
        )
        self.running[trial_id] = self.storage.create_new_trial(self._study_id, frozen)

    def _finish_running(
        self,
        trial_id: int,
        state: str,
        values: list[Any],
        intermediate: list[Any],
        system_attrs: dict[str, Any],
    ) -> None:
        mid = self.running.pop(trial_id)
        self.known.add(trial_id)
        for key, value in system_attrs.items():
            self.storage.set_trial_system_attr(mid, key, value)
        for step, v, t in intermediate:
            self.storage.set_trial_intermediate_value(mid, int(step), _value(v, t))
        vals = [_value(v, t) for _, v, t in values] if state == "COMPLETE" else None
        self.storage.set_trial_state_values(mid, TrialState[state], vals)


def _params(params: list[Any]) -> tuple[dict[str, BaseDistribution], dict[str, Any]]:
    distributions: dict[str, BaseDistribution] = {}
    external: dict[str, Any] = {}
    for name, internal, dist_json in params:
        dist = json_to_distribution(dist_json)
        distributions[name] = dist
        external[name] = dist.to_external_repr(internal)
    return distributions, external


def _value(v: float | None, kind: str) -> float:
    return float(v) if v is not None else _INF.get(kind, math.nan)
