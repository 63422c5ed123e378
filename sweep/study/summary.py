"""What a study found, from the registry alone: counts, best trial, gate passes, failures."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row

from sweep.core.errors import ConfigError, did_you_mean
from sweep.core.gate import PER_RUN_CHECKS, feasible, format_threshold, shortfall
from sweep.store.registry import Connection, query
from sweep.study.selection import Candidate, choose_robust, load_neighbourhoods, neighbour_values
from sweep.study.verdict import PBO_CAUTION, STUDY_FAILURE_PREFIX, verdict_line


@dataclass(frozen=True)
class StudySummary:
    """A study's outcome as recorded in ``sweep_studies`` and ``model_results``."""

    name: str
    objectives: list[str]
    directions: list[str]
    n_target: int
    n_results: int
    n_passed: int
    thresholds: dict[str, float]  # sweep.constraints, resolved ({} when there are none)
    n_feasible: int  # ok trials that met them
    failures: dict[str, int]
    by_status: dict[str, int]
    best: dict[str, Any] | None  # experiment_id, trial_number, metrics
    status: str
    stats: dict[str, Any] = field(default_factory=dict)
    choice: Choice | None = None  # how ``best`` was chosen (sweep.select)


def study_row(conn: Connection, name: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query("study_get"), {"study_name": name})
        return cur.fetchone()


def no_such_study(
    conn: Connection,
    name: str,
    *,
    key: str = "STUDY",
    what: str = "no such study",
    hint: str = "`sweep studies` lists them",
) -> ConfigError:
    """The one-line error for a study name the registry does not know, with a did-you-mean
    among the studies it does."""
    return ConfigError(what, key=key, value=name, hint=did_you_mean(name, study_names(conn)) + hint)


def study_names(conn: Connection) -> list[str]:
    """Every study the registry holds, by name."""
    return [str(r[0]) for r in conn.execute("SELECT study_name FROM sweep_studies").fetchall()]


def study_results(conn: Connection, name: str) -> list[dict[str, Any]]:
    """The latest result row of every registered trial of the study."""
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(query("study_results"), {"study_name": name})
        return list(cur.fetchall())


def passed_own_gate(row: dict[str, Any]) -> bool:
    """The trial passed the gate's per-run checks (the study's verdict aside: its entries start
    with ``study:``; ``dsr``/``pbo`` ones are from older versions)."""
    failures = row.get("gate_failures") or []
    return row.get("status") == "ok" and all(
        f.startswith((STUDY_FAILURE_PREFIX, "dsr ", "pbo ")) for f in failures
    )


def study_thresholds(meta: dict[str, Any]) -> dict[str, float]:
    """The study's ``sweep.constraints`` as resolved when it started (``sweep_studies``); none
    for a study older than constraints."""
    # sorted, as everywhere (JSONB keeps its own key order)
    return {k: float(v) for k, v in sorted((meta.get("constraints") or {}).items())}


def describe_thresholds(thresholds: dict[str, float]) -> str:
    """``n_trades >= 30, max_drawdown <= 25.0%``: the constraints in the metrics' own terms,
    printed as the gate prints them."""
    parts = []
    for key, threshold in thresholds.items():
        metric, is_minimum = PER_RUN_CHECKS[key]
        parts.append(
            f"{metric} {'>=' if is_minimum else '<='} {format_threshold(metric, threshold)}"
        )
    return ", ".join(parts)


def is_feasible(row: dict[str, Any], thresholds: dict[str, float]) -> bool:
    """An ``ok`` trial whose metrics meet the study's constraints (all, when there are none)."""
    return row.get("status") == "ok" and feasible(thresholds, row.get("metrics") or {})


def choose(meta: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The study's chosen trial among ``rows`` (:func:`pick_best` with the study's settings)."""
    return pick_best(
        rows, list(meta["objectives"]), list(meta["directions"]), study_thresholds(meta)
    )


def pick_best(
    rows: list[dict[str, Any]],
    objectives: list[str],
    directions: list[str],
    thresholds: dict[str, float] | None = None,
) -> dict[str, Any] | None:
    """The study's chosen trial: the best ``ok`` trial by the objectives, among the trials that
    passed the gate's per-run checks and met the study's constraints when any did (a 3-trade fluke
    with the top Sharpe is not what a researcher means by best); else among those that met the
    constraints, else those that passed the gate, else (with constraints) those that missed them
    by the least total shortfall, as Optuna ranks infeasible trials: a configuration that never
    trades scores Sharpe 0, above most trading ones, and is the farthest from any constraint on
    trades. Several objectives: among the Pareto-optimal trials, the one best on the first
    objective. ``sweep export`` follows this rule without ``--trial``."""
    ranked = ranked_trials(rows, objectives, directions, thresholds)
    return ranked[0] if ranked else None


def ranked_trials(
    rows: list[dict[str, Any]],
    objectives: list[str],
    directions: list[str],
    thresholds: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The trials :func:`pick_best` chooses from (its pool), best first: the Pareto-optimal
    ones before the rest (all of them with one objective), each group by the first objective,
    ties by trial number. The first is :func:`pick_best`'s; the first K are the candidates of
    robust selection."""
    sign = [1.0 if d == "maximize" else -1.0 for d in directions]
    thresholds = thresholds or {}

    def score(r: dict[str, Any]) -> list[float] | None:
        m = r.get("metrics") or {}
        vals = [m.get(o) for o in objectives]
        if r.get("status") != "ok" or any(v is None for v in vals):
            return None
        return [s * float(v) for s, v in zip(sign, vals, strict=True)]  # type: ignore[arg-type]

    scored = [(s, r) for r in rows if (s := score(r)) is not None]
    met = [(s, r) for s, r in scored if is_feasible(r, thresholds)]
    passing = [(s, r) for s, r in scored if passed_own_gate(r)]
    both = [(s, r) for s, r in met if passed_own_gate(r)]
    pool = both or met or passing or scored
    if not pool:
        return []
    if thresholds and not (both or met or passing):
        gaps = [shortfall(thresholds, r.get("metrics") or {}) for _, r in pool]
        least = min(gaps)
        pool = [sr for sr, gap in zip(pool, gaps, strict=True) if gap <= least]

    dominated = _dominated([s for s, _ in pool])
    # Ties broken by trial number, so the choice does not depend on row order.
    order = sorted(
        range(len(pool)),
        key=lambda i: (dominated[i], -pool[i][0][0], int(pool[i][1]["trial_number"])),
    )
    return [pool[i][1] for i in order]


def _dominated(scores: list[list[float]]) -> list[bool]:
    """Whether each score (larger is better in every objective) is dominated by another: no
    worse in any objective and not the same. Scores are visited best first in lexicographic
    order, so whatever dominates one was visited before it, and a dominated dominator's own
    dominator dominates too: comparing with the front found so far is enough (a scan per trial
    of every trial was quadratic: seconds at 10,000 trials with two objectives)."""
    if scores and len(scores[0]) == 1:
        top = max(s[0] for s in scores)
        return [s[0] < top for s in scores]
    if scores and len(scores[0]) == 2:
        return _dominated_2d(scores)
    out = [False] * len(scores)
    front: list[list[float]] = []
    for i in sorted(range(len(scores)), key=lambda i: scores[i], reverse=True):
        s = scores[i]
        if any(f != s and all(a >= b for a, b in zip(f, s, strict=True)) for f in front):
            out[i] = True
        else:
            front.append(s)
    return out


def _dominated_2d(scores: list[list[float]]) -> list[bool]:
    """:func:`_dominated` for two objectives in one sort (a front can hold every trial when the
    objectives trade off): by the first objective, best first, a score is dominated when an
    earlier group (better first objective) reached its second objective, or its own group (the
    same first objective) holds a better second one."""
    out = [False] * len(scores)
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
    best_before = -math.inf  # the best second objective among strictly better first ones
    for _, run in itertools.groupby(order, key=lambda i: scores[i][0]):
        group = list(run)  # one first objective; second objectives descend within it
        group_best = scores[group[0]][1]
        for i in group:
            b = scores[i][1]
            out[i] = best_before >= b or group_best > b
        best_before = max(best_before, group_best)
    return out


@dataclass(frozen=True)
class Choice:
    """The study's chosen trial and the rule that chose it (``sweep.select``, or ``--select``).

    ``rule`` is the rule applied: ``robust`` only when every candidate's neighbourhood is
    registered; otherwise the peak, with ``pending`` naming the candidates still to evaluate."""

    row: dict[str, Any] | None
    rule: str  # peak | robust
    peak: dict[str, Any] | None
    candidates: tuple[str, ...] = ()  # robust: the top K's experiment ids
    score: float | None = None  # robust: the chosen trial's robustness score
    pending: tuple[str, ...] = ()  # robust asked for, these candidates' neighbourhoods missing

    def describe(self, objective: str) -> str:
        """``chosen by robust selection: ...`` for summaries and export headers."""
        if self.rule == "robust" and self.row is not None:
            score = "n/a" if self.score is None else f"{self.score:.3f}"
            text = (
                f"chosen by robust selection: lower-quartile neighbour {objective} {score}, the "
                f"best of the top {len(self.candidates)}"
            )
            if self.peak is not None and self.peak["experiment_id"] != self.row["experiment_id"]:
                peak = (self.peak.get("metrics") or {}).get(objective)
                text += f" (the peak is {self.peak['experiment_id']}, {objective} {_fmt(peak)})"
            return text
        if self.pending:
            return (
                f"chosen by the peak: robust selection waits for the neighbourhoods of "
                f"{len(self.pending)} of the top {len(self.candidates)} (sweep robust)"
            )
        return "chosen by the peak (best objective)"

    def check_ready(self, study: str, key: str = "--select") -> None:
        """Robust selection was asked for: refuse to stand in the peak for it."""
        if self.pending:
            raise ConfigError(
                f"robust selection needs the neighbourhoods of the top {len(self.candidates)} "
                f"trials; {len(self.pending)} are not evaluated yet ({', '.join(self.pending)})",
                key=key,
                value="robust",
                hint=f"run `sweep robust {study} --select robust` first",
            )


def study_select(meta: dict[str, Any]) -> tuple[str, int]:
    """The study's selection rule and K, from its space's ``sweep:`` block (``peak``, 5 when
    unset)."""
    block = (meta.get("space") or {}).get("sweep") or {}
    return str(block.get("select", "peak")), int(block.get("robust_top", 5))


def choose_trial(
    conn: Connection,
    meta: dict[str, Any],
    rows: list[dict[str, Any]],
    select: str | None = None,
    top: int | None = None,
) -> Choice:
    """The chosen trial by ``select`` (default: the study's ``sweep.select``): the peak
    (:func:`pick_best`), or robust selection among the top K (``top``, default
    ``sweep.robust_top``) by :func:`sweep.study.selection.choose_robust` over their registered
    neighbourhoods."""
    rule, k = study_select(meta)
    rule, k = select or rule, top or k
    objectives, directions = list(meta["objectives"]), list(meta["directions"])
    ranked = ranked_trials(rows, objectives, directions, study_thresholds(meta))
    peak = ranked[0] if ranked else None
    if rule != "robust" or peak is None:
        return Choice(peak, "peak", peak)
    top_k = ranked[:k]
    ids = tuple(str(r["experiment_id"]) for r in top_k)
    objective, maximize = objectives[0], directions[0] == "maximize"
    planned = load_neighbourhoods(conn, str(meta["study_name"]), objective, maximize)
    pending = tuple(i for i in ids if i not in planned or not planned[i].complete)
    if pending:
        return Choice(peak, "peak", peak, ids, pending=pending)
    values = neighbour_values(conn, str(meta["study_name"]), objective, ids)
    candidates = [
        Candidate(
            str(r["experiment_id"]),
            int(r["trial_number"]),
            float((r["metrics"] or {})[objective]),
            tuple(values.get(str(r["experiment_id"]), [])),
        )
        for r in top_k
    ]
    if any(not c.neighbours for c in candidates):  # a space with nothing to move
        return Choice(peak, "peak", peak, ids)
    best = choose_robust(candidates, maximize)
    row = next(r for r in top_k if r["experiment_id"] == best.experiment_id)
    return Choice(row, "robust", peak, ids, score=best.score(maximize))


def summarize(conn: Connection, name: str) -> StudySummary | None:
    row = study_row(conn, name)
    if row is None:
        return None
    rows = study_results(conn, name)
    thresholds = study_thresholds(row)
    failures = Counter(str(r["error"]) for r in rows if r["status"] == "failed")
    choice = choose_trial(conn, row, rows)
    return StudySummary(
        name=name,
        objectives=list(row["objectives"]),
        directions=list(row["directions"]),
        n_target=int(row["n_trials_target"]),
        n_results=len(rows),
        n_passed=sum(1 for r in rows if passed_own_gate(r)),
        thresholds=thresholds,
        n_feasible=sum(1 for r in rows if is_feasible(r, thresholds)),
        failures=dict(failures.most_common()),
        by_status=dict(Counter(str(r["status"]) for r in rows)),
        best=choice.row,
        status=str(row["status"]),
        stats=dict(row["stats"] or {}),
        choice=choice,
    )


def summary_lines(s: StudySummary) -> list[str]:
    """The end-of-run summary, also shown by ``sweep results --study``."""
    states = ", ".join(f"{n} {k}" for k, n in sorted(s.by_status.items()))
    st = s.stats
    lines = [
        f"study {s.name}: {s.n_results} trials registered ({states}; target {s.n_target}), "
        f"{s.n_passed} passed the per-trial gate, status {s.status}",
        verdict_line(st.get("verdict"), st.get("verdict_reasons"))
        if s.status != "running"
        else verdict_line(None, None),
    ]
    caution = pbo_caution(st) if s.status != "running" else None
    if caution:
        lines.append(caution)
    if s.thresholds:
        n_ok = s.by_status.get("ok", 0)
        lines.append(
            f"constraints {describe_thresholds(s.thresholds)}: met by {s.n_feasible} of {n_ok} "
            "completed trials"
        )
    if s.best is not None:
        m = s.best["metrics"] or {}
        shown = ["sharpe", "win_rate", "alpha", "n_trades"]
        extra = [o for o in s.objectives if o not in shown]
        verdict = _verdict(s)
        lines.append(
            f"best: {s.best['experiment_id']} ({verdict}) — Sharpe {_fmt(m.get('sharpe'))}, "
            f"WR {pct(m.get('win_rate'))}, vs B&H {pct(m.get('alpha'), True)}, "
            f"trades {m.get('n_trades')}" + "".join(f", {o} {_fmt(m.get(o))}" for o in extra)
        )
        if s.choice is not None and (s.choice.rule == "robust" or s.choice.pending):
            lines.append(s.choice.describe(s.objectives[0]))
    else:
        lines.append("best: none (no trial completed)")
    n_note = st.get("n_trials_note") or f"N = {st.get('n_trials')}"
    if st.get("dsr") is not None:
        lines.append(
            f"selection bias: {n_note}; the chosen trial's daily returns "
            f"have Sharpe {_fmt(st.get('best_sharpe'))} (annualised), deflated Sharpe ratio "
            f"{_fmt(st.get('dsr'))}; PBO {_fmt(st.get('pbo'))}"
        )
    elif st.get("pbo") is not None:
        # No DSR: the chosen trial never traded, or fewer than two of the N trials did (no
        # spread of Sharpe ratios to deflate by). PBO, over all the trials' returns, still holds.
        lines.append(
            f"selection bias: {n_note}; no deflated Sharpe ratio (the "
            "chosen trial never traded, or fewer than two trials did); PBO "
            f"{_fmt(st.get('pbo'))}"
        )
    if st.get("timing_p") is not None:
        lines.append(
            f"timing: p {_fmt(st.get('timing_p'))} that random entries with the same trades and "
            "exits do as well, corrected for choosing the best trial"
        )
    if s.failures:
        lines.append("failures: " + "; ".join(f"{n}× {reason}" for reason, n in s.failures.items()))
    return lines


def pbo_caution(stats: dict[str, Any]) -> str | None:
    """A caution line when PBO is high but not one of the verdict's checks (PBO asks whether the
    choice among configurations holds, not whether there is an edge: :mod:`sweep.study.verdict`)."""
    pbo = stats.get("pbo")
    reasons = stats.get("verdict_reasons") or []
    if pbo is None or float(pbo) <= PBO_CAUTION or any(str(r).startswith("PBO") for r in reasons):
        return None
    return (
        f"caution: PBO {float(pbo):.2f} > {PBO_CAUTION:.2f}: the in-sample best configuration is "
        "more often than not below the out-of-sample median, so the choice among configurations "
        "is unstable (`gate.max_pbo` makes this a check)"
    )


def _verdict(s: StudySummary) -> str:
    """Why the chosen trial is the one (the pools of :func:`pick_best`, in order), and, when the
    study ended without an edge, that the choice is no winner: the best of a study that found no
    edge is what selection bias looks like, whatever its own gate said."""
    why = _pool(s)
    verdict = s.stats.get("verdict") if s.status != "running" else None
    if verdict == "no_edge":
        return f"{why}; not a winner: the study found no edge"
    if verdict == "undecided":
        return f"{why}; not a winner: too few trials for the study to decide"
    return why


def _pool(s: StudySummary) -> str:
    assert s.best is not None
    passed = passed_own_gate(s.best)
    if not s.thresholds:
        return "passed the per-trial gate" if passed else "no trial passed the per-trial gate"
    met = is_feasible(s.best, s.thresholds)
    if met and passed:
        return "met the constraints and passed the per-trial gate"
    if met:
        return "met the constraints; no trial that met them passed the per-trial gate"
    if passed:
        return "passed the per-trial gate; no trial met the constraints"
    return (
        "no trial met the constraints or passed the per-trial gate; the closest to the constraints"
    )


def study_summary_lines(conn: Connection, name: str) -> list[str]:
    s = summarize(conn, name)
    return summary_lines(s) if s is not None else [f"no study named {name}"]


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def pct(v: Any, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal (``n/a`` for None)."""
    if v is None:
        return "n/a"
    return f"{float(v) * 100:+.1f}%" if signed else f"{float(v) * 100:.1f}%"
