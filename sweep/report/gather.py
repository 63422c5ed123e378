"""What a report shows, read from the registry and Optuna's storage (nothing is written)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState
from psycopg.rows import dict_row

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, did_you_mean
from sweep.core.returns import DailyReturns
from sweep.store.registry import Connection, query

# the mirror's readers of Optuna's stored forms (parameters, values), shared, not repeated
from sweep.study.mirror import _params, _value
from sweep.study.optuna_study import CONSTRAINTS_KEY
from sweep.study.robust_report import CandidateRobustness, robustness_results
from sweep.study.study_stats import load_study_returns
from sweep.study.summary import choose, study_names, study_results, study_row


@dataclass(frozen=True)
class StudyFacts:
    """A study as recorded: its row, its trials' latest results, the chosen trial, Optuna's
    trials, the stored daily returns and the holdout looks already taken."""

    name: str
    meta: dict[str, Any]
    rows: list[dict[str, Any]]
    chosen: dict[str, Any] | None  # the chosen trial's study_results row
    chosen_runs: list[dict[str, Any]]  # its model_results rows, newest first
    chosen_config: ExperimentConfig | None
    trials: list[optuna.trial.FrozenTrial]
    returns: dict[str, DailyReturns]
    looks: list[dict[str, Any]]
    server_version: str
    robustness: list[CandidateRobustness] = field(default_factory=list)  # `sweep robust` runs


@dataclass(frozen=True)
class ExperimentFacts:
    """One experiment: its row, every run of it, and its study's row if it is a trial."""

    experiment: dict[str, Any]
    runs: list[dict[str, Any]]
    config: ExperimentConfig
    study_meta: dict[str, Any] | None
    server_version: str


def _rows(conn: Connection, name: str, **params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query(name), params)
        return list(cur.fetchall())


def _server_version(conn: Connection) -> str:
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def resolve(conn: Connection, target: str) -> str:
    """``study`` or ``experiment``: what ``target`` names (a study first: a study and one of
    its trials never share a name). Unknown: a one-line error with a did-you-mean."""
    if study_row(conn, target) is not None:
        return "study"
    if _rows(conn, "report_experiment", experiment_id=target):
        return "experiment"
    ids = [str(r[0]) for r in conn.execute("SELECT experiment_id FROM experiments").fetchall()]
    raise ConfigError(
        "no study or experiment of this name",
        key="STUDY|EXPERIMENT_ID",
        value=target,
        hint=did_you_mean(target, study_names(conn) + ids)
        + "`sweep studies` and `sweep results --all` list them",
    )


def study_facts(conn: Connection, name: str) -> StudyFacts:
    meta = study_row(conn, name)
    assert meta is not None
    rows = study_results(conn, name)
    chosen = None
    if meta.get("best_experiment_id"):
        chosen = next((r for r in rows if r["experiment_id"] == meta["best_experiment_id"]), None)
    if chosen is None:  # a study still running, or one that never finished a run
        chosen = choose(meta, rows)
    runs: list[dict[str, Any]] = []
    cfg = None
    if chosen is not None:
        runs = _rows(conn, "report_runs", experiment_id=chosen["experiment_id"])
        exp = _rows(conn, "report_experiment", experiment_id=chosen["experiment_id"])
        cfg = ExperimentConfig.model_validate(exp[0]["config"]) if exp else None
    return StudyFacts(
        name=name,
        meta=meta,
        rows=rows,
        chosen=chosen,
        chosen_runs=runs,
        chosen_config=cfg,
        trials=optuna_trials(conn, name),
        returns=load_study_returns(conn, name),
        looks=_rows(conn, "report_holdout_looks", study_name=name),
        server_version=_server_version(conn),
        robustness=robustness_results(conn, name),
    )


def optuna_trials(conn: Connection, name: str) -> list[optuna.trial.FrozenTrial]:
    """The study's trials as Optuna keeps them (parameters, values, constraint values), read in
    one query and built with Optuna's public types, in trial-number order."""
    rows = conn.execute(query("report_optuna_trials"), {"study_name": name}).fetchall()
    out = []
    for number, state, params, values, constraints, experiment_id in rows:
        distributions, external = _params(params or [])
        st = TrialState[str(state)]
        vals = [_value(v, t) for _, v, t in values] if values and st.is_finished() else None
        system = {CONSTRAINTS_KEY: json.loads(constraints)} if constraints else {}
        user = {"experiment_id": json.loads(experiment_id)} if experiment_id else {}
        out.append(
            optuna.trial.FrozenTrial(
                number=int(number),
                state=st,
                value=None,
                values=vals if st == TrialState.COMPLETE else None,
                datetime_start=None,
                datetime_complete=None,
                params=external,
                distributions=distributions,
                user_attrs=user,
                system_attrs=system,
                intermediate_values={},
                trial_id=int(number),
            )
        )
    return out


def experiment_facts(conn: Connection, experiment_id: str) -> ExperimentFacts:
    (exp,) = _rows(conn, "report_experiment", experiment_id=experiment_id)
    study = study_row(conn, exp["study_name"]) if exp.get("study_name") else None
    return ExperimentFacts(
        experiment=exp,
        runs=_rows(conn, "report_runs", experiment_id=experiment_id),
        config=ExperimentConfig.model_validate(exp["config"]),
        study_meta=study,
        server_version=_server_version(conn),
    )
