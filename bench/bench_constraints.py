"""Search quality with and without ``sweep.constraints: gate``, on the shipped search space.

A plain TPE study optimises the raw Sharpe ratio, and a configuration that never trades scores
0, above most fee-paying strategies: the sampler drifts towards it. With ``constraints: gate``
every completed trial carries its shortfall against the gate's per-run checks as Optuna
constraint values, and TPE ranks trials that miss them below those that meet them.

Each study is a ``sweep run --jobs 1`` subprocess on BTC/USDT 4h (the space of
``search_spaces/btc-4h.yaml``, which this script copies with the seed and constraints replaced),
on one embedded PostgreSQL (or ``SWEEP_DATABASE_URL``). With one worker, TPE seeded per trial
number makes each study reproducible: the same code and data print the same figures. Per seed it
prints the trials that traded at all, those that passed the gate's per-run checks, and the best
Sharpe among those (what the study hands a researcher). Not a test: it prints, it does not fail.

    python bench/bench_constraints.py [--trials 80] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from study_runs import scratch_database, sweep_run  # noqa: E402  (this script's folder)

SPACE_FILE = ROOT / "search_spaces" / "btc-4h.yaml"


@dataclass
class Outcome:
    label: str
    seed: int
    trials: int
    traded: int  # completed trials with at least one trade
    passed: int  # passed the gate's per-run checks
    best_passing: float | None  # best Sharpe among those
    median_trades: float


def run(work: Path, url: str, seed: int, constraints: str, n: int) -> Outcome:
    space = yaml.safe_load(SPACE_FILE.read_text())
    name = f"bench-cons-{constraints}-s{seed}"
    space["experiment_id"] = name
    space["sweep"].update({"seed": seed, "constraints": constraints})
    space.setdefault("data", {})["dir"] = str(ROOT / "data")
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    sweep_run(work, url, path, n)
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT (r.metrics ->> 'n_trades')::int, (r.metrics ->> 'sharpe')::float, "
            "coalesce(array_length(r.gate_failures, 1), 0) = 0 "
            "FROM experiments e JOIN model_results r USING (experiment_id) "
            "WHERE e.study_name = %s AND r.status = 'ok' AND NOT r.holdout",
            (name,),
        ).fetchall()
    passing = [float(s) for t, s, ok in rows if ok]
    return Outcome(
        label=constraints,
        seed=seed,
        trials=len(rows),
        traded=sum(1 for t, _, _ in rows if t),
        passed=len(passing),
        best_passing=max(passing) if passing else None,
        median_trades=statistics.median(int(t or 0) for t, _, _ in rows) if rows else 0.0,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    print(
        f"constraints benchmark: {SPACE_FILE.relative_to(ROOT)} (BTC/USDT 4h, TPE), "
        f"{args.trials} trials per study, jobs 1, seeds 1-{args.seeds}"
    )
    out: list[Outcome] = []
    with scratch_database("sweep-bench-cons-") as (work, url):
        for seed in range(1, args.seeds + 1):
            for constraints in ("none", "gate"):
                got = run(work, url, seed, constraints, args.trials)
                out.append(got)
                best = "-" if got.best_passing is None else f"{got.best_passing:.2f}"
                print(
                    f"seed {seed} constraints {constraints:<4}  traded {got.traded:3d}/"
                    f"{got.trials}  passed the gate {got.passed:3d}  best passing Sharpe "
                    f"{best:>5}  median trades {got.median_trades:.0f}",
                    flush=True,
                )
    print()
    print("== summary: constraints gate / none ==")
    for seed in range(1, args.seeds + 1):
        none, gate = (
            next(o for o in out if o.seed == seed and o.label == k) for k in ("none", "gate")
        )
        print(
            f"seed {seed}: passed the gate {gate.passed} / {none.passed}; traded {gate.traded} / "
            f"{none.traded}; best passing Sharpe "
            + " / ".join(
                "-" if o.best_passing is None else f"{o.best_passing:.2f}" for o in (gate, none)
            )
        )


if __name__ == "__main__":
    main()
