"""The report's robustness section: what ``sweep robust`` registered for the study's candidates
(:func:`sweep.study.robust_report.robustness_results`), read back, never run here."""

from __future__ import annotations

from typing import Any

from sweep.core.regimes import REGIME_METRICS, REGIMES, TREND_DAYS, VOL_DAYS, VOL_MEDIAN_DAYS
from sweep.report.html import esc, num, pct, table
from sweep.study.robust_report import CandidateRobustness

__all__ = ["robustness_section"]


def robustness_section(study: str, results: list[CandidateRobustness]) -> str:
    """One summary row per candidate, then each candidate's neighbours, seeds, symbols and
    regimes. Without robustness runs, a note saying how to get them."""
    if not results:
        return (
            '<p class="note">no robustness runs yet: <code>sweep robust '
            f"{esc(study)}</code> evaluates the chosen trial's neighbours, other seeds, other "
            "symbols and market regimes on the walk-forward folds (it spends no holdout look); "
            "this section then shows them</p>"
        )
    o = results[0].objective
    symbols = sorted({e.label for c in results for e in c.symbols})
    rows = []
    for c in results:
        g = c.neighbourhood
        by_symbol = {e.label: e.value for e in c.symbols}
        rows.append(
            [
                c.candidate_id,
                num(c.search_value, 3),
                num(g.score, 3),
                num(g.median, 3),
                num(g.worst, 3),
                f"{round((g.share_passed or 0) * g.n)}/{g.n}" if g.n else "-",
                num(c.seed_spread.sd, 3),
                *(num(by_symbol.get(s), 3) for s in symbols),
            ]
        )
    parts = [
        f'<p class="note">score: the lower quartile of the one-parameter-at-a-time neighbours\' '
        f"{esc(o)} (README: Robustness), the figure <code>select: robust</code> ranks by; "
        "every evaluation is scored on the walk-forward folds the candidate ran on, never on the "
        "sealed holdout, and counts in none of the study's figures</p>",
        table(
            [
                "candidate",
                o,
                "score",
                "median",
                "worst",
                "passed",
                "seed sd",
                *(f"{o} on {s}" for s in symbols),
            ],
            rows,
        ),
    ]
    for c in results:
        parts.append(_candidate(c))
    return "".join(parts)


def _candidate(c: CandidateRobustness) -> str:
    o = c.objective
    out = [f"<h3>{esc(c.candidate_id)}</h3>"]
    if c.neighbours or c.random:
        out.append(
            table(
                ["neighbour", "kind", o, "trades", "per-trial gate"],
                [
                    [
                        e.label,
                        "random" if e.kind == "random" else "one parameter",
                        num(e.value, 3) if e.status == "ok" else f"failed: {e.error or ''}",
                        e.n_trades if e.n_trades is not None else "-",
                        "passed" if e.passed else "failed",
                    ]
                    for e in [*c.neighbours, *c.random]
                ],
            )
        )
    s = c.seed_spread
    if s.n:
        out.append(
            f'<p class="note">across {s.n} XGBoost seeds (its own and others): {esc(o)} mean '
            f"{num(s.mean, 3)}, sd {num(s.sd, 3)}, from {num(s.low, 3)} to {num(s.high, 3)}</p>"
        )
    out.append(_regimes(c))
    return "".join(out)


def _regimes(c: CandidateRobustness) -> str:
    found = c.regimes
    if not found:
        return ""
    o = c.objective
    shown = o if o in REGIME_METRICS else "sharpe"
    rows: list[list[Any]] = []
    for name in REGIMES:
        r = dict(found.get(name) or {})
        rows.append(
            [
                name.replace("_vol", " vol").replace("_", ", "),
                r.get("bars", "-"),
                pct(r.get("share")),
                num(r.get(shown), 3),
                pct(r.get("total_return"), True),
                pct(r.get("max_drawdown")),
            ]
        )
    note = (
        f'<p class="note">regimes of the base run\'s bars (trend: close against its trailing '
        f"{TREND_DAYS}-day median; volatility: {VOL_DAYS}-day against its trailing "
        f"{VOL_MEDIAN_DAYS}-day median; both from earlier bars only)</p>"
    )
    return note + table(["regime", "bars", "share", shown, "total return", "max drawdown"], rows)
