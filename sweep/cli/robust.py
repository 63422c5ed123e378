"""`sweep robust`: evaluate a study's candidates under small changes and print what held up."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sweep.cli.tables import EXIT_OK, format_table
from sweep.core.regimes import REGIME_METRICS, REGIMES, TREND_DAYS, VOL_DAYS, VOL_MEDIAN_DAYS
from sweep.study.robust import RobustRequest, RobustRun
from sweep.study.robust_report import CandidateRobustness, Evaluation, GroupStats
from sweep.study.summary import Choice


def robust(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sweep.cli.study import _optuna_number
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.robust import run_robustness
    from sweep.study.robust_report import robustness_results

    req = RobustRequest(
        study=args.study,
        trial=args.trial,
        top=args.top,
        random=args.random,
        select=args.select,
        jobs=args.jobs,
    )
    req.check()  # bad options start no server
    url = database_url()
    if args.trial is not None:  # the number in the id, as Optuna numbers this study's trials
        conn = open_registry(url)
        try:
            req = replace(req, trial=_optuna_number(conn, args.study, args.trial))
        finally:
            conn.close()
    show = not args.no_progress and args.format == "table"
    progress = _Progress(args.study) if show else None
    try:
        run = run_robustness(req, url=url, on_progress=progress.update if progress else None)
    finally:  # Ctrl-C's message, or an error, starts on a line of its own
        if progress:
            progress.close()
    conn = open_registry(url)
    try:
        results = robustness_results(conn, args.study, run.candidates)
    finally:
        conn.close()
    if args.format == "json":
        print(
            json.dumps(
                {
                    "study": run.study,
                    "scored_on": run.cv_note,
                    "evaluations": run.planned,
                    "run_now": run.ran,
                    "note": run.note,
                    "choice": _choice_dict(run.choice),
                    "candidates": [c.to_dict() for c in results],
                },
                default=str,
                indent=2,
            )
        )
    else:
        print("\n".join(report_lines(run, results)))
    return EXIT_OK


class _Progress:
    def __init__(self, study: str) -> None:
        self.study = study
        self.tty = sys.stderr.isatty()
        self.last = -1

    def update(self, done: int, total: int) -> None:
        if done == self.last:
            return
        self.last = done
        line = f"robust {self.study}: {done}/{total} evaluations"
        if self.tty:
            sys.stderr.write("\r" + line)
        elif total and (done == total or done * 10 // total != (done - 1) * 10 // total):
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty and self.last >= 0:
            sys.stderr.write("\n")


def _choice_dict(c: Choice | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "rule": c.rule,
        "chosen": c.row["experiment_id"] if c.row else None,
        "peak": c.peak["experiment_id"] if c.peak else None,
        "candidates": list(c.candidates),
        "score": c.score,
        "pending": list(c.pending),
    }


def _f(v: float | None, digits: int = 3) -> str:
    return "failed" if v is None else f"{v:.{digits}f}"


def _gate(e: Evaluation) -> str:
    if e.status != "ok":
        return "failed: " + (e.error or "")[:60]
    return "passed" if e.passed else "failed"


def _group_line(name: str, g: GroupStats, objective: str) -> str:
    if not g.n:
        return f"  {name}: none"
    share = f"{round((g.share_passed or 0) * g.n)} of {g.n} passed the gate"
    failed = f", {g.n_failed} failed to run" if g.n_failed else ""
    return (
        f"  {name}: {g.n}; {objective} median {_f(g.median)}, worst {_f(g.worst)}, "
        f"lower quartile {_f(g.score)}; {share}{failed}"
    )


def _rows(evals: list[Evaluation], objective: str) -> list[dict[str, Any]]:
    return [
        {
            "change": e.label,
            objective: e.value,
            "sharpe": e.sharpe,
            "trades": e.n_trades,
            "gate": _gate(e),
        }
        for e in evals
    ]


def _eval_table(evals: list[Evaluation], objective: str, first: str = "change") -> list[str]:
    cols = ["change", objective, "trades", "gate"]
    if objective != "sharpe":
        cols.insert(2, "sharpe")
    table = format_table(_rows(evals, objective), cols, rename={"change": first})
    return ["    " + line for line in table.splitlines()]


def candidate_lines(c: CandidateRobustness) -> list[str]:
    """The detail of one candidate: neighbours, seeds, symbols, regimes."""
    o = c.objective
    base = c.base.value if c.base is not None else None
    head = f"{c.candidate_id}: {o} {_f(c.search_value)} in the study"
    if c.base is not None:
        head += f", {_f(base)} on the robustness folds (base run)"
    lines = [head]
    worst_first = sorted(
        c.neighbours,
        key=lambda e: (
            e.value is not None,
            (e.value or 0.0) * (1 if c.direction == "maximize" else -1),
        ),
    )
    incomplete = "" if c.complete else f" (of {c.n_planned} planned)"
    lines.append(
        _group_line("neighbours, one parameter at a time" + incomplete, c.neighbourhood, o)
    )
    lines += _eval_table(worst_first, o)
    if c.random:
        lines.append(_group_line("random neighbours, several parameters", c.random_stats, o))
        lines += _eval_table(c.random, o)
    if c.seeds:
        s = c.seed_spread
        own = [f"own {_f(base)}"] if c.base is not None else []
        per = ", ".join(own + [f"{e.label.removeprefix('seed ')}: {_f(e.value)}" for e in c.seeds])
        lines.append(
            f"  seeds ({per}): {o} mean {_f(s.mean)}, sd {_f(s.sd)}, "
            f"range {_f(s.low)} .. {_f(s.high)}"
        )
    symbols = ([c.base] if c.base is not None else []) + c.symbols
    if c.symbols:
        lines.append("  symbols (the same config on each symbol's own data):")
        rows = [dict(e.__dict__) for e in symbols]
        for r, e in zip(rows, symbols, strict=True):
            r["label"] = "own symbol" if e.kind == "base" else e.label
            r[o], r["trades"], r["gate"] = e.value, e.n_trades, _gate(e)
        cols = ["label", o, "trades", "gate"]
        table = format_table(rows, cols, rename={"label": "symbol"})
        lines += ["    " + line for line in table.splitlines()]
    elif c.base is not None:
        lines.append("  symbols: no other symbol has data at this timeframe in the data directory")
    lines += _regime_lines(c)
    return lines


def _regime_lines(c: CandidateRobustness) -> list[str]:
    table = c.regimes
    if not table:
        return []
    o = c.objective
    shown = o if o in REGIME_METRICS else "sharpe"
    note = "" if o in REGIME_METRICS else f" ({o} needs whole trades: sharpe shown)"
    rows = []
    for name in REGIMES:
        r = dict(table.get(name) or {})
        r["regime"] = name.replace("_vol", " vol").replace("_", ", ")
        rows.append(r)
    cols = ["regime", "bars", "share", shown, "total_return", "max_drawdown"]
    lines = [
        f"  regimes of the base run's bars (trend: close vs its trailing {TREND_DAYS}-day median; "
        f"volatility: {VOL_DAYS}-day vs its trailing {VOL_MEDIAN_DAYS}-day median; both from "
        f"earlier bars only){note}:"
    ]
    lines += ["    " + line for line in format_table(rows, cols).splitlines()]
    return lines


def report_lines(run: RobustRun, results: list[CandidateRobustness]) -> list[str]:
    """The terminal report: one summary row per candidate, the choice, then each candidate."""
    lines = [
        f"robustness of {run.study}: {len(results)} candidate(s), {run.planned} evaluations "
        f"({run.ran} run now, {run.planned - run.ran} registered earlier); {run.cv_note}; "
        "never on the sealed holdout",
    ]
    if run.note:
        lines.append(run.note)
    if not results:
        return lines
    o = results[0].objective
    summary = []
    for c in results:
        g = c.neighbourhood
        row: dict[str, Any] = {
            "candidate": c.candidate_id,
            o: c.search_value,
            "score": g.score,
            "median": g.median,
            "worst": g.worst,
            "passed": f"{round((g.share_passed or 0) * g.n)}/{g.n}" if g.n else "-",
            "seed sd": c.seed_spread.sd,
        }
        for e in c.symbols:
            row[e.label] = e.value
        summary.append(row)
    symbols = sorted({e.label for c in results for e in c.symbols})
    cols = ["candidate", o, "score", "median", "worst", "passed", "seed sd", *symbols]
    lines += ["", *format_table(summary, cols).splitlines()]
    lines.append(
        "score: the lower quartile of the one-parameter-at-a-time neighbours' "
        f"{o} (README: Robustness)"
    )
    if run.choice is not None and run.choice.row is not None:
        lines.append(run.choice.describe(o) + f": {run.choice.row['experiment_id']}")
    for c in results:
        lines += ["", *candidate_lines(c)]
    return lines
