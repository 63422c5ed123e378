"""Robust selection: choose a plateau, not a spike.

An optimiser's best trial is the peak of a noisy surface. Robust selection looks at the top K
trials' neighbourhoods (each trial re-run with one parameter moved one step at a time, scored on
the same walk-forward folds; :mod:`sweep.study.robust`) and chooses the trial whose neighbours
hold up best.

**The robustness score** of a trial is the lower quartile of its neighbours' objective, by the
nearest-rank method: the ``ceil(n / 4)``-th worst of its ``n`` neighbours (for a minimised
objective, the worst are the highest). A neighbour that failed, or whose objective is undefined,
counts as the worst of all. The score is pessimistic on purpose: a trial scores well only when at
least three quarters of its neighbours do at least as well, which a lone spike cannot fake.

Everything here but :func:`load_neighbourhoods` is pure, so the rule is unit-tested on
constructed values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg.rows import dict_row

from sweep.store.registry import Connection, query

__all__ = [
    "SELECT_RULES",
    "Candidate",
    "Neighbourhood",
    "choose_robust",
    "load_neighbourhoods",
    "nearest_rank",
    "neighbour_values",
    "robustness_score",
]

SELECT_RULES = ("peak", "robust")


def _signed(values: Sequence[float | None], maximize: bool) -> list[float]:
    """Values oriented so that higher is better; a missing value is -inf (the worst)."""
    sign = 1.0 if maximize else -1.0
    return sorted(-math.inf if v is None else sign * float(v) for v in values)


def nearest_rank(values: Sequence[float | None], q: float, maximize: bool = True) -> float | None:
    """The ``ceil(q * n)``-th worst of ``values`` (nearest-rank quantile, as PostgreSQL's
    ``percentile_disc(q)``), with a missing value (``None``) as the worst of all. ``None`` when
    there are no values or that rank falls on a missing one."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    ordered = _signed(values, maximize)
    if not ordered:
        return None
    x = ordered[max(1, math.ceil(q * len(ordered))) - 1]
    if math.isinf(x):
        return None
    return x if maximize else -x


def robustness_score(values: Sequence[float | None], maximize: bool = True) -> float | None:
    """The lower quartile of a neighbourhood's objective (module docstring)."""
    return nearest_rank(values, 0.25, maximize)


@dataclass(frozen=True)
class Candidate:
    """A trial among the top K, with its own objective and its neighbours' (None: failed)."""

    experiment_id: str
    trial_number: int
    value: float
    neighbours: tuple[float | None, ...]

    def score(self, maximize: bool = True) -> float | None:
        return robustness_score(self.neighbours, maximize)


def choose_robust(candidates: Sequence[Candidate], maximize: bool = True) -> Candidate:
    """The candidate with the best robustness score; ties (and candidates whose score is
    undefined, ranked last) go to the better own value, then the lower trial number. Every
    candidate needs its neighbourhood: one without neighbours cannot be judged."""
    if not candidates:
        raise ValueError("no candidates to choose from")
    bare = [c.experiment_id for c in candidates if not c.neighbours]
    if bare:
        raise ValueError(f"candidates without neighbours: {', '.join(bare)}")
    sign = 1.0 if maximize else -1.0

    def key(c: Candidate) -> tuple[bool, float, float, int]:
        s = c.score(maximize)
        return (s is not None, sign * s if s is not None else 0.0, sign * c.value, -c.trial_number)

    return max(candidates, key=key)


@dataclass(frozen=True)
class Neighbourhood:
    """A planned candidate's neighbourhood as registered (``sql/queries/robust_scores.sql``)."""

    candidate_id: str
    n_planned: int
    n_done: int
    score: float | None
    median: float | None
    worst: float | None
    share_passed: float | None

    @property
    def complete(self) -> bool:
        return self.n_done >= self.n_planned


def _finite(v: object) -> float | None:
    if v is None:
        return None
    f = float(v)  # type: ignore[arg-type]
    return f if math.isfinite(f) else None


def load_neighbourhoods(
    conn: Connection, study: str, objective: str, maximize: bool
) -> dict[str, Neighbourhood]:
    """Every planned candidate of ``study`` with its neighbourhood's figures, computed in SQL
    by the same rule as :func:`robustness_score` (a failed neighbour's -inf becomes None)."""
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(
            query("robust_scores"),
            {"study_name": study, "objective": objective, "maximize": maximize},
        )
        rows = cur.fetchall()
    return {
        str(r["candidate_id"]): Neighbourhood(
            candidate_id=str(r["candidate_id"]),
            n_planned=int(r["n_planned"]),
            n_done=int(r["n_done"]),
            score=_finite(r["score"]),
            median=_finite(r["median"]),
            worst=_finite(r["worst"]),
            share_passed=_finite(r["share_passed"]),
        )
        for r in rows
    }


def neighbour_values(
    conn: Connection, study: str, objective: str, candidate_ids: Sequence[str]
) -> dict[str, list[float | None]]:
    """The objective of each registered one-at-a-time neighbour of the candidates (None: the
    neighbour failed or its objective is undefined); a candidate with none is left out."""
    with conn.transaction():
        rows = conn.execute(
            query("robust_neighbour_values"),
            {"study_name": study, "objective": objective, "candidates": list(candidate_ids)},
        ).fetchall()
    out: dict[str, list[float | None]] = {}
    for candidate, value in rows:
        out.setdefault(str(candidate), []).append(None if value is None else float(value))
    return out
