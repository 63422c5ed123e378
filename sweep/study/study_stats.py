"""How much choosing among a study's trials inflates the chosen one: DSR and PBO, from the DB.

Everything here is recomputed from the stored daily return series (``result_returns``), so a
study's statistics can be checked later from the database alone.

**One trial set.** Every statistic draws on the study's *candidates*: its completed trials that
traded (whose return series varies). The spread of trial Sharpe ratios is over the candidates,
PBO's matrix has one column per candidate, and N counts the candidates.

* A trial that **never traded** is no candidate. Its Sharpe ratio is 0/0, not a draw from the
  distribution the expected maximum of [DSR] models; as a 0 it would shrink the spread where
  trial Sharpe ratios cluster near 0 (lowering the expected maximum) and, as a constant column,
  sit in the middle of every out-of-sample ranking in CSCV (lowering PBO): both flatter the
  chosen trial. Doing nothing is also no discovery: a chosen trial that never traded has no DSR.
* A **pruned** trial counts in N, and only there: the search looked at it and dropped it, so it
  adds to the selection, but it has no full return series for the spread or the matrix.
* A **failed** trial counts nowhere: it produced no strategy to choose.
* A series holding a NaN or an infinity is an error (:class:`~sweep.core.stats.StatsError`), never
  a Sharpe ratio of 0.

Conventions: Sharpe ratios per calendar day, from each trial's own daily series
(``sweep.core.stats``: not annualised, population skewness, non-excess kurtosis). The daily series
are calendar days (a day without bars, e.g. a weekend of a market that closes, is a 0-return day),
so the figure shown is annualised per calendar day, ``x sqrt(365)``: on a market that closes it
agrees with the trials' own per-bar Sharpe ratios annualised with the bars per year measured from
the data (:mod:`sweep.core.annualisation`). DSR is the chosen trial's probabilistic Sharpe ratio
against the expected maximum Sharpe of N trials whose Sharpe ratios vary as the candidates' did
(ddof 1). With ``sweep.count_trials: bars`` (the default) N also counts the completed trials of
other studies and single runs scored on the same bars (:func:`count_trials`). PBO by CSCV over the
days every candidate covers (the intersection of their test windows), with 16 partitions (fewer,
even, when there are fewer than 64 common days)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sweep.core.returns import DailyReturns, align, decode
from sweep.core.stats import (
    PBOResult,
    SharpeStats,
    StatsError,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probability_of_backtest_overfitting,
    sharpe_stats,
    trial_sharpe_variance,
)
from sweep.core.timing import decode_scores, study_timing_p
from sweep.store.registry import Connection, query
from sweep.study.verdict import decide, resolve_study_gate, write_verdict

DAYS_PER_YEAR = 365.0  # calendar days: the daily series hold every calendar day (docstring)


@dataclass(frozen=True)
class StudyStats:
    """Selection-bias statistics of a study's chosen trial."""

    n_trials: int
    chosen_experiment_id: str
    best_sharpe: float  # annualised, of the chosen trial
    best_sharpe_daily: float
    n_days: int
    var_sharpe_daily: float | None
    expected_max_sharpe_daily: float | None
    dsr: float | None
    pbo: float | None
    prob_oos_loss: float | None
    degradation_slope: float | None
    pbo_days: int
    pbo_partitions: int | None
    n_never_traded: int = 0  # completed trials left out of every statistic (module docstring)
    n_pruned: int = 0  # pruned trials counted in N only

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def load_study_returns(conn: Connection, name: str) -> dict[str, DailyReturns]:
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query("study_returns"), {"study_name": name})
        rows = cur.fetchall()
    return {
        str(r["experiment_id"]): decode(
            r["first_day"], int(r["n_days"]), str(r["encoding"]), bytes(r["data"])
        )
        for r in rows
    }


def compute_study_stats(
    series: dict[str, DailyReturns], chosen: str, n_tried: int | None = None
) -> StudyStats | None:
    """DSR and PBO of ``chosen`` among ``series`` (the completed trials' daily returns); ``None``
    if it has no stored returns.

    ``n_tried`` (default: the number of series) counts the configurations evaluated, completed
    and pruned; the pruned ones (``n_tried - len(series)``) join the candidates in N (module
    docstring).

    Raises:
        StatsError: a series holds a NaN or an infinity.
    """
    if chosen not in series:
        return None
    for name, s in series.items():
        bad = int(np.count_nonzero(~np.isfinite(s.values)))
        if bad:
            raise StatsError(
                "must hold: every daily return is finite",
                key=f"returns of {name}",
                value=f"{bad} NaN/inf",
                hint="a broken series has no Sharpe ratio; re-run the trial",
            )
    names = sorted(series)
    candidates = [k for k in names if not _flat(series[k].values)]
    pruned = max(0, (n_tried or 0) - len(names))
    n = len(candidates) + pruned
    stats = {k: sharpe_stats(series[k].values) for k in candidates}
    best = stats.get(chosen) or _never_traded(series[chosen].values)
    srs = np.array([stats[k].sr for k in candidates], dtype=np.float64)
    var = trial_sharpe_variance(srs) if len(srs) >= 2 else None
    dsr = emax = None
    # With N > 1 but fewer than two candidates there is no spread to deflate by, and a zero
    # spread would leave the choice undeflated: no DSR rather than a flattering one.
    if chosen in stats and best.n_obs > 1 and (var is not None or n == 1):
        v = var if var is not None else 0.0
        emax = expected_max_sharpe(n, v)
        try:
            dsr = deflated_sharpe_ratio(best.sr, best.n_obs, best.skew, best.kurtosis, n, v)
        except ValueError:  # moments no distribution can have
            dsr = None
    pbo = loss = slope = None
    partitions = None
    res, days = study_pbo(series)
    if res is not None:
        partitions = res.n_partitions
        pbo, loss, slope = res.pbo, res.prob_oos_loss, res.degradation_slope
    return StudyStats(
        n_trials=n,
        chosen_experiment_id=chosen,
        best_sharpe=float(best.sr * math.sqrt(DAYS_PER_YEAR)),
        best_sharpe_daily=float(best.sr),
        n_days=int(best.n_obs),
        var_sharpe_daily=var,
        expected_max_sharpe_daily=emax,
        dsr=dsr,
        pbo=pbo,
        prob_oos_loss=loss,
        degradation_slope=slope,
        pbo_days=days,
        pbo_partitions=partitions,
        n_never_traded=len(names) - len(candidates),
        n_pruned=pruned,
    )


def study_pbo(series: dict[str, DailyReturns]) -> tuple[PBOResult | None, int]:
    """CSCV over the trials that traded (a flat series has no rank to overfit), on the days they
    all cover, and that number of days: 16 partitions (fewer, even, below 64 days); no result
    with fewer than two such trials or eight common days (0 days with fewer than two). The whole
    result (its logits too), for reports; :func:`compute_study_stats` keeps the summary."""
    candidates = [k for k in sorted(series) if not _flat(series[k].values)]
    if len(candidates) < 2:
        return None, 0
    _, matrix = align([series[k] for k in candidates])
    days = int(matrix.shape[0])
    if days < 8:
        return None, days
    partitions = 16 if days >= 64 else max(2, (days // 4) // 2 * 2)
    return probability_of_backtest_overfitting(matrix, n_partitions=partitions), days


def _flat(values: np.ndarray) -> bool:
    """A series with no variation: a trial that never traded (every day 0)."""
    return bool(values.size == 0 or values.max() == values.min())


def _never_traded(values: np.ndarray) -> SharpeStats:
    """The figures shown for a chosen trial that never traded: Sharpe 0 (it earned nothing)."""
    return SharpeStats(sr=0.0, skew=0.0, kurtosis=3.0, n_obs=int(values.size))


@dataclass(frozen=True)
class TrialCount:
    """DSR's N: this study's evaluated trials, plus (when counting on the bars) the completed
    trials of other studies and single runs scored on the same bars."""

    own: int
    others: dict[str, int]  # study name ("" for single runs) -> trials on the same bars
    mode: str  # bars | study

    @property
    def total(self) -> int:
        return self.own + sum(self.others.values())

    @property
    def n_studies(self) -> int:
        return 1 + sum(1 for k in self.others if k)

    def describe(self) -> str:
        """``N = 340 over 3 studies`` (or ``N = 120, this study only``)."""
        if self.mode == "study":
            return f"N = {self.total}, this study only (sweep.count_trials: study)"
        singles = self.others.get("", 0)
        studies = "study" if self.n_studies == 1 else "studies"
        parts = [f"N = {self.total} over {self.n_studies} {studies}"]
        if singles:
            parts.append(f"and {singles} single run{'s' if singles != 1 else ''}")
        return " ".join(parts) + " on these bars"


def count_trials(conn: Connection, name: str, mode: str = "bars") -> TrialCount:
    tried = conn.execute(query("study_tried"), {"study_name": name}).fetchone()
    own = int(tried[0]) if tried else 0
    others: dict[str, int] = {}
    if mode == "bars":
        for study, n in conn.execute(query("trials_on_bars"), {"study_name": name}).fetchall():
            others[str(study or "")] = int(n)
    return TrialCount(own, others, mode)


def study_stats_for(
    conn: Connection, name: str, chosen: str, mode: str = "study"
) -> tuple[StudyStats | None, TrialCount]:
    """:func:`compute_study_stats` from the database: stored returns, and N counted by ``mode``
    (``bars``: every trial scored on the same bars; ``study``: this study's evaluated trials)."""
    n = count_trials(conn, name, mode)
    return compute_study_stats(load_study_returns(conn, name), chosen, n.total or None), n


def record_on_chosen(conn: Connection, result_id: int, stats: StudyStats) -> None:
    """The chosen trial's row carries the study's statistics (in its metrics); the verdict goes
    into every trial's gate columns (:func:`sweep.study.verdict.write_verdict`)."""
    extra = {"dsr": stats.dsr, "pbo": stats.pbo, "n_trials_study": stats.n_trials}
    with conn.transaction():
        conn.execute(query("clear_study_figures"), {"result_id": result_id})
        conn.execute(query("update_chosen_result"), {"extra": Jsonb(extra), "result_id": result_id})


def conclude_study(conn: Connection, name: str, best: dict[str, Any] | None) -> dict[str, Any]:
    """Judge the study: the chosen trial's DSR and PBO, the timing test, and the verdict, which
    is written into every trial row's gate columns. Returns what ``sweep_studies.stats`` stores."""
    meta = conn.execute(query("study_verdict_settings"), {"study_name": name}).fetchone()
    thresholds = (meta[0] if meta and meta[0] else None) or resolve_study_gate(None)
    mode = str(meta[1]) if meta and meta[1] else "bars"
    n_completed = int(meta[2]) if meta else 0
    out: dict[str, Any] = {"verdict_gate": thresholds}
    values: dict[str, float | None] = {"min_dsr": None, "max_pbo": None, "max_timing_p": None}
    why: dict[str, str] = {}
    if best is not None:
        values["max_timing_p"], why["max_timing_p"] = study_timing(
            conn, name, str(best["experiment_id"])
        )
    if best is None:
        why.update(min_dsr="no completed trial", max_pbo="no completed trial")
    else:
        stats, n = study_stats_for(conn, name, str(best["experiment_id"]), mode)
        out.update(n_trials_bars=n.total, n_trials_own=n.own, n_studies_bars=n.n_studies)
        out["n_trials_note"] = n.describe()
        if stats is None:
            why.update(min_dsr="the chosen trial has no stored returns")
            why.update(max_pbo="the chosen trial has no stored returns")
        else:
            record_on_chosen(conn, int(best["result_id"]), stats)
            out.update(stats.to_dict())
            values.update(min_dsr=stats.dsr, max_pbo=stats.pbo)
            if stats.dsr is None:
                why["min_dsr"] = "fewer than two trials traded, or the chosen trial never traded"
            if stats.pbo is None:
                why["max_pbo"] = "fewer than two trials, or fewer than 8 days they all cover"
    verdict = decide(n_completed, values, thresholds, why_missing=why)
    write_verdict(conn, name, verdict)
    out.update(verdict.to_dict())
    out["timing_p"] = values["max_timing_p"]
    return out


def study_timing(conn: Connection, name: str, chosen: str) -> tuple[float | None, str]:
    """The study's timing p (White's Reality Check, :func:`sweep.core.timing.study_timing_p`):
    the chosen trial's actual score against, draw by draw, the best random score over every
    completed trial; with why it is missing when it is."""
    meta = conn.execute(
        "SELECT directions[1] FROM sweep_studies WHERE study_name = %s", (name,)
    ).fetchone()
    direction = str(meta[0]) if meta and meta[0] else "maximize"
    rows = conn.execute(query("study_timing"), {"study_name": name}).fetchall()
    scores = {
        str(eid): decode_scores(str(obj), int(k), str(enc), bytes(data))
        for eid, obj, k, enc, data in rows
    }
    if chosen not in scores:
        return None, "the chosen trial has no timing scores (registered by an older version)"
    got = scores[chosen]
    trials = [t for t in scores.values() if t.objective == got.objective]
    if any(t.draws.shape[0] != got.draws.shape[0] for t in trials):
        return None, "the trials drew different numbers of random schedules"
    if not np.isfinite(got.actual):
        return None, "the chosen trial's score is not finite"
    return study_timing_p(got, trials, direction), ""  # type: ignore[arg-type]
