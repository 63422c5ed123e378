"""Pruning on a 5-fold walk-forward study: CPU-seconds to reach the unpruned study's best.

Each study is a ``sweep run --jobs 1`` subprocess (so trials run in trial order), one after
another in an order that rotates with the seed, on one embedded PostgreSQL (or
``SWEEP_DATABASE_URL``), on BTC/USDT 4h with a 5-fold expanding walk-forward. Each trial's cost is
its ``cpu_s`` in the registry: the worker's CPU time for that trial, on one thread
(``OMP_NUM_THREADS=1``: a second XGBoost thread spins while it waits, more so when the other core
is busy, which makes CPU-seconds vary from one study to the next). The baseline, ``pruner:
none``, is measured in the same run.

1. **Paired** (the pruner alone), for several seeds: the random sampler, seeded per trial
   number, gives trial k the same values in every study, so the unpruned study and the studies
   pruned by the median, Wilcoxon and top-25% percentile pruners run the very same
   configurations (checked). A pruned study reaches
   the unpruned best at the same trial, unless the pruner killed that trial; what it saves is
   the folds it did not run.
2. **TPE** (the pruner and the sampler together), for several seeds: a pruned study's history
   differs, so TPE proposes other trials; the pruned study may run up to twice the trials to
   reach the unpruned study's best value. Reaching an exact best of a noisy search depends on
   luck, hence several seeds. Both studies share their first trials (TPE's random start-up,
   seeded per trial number): when the best comes from those, the ratio is 1 by construction.

For each study it prints CPU-seconds to reach the target and the ratio to the unpruned study's;
"clearly fewer" means a ratio at most 0.8. Not a test: it prints, it does not fail.

    python bench/bench_pruning.py [--trials 60] [--seeds 3] [--no-tpe]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from study_runs import scratch_database, sweep_run  # noqa: E402  (this script's folder)

CLEARLY_FEWER = 0.8  # a ratio of CPU-seconds at most this counts as clearly fewer

# label -> `sweep.pruner` as written in the space file
PRUNERS = {
    "none": "none",
    "median": "median",
    "wilcoxon": "wilcoxon",
    "top25%": "{type: percentile, percentile: 25}",
}

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
sweep:
  {{objective: sharpe, direction: maximize, sampler: {sampler}, seed: {seed}, pruner: {pruner}}}
"""


@dataclass
class Trial:
    number: int
    cpu_s: float
    value: float | None  # None: pruned or failed
    status: str
    params: dict[str, Any]


@dataclass
class Study:
    pruner: str
    trials: list[Trial]
    wall: float

    @property
    def cpu(self) -> float:
        return sum(t.cpu_s for t in self.trials)

    @property
    def best(self) -> float | None:
        return max((t.value for t in self.trials if t.value is not None), default=None)

    @property
    def n_pruned(self) -> int:
        return sum(t.status == "pruned" for t in self.trials)

    def cpu_to_reach(self, target: float) -> tuple[float, int] | None:
        """CPU-seconds spent, in trial order, until a trial's value reached ``target``; and
        that trial's number."""
        spent = 0.0
        for t in self.trials:
            spent += t.cpu_s
            if t.value is not None and t.value >= target - 1e-12:
                return spent, t.number
        return None


def read_trials(url: str, study: str) -> list[Trial]:
    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT e.trial_number, r.cpu_s, (r.metrics ->> 'sharpe')::float, r.status, e.config "
            "FROM experiments e JOIN model_results r USING (experiment_id) "
            "WHERE e.study_name = %s AND NOT r.holdout ORDER BY e.trial_number",
            (study,),
        ).fetchall()
    out = []
    for n, cpu, v, status, cfg in rows:
        params = {k: v for k, v in dict(cfg).items() if k != "experiment_id"}
        out.append(Trial(int(n), float(cpu or 0.0), v, str(status), params))
    return out


def run(work: Path, url: str, sampler: str, seed: int, pruner: str, n: int) -> Study:
    """``sweep run`` as a user runs it, in a fresh process (:func:`study_runs.sweep_run`)."""
    tag = pruner.replace("%", "pct")
    name = f"bench-prune-{sampler}{seed}-{tag}-{int(time.time() * 1000) % 10**9}"
    path = work / f"{name}.yaml"
    path.write_text(
        SPACE.format(
            name=name, data=ROOT / "data", sampler=sampler, seed=seed, pruner=PRUNERS[pruner]
        )
    )
    t0 = time.perf_counter()
    # One thread: CPU-seconds then count work. XGBoost's second OpenMP thread spins while it
    # waits, and more so whenever the other core is busy, which made the same trials cost up to
    # 1.4x more CPU from one study to the next.
    sweep_run(work, url, path, n, "--study", name, env={"OMP_NUM_THREADS": "1"})
    return Study(pruner, read_trials(url, name), time.perf_counter() - t0)


def reach_row(s: Study, target: float, base: float | None) -> str:
    got = s.cpu_to_reach(target)
    if got is None:
        reach, ratio = "not reached", "-"
    else:
        reach = f"{got[0]:.1f} (t{got[1]:04d})"
        ratio = f"{got[0] / base:.2f}" if base else "-"
    best = "-" if s.best is None else f"{s.best:.4f}"
    return (
        f"{s.pruner:<9} {len(s.trials):>6} {s.n_pruned:>6} {s.cpu:>8.1f} {s.wall:>7.1f} "
        f"{best:>8} {reach:>20} {ratio:>6}"
    )


HEAD = (
    f"{'pruner':<9} {'trials':>6} {'pruned':>6} {'cpu s':>8} {'wall s':>7} {'best':>8} "
    f"{'cpu s to target':>20} {'ratio':>6}"
)


def paired(work: Path, url: str, n: int, seed: int) -> dict[str, float | None]:
    """Ratios of CPU-seconds to reach the unpruned best, per pruner (None: not reached)."""
    print(f"== paired: random sampler seed {seed}, {n} trials each, identical configurations ==")
    # the order rotates with the seed, so drift on a shared machine favours no pruner
    order = list(PRUNERS)
    k = seed % len(order)
    ran = {p: run(work, url, "random", seed, p, n) for p in order[k:] + order[:k]}
    studies = [ran[p] for p in order]
    base = studies[0]
    same = all([t.params for t in s.trials] == [t.params for t in base.trials] for s in studies[1:])
    print(f"the {len(studies)} studies ran identical configurations: {'yes' if same else 'NO'}")
    target = base.best
    if target is None or not same:
        print("no comparison: the unpruned study has no completed trial, or configurations differ")
        return {}
    base_reach = base.cpu_to_reach(target)
    assert base_reach is not None
    print(f"target: the unpruned study's best sharpe {target:.4f}")
    print(HEAD)
    for s in studies:
        print(reach_row(s, target, base_reach[0]))
    for s in studies[1:]:
        # the same configurations run to the end in both studies: what a trial costs more or
        # less in a pruned study apart from pruning (reports and the pruner's decision take
        # about 1 ms a fold in a profile; the rest is the machine's noise)
        both = [
            (a.cpu_s, b.cpu_s)
            for a, b in zip(base.trials, s.trials, strict=True)
            if a.status == "ok" and b.status == "ok" and a.cpu_s > 0
        ]
        if both:
            per = statistics.median(b / a for a, b in both)
            print(f"{s.pruner}: trials run in full cost {per:.2f}x (median over {len(both)})")
        winner = next(t for t in s.trials if t.number == base_reach[1])
        if winner.status == "pruned":
            print(f"{s.pruner}: pruned the unpruned study's winner (t{winner.number:04d})")
        print(f"{s.pruner}: total CPU-seconds {s.cpu / base.cpu:.2f}x the unpruned study's")
    print()
    out: dict[str, float | None] = {}
    for s in studies[1:]:
        got = s.cpu_to_reach(target)
        out[s.pruner] = got[0] / base_reach[0] if got else None
    return out


TPE_PRUNERS = ("median", "top25%")


def tpe(work: Path, url: str, n: int, seeds: int) -> dict[str, list[float | None]]:
    print()
    print(
        f"== 2. TPE: {seeds} seeds; unpruned {n} trials, pruned ({', '.join(TPE_PRUNERS)}) up "
        f"to {2 * n} trials =="
    )
    print(f"{'seed':<5} " + HEAD)
    ratios: dict[str, list[float | None]] = {p: [] for p in TPE_PRUNERS}
    for seed in range(1, seeds + 1):
        order = ["none", *TPE_PRUNERS]
        k = seed % len(order)  # rotate the order, as above
        ran = {
            p: run(work, url, "tpe", seed, p, n if p == "none" else 2 * n)
            for p in order[k:] + order[:k]
        }
        base = ran["none"]
        target = base.best
        if target is None:
            print(f"{seed:<5} the unpruned study has no completed trial")
            for p in TPE_PRUNERS:
                ratios[p].append(None)
            continue
        base_reach = base.cpu_to_reach(target)
        assert base_reach is not None
        for p in order:
            print(f"{seed:<5} " + reach_row(ran[p], target, base_reach[0]))
        for p in TPE_PRUNERS:
            got = ran[p].cpu_to_reach(target)
            ratios[p].append(got[0] / base_reach[0] if got else None)
    return ratios


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--seeds", type=int, default=3, help="seeds of each comparison")
    ap.add_argument("--no-tpe", dest="tpe", action="store_false", help="paired comparison only")
    args = ap.parse_args()
    print(
        "pruning benchmark: BTC/USDT 4h, walk-forward 5 folds (expanding), jobs 1, one thread "
        "(OMP_NUM_THREADS=1); cost = each trial's cpu_s in the registry (the worker's CPU time); "
        "timings are noisy on a shared 2-core machine"
    )
    with scratch_database("sweep-bench-prune-") as (work, url):
        r_paired = [paired(work, url, args.trials, seed) for seed in range(7, 7 + args.seeds)]
        r_tpe = tpe(work, url, args.trials, args.seeds) if args.tpe else {}

    print()
    print("== summary: CPU-seconds to reach the unpruned study's best, pruned / none ==")
    for label in list(PRUNERS)[1:]:
        ratios = [r.get(label) for r in r_paired if r]
        summarize(f"paired, {label} (random sampler, identical configurations)", ratios)
    for label, ratios in r_tpe.items():
        summarize(f"TPE, {label} (the pruned study may run up to twice the trials)", ratios)


def summarize(label: str, ratios: list[float | None]) -> None:
    reached = [r for r in ratios if r is not None]
    shown = ", ".join("not reached" if r is None else f"{r:.2f}" for r in ratios)
    line = f"{label}: per seed {shown}; reached in {len(reached)} of {len(ratios)}"
    if reached:
        mid = statistics.median(reached)
        verdict = "clearly fewer" if mid <= CLEARLY_FEWER else "not clearly fewer"
        line += f"; median where reached {mid:.2f} ({verdict})"
    print(line)


if __name__ == "__main__":
    main()
