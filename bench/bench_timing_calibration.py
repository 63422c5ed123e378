"""Is the timing test's p uniform when there is no timing skill?

Run: ``python bench/bench_timing_calibration.py [--paths 100] [--kind noise|drift]``.

For each seeded synthetic path (``bench/synthetic.py``, 4h bars from 24,000 hourly ones) it
builds five non-anticipating rules that trade in clusters, as a model's signals do (enter when
the trailing 10-bar return, in units of trailing volatility, is below -1, -0.5, 0 or above 0.5,
1), each holding 3 bars with fees, and computes the per-run timing p of the first rule and the
study-level p (White's Reality Check over the five, the best chosen). With no skill to find, the
share of p <= 0.05 should be about 0.05. It prints the shares, whichever way they go.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synthetic import generate, spec

from sweep.core.timing import long_only_trade_table, study_timing_p, timing_p, timing_scores
from sweep.core.timing_scoring import ScoredPeriod

THRESHOLDS = (-1.0, -0.5, 0.0, 0.5, 1.0)


def one_path(kind: str, seed: int) -> tuple[float, float]:
    f = generate(spec(kind, n_bars=24_000), seed)  # type: ignore[arg-type]
    o = f["open"].to_numpy()[::4]
    c = f["close"].to_numpy()[3::4]
    n = min(len(o), len(c))
    o, c = o[:n], c[:n]
    table = long_only_trade_table(o, c, hold_max=3, fee=0.001, slippage=0.0005)
    r = np.diff(np.log(c), prepend=np.log(c[0]))
    vol = np.sqrt(np.convolve(r * r, np.ones(30) / 30, mode="full")[:n])
    z = np.convolve(r, np.ones(10), mode="full")[:n] / (vol * np.sqrt(10) + 1e-12)
    trials = []
    for th in THRESHOLDS:
        want = (z < th) if th <= 0 else (z > th)
        want[:40] = False  # the trailing windows' warm-up
        signals: list[int] = []
        t = 0
        while t < n - 1:
            if want[t]:
                signals.append(t)
                t = int(table.exit_index[t])
            else:
                t += 1
        period = ScoredPeriod(
            close=c,
            table=table,
            signals=np.asarray(signals, dtype=np.int64),
            size=0.02,
            bh_return=float(c[-1] / o[0] - 1),
            bars_per_year=2190.0,
        )
        trials.append(timing_scores([period], "sharpe", seed=7))
    best = max(trials, key=lambda s: s.actual)
    return timing_p(trials[0]), study_timing_p(best, trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100)
    parser.add_argument("--kind", choices=("noise", "drift"), default="noise")
    args = parser.parse_args()
    got = np.array([one_path(args.kind, seed) for seed in range(args.paths)])
    for name, col in (("per-run p", 0), ("study p", 1)):
        p = got[:, col]
        print(
            f"{args.kind} {name}: share <= 0.05 {np.mean(p <= 0.05):.2f}, "
            f"<= 0.10 {np.mean(p <= 0.10):.2f}, median {np.median(p):.2f} over {args.paths} paths"
        )


if __name__ == "__main__":
    main()
