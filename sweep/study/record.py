"""Record one finished trial: its registry rows, its model file, and what Optuna keeps of it
(user attributes, constraint values, the model's artifacts). The caller sets the trial's state
and values in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optuna.trial import TrialState

from sweep.core.gate import constraint_values
from sweep.store import optuna_tables
from sweep.store.artifacts import UploadedModel
from sweep.store.registry import Connection
from sweep.study.optuna_study import CONSTRAINTS_KEY, FAIL_REASON
from sweep.study.runner import Computed, persist
from sweep.study.settings import SweepSettings
from sweep.study.verdict import STUDY_FAILURE_PREFIX

__all__ = ["ATTR_METRICS", "TrialRecord", "record_trial"]

# Metrics copied into each trial's user attributes, for the dashboard and trials_dataframe().
ATTR_METRICS = ("sharpe", "win_rate", "alpha", "max_drawdown", "n_trades", "total_return")


@dataclass
class TrialRecord:
    """What the trial became: its Optuna state and values, the model file written (if any), and
    its constraint values (empty for a failed trial)."""

    state: TrialState
    values: list[float] | None
    model_path: str | None
    constraints: dict[str, float] = field(default_factory=dict)
    artifacts: UploadedModel | None = None  # the model's files in the artifact store


def record_trial(
    conn: Connection,
    settings: SweepSettings,
    study_name: str,
    trial_id: int,
    number: int,
    computed: Computed | None,
    error: str | None,
) -> TrialRecord:
    """Registry rows and user attributes of a trial whose pipeline ran (``computed``) or could not
    start (``error``)."""
    rec = TrialRecord(TrialState.FAIL, None, None)
    attrs: dict[str, Any] = {}
    reason = error
    if computed is not None:
        ro = persist(
            conn,
            computed,
            study_name=study_name,
            trial_number=number,
            objective=settings.objectives[0],
        )
        rec.model_path = ro.model_path
        rec.artifacts = ro.artifacts
        attrs["experiment_id"] = ro.experiment_id
        if ro.status == "pruned":
            attrs["pruned_reason"] = ro.error
            rec.state, reason = TrialState.PRUNED, None
            # No final metrics: every constraint counts as missed in full (a shortfall of 1), or
            # TPE would take a trial without values as feasible and rank it above every
            # infeasible completed one.
            rec.constraints = constraint_values(settings.thresholds, {})
        elif ro.status == "ok" and ro.metrics is not None:
            attrs.update({k: ro.metrics.get(k) for k in ATTR_METRICS})
            # the per-run checks: the study's verdict is added to every row when it ends
            attrs["gate_passed"] = all(f.startswith(STUDY_FAILURE_PREFIX) for f in ro.gate_failures)
            objs = [ro.metrics.get(o) for o in settings.objectives]
            missing = [o for o, v in zip(settings.objectives, objs, strict=True) if v is None]
            if missing:
                reason = "objective undefined: " + ", ".join(missing)
            else:
                rec.state = TrialState.COMPLETE
                rec.values = [float(v) for v in objs if v is not None]
                rec.constraints = constraint_values(settings.thresholds, ro.metrics)
        else:
            reason = ro.error
    if rec.state is TrialState.FAIL:
        attrs[FAIL_REASON] = reason or "unknown error"
    if rec.constraints:
        attrs[CONSTRAINTS_KEY] = rec.constraints
        # one attribute per constraint as well: the dashboard shows each as a sortable column
        # of its trials table (the mapping above only as JSON text)
        attrs.update({f"constraint.{k}": v for k, v in rec.constraints.items()})
    optuna_tables.set_user_attrs(conn, trial_id, attrs)
    if rec.artifacts is not None:  # listed as upload_artifact lists them (dashboard, Optuna)
        optuna_tables.set_system_attrs(
            conn, trial_id, optuna_tables.artifact_attrs(rec.artifacts.metas)
        )
    if rec.constraints:
        # Where Optuna's samplers and optuna-dashboard read constraint values: a list, in the
        # key order of settings.thresholds.
        optuna_tables.set_system_attrs(
            conn, trial_id, {CONSTRAINTS_KEY: list(rec.constraints.values())}
        )
    return rec
