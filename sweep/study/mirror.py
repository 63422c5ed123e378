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
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import optuna
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.study import StudyDirection
from optuna.trial import TrialState

from sweep.store.registry import Connection, Cursor, query
from sweep.study.optuna_study import CONSTRAINTS_KEY

_INF = {"INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}


#: Finished trials a mirror keeps for its sampler: the best quarter by the study's ranking and
#: the most recent rest. TPE's "good" group is at most 25 trials, all among the best kept, and it
#: already weighs old trials down; Optuna's own TPE costs time linear in the trials it reads.
DEFAULT_HISTORY = 256


class Mirror:
    """The in-memory study a worker samples from, kept in step with the shared study.

    ``history``: at most that many finished trials (plus a quarter of slack) are kept for the
    sampler (:meth:`trim`); None keeps them all."""

    def __init__(
        self,
        study_name: str,
        *,
        directions: Sequence[StudyDirection],
        sampler: optuna.samplers.BaseSampler,
        pruner: optuna.pruners.BasePruner,
        history: int | None = DEFAULT_HISTORY,
    ) -> None:
        if history is not None and history < 8:
            raise ValueError(f"a mirror's history must be at least 8 trials, not {history}")
        self.directions = list(directions)
        self.history = history
        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(
            storage=self.storage, directions=self.directions, sampler=sampler, pruner=pruner
        )
        self._study_id = self.storage.get_study_id_from_name(self.study.study_name)
        self.study_name = study_name
        self.known: set[int] = set()  # shared trial ids whose final state the mirror has
        self.running: dict[int, int] = {}  # others' running trials: shared id -> mirror id
        self.waiting: set[int] = set()  # re-queued trials seen WAITING, to look at again
        self.seen_up_to = 0  # every shared trial id up to this one has been looked at
        self.trimmed = 0  # finished trials dropped from the sampler's history so far

    def sync(self, conn: Connection) -> int:
        """Bring in what changed in the shared study; return how many trials changed. Only
        trials created since the last look, and those it saw running or waiting, are read, so a
        look costs the same at 100 trials as at 10,000."""
        return self.apply(self.look(conn).fetchall())

    def look(self, conn: Connection) -> Cursor:
        """The query :meth:`sync` runs, sent but not read: in a pipeline, a claim reads it in the
        same round trip as the study's counts, then hands the rows to :meth:`apply`."""
        return conn.execute(
            query("optuna_trials_to_mirror"),
            {
                "study_name": self.study_name,
                "after": self.seen_up_to,
                "running": sorted(self.running),
                "waiting": sorted(self.waiting),
            },
        )

    def apply(self, rows: Sequence[Any]) -> int:
        """Take in the rows of :meth:`look`; return how many trials changed."""
        changed = 0
        finished: list[_Finished] = []
        for trial_id, state, params, values, intermediate, constraints in rows:
            tid, st = int(trial_id), str(state)
            self.seen_up_to = max(self.seen_up_to, tid)
            if st == "WAITING":
                self.waiting.add(tid)
                continue
            self.waiting.discard(tid)
            if tid in self.known or (st == "RUNNING" and tid in self.running):
                continue  # this worker's own trial, or held already
            changed += 1
            system = {CONSTRAINTS_KEY: json.loads(constraints)} if constraints else {}
            if st == "RUNNING":
                self._add_running(tid, params or [])
            elif tid in self.running:
                self._finish_running(tid, st, values or [], intermediate or [], system)
            elif st == "FAIL":
                self.known.add(tid)  # nothing a sampler learns from
            else:
                finished.append(
                    _Finished(tid, st, params or [], values or [], intermediate or [], system)
                )
        for f in self._within_history(finished):
            self.add_finished(
                f.number, f.status, f.params, f.raw_values, f.intermediate, f.system_attrs
            )
        self.trim()
        return changed

    def _within_history(self, finished: list[_Finished]) -> list[_Finished]:
        """Of more finished trials than the history holds (a worker joining a large study), the
        ones :meth:`trim` would keep, chosen before any is built: joining a study of 10,000
        trials built them all and then dropped all but 256 (4.7 s)."""
        if not self._over_history(len(finished)):
            return finished
        self.known.update(f.number for f in finished)
        keep = self._kept(finished)
        self.trimmed += len(finished) - len(keep)
        return keep

    def _over_history(self, n_finished: int) -> bool:
        """More finished trials than the history holds, plus a quarter of slack."""
        return self.history is not None and n_finished > self.history + self.history // 4

    def _kept(self, finished: Sequence[_R]) -> list[_R]:
        """The finished trials (oldest first) the bounded history keeps, in the same order:
        the best quarter of ``history`` (:func:`_ranked`) and the most recent rest."""
        assert self.history is not None
        n_best = self.history // 4
        best = {id(t) for t in _ranked(finished, self.directions)[:n_best]}
        recent = [t for t in finished if id(t) not in best][-(self.history - n_best) :]
        keep = best | {id(t) for t in recent}
        return [t for t in finished if id(t) in keep]

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
        vals = _values(state, values)
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
        vals = _values(state, values)
        self.storage.set_trial_state_values(mid, TrialState[state], vals)

    def trim(self) -> None:
        """Keep the sampler's history bounded: once more than ``history`` (plus a quarter)
        finished trials are held, rebuild the in-memory study with the best quarter of
        ``history`` (feasible first, then by the objectives) and the most recent rest, plus every
        trial running elsewhere. Only between trials: never while this worker's own trial is
        held (it is not in ``running``)."""
        if self.history is None:
            return
        trials = self.storage.get_all_trials(self._study_id, deepcopy=False)
        finished = [t for t in trials if t.state.is_finished()]
        if not self._over_history(len(finished)):
            return
        others = {mid for mid in self.running.values()}
        if any(t.state is TrialState.RUNNING and t._trial_id not in others for t in trials):
            return  # this worker's own trial is out: its mirror id must stay valid
        keep = self._kept(finished)
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(
            storage=storage,
            directions=self.directions,
            sampler=self.study.sampler,
            pruner=self.study.pruner,
        )
        study_id = storage.get_study_id_from_name(study.study_name)
        for t in keep:
            study.add_trial(t)
        by_mirror_id = {t._trial_id: t for t in trials}
        self.running = {
            shared: storage.create_new_trial(study_id, by_mirror_id[mid])
            for shared, mid in self.running.items()
        }
        self.trimmed += len(finished) - len(keep)
        self.storage, self.study, self._study_id = storage, study, study_id


@dataclass
class _Finished:
    """A finished trial as the mirror's query gives it (``number``: its shared trial id), with
    what :func:`_ranked` reads."""

    number: int
    status: str
    params: list[Any]
    raw_values: list[Any]
    intermediate: list[Any]
    system_attrs: dict[str, Any]

    def __post_init__(self) -> None:
        self.state = TrialState[self.status]
        self.values = _values(self.status, self.raw_values)


class _Rankable(Protocol):
    @property
    def state(self) -> TrialState: ...
    @property
    def values(self) -> list[float] | None: ...
    @property
    def system_attrs(self) -> dict[str, Any]: ...


_R = TypeVar("_R", bound=_Rankable)


def _ranked(trials: Sequence[_R], directions: Sequence[StudyDirection]) -> list[_R]:
    """Finished trials best first, as Optuna's samplers rank them: COMPLETE before PRUNED, then
    feasible before infeasible (by total constraint violation), then by the objective (for
    several objectives, by the mean of their ranks)."""
    vals = {id(t): t.values for t in trials if t.state is TrialState.COMPLETE and t.values}
    complete = [t for t in trials if id(t) in vals]
    signs = [1.0 if d is StudyDirection.MINIMIZE else -1.0 for d in directions]
    if len(directions) == 1:
        score = {i: signs[0] * v[0] for i, v in vals.items()}
    else:
        score = dict.fromkeys(vals, 0.0)
        for k, sign in enumerate(signs):
            for rank, i in enumerate(sorted(vals, key=lambda i: sign * vals[i][k])):
                score[i] += rank / len(signs)

    def violation(t: _R) -> float:
        cons = t.system_attrs.get(CONSTRAINTS_KEY)
        return float(sum(max(0.0, float(c)) for c in cons)) if cons else 0.0

    return sorted(complete, key=lambda t: (violation(t) > 0, violation(t), score[id(t)]))


def _params(params: list[Any]) -> tuple[dict[str, BaseDistribution], dict[str, Any]]:
    distributions: dict[str, BaseDistribution] = {}
    external: dict[str, Any] = {}
    for name, internal, dist_json in params:
        dist = json_to_distribution(dist_json)
        distributions[name] = dist
        external[name] = dist.to_external_repr(internal)
    return distributions, external


def _values(state: str, values: list[Any]) -> list[float] | None:
    """A finished trial's values: a COMPLETE trial's, or the value a PRUNED trial got from its
    last report (as Optuna's ``tell`` gives it one); FAIL has none."""
    if state == "FAIL" or not values:
        return None
    return [_value(v, t) for _, v, t in values]


def _value(v: float | None, kind: str) -> float:
    return float(v) if v is not None else _INF.get(kind, math.nan)
