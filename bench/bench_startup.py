"""Time sweep's start-up: ``sweep --help``, ``sweep data --help``, ``sweep results``.

Run: ``python bench/bench_startup.py [--repeat N]``.

Each command is a fresh interpreter (``python -m sweep.cli ...`` with this checkout first on the
path), run N times in turn with a bare ``python -c pass`` measured the same way in the same run,
hyperfine style: one untimed warm-up of each, then N timed rounds that alternate the commands so
a busy machine slows them alike. Prints the median and the fastest wall time of each, and the
median minus the bare interpreter's, which is what sweep itself costs. ``sweep results`` reads an
empty registry in a scratch database (``SWEEP_DATABASE_URL`` when set, else an embedded server
started in a temp dir), so it includes connecting and one query. Target: ``--help`` under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from study_runs import ROOT, scratch_database

TARGET_HELP_S = 0.300


def commands() -> dict[str, list[str]]:
    python = [sys.executable]
    sweep = [*python, "-m", "sweep.cli"]
    return {
        "python -c pass (baseline)": [*python, "-c", "pass"],
        "sweep --help": [*sweep, "--help"],
        "sweep data --help": [*sweep, "data", "--help"],
        "sweep results": [*sweep, "results"],
    }


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with scratch_database("sweep-bench-startup-") as (work, url):
        env = {
            **os.environ,
            "SWEEP_DATABASE_URL": url,
            "SWEEP_HOME": str(work / ".sweep"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        cmds = commands()
        for cmd in cmds.values():  # warm-up: page cache, .pyc files, the registry's migrations
            timed(cmd, env)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                times[name].append(timed(cmd, env))
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores")
    print(f"{args.repeat} runs each, alternating; wall seconds")
    base = statistics.median(times["python -c pass (baseline)"])
    print(f"{'command':28} {'median':>8} {'fastest':>8} {'- bare':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:28} {median:8.3f} {min(values):8.3f} {median - base:8.3f}")
    help_median = statistics.median(times["sweep --help"])
    verdict = "met" if help_median < TARGET_HELP_S else "NOT met"
    print(f"target: sweep --help under {TARGET_HELP_S * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
