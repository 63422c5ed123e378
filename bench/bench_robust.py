"""Does robust selection pick trials that hold up better on the sealed holdout than the peak?

For each symbol (BTC/USDT, ETH/USDT at 4h) and study seed, a walk-forward study (5 expanding
folds, the last 30% of the bars sealed) runs with ``sweep.select: robust``: after the search,
the top K trials' neighbourhoods (each parameter moved one step, alone) are evaluated on the same
folds, and the study's chosen trial is the one whose neighbours' lower-quartile Sharpe is best.
Then both the peak (the best Sharpe on the folds) and the robust choice are evaluated once on the
sealed holdout (``sweep holdout --select peak`` and ``--select robust``; each a counted look, in
a scratch database that is thrown away). Not a test: it prints, it does not fail.

Each study is a ``sweep run --jobs 1`` subprocess (TPE seeded per trial number, so the same code
and data print the same figures). Small on purpose, for 2 shared cores: 40 trials, 200 trees with
early stopping, 6 tuned parameters, K = 5.

    python bench/bench_robust.py [--trials 40] [--seeds 5] [--top 5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from study_runs import scratch_database, sweep_run  # noqa: E402  (this script's folder)

SYMBOLS = ("BTC/USDT", "ETH/USDT")


def space(name: str, symbol: str, seed: int, top: int) -> dict[str, Any]:
    return {
        "experiment_id": name,
        "symbol": symbol,
        "timeframe": "4h",
        "feature_groups": {"subset": ["momentum", "volume", "volatility", "trend"], "min_size": 1},
        "target": {
            "type": "binary",
            "horizon": {"int": [1, 12]},
            "threshold": {"float": [0.002, 0.03], "log": True},
        },
        "position": {"size": 0.02, "hold_max": {"int": [2, 12]}},
        "training": {
            "train_ratio": 0.7,
            "min_samples": 1000,
            "early_stopping_rounds": 30,
            "cv": {"type": "walk_forward", "folds": 5, "mode": "expanding"},
        },
        "model": {
            "n_estimators": 200,
            "max_depth": {"int": [2, 6]},
            "learning_rate": {"float": [0.02, 0.3], "log": True},
        },
        "backtest": {"entry_threshold": 0.55},
        # a candidate must trade: at least 30 trades over the folds (the Sharpe checks off)
        "gate": {"min_sharpe": None, "min_win_rate": None, "min_trades": 30},
        "data": {"dir": str(ROOT / "data"), "start": "2019-01-01"},
        "sweep": {
            "objective": "sharpe",
            "sampler": "tpe",
            "seed": seed,
            "constraints": "gate",
            "select": "robust",
            "robust_top": top,
        },
    }


@dataclass
class Outcome:
    symbol: str
    seed: int
    peak: str
    robust: str
    peak_folds: float
    robust_folds: float
    peak_score: float | None
    robust_score: float | None
    peak_holdout: float | None
    robust_holdout: float | None
    seconds: float


def holdout_sharpe(work: Path, url: str, study: str, select: str) -> tuple[str, float | None]:
    """``sweep holdout STUDY --select RULE``: the trial it evaluated and its holdout Sharpe (the
    second rule may name the trial the first looked at already: then no new look is taken)."""
    env = {**os.environ, "SWEEP_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "holdout", study, "--select", select],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)
    line = next(x for x in done.stdout.splitlines() if "sealed holdout of" in x)
    eid = line.split("sealed holdout of ", 1)[1].split(" ", 1)[0]
    with psycopg.connect(url) as c:
        got = c.execute(
            "SELECT (r.metrics ->> 'sharpe')::float FROM holdout_looks h JOIN model_results r "
            "ON r.id = h.result_id WHERE h.study_name = %s AND h.experiment_id = %s",
            (study, eid),
        ).fetchone()
    return eid, None if got is None else got[0]


def run_one(work: Path, url: str, symbol: str, seed: int, trials: int, top: int) -> Outcome:
    sys.path.insert(0, str(ROOT))
    from sweep.store.registry import open_registry
    from sweep.study.selection import load_neighbourhoods
    from sweep.study.summary import choose_trial, study_results, study_row

    name = f"bench-rob-{symbol.split('/')[0].lower()}-s{seed}"
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space(name, symbol, seed, top), sort_keys=False))
    t0 = time.perf_counter()
    sweep_run(work, url, path, trials)
    seconds = time.perf_counter() - t0
    conn = open_registry(url)
    try:
        meta = study_row(conn, name)
        assert meta is not None
        choice = choose_trial(conn, meta, study_results(conn, name))
        assert choice.rule == "robust" and choice.row is not None and choice.peak is not None
        scores = load_neighbourhoods(conn, name, "sharpe", True)
    finally:
        conn.close()
    peak, robust = choice.peak, choice.row
    peak_id, peak_holdout = holdout_sharpe(work, url, name, "peak")
    robust_id, robust_holdout = holdout_sharpe(work, url, name, "robust")
    assert (peak_id, robust_id) == (peak["experiment_id"], robust["experiment_id"])
    return Outcome(
        symbol,
        seed,
        peak_id,
        robust_id,
        float(peak["metrics"]["sharpe"]),
        float(robust["metrics"]["sharpe"]),
        scores[peak_id].score,
        scores[robust_id].score,
        peak_holdout,
        robust_holdout,
        seconds,
    )


def _f(v: float | None) -> str:
    return "   n/a" if v is None else f"{v:6.2f}"


def main() -> None:
    # XGBoost's OpenMP threads spin while they wait by default; on a shared, oversubscribed
    # machine that turned a 1.5 s evaluation into minutes. Passive waiting changes no result.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args()
    outcomes: list[Outcome] = []
    with scratch_database("sweep-bench-robust-") as (work, url):
        for symbol in SYMBOLS:
            for seed in range(1, args.seeds + 1):
                o = run_one(work, url, symbol, seed, args.trials, args.top)
                outcomes.append(o)
                print(
                    f"{o.symbol} seed {o.seed}: peak {o.peak.rsplit('-', 1)[-1]} folds "
                    f"{_f(o.peak_folds)} score {_f(o.peak_score)} holdout {_f(o.peak_holdout)} | "
                    f"robust {o.robust.rsplit('-', 1)[-1]} folds {_f(o.robust_folds)} score "
                    f"{_f(o.robust_score)} holdout {_f(o.robust_holdout)}  ({o.seconds:.0f} s)",
                    flush=True,
                )
    report(outcomes)


def report(outcomes: list[Outcome]) -> None:
    print()
    for symbol in (*SYMBOLS, None):
        rows = [
            o
            for o in outcomes
            if (symbol is None or o.symbol == symbol)
            and o.peak_holdout is not None
            and o.robust_holdout is not None
        ]
        differ = [o for o in rows if o.peak != o.robust]
        peak_mean = statistics.fmean(o.peak_holdout or 0.0 for o in rows) if rows else math.nan
        robust_mean = statistics.fmean(o.robust_holdout or 0.0 for o in rows) if rows else math.nan
        wins = sum((o.robust_holdout or 0.0) > (o.peak_holdout or 0.0) for o in differ)
        gap = [(o.robust_holdout or 0.0) - (o.peak_holdout or 0.0) for o in differ]
        print(
            f"{symbol or 'all'}: {len(rows)} studies; robust differs from the peak in "
            f"{len(differ)}; holdout Sharpe mean peak {peak_mean:.2f}, robust {robust_mean:.2f}; "
            f"where they differ, robust higher in {wins} of {len(differ)}"
            + (f" (mean difference {statistics.fmean(gap):+.2f})" if gap else "")
        )


if __name__ == "__main__":
    main()
