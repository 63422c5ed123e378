"""A study's robustness results as plain data (for the terminal, ``sweep report`` and notebooks).

:func:`robustness_results` reads every registered robustness evaluation of a study (``sweep
robust``; ``sql/queries/robust_evaluations.sql``) and returns one :class:`CandidateRobustness` per
candidate: its neighbourhood's median, worst and lower-quartile objective (the robustness score,
:mod:`sweep.study.selection`) and the share of neighbours that passed the gate's per-run checks;
the same for the random multi-parameter neighbours; the spread of the objective across XGBoost
seeds; a row per symbol; and the candidate's table per market regime. ``to_dict()`` gives JSON.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from psycopg.rows import dict_row

from sweep.store.registry import Connection, query
from sweep.study.selection import nearest_rank
from sweep.study.summary import study_results, study_row

__all__ = [
    "CandidateRobustness",
    "Evaluation",
    "GroupStats",
    "SeedSpread",
    "robustness_results",
]


@dataclass(frozen=True)
class Evaluation:
    """One robustness run: what changed and what it scored."""

    experiment_id: str
    kind: str  # base | neighbour | random | seed | symbol
    label: str
    changes: dict[str, Any]
    status: str  # ok | failed
    value: float | None  # the study's (first) objective; None: failed or undefined
    passed: bool  # the gate's per-run checks
    sharpe: float | None
    n_trades: int | None
    error: str | None
    regimes: dict[str, Any] | None


@dataclass(frozen=True)
class GroupStats:
    """A group of neighbours: counts, and nearest-rank quantiles with failures as the worst
    (``score`` is the lower quartile; None where the rank falls on a failed one)."""

    n: int
    n_failed: int
    median: float | None
    worst: float | None
    score: float | None
    share_passed: float | None


@dataclass(frozen=True)
class SeedSpread:
    """The objective under the candidate's own seed and the 5 others: mean, sample standard
    deviation, range (over the runs that completed)."""

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class CandidateRobustness:
    """Everything ``sweep robust`` found about one candidate."""

    study: str
    candidate_id: str
    trial_number: int | None
    objective: str
    direction: str
    search_value: float | None  # the trial's own objective in the study
    n_planned: int | None  # one-at-a-time neighbours in its neighbourhood
    base: Evaluation | None
    neighbours: list[Evaluation]
    random: list[Evaluation]
    seeds: list[Evaluation]
    symbols: list[Evaluation]
    neighbourhood: GroupStats
    random_stats: GroupStats
    seed_spread: SeedSpread

    @property
    def complete(self) -> bool:
        return self.n_planned is not None and len(self.neighbours) >= self.n_planned

    @property
    def regimes(self) -> dict[str, Any] | None:
        """The candidate's table per market regime (from its base run's per-bar returns)."""
        return self.base.regimes if self.base is not None else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["complete"] = self.complete
        return out


def group_stats(evals: Sequence[Evaluation], maximize: bool) -> GroupStats:
    values = [e.value for e in evals]
    return GroupStats(
        n=len(evals),
        n_failed=sum(v is None for v in values),
        median=nearest_rank(values, 0.5, maximize) if values else None,
        worst=nearest_rank(values, 1.0 / len(values), maximize) if values else None,
        score=nearest_rank(values, 0.25, maximize) if values else None,
        share_passed=sum(e.passed for e in evals) / len(evals) if evals else None,
    )


def seed_spread(evals: Sequence[Evaluation]) -> SeedSpread:
    vals = [e.value for e in evals if e.value is not None and math.isfinite(e.value)]
    return SeedSpread(
        n=len(vals),
        mean=statistics.fmean(vals) if vals else None,
        sd=statistics.stdev(vals) if len(vals) > 1 else None,
        low=min(vals) if vals else None,
        high=max(vals) if vals else None,
    )


def _evaluation(r: dict[str, Any]) -> Evaluation:
    m = r["metrics"] or {}
    return Evaluation(
        experiment_id=str(r["experiment_id"]),
        kind=str(r["kind"]),
        label=str(r["label"]),
        changes=dict(r["changes"] or {}),
        status=str(r["status"]),
        value=None if r["value"] is None else float(r["value"]),
        passed=bool(r["passed"]),
        sharpe=None if m.get("sharpe") is None else float(m["sharpe"]),
        n_trades=None if m.get("n_trades") is None else int(m["n_trades"]),
        error=r["error"],
        regimes=r["regimes"],
    )


def robustness_results(
    conn: Connection, study: str, candidates: Sequence[str] | None = None
) -> list[CandidateRobustness]:
    """Per candidate of ``study`` with registered robustness runs (or only ``candidates``), in
    the order of their search objective, best first. Empty when nothing was evaluated."""
    meta = study_row(conn, study)
    if meta is None:
        return []
    objective, direction = str(meta["objectives"][0]), str(meta["directions"][0])
    maximize = direction == "maximize"
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query("robust_evaluations"), {"study_name": study})
        rows = list(cur.fetchall())
        cur.execute(query("robust_candidates"), {"study_name": study})
        planned = {str(r["candidate_id"]): int(r["n_neighbours"]) for r in cur.fetchall()}
    trials = {str(r["experiment_id"]): r for r in study_results(conn, study)}
    by_candidate: dict[str, list[Evaluation]] = {}
    for r in rows:
        by_candidate.setdefault(str(r["candidate_id"]), []).append(_evaluation(r))
    wanted = list(candidates) if candidates is not None else list(by_candidate)
    out = []
    for cand in wanted:
        evals = by_candidate.get(cand, [])
        trial = trials.get(cand)
        raw = ((trial or {}).get("metrics") or {}).get(objective)
        base = next((e for e in evals if e.kind == "base"), None)
        of = {
            k: [e for e in evals if e.kind == k] for k in ("neighbour", "random", "seed", "symbol")
        }
        seeds_with_own = ([base] if base is not None else []) + of["seed"]
        out.append(
            CandidateRobustness(
                study=study,
                candidate_id=cand,
                trial_number=int(trial["trial_number"]) if trial else None,
                objective=objective,
                direction=direction,
                search_value=None if raw is None else float(raw),
                n_planned=planned.get(cand),
                base=base,
                neighbours=of["neighbour"],
                random=of["random"],
                seeds=of["seed"],
                symbols=of["symbol"],
                neighbourhood=group_stats(of["neighbour"], maximize),
                random_stats=group_stats(of["random"], maximize),
                seed_spread=seed_spread(seeds_with_own),
            )
        )
    sign = 1.0 if maximize else -1.0
    out.sort(
        key=lambda c: (
            c.search_value is None,
            -sign * (c.search_value or 0.0),
            c.trial_number if c.trial_number is not None else 0,
        )
    )
    return out
