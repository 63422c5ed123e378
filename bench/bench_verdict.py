"""Does the default path say "no edge" on noise and "edge" on a real signal?

Run: ``python bench/bench_verdict.py [--seeds 1 2 3] [--trials 60] [--jobs 2] [--bars 70000]``
(``--from-json FILE`` re-prints the tables from a saved run's output).

For each seed it writes three seeded hourly paths with ``bench/synthetic.py`` (pure noise, noise
with a strong drift, and a path with a planted short-term reversal that momentum features can
learn), runs the shipped ``search_spaces/btc-4h.yaml`` on each with only the symbol changed, as a
new user would (``sweep run SPACE --trials N --jobs J``), and reads the verdict from
``sweep studies --format json``. Then, as the user's next steps: ``sweep export`` of the chosen
trial, ``sweep run`` of the exported file (✓ or ✗), and ``sweep holdout`` (the sealed test
period's Sharpe). Everything runs in a scratch database (``SWEEP_DATABASE_URL`` when set, else an
embedded server in a temp dir), each command a fresh ``sweep`` process.

The target: no ``edge`` on any noise or drift path; ``edge`` on the planted path, its exported
file printing ✓ and its holdout Sharpe positive. The table is printed whichever way it goes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_runs import ROOT, scratch_database
from synthetic import KINDS, SYMBOLS, generate, spec, write


def sweep(work: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SWEEP_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "sweep.cli", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def one_path(
    work: Path, url: str, kind: str, seed: int, trials: int, jobs: int
) -> dict[str, object]:
    symbol = SYMBOLS[kind]  # type: ignore[index]
    space = yaml.safe_load((ROOT / "search_spaces" / "btc-4h.yaml").read_text())
    name = f"{kind}-s{seed}"
    space["experiment_id"] = name
    space["symbol"] = symbol
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    t0 = time.perf_counter()
    run = sweep(
        work, url, "run", str(path), "--trials", str(trials), "--jobs", str(jobs), "--no-progress"
    )
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        return {"study": name, "kind": kind, "error": (run.stderr or run.stdout).strip()[-300:]}
    listed = json.loads(sweep(work, url, "studies", "--format", "json").stdout)
    row = next(r for r in listed if r["study_name"] == name)
    out: dict[str, object] = {
        "study": name,
        "kind": kind,
        "verdict": row["verdict"],
        "reasons": "; ".join(row["verdict_reasons"]),
        "dsr": row["dsr"],
        "pbo": row["pbo"],
        "timing_p": row["timing_p"],
        "seconds": round(seconds, 1),
    }
    exported = work / f"{name}-best.yaml"
    ex = sweep(work, url, "export", name, "-o", str(exported))
    if ex.returncode == 0:
        again = sweep(work, url, "run", str(exported))
        out["exported_run"] = (again.stdout.strip() or again.stderr.strip())[:1]
    ho = sweep(work, url, "holdout", name)
    out["holdout"] = ho.stdout.strip() if ho.returncode == 0 else ho.stderr.strip()[:200]
    return out


def _holdout_sharpe(line: object) -> str:
    got = re.search(r"Sharpe (-?\d+\.\d+)", str(line or ""))
    return got.group(1) if got else "-"


def _num(v: object, digits: int) -> str:
    return "n/a" if v is None else f"{float(v):.{digits}f}"  # type: ignore[arg-type]


def print_table(results: list[dict[str, object]]) -> None:
    """One Markdown row per study, then the verdict counts per kind."""
    print("| study | verdict | DSR | PBO | timing p | exported file | holdout Sharpe |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['study']} | {r.get('verdict', 'error: ' + str(r.get('error')))} "
            f"| {_num(r.get('dsr'), 3)} | {_num(r.get('pbo'), 2)} | {_num(r.get('timing_p'), 3)} "
            f"| {r.get('exported_run', '-')} | {_holdout_sharpe(r.get('holdout'))} |"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--bars", type=int, default=70_000)
    parser.add_argument(
        "--from-json", type=Path, help="print the tables from a saved run's JSON lines instead"
    )
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    if args.from_json:
        lines = args.from_json.read_text().splitlines()
        results = [json.loads(ln) for ln in lines if ln.startswith("{")]
    else:
        with scratch_database("sweep-bench-verdict-") as (work, url):
            for seed in args.seeds:
                for kind in KINDS:
                    frame = generate(spec(kind, n_bars=args.bars), seed)
                    write(frame, work / "data", SYMBOLS[kind])
                    got = one_path(work, url, kind, seed, args.trials, args.jobs)
                    results.append(got)
                    print(json.dumps(got), flush=True)
    print()
    print_table(results)
    print(f"{'kind':8s} {'verdicts':40s} exported runs")
    for kind in KINDS:
        mine = [r for r in results if r["kind"] == kind]
        verdicts = Counter(str(r.get("verdict", "error")) for r in mine)
        marks = Counter(str(r.get("exported_run", "-")) for r in mine)
        print(f"{kind:8s} {dict(verdicts)!s:40s} {dict(marks)}")
    noise_edges = sum(1 for r in results if r["kind"] != "planted" and r.get("verdict") == "edge")
    planted = [r for r in results if r["kind"] == "planted"]
    planted_edges = sum(1 for r in planted if r.get("verdict") == "edge")
    n_noise = len(results) - len(planted)
    print(
        f"target: no edge on noise/drift ({noise_edges} edges in {n_noise} studies), "
        f"edge on planted ({planted_edges} of {len(planted)})"
    )


if __name__ == "__main__":
    main()
