"""Exporting a study's trial as a fixed experiment file that reproduces it exactly.

Each range of the study's space is replaced by the trial's value and ``sweep:`` is dropped; the
``experiment_id`` is the trial's own (``btc-4h-t0042``), so ``sweep run`` on the file adds a
result row to that experiment. Before writing, the exported config is validated and its
fingerprint compared with the one the trial was registered with: a file that would not reproduce
the trial is never written. The file names its study and trial (``provenance``), so running it
prints the study's verdict; exporting never looks at the sealed holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import optuna

from sweep._version import __version__
from sweep.core.config import dump_yaml
from sweep.core.errors import ConfigError, RegistryError
from sweep.core.experiment import validate_experiment
from sweep.store.registry import Connection, same_config
from sweep.study.holdout import holdout_line, recorded_holdout
from sweep.study.optuna_study import trial_experiment_id
from sweep.study.space import parse_space
from sweep.study.summary import choose_trial, no_such_study, study_results, study_row
from sweep.study.verdict import recorded_failures, verdict_line


@dataclass(frozen=True)
class Exported:
    experiment_id: str
    trial_number: int
    text: str
    metrics: dict[str, Any]
    gate_failures: tuple[str, ...] = ()  # the study's verdict, when it is not an edge


def completed_trials_hint(numbers: list[int], limit: int = 200) -> str:
    """``completed trials: 0-41, 43-199``: runs of consecutive numbers as spans, cut only between
    spans (with how many more), so no number in the hint is a cut-off piece of another."""
    spans: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        spans.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    if not spans:
        return "the study has no completed trial"
    shown: list[str] = []
    for k, span in enumerate(spans):
        if shown and len(", ".join([*shown, span])) > limit:
            return f"completed trials: {', '.join(shown)} and {len(spans) - k} more spans"
        shown.append(span)
    return f"completed trials: {', '.join(shown)}"


def export_trial(
    conn: Connection,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    trial_number: int | None = None,
    select: str | None = None,
) -> Exported:
    """The YAML text of a trial's fixed config (default: the study's chosen trial, by ``select``
    or the study's ``sweep.select``)."""
    meta = study_row(conn, study_name)
    if meta is None:
        raise no_such_study(conn, study_name)
    rows = study_results(conn, study_name)
    how: list[str] = []
    offset = int(meta["trial_id_offset"])  # the number in a trial's id is Optuna's + offset
    if trial_number is None:
        choice = choose_trial(conn, meta, rows, select=select)
        if choice.row is None:
            raise RegistryError(f"study {study_name} has no completed trial to export")
        choice.check_ready(study_name, "--select" if select else "sweep.select")
        trial_number = int(choice.row["trial_number"])
        how = [choice.describe(str(meta["objectives"][0]))]
    row = next((r for r in rows if r["trial_number"] == trial_number), None)
    if row is None or row["status"] != "ok":
        raise ConfigError(
            "no completed trial with this number",
            key="--trial",
            value=trial_number + offset,
            hint=completed_trials_hint(
                [r["trial_number"] + offset for r in rows if r["status"] == "ok"]
            ),
        )
    study = optuna.load_study(study_name=study_name, storage=storage)
    trial = next(t for t in study.trials if t.number == trial_number)
    space = parse_space(meta["space"], file=f"study {study_name}")
    eid = trial_experiment_id(study_name, trial_number, offset)
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
    # Exporting never spends a look at the sealed holdout: it shows a look taken already.
    sealed = recorded_holdout(conn, study_name, trial_number)
    holdout_note = (
        [holdout_line(sealed)]
        if sealed is not None
        else [
            f"sealed holdout: not looked at (`sweep holdout {study_name} --trial "
            f"{trial_number + offset}` looks, once, and the look is counted)"
        ]
    )
    stats = dict(meta.get("stats") or {})
    study_failures = recorded_failures(conn, study_name) or []
    fp = conn.execute(
        "SELECT data_fingerprint FROM model_results WHERE id = %s", (row["result_id"],)
    ).fetchone()
    data = fp[0] if fp and fp[0] else {}
    fixed["provenance"] = {"study": study_name, "trial": trial_number}
    header = "\n".join(
        [
            f"Exported by sweep {__version__} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"study: {study_name}, trial {trial_number + offset} ({eid}; Optuna trial "
            f"{trial_number})",
            verdict_line(stats.get("verdict"), stats.get("verdict_reasons"))
            if meta.get("status") != "running"
            else verdict_line(None, None),
            "statistics: "
            + ", ".join(
                [
                    f"DSR {_num(stats.get('dsr'))}",
                    f"PBO {_num(stats.get('pbo'))}",
                    f"timing p {_num(stats.get('timing_p'))}",
                    str(stats.get("n_trials_note") or f"N = {stats.get('n_trials')}"),
                ]
            ),
            *how,
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
            *holdout_note,
            "`sweep run` on this file reproduces these metrics exactly on the same data, and",
            "prints the study's verdict through `provenance`.",
        ]
    )
    return Exported(
        eid,
        trial_number,
        dump_yaml(fixed, header),
        metrics,
        tuple(study_failures),
    )


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"
