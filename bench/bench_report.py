"""Time and size of `sweep report` on a 1,000-trial study, against writing plotly.js alone.

Run: ``python bench/bench_report.py [--trials 1000] [--real 12] [--repeat 2]``.

How the study is built cheaply, and why it is still a fair test of the report:

1. ``--real`` trials (default 12) run for real (``sweep run``, BTC/USDT 4h from 2021, 3-fold
   walk-forward, 60 trees): the chosen trial, its model, its stored daily returns and the Optuna
   study are what a user's study holds, and the report recomputes that trial as it would.
2. The rest of the ``--trials`` are prefilled: each gets parameters sampled from the same space
   (Optuna's random sampler), its own valid experiment config, a registry row through
   ``record_run`` (the code path every trial takes) with synthetic metrics that fail the gate
   (so the chosen trial stays a real one) and a synthetic daily return series over the real
   trials' days (sparse, as a trading strategy's are), and an Optuna trial with those
   parameters and its value.
3. ``sweep run`` with ``--trials N`` then finds the budget met, runs nothing, and ends the study
   as usual: DSR and PBO over all N trials, the chosen trial, the dashboard's attributes.

Measured: ``sweep report STUDY -o FILE`` as a user runs it (a fresh process: imports, database,
Optuna's tables, the recomputed trial, every plot, writing the file), best of ``--repeat``, in
wall seconds and CPU seconds (on a shared machine the wall time includes waiting for a core),
against the baseline in the same run: a fresh process that imports plotly and writes plotly.js
to a file, the least any self-contained plotly page costs. Targets: under 10 MiB and 15 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from study_runs import ROOT, scratch_database, sweep_run

MAX_BYTES = 10 * 2**20
MAX_SECONDS = 15.0
NAME = "bench-report"


def space(data_dir: Path) -> dict[str, object]:
    return {
        "experiment_id": NAME,
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "model_type": "xgboost",
        "feature_groups": {"subset": ["momentum", "volume", "volatility", "trend"]},
        "target": {
            "type": "binary",
            "horizon": {"int": [1, 8]},
            "threshold": {"float": [0.003, 0.03], "log": True},
        },
        "position": {"size": 0.02, "hold_max": {"int": [2, 8]}},
        "training": {
            "train_ratio": 0.7,
            "min_samples": 300,
            "early_stopping_rounds": 10,
            "cv": {"type": "walk_forward", "folds": 3},
        },
        "model": {
            "n_estimators": 60,
            "max_depth": {"int": [2, 6]},
            "learning_rate": {"float": [0.05, 0.3], "log": True},
            "subsample": {"float": [0.6, 1.0]},
        },
        "backtest": {"entry_threshold": {"float": [0.3, 0.6]}},
        "gate": {"min_sharpe": 0.0, "min_win_rate": 0.3, "min_trades": 5},
        "data": {"dir": str(data_dir), "start": "2021-01-01"},
        "sweep": {"objective": "sharpe", "sampler": "random", "seed": 3},
    }


def prefill(url: str, space_file: Path, total: int) -> int:
    """Add trials up to ``total``: registry rows and Optuna trials, as described above."""
    import optuna

    from sweep.core.returns import DailyReturns
    from sweep.store.registry import ResultRow, open_registry, record_run
    from sweep.study.optuna_study import create_storage, quiet_optuna
    from sweep.study.space import load_space
    from sweep.study.study_stats import load_study_returns

    quiet_optuna()
    sp = load_space(space_file)
    storage = create_storage(url)
    study = optuna.load_study(study_name=NAME, storage=storage)
    have = len(study.get_trials(deepcopy=False))
    rng = np.random.default_rng(11)
    sampler = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    conn = open_registry(url)
    real = next(iter(load_study_returns(conn, NAME).values()))
    days = len(real.values)
    frozen = []
    for number in range(have, total):
        t = sampler.ask()
        values = sp.suggest(t)
        eid = f"{NAME}-t{number:04d}"
        cfg = sp.config_for(values, eid)
        sharpe = float(rng.normal(-0.3, 0.6))
        daily = np.where(rng.random(days) < 0.15, rng.normal(0.0, 0.004, days), 0.0)
        record_run(
            conn,
            cfg,
            ResultRow(
                status="ok",
                metrics={
                    "sharpe": sharpe,
                    "win_rate": float(rng.uniform(0.3, 0.6)),
                    "alpha": float(rng.normal(-0.5, 0.2)),
                    "max_drawdown": float(rng.uniform(0.0, 0.1)),
                    "n_trades": int(rng.integers(0, 60)),
                    "total_return": float(rng.normal(0.0, 0.02)),
                },
                gate_passed=False,
                gate_failures=(f"sharpe {sharpe:.2f} < 0.00",),
                returns=DailyReturns(real.first_day, daily),
                data_fingerprint={},
            ),
            code_version="bench",
            study_name=NAME,
            trial_number=number,
        )
        frozen.append(
            optuna.trial.create_trial(
                params=t.params,
                distributions=t.distributions,
                value=sharpe,
                user_attrs={"experiment_id": eid, "sharpe": sharpe},
            )
        )
    conn.close()
    study.add_trials(frozen)
    storage.engine.dispose()
    return total - have


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of a fresh process running ``cmd``: on a
    shared machine the wall time also counts the wait for a core, the CPU time does not."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--real", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    with scratch_database("sweep-bench-report-") as (work, url):
        file = work / "space.yaml"
        file.write_text(yaml.safe_dump(space(ROOT / "data"), sort_keys=False))
        t0 = time.perf_counter()
        sweep_run(work, url, file, args.real)
        real_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        added = prefill(url, file, args.trials)
        sweep_run(work, url, file, args.trials)  # the budget is met: conclude the study
        fill_s = time.perf_counter() - t0
        print(
            f"study {NAME}: {args.real} real trials ({real_s:.0f} s), {added} prefilled and "
            f"concluded ({fill_s:.0f} s)"
        )
        py = sys.executable
        js = work / "plotly.js"
        write_js = (
            "import plotly.offline, sys; "
            "open(sys.argv[1], 'w').write(plotly.offline.get_plotlyjs())"
        )
        report = work / "report.html"
        base, full = [], []
        for _ in range(args.repeat):
            base.append(timed([py, "-c", write_js, str(js)], work))
            full.append(
                timed([py, "-m", "sweep.cli", "report", NAME, "-o", str(report), "--force"], work)
            )
        (bw, bc), (fw, fc) = min(base), min(full)
        size, js_size = report.stat().st_size, js.stat().st_size
        print(
            f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
            f"({os.cpu_count()} cores)"
        )
        print(
            f"baseline (a fresh process writes plotly.js): {bw:.2f} s wall, {bc:.2f} CPU-s, "
            f"{js_size / 2**20:.2f} MiB"
        )
        print(
            f"sweep report, {args.trials} trials: {fw:.2f} s wall ({fw / bw:.1f}x), "
            f"{fc:.2f} CPU-s ({fc / bc:.1f}x); {size / 2**20:.2f} MiB ({size / js_size:.2f}x "
            f"plotly.js: {(size - js_size) / 2**20:.2f} MiB of page and plots)"
        )
        print(
            "  every run (wall/CPU s): report "
            + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in full)
            + "; baseline "
            + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in base)
        )
        print(
            f"targets: size < 10 MiB {'met' if size < MAX_BYTES else 'NOT met'}; "
            f"time < {MAX_SECONDS:.0f} s {'met' if fw < MAX_SECONDS else 'NOT met'} (wall), "
            f"{'met' if fc < MAX_SECONDS else 'NOT met'} (CPU)"
        )


if __name__ == "__main__":
    main()
