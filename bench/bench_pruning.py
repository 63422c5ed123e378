"""Pruning on a 5-fold walk-forward study: trial-seconds to reach the unpruned study's best.

Runs the same space (BTC/USDT 4h, walk-forward 5 folds, TPE with a fixed seed) twice in this
process on one embedded PostgreSQL: once with ``pruner: none`` (the baseline, measured in the same
run) and once with ``pruner: median``, which may use up to twice the trials. Each trial's cost is
its ``duration_s`` in the registry (pipeline wall time, XGBoost on both cores, the same for both
studies); the script prints, for each study, the seconds spent until its running best first
reached the unpruned study's final best value, and the ratio, plus each process's CPU-seconds.
Not a test: it prints, it does not fail.

    python bench/bench_pruning.py [--trials 60]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import psycopg

SPACE = """\
experiment_id: {name}
symbol: BTC/USDT
timeframe: 4h
feature_groups: {{subset: [momentum, volume, volatility, trend], min_size: 1}}
target:
  horizon: {{int: [1, 12]}}
  threshold: {{float: [0.002, 0.03], log: true}}
position: {{size: 0.02, hold_max: {{int: [2, 12]}}}}
training:
  train_ratio: 0.7
  min_samples: 1000
  early_stopping_rounds: 50
  cv: {{type: walk_forward, folds: 5, mode: expanding}}
model:
  max_depth: {{int: [2, 8]}}
  learning_rate: {{float: [0.01, 0.3], log: true}}
backtest: {{entry_threshold: {{float: [0.5, 0.7]}}}}
data: {{dir: {data}}}
sweep: {{objective: sharpe, direction: maximize, sampler: tpe, seed: 7, pruner: {pruner}}}
"""


def trial_costs(url: str, study: str) -> list[tuple[int, float, float | None]]:
    """(trial number, seconds, objective or None) in trial order."""
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT e.trial_number, r.duration_s, (r.metrics ->> 'sharpe')::float "
            "FROM experiments e JOIN model_results r USING (experiment_id) "
            "WHERE e.study_name = %s AND NOT r.holdout ORDER BY e.trial_number",
            (study,),
        ).fetchall()
    return [(int(n), float(d or 0.0), v) for n, d, v in rows]


def seconds_to_reach(costs: list[tuple[int, float, float | None]], target: float) -> float | None:
    spent = 0.0
    for _, seconds, value in costs:
        spent += seconds
        if value is not None and value >= target - 1e-12:
            return spent
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=60)
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    work = Path(tempfile.mkdtemp(prefix="sweep-bench-prune-"))
    os.environ["SWEEP_HOME"] = str(work / ".sweep")
    if not os.environ.get("SWEEP_DATABASE_URL"):
        from sweep.db import EmbeddedServer

        os.environ["SWEEP_DATABASE_URL"] = EmbeddedServer(work / "pgdata").ensure_running()
    url = os.environ["SWEEP_DATABASE_URL"]

    from sweep.engine import run_study
    from sweep.space import load_space
    from sweep.study import quiet_optuna

    quiet_optuna()
    results = {}
    stamp = int(time.time())
    for pruner in ("none", "median"):
        name = f"bench-prune-{pruner}-{stamp}"
        path = work / f"{name}.yaml"
        path.write_text(SPACE.format(name=name, data=root / "data", pruner=pruner))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        # The pruned study may use twice the trials: the question is how many CPU-seconds it
        # needs to reach the unpruned study's best, not what it finds in the same trial count.
        n = args.trials if pruner == "none" else 2 * args.trials
        run_study(load_space(path), n_trials=n, jobs=1)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        results[pruner] = (name, cpu, wall, trial_costs(url, name))

    base_costs = results["none"][3]
    target = max(v for _, _, v in base_costs if v is not None)
    print(
        f"pruning benchmark: {args.trials} trials unpruned, up to {2 * args.trials} pruned, "
        "BTC/USDT 4h, walk-forward 5 folds, TPE seed 7, jobs 1 (timings are noisy on a shared "
        "2-core machine)"
    )
    print(f"unpruned best sharpe (the target): {target:.4f}")
    print(f"{'study':<8} {'cpu s':>8} {'wall s':>8} {'pruned':>7} {'best':>8} {'s to target':>12}")
    reach = {}
    for pruner, (_name, cpu, wall, costs) in results.items():
        best = max((v for _, _, v in costs if v is not None), default=float("nan"))
        n_pruned = sum(1 for _, _, v in costs if v is None)
        reach[pruner] = seconds_to_reach(costs, target)
        shown = "not reached" if reach[pruner] is None else f"{reach[pruner]:.1f}"
        print(f"{pruner:<8} {cpu:>8.1f} {wall:>8.1f} {n_pruned:>7} {best:>8.4f} {shown:>12}")
    total_ratio = results["median"][1] / results["none"][1]
    print(f"ratio of total CPU-seconds, median (up to 2x trials) / none: {total_ratio:.2f}")
    if reach["median"] is not None and reach["none"]:
        ratio = reach["median"] / reach["none"]
        print(
            f"ratio of trial-seconds to reach the unpruned best, median / none: {ratio:.2f} "
            f"({'clearly fewer' if ratio < 0.8 else 'not clearly fewer'})"
        )
    else:
        print("the pruned study did not reach the unpruned best within twice the trial budget")


if __name__ == "__main__":
    main()
