"""The sealed holdout of a walk-forward study.

With ``training.cv`` on, every trial is scored on walk-forward folds inside the training part and
the test part (the last ``1 - train_ratio`` of the data, after a purge gap) is never seen by the
search. Only ``sweep holdout`` evaluates a chosen trial on it, once: the trial's
config without ``cv``, fitted on the whole training part (early stopping on its validation tail),
scored on the test part. The result is registered as its own ``model_results`` row of the trial's
experiment, flagged ``holdout``; every distinct trial of a study looked at on its holdout is
counted, and the count is shown with every holdout result, because each further look spends the
holdout's independence.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, RegistryError
from sweep.core.returns import decode
from sweep.core.stats import StatsError, probabilistic_sharpe_ratio, sharpe_interval, sharpe_stats
from sweep.store.registry import Connection, HoldoutRecorded, query
from sweep.study.optuna_study import trial_experiment_id, trial_id_offset
from sweep.study.runner import compute, persist
from sweep.study.study_stats import DAYS_PER_YEAR
from sweep.study.summary import choose_trial, no_such_study, study_results, study_row


@dataclass(frozen=True)
class HoldoutResult:
    """A sealed-holdout evaluation, with how often these bars have been looked at and scored.

    ``look_number`` of ``looks`` count this study's trials looked at on its holdout;
    ``bar_look_number`` of ``bar_looks`` count holdout looks on the same bars by every study
    (the same symbol and timeframe, overlapping windows); ``scorings`` counts other results that
    scored these bars, by study (``""``: single runs). ``psr`` is the probability that the true
    Sharpe ratio is above 0, and ``sharpe_interval`` a 95% interval for the annualised Sharpe
    ratio, both from the look's daily returns; ``daily_sharpe`` is the annualised Sharpe of those
    daily returns, the point the interval is centred on. It can differ from the bar-level
    ``metrics["sharpe"]`` when there are few trades, so both are shown."""

    experiment_id: str
    trial_number: int
    look_number: int
    looks: int
    metrics: dict[str, Any] | None
    gate_passed: bool
    gate_failures: list[str]
    test_from: datetime | None
    test_to: datetime | None
    new: bool  # evaluated now (a new look), or read back from the registry
    bar_look_number: int = 0
    bar_looks: int = 0
    scorings: dict[str, int] = field(default_factory=dict)
    psr: float | None = None
    sharpe_interval: tuple[float, float] | None = None
    daily_sharpe: float | None = None
    chosen_by: str = ""  # which rule chose the trial (empty: --trial named it)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sharpe_interval"] = list(self.sharpe_interval) if self.sharpe_interval else None
        return d


def _recorded(conn: Connection, study: str, eid: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query("holdout_result"), {"study_name": study, "experiment_id": eid})
        return cur.fetchone()


def chosen_trial(
    conn: Connection, study: str, trial_number: int | None, select: str | None = None
) -> tuple[int, str]:
    """The trial to evaluate: ``trial_number``, or the study's chosen trial by ``select`` (default:
    the study's ``sweep.select``; robust selection needs its candidates' neighbourhoods)."""
    return _chosen(conn, study, trial_number, select)[:2]


def _chosen(
    conn: Connection, study: str, trial_number: int | None, select: str | None
) -> tuple[int, str, str]:
    meta = study_row(conn, study)
    if meta is None:
        raise no_such_study(conn, study)
    how = ""
    if trial_number is None:
        choice = choose_trial(conn, meta, study_results(conn, study), select=select)
        if choice.row is None:
            raise RegistryError(f"study {study} has no completed trial")
        choice.check_ready(study, "--select" if select else "sweep.select")
        trial_number = int(choice.row["trial_number"])
        how = choice.describe(str(meta["objectives"][0]))
    eid = trial_experiment_id(study, trial_number, int(meta["trial_id_offset"]))
    return trial_number, eid, how


def recorded_holdout(conn: Connection, study: str, trial_number: int) -> HoldoutResult | None:
    """The trial's holdout result if it was evaluated already; never a new look."""
    eid = trial_experiment_id(study, trial_number, trial_id_offset(conn, study))
    got = _recorded(conn, study, eid)
    return _result(conn, eid, trial_number, got, new=False) if got is not None else None


def evaluate_holdout(
    conn: Connection,
    study: str,
    trial_number: int | None = None,
    *,
    nthread: int = 1,
    select: str | None = None,
) -> HoldoutResult:
    """The trial's holdout result; evaluated (and counted as a look) only the first time."""
    number, eid, how = _chosen(conn, study, trial_number, select)
    row = conn.execute(query("experiment_config"), {"experiment_id": eid}).fetchone()
    if row is None:
        raise ConfigError("no registered trial with this number", key="--trial", value=number)
    status = conn.execute(
        "SELECT status FROM model_results WHERE experiment_id = %s AND NOT holdout AND NOT refit "
        "ORDER BY id DESC LIMIT 1",
        (eid,),
    ).fetchone()
    if status is None or status[0] != "ok":
        shown = number + trial_id_offset(conn, study)  # the number in its id
        raise ConfigError(
            f"trial {shown} did not complete ({status[0] if status else 'no result'}): "
            "only a completed trial is a candidate worth a look at the holdout",
            key="--trial",
            value=shown,
            hint=f"`sweep results --study {study} --all` shows each trial's status",
        )
    cfg = ExperimentConfig.model_validate(row[0])
    if cfg.training.cv is None:
        raise ConfigError(
            "this study has no sealed holdout: without walk-forward folds every trial was "
            "scored on the test period already",
            key="training.cv",
            value=study,
            hint="add training.cv: {type: walk_forward, folds: 5} to the space for a new study",
        )
    new = False
    got = _recorded(conn, study, eid)
    if got is None:
        sealed = cfg.model_copy(update={"training": cfg.training.model_copy(update={"cv": None})})
        try:
            persist(conn, compute(sealed, nthread=nthread), holdout_of=(cfg, study))
            new = True
        except HoldoutRecorded:  # a concurrent `sweep holdout` or export was first: its look
            pass
        got = _recorded(conn, study, eid)
    assert got is not None
    return replace(_result(conn, eid, number, got, new=new), chosen_by=how)


def _result(
    conn: Connection, eid: str, number: int, got: dict[str, Any], *, new: bool
) -> HoldoutResult:
    base = HoldoutResult(
        experiment_id=eid,
        trial_number=number,
        look_number=int(got["look_number"]),
        looks=int(got["looks"]),
        metrics=got["metrics"],
        gate_passed=bool(got["gate_passed"]),
        gate_failures=list(got["gate_failures"] or []),
        test_from=got["test_from"],
        test_to=got["test_to"],
        new=new,
    )
    return replace(base, **_on_bars(conn, eid, got), **_sharpe_figures(conn, int(got["result_id"])))


def _on_bars(conn: Connection, eid: str, got: dict[str, Any]) -> dict[str, Any]:
    """Holdout looks and other scorings on the same bars, across studies and single runs."""
    if got["test_from"] is None or got["test_to"] is None:
        return {}
    where = conn.execute(
        "SELECT symbol, timeframe FROM experiments WHERE experiment_id = %s", (eid,)
    ).fetchone()
    if where is None:
        return {}
    rows = conn.execute(
        query("scorings_on_bars"),
        {
            "symbol": where[0],
            "timeframe": where[1],
            "t0": got["test_from"],
            "t1": got["test_to"],
            "result_id": got["result_id"],
        },
    ).fetchall()
    looks = [r for r in rows if r[1]]
    scorings = {str(r[0] or ""): int(r[2]) for r in rows if not r[1]}
    return {
        "bar_looks": sum(int(r[2]) for r in looks),
        "bar_look_number": sum(int(r[3]) for r in looks),
        "scorings": scorings,
    }


def _sharpe_figures(conn: Connection, result_id: int) -> dict[str, Any]:
    """PSR (true Sharpe > 0) and a 95% interval for the annualised Sharpe ratio, from the look's
    daily returns (the conventions of :mod:`sweep.study.study_stats`)."""
    row = conn.execute(query("result_returns"), {"result_id": result_id}).fetchone()
    if row is None:
        return {}
    values = decode(row[0], int(row[1]), str(row[2]), bytes(row[3])).values
    try:
        st = sharpe_stats(values)
        psr = probabilistic_sharpe_ratio(st.sr, st.n_obs, st.skew, st.kurtosis)
        lo, hi = sharpe_interval(st)
    except StatsError:  # never traded (flat), or too few days
        return {}
    k = math.sqrt(DAYS_PER_YEAR)
    return {"psr": psr, "sharpe_interval": (lo * k, hi * k), "daily_sharpe": st.sr * k}


def holdout_line(h: HoldoutResult) -> str:
    """One line for terminals and export headers."""
    m = h.metrics or {}
    window = f"{h.test_from:%Y-%m-%d}..{h.test_to:%Y-%m-%d}" if h.test_from and h.test_to else "n/a"
    sharpe = "n/a" if m.get("sharpe") is None else f"{float(m['sharpe']):.2f}"
    wr = "n/a" if m.get("win_rate") is None else f"{float(m['win_rate']) * 100:.1f}%"
    alpha = "n/a" if m.get("alpha") is None else f"{float(m['alpha']) * 100:+.1f}%"
    verdict = "passed" if h.gate_passed else "failed: " + ", ".join(h.gate_failures)
    ci = (
        f" (on days {h.daily_sharpe:.2f}, 95% {h.sharpe_interval[0]:.2f}.."
        f"{h.sharpe_interval[1]:.2f}, PSR {h.psr:.2f})"
        if h.sharpe_interval is not None and h.psr is not None and h.daily_sharpe is not None
        else ""
    )
    return (
        f"sealed holdout of {h.experiment_id} ({window}): Sharpe {sharpe}{ci}, WR {wr}, "
        f"vs B&H {alpha}, gate {verdict} — {looks_phrase(h)}"
        f"{'' if h.new else ' (recorded earlier; not a new look)'}"
    )


def looks_phrase(h: HoldoutResult) -> str:
    """``look 3 of 3 on these bars (study noise-a scored them 120 times)``."""
    number = h.bar_look_number or h.look_number
    total = max(h.bar_looks, h.looks)
    others = [
        f"study {name} scored them {n} time{'s' if n != 1 else ''}"
        if name
        else f"{n} single run{'s' if n != 1 else ''} scored them"
        for name, n in sorted(h.scorings.items())
    ]
    return f"look {number} of {total} on these bars" + (f" ({'; '.join(others)})" if others else "")
