"""Time the timing test: 1,000 random schedules of one run, and a 200-trial study's p-value.

Run: ``python bench/bench_timing.py [--bars N] [--repeat R]``.

On the last ``--bars`` (4,500) 4h bars of BTC/USDT, with a seeded random signal:

1. **One run**: what the pipeline adds to a run, ``long_only_trade_table`` plus
   ``timing_scores(..., "sharpe")`` (entry sums, 1,000 schedules, their scores), at trade counts
   from a sparse strategy to a busy one (hold 6). Target: at most 50 ms.
2. **A study**: 200 trials, each with its own hold (2-12 bars) and entry rate, scored as the
   workers would (table + 1,000 draws), encoded for the registry, then decoded and reduced to
   the study's p (White's Reality Check, ``study_timing_p``). Target: a few seconds.

Each figure is compared with a bare baseline measured in the same run: one ``run_backtest`` call
on the same bars (for the study, one per trial). The best of ``--repeat`` runs is reported, as
wall-clock and process CPU seconds (the machine may be shared).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sweep.core.backtest import run_backtest
from sweep.core.data import load_market_data
from sweep.core.metrics import bh_return
from sweep.core.timing import (
    ENCODING,
    TIMING_DRAWS,
    ScoredPeriod,
    TimingScores,
    decode_scores,
    encode_scores,
    long_only_trade_table,
    study_timing_p,
    timing_scores,
)

FloatArray = NDArray[np.float64]
RUN_TARGET_S = 0.050
STUDY_TARGET_S = 5.0
COSTS = {"fee": 0.001, "slippage": 0.0005}


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeat`` calls, after one untimed warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def one_run(open_: FloatArray, close: FloatArray, proba: FloatArray, hold: int) -> TimingScores:
    """What the pipeline adds to a run: the trade table, then the timing test's scores."""
    bt = run_backtest(open_, close, proba, entry_threshold=0.5, size=0.02, hold_max=hold, **COSTS)
    table = long_only_trade_table(open_, close, hold_max=hold, **COSTS)
    period = ScoredPeriod(
        close, table, bt.trades.entry_bar - 1, 0.02, bh_return(open_, close), 2190
    )
    return timing_scores([period], "sharpe", seed=42)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=4_500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    frame = load_market_data("BTC/USDT", "4h", root / "data").frame.iloc[-args.bars :]
    open_ = frame["open"].to_numpy()
    close = frame["close"].to_numpy()
    rng = np.random.default_rng(7)
    print(
        f"python {platform.python_version()} numpy {np.__version__}; {args.bars} 4h bars, "
        f"K = {TIMING_DRAWS} draws, best of {args.repeat}"
    )

    print("\none run (table + 1,000 schedules + scores), hold 6:")
    worst = 0.0
    for rate in (0.01, 0.1, 0.5, 0.9):
        proba = np.where(rng.random(args.bars) < rate, 0.9, 0.1)
        bt = run_backtest(open_, close, proba, entry_threshold=0.5, size=0.02, hold_max=6, **COSTS)
        base_w, _ = best_of(
            args.repeat,
            lambda p=proba: run_backtest(
                open_, close, p, entry_threshold=0.5, size=0.02, hold_max=6, **COSTS
            ),
        )
        w, c = best_of(args.repeat, lambda p=proba: one_run(open_, close, p, 6))
        worst = max(worst, w)
        print(
            f"  {len(bt.trades):5d} trades: {w * 1e3:6.1f} ms wall, {c * 1e3:6.1f} ms CPU; "
            f"run_backtest {base_w * 1e3:.2f} ms: x{w / base_w:,.0f}"
        )
    ok = "met" if worst <= RUN_TARGET_S else "MISSED"
    print(f"  slowest {worst * 1e3:.1f} ms against the {RUN_TARGET_S * 1e3:.0f} ms target: {ok}")

    holds = rng.integers(2, 13, args.trials)
    rates = rng.uniform(0.02, 0.6, args.trials)
    probas = [np.where(rng.random(args.bars) < r, 0.9, 0.1) for r in rates]

    def workers() -> list[bytes]:
        return [
            encode_scores(one_run(open_, close, p, int(h)))
            for p, h in zip(probas, holds, strict=True)
        ]

    blobs = workers()

    def conclude() -> float:
        trials = [decode_scores("sharpe", TIMING_DRAWS, ENCODING, b) for b in blobs]
        chosen = max(trials, key=lambda t: t.actual)
        return study_timing_p(chosen, trials)

    def baseline() -> None:
        for p, h in zip(probas, holds, strict=True):
            run_backtest(open_, close, p, entry_threshold=0.5, size=0.02, hold_max=int(h), **COSTS)

    repeat = max(1, args.repeat // 2)
    base_w, _ = best_of(repeat, baseline)
    work_w, work_c = best_of(repeat, workers)
    end_w, end_c = best_of(args.repeat, conclude)
    total = work_w + end_w
    size = np.mean([len(b) for b in blobs])
    print(f"\na {args.trials}-trial study (holds 2-12, entry rates 2-60%):")
    print(f"  per-trial scores, all trials: {work_w:6.2f} s wall, {work_c:6.2f} s CPU")
    print(f"  decode + study p:             {end_w * 1e3:6.1f} ms wall, {end_c * 1e3:6.1f} ms CPU")
    print(f"  {args.trials} run_backtest calls:      {base_w:6.3f} s: x{total / base_w:,.0f}")
    print(f"  stored scores: {size:,.0f} bytes a trial ({size * args.trials / 1e6:.2f} MB a study)")
    ok = "met" if total <= STUDY_TARGET_S else "MISSED"
    print(
        f"  total {total:.2f} s against the {STUDY_TARGET_S:.0f} s target: {ok}; "
        f"study p of the best trial {conclude():.3f}"
    )


if __name__ == "__main__":
    main()
