"""Exporting a study's trial as a fixed experiment file that reproduces it exactly.

Each range of the study's space is replaced by the trial's value and ``sweep:`` is dropped; the
``experiment_id`` is the trial's own (``btc-4h-t0042``), so ``sweep run`` on the file adds a
result row to that experiment. Before writing, the exported config is validated and its
fingerprint compared with the one the trial was registered with: a file that would not reproduce
the trial is never written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import optuna

from sweep import __version__
from sweep.config import dump_yaml, validate_experiment
from sweep.errors import ConfigError, RegistryError
from sweep.holdout import evaluate_holdout, holdout_line, recorded_holdout
from sweep.registry import Connection, same_config
from sweep.space import parse_space
from sweep.study import trial_experiment_id
from sweep.study_stats import study_gate, study_stats_for
from sweep.summary import choose, study_results, study_row


@dataclass(frozen=True)
class Exported:
    experiment_id: str
    trial_number: int
    text: str
    metrics: dict[str, Any]
    gate_failures: tuple[str, ...] = ()  # the study-level checks (min_dsr, max_pbo)


def export_trial(
    conn: Connection,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    trial_number: int | None = None,
) -> Exported:
    """The YAML text of a trial's fixed config (default: the study's best trial)."""
    meta = study_row(conn, study_name)
    if meta is None:
        raise ConfigError(
            "no such study", key="STUDY", value=study_name, hint="`sweep studies` lists them"
        )
    rows = study_results(conn, study_name)
    chosen = trial_number is None
    if trial_number is None:
        best = choose(meta, rows)
        if best is None:
            raise RegistryError(f"study {study_name} has no completed trial to export")
        trial_number = int(best["trial_number"])
    row = next((r for r in rows if r["trial_number"] == trial_number), None)
    if row is None or row["status"] != "ok":
        raise ConfigError(
            "no completed trial with this number",
            key="--trial",
            value=trial_number + 1,
            hint="completed trials: "
            + ", ".join(
                str(r["trial_number"] + 1)
                for r in sorted(rows, key=lambda r: r["trial_number"])
                if r["status"] == "ok"
            )[:200],
        )
    study = optuna.load_study(study_name=study_name, storage=storage)
    trial = next(t for t in study.trials if t.number == trial_number)
    space = parse_space(meta["space"], file=f"study {study_name}")
    eid = trial_experiment_id(study_name, trial_number)
    fixed = space.apply(trial.params, eid)
    cfg = validate_experiment(fixed, file=f"export of {eid}")
    registered = conn.execute(
        "SELECT config_hash, config FROM experiments WHERE experiment_id = %s", (eid,)
    ).fetchone()
    if registered is None or not same_config(registered[0], registered[1], cfg):
        raise RegistryError(
            f"the exported config of {eid} does not match the registered one",
            hint="the study's space row was changed after the trial ran",
        )
    metrics = dict(row["metrics"] or {})
    sealed = None
    holdout_note: list[str] = []
    if cfg.training.cv is not None and chosen:
        sealed = evaluate_holdout(conn, study_name, trial_number, nthread=os.cpu_count() or 1)
    elif cfg.training.cv is not None:
        # Browsing other trials must not spend the holdout: show a look taken already, if any.
        sealed = recorded_holdout(conn, study_name, trial_number)
        if sealed is None:
            holdout_note = [
                f"sealed holdout of {eid}: not evaluated (`sweep holdout {study_name} --trial "
                f"{trial_number + 1}` evaluates it, counted as one more look)"
            ]
    stats = study_stats_for(conn, study_name, eid)
    verdict = study_gate(stats, cfg.gate.min_dsr, cfg.gate.max_pbo) if stats else None
    fp = conn.execute(
        "SELECT data_fingerprint FROM model_results WHERE id = %s", (row["result_id"],)
    ).fetchone()
    data = fp[0] if fp and fp[0] else {}
    header = "\n".join(
        [
            f"Exported by sweep {__version__} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"study: {study_name}, trial {trial_number + 1} ({eid}; Optuna trial {trial_number})",
            "objectives: "
            + ", ".join(
                f"{o} ({d}) = {metrics.get(o)}"
                for o, d in zip(meta["objectives"], meta["directions"], strict=True)
            ),
            "metrics: "
            + ", ".join(
                f"{k} {metrics.get(k)}"
                for k in ("sharpe", "win_rate", "alpha", "max_drawdown", "n_trades")
            ),
            f"data: {data.get('file')} {data.get('first_bar')}..{data.get('last_bar')} "
            f"sha256 {str(data.get('sha256', ''))[:16]}",
            *([holdout_line(sealed)] if sealed else holdout_note),
            "`sweep run` on this file reproduces these metrics exactly on the same data.",
        ]
    )
    return Exported(
        eid,
        trial_number,
        dump_yaml(fixed, header),
        metrics,
        tuple(verdict.failures) if verdict else (),
    )
