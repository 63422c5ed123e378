"""The study summary's wording: which pool the chosen trial came from, and the selection-bias
line with and without a deflated Sharpe ratio (pure functions; no database)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sweep.study.summary import StudySummary, pick_best, ranked_trials, summary_lines

GATE_FAIL = ["sharpe 0.50 < 1.00"]
CLOSEST = (
    "no trial met the constraints or passed the per-trial gate; the closest to the constraints"
)


def row(
    n: int, sharpe: float, trades: int, gate_failures: list[str] | None = None
) -> dict[str, Any]:
    return {
        "experiment_id": f"s-t{n:04d}",
        "trial_number": n - 1,
        "status": "ok",
        "metrics": {"sharpe": sharpe, "n_trades": trades, "win_rate": 0.5, "alpha": 0.0},
        "gate_failures": gate_failures or [],
    }


def summary(rows: list[dict[str, Any]], thresholds: dict[str, float], **stats: Any) -> StudySummary:
    return StudySummary(
        name="s",
        objectives=["sharpe"],
        directions=["maximize"],
        n_target=len(rows),
        n_results=len(rows),
        n_passed=sum(1 for r in rows if not r["gate_failures"]),
        thresholds=thresholds,
        n_feasible=0,
        failures={},
        by_status={"ok": len(rows)},
        best=pick_best(rows, ["sharpe"], ["maximize"], thresholds),
        status="completed",
        stats=stats,
    )


@pytest.mark.parametrize(
    ("rows", "chosen", "verdict"),
    [
        # met and passed: the best of those, not the higher-Sharpe infeasible trial
        (
            [row(1, 2.0, 5), row(2, 1.2, 40)],
            "s-t0002",
            "met the constraints and passed the per-trial gate",
        ),
        (
            [row(1, 2.0, 5), row(2, 0.5, 40, GATE_FAIL)],
            "s-t0002",
            "met the constraints; no trial that met them passed the per-trial gate",
        ),
        (
            [row(1, 2.0, 5), row(2, 0.5, 5, GATE_FAIL)],
            "s-t0001",
            "passed the per-trial gate; no trial met the constraints",
        ),
        (
            [row(1, 0.4, 5, GATE_FAIL), row(2, 0.5, 5, GATE_FAIL)],
            "s-t0002",
            CLOSEST,
        ),
        # a configuration that never trades (Sharpe 0) is not the closest: the least shortfall is
        (
            [row(1, 0.0, 0, GATE_FAIL), row(2, -0.3, 25, GATE_FAIL)],
            "s-t0002",
            CLOSEST,
        ),
    ],
)
def test_the_verdict_names_the_pool_the_chosen_trial_came_from(
    rows: list[dict[str, Any]], chosen: str, verdict: str
) -> None:
    lines = summary_lines(summary(rows, {"min_trades": 30.0}))
    best = next(ln for ln in lines if ln.startswith("best: "))
    assert best.startswith(f"best: {chosen} ({verdict}) — "), best


def test_without_constraints_the_verdict_is_the_gates() -> None:
    lines = summary_lines(summary([row(1, 2.0, 5, GATE_FAIL)], {}))
    assert "(no trial passed the per-trial gate)" in next(
        ln for ln in lines if ln.startswith("best: ")
    )
    assert not any(ln.startswith("constraints ") for ln in lines)


def test_pbo_is_shown_when_there_is_no_deflated_sharpe_ratio() -> None:
    with_dsr = summary_lines(summary([row(1, 2.0, 40)], {}, n_trials=9, dsr=0.91, pbo=0.25))
    assert any("deflated Sharpe ratio 0.910; PBO 0.250" in ln for ln in with_dsr)
    without = summary_lines(summary([row(1, 0.0, 0)], {}, n_trials=9, dsr=None, pbo=0.58))
    (line,) = [ln for ln in without if ln.startswith("selection bias")]
    assert "no deflated Sharpe ratio" in line and line.endswith("PBO 0.580")


@pytest.mark.parametrize(
    ("verdict", "disowned"),
    [
        ("no_edge", "not a winner: the study found no edge"),
        ("undecided", "not a winner: too few trials for the study to decide"),
        ("edge", None),
        (None, None),
    ],
)
def test_the_best_of_a_study_without_an_edge_is_not_called_a_winner(
    verdict: str | None, disowned: str | None
) -> None:
    stats = {"verdict": verdict, "verdict_reasons": ["DSR 0.12 < 0.95"]} if verdict else {}
    lines = summary_lines(summary([row(1, 2.0, 40)], {"min_trades": 30.0}, **stats))
    best = next(ln for ln in lines if ln.startswith("best: "))
    assert best.startswith("best: s-t0001 (met the constraints and passed the per-trial gate")
    if disowned:
        assert best.split(" — ")[0].endswith(f"; {disowned})"), best
    else:
        assert "not a winner" not in best, best


@pytest.mark.parametrize(
    ("pbo", "reasons", "cautioned"),
    [
        (0.58, ["DSR 0.98 >= 0.95", "timing p 0.001 <= 0.05"], True),  # high, not a check
        (0.42, ["DSR 0.98 >= 0.95", "timing p 0.001 <= 0.05"], False),  # not high
        (0.58, ["PBO 0.58 > 0.50", "DSR 0.98 >= 0.95"], False),  # a check: the verdict says it
        (None, ["DSR 0.98 >= 0.95"], False),
    ],
)
def test_a_high_pbo_that_is_not_a_check_is_a_caution(
    pbo: float | None, reasons: list[str], cautioned: bool
) -> None:
    stats = {"verdict": "edge", "verdict_reasons": reasons, "pbo": pbo}
    lines = summary_lines(summary([row(1, 2.0, 40)], {}, **stats))
    got = [ln for ln in lines if ln.startswith("caution: PBO")]
    assert bool(got) is cautioned, lines
    if cautioned:
        assert lines.index(got[0]) == 2  # right after the verdict
        assert got[0].startswith("caution: PBO 0.58 > 0.50")


def test_one_objective_ranks_by_value_then_trial_number_as_the_pareto_rule_did() -> None:
    # with one objective every trial but the best is dominated: ties at the top stay in front,
    # in trial order, and the rest follow by value
    rows = [row(1, 1.2, 40), row(2, 1.5, 40), row(3, 0.9, 40), row(4, 1.5, 40), row(5, 1.3, 40)]
    got = [r["experiment_id"] for r in ranked_trials(rows, ["sharpe"], ["maximize"], {})]
    assert got == ["s-t0002", "s-t0004", "s-t0005", "s-t0001", "s-t0003"]
    got = [r["experiment_id"] for r in ranked_trials(rows, ["sharpe"], ["minimize"], {})]
    assert got == ["s-t0003", "s-t0001", "s-t0005", "s-t0002", "s-t0004"]


@pytest.mark.parametrize("k", [2, 3])
def test_the_pareto_front_matches_comparing_every_pair(k: int) -> None:
    """The front found by one pass, best first, against the definition (a score no worse in
    every objective and not the same dominates), with ties and duplicates on purpose."""
    from sweep.study.summary import _dominated

    rng = random.Random(k)
    for _ in range(200):
        scores = [[float(rng.randint(0, 4)) for _ in range(k)] for _ in range(rng.randint(1, 30))]
        brute = [
            any(t != s and all(a >= b for a, b in zip(t, s, strict=True)) for t in scores)
            for s in scores
        ]
        assert _dominated(scores) == brute, scores
