"""Time the selection-bias statistics of one study: 1,000 trials x 8,760 hourly bars.

Run: ``python bench/bench_stats.py [--trials N] [--bars T] [--partitions S] [--repeat R]``.

Measures, on one seeded return matrix, the study statistics (``sharpe_stats`` per trial, the
variance of the trial Sharpe ratios, the DSR of the best trial, PBO by CSCV with S = 16) against
a bare numpy baseline in the same run (per-trial means and ddof=1 standard deviations of the
same matrix), and prints raw seconds, their ratio and whether the 2 s target is met. The best of
``--repeat`` runs is reported, after one untimed warm-up run of each.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# Benchmark this checkout's code, installed or not, when run as `python bench/bench_stats.py`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweep.core.stats import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
    trial_sharpe_variance,
)

TARGET_SECONDS = 2.0


def baseline(returns: NDArray[np.float64]) -> float:
    """The floor: numpy's per-trial mean and std, nothing else."""
    mean = returns.mean(axis=0)
    std = returns.std(axis=0, ddof=1)
    return float(mean[0] + std[0])


def study_statistics(returns: NDArray[np.float64], n_partitions: int) -> dict[str, float]:
    """Everything a study reports about selection bias, from the raw (bars x trials) matrix."""
    per_trial = [sharpe_stats(returns[:, j]) for j in range(returns.shape[1])]
    srs = np.array([s.sr for s in per_trial])
    var = trial_sharpe_variance(srs)
    best = per_trial[int(np.argmax(srs))]
    dsr = deflated_sharpe_ratio(best.sr, best.n_obs, best.skew, best.kurtosis, len(srs), var)
    pbo = probability_of_backtest_overfitting(returns, n_partitions=n_partitions)
    return {"best_sr": best.sr, "var_trials": var, "dsr": dsr, "pbo": pbo.pbo}


def best_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: first-touch page faults and BLAS/thread start-up are not the steady state
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000)
    parser.add_argument("--bars", type=int, default=8_760)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    # Hourly returns: noise of 1% per bar with a small, trial-specific drift.
    rng = np.random.default_rng(20240601)
    drift = rng.normal(0.0, 2e-4, size=args.trials)
    returns = rng.standard_normal((args.bars, args.trials)) * 0.01 + drift

    base = best_time(lambda: baseline(returns), args.repeat)
    start = time.perf_counter()
    result = study_statistics(returns, args.partitions)
    cold = time.perf_counter() - start
    warm = best_time(lambda: study_statistics(returns, args.partitions), args.repeat)

    n_comb = math.comb(args.partitions, args.partitions // 2)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(
        f"matrix: {args.bars} bars x {args.trials} trials; "
        f"PBO with S={args.partitions} ({n_comb} combinations)"
    )
    print(f"baseline (numpy mean+std per trial): {base:.4f} s")
    print(f"study statistics, first call:        {cold:.4f} s")
    print(f"study statistics, best of {args.repeat}:         {warm:.4f} s")
    print(f"ratio study / baseline:              {warm / base:.1f}x")
    verdict = "met" if max(cold, warm) < TARGET_SECONDS else "MISSED"
    print(f"target < {TARGET_SECONDS:.0f} s:                        {verdict}")
    print("results: " + ", ".join(f"{k}={v:.4g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
