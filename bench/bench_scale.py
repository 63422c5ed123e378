"""sweep's own cost per trial in large studies, the results query at 100,000 registry rows, the
CLI's start-up, and whether a bounded sampler history keeps the search's quality.

Run: ``python bench/bench_scale.py [--sizes 100,1000,3000,10000] [--measure 100]
[--registry-rows 100000] [--quality-trials 1500] [--seeds 3]``.

* **Per-trial cost.** One study on the shipped space (``search_spaces/btc-4h.yaml``: 9
  parameters, TPE multivariate with constant liar, ``constraints: gate``) is prefilled, in
  batches through ``sweep.store.optuna_tables`` (the statements a worker uses), with finished
  trials whose metrics come from a synthetic function of the parameters (so TPE has a signal and
  half the space is feasible). At each size a fresh ``sweep.study.worker.Worker`` joins the
  study (its first mirror sync reported apart, as "join") and runs ``--measure`` trials with
  the pipeline replaced by that function: claim (stale check, lock, budget count, mirror sync,
  TPE ask, trial insert), then the trial's records (registry rows, user attributes,
  constraint values, state and value in one transaction) and the mirror's tell: what a trial
  costs besides its model. Wall and process-CPU milliseconds, median over the measured trials,
  and the mean wall (it includes the mirror's occasional trim, which the median hides).
  Beside it, the bare baseline: Optuna's TPE alone, in memory, over as many trials as the
  worker's bounded history holds, timed in batches of 10 alternating with sweep's trials (so
  both see the same machine); the ratio is sweep's wall over the bare median.
* **Results query.** Registry rows are prefilled in bulk (experiments and model_results over
  studies of 10,000 trials) up to ``--registry-rows``; then the queries ``sweep results --study
  S --top 10`` runs are timed in-process (median of 7), and the command end to end.
* **CLI start-up**: ``sweep --version`` and ``sweep --help`` (median of 5).
* **Search quality** (in memory, no database): the same synthetic objective, TPE through
  sweep's ``Mirror`` with its bounded history against the same sampler on every trial; best
  feasible value found after 250/500/1,000/... trials and the sampler's time per trial, per seed.

Targets are reported, not enforced. Timings on a shared 2-core machine are noisy: the load
average is printed beside each phase, and CPU time is reported beside wall time.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import optuna  # noqa: E402
import psycopg  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402
from study_runs import scratch_database  # noqa: E402

from sweep.core.gate import constraint_values  # noqa: E402
from sweep.store import optuna_tables  # noqa: E402
from sweep.store.registry import ResultRow, leaderboard, open_registry, record_run  # noqa: E402
from sweep.study.mirror import DEFAULT_HISTORY, Mirror  # noqa: E402
from sweep.study.optuna_study import (  # noqa: E402
    CONSTRAINTS_KEY,
    create_storage,
    make_pruner,
    make_sampler,
    open_study,
    quiet_optuna,
    register_study,
    space_distributions,
    study_directions,
    trial_experiment_id,
)
from sweep.study.space import SearchSpace, load_space  # noqa: E402
from sweep.study.summary import study_row, study_summary_lines  # noqa: E402
from sweep.study.worker import Worker, WorkerPlan  # noqa: E402

SPACE = ROOT / "search_spaces" / "btc-4h.yaml"
# finished trials a worker's mirror holds on average: its history bound plus half the slack it
# trims at (sweep.study.mirror)
MIRROR_HELD = DEFAULT_HISTORY + DEFAULT_HISTORY // 8
STUDY = "scale"


def log(msg: str) -> None:
    print(msg, flush=True)


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


# -- the synthetic objective ---------------------------------------------------------------------
def unit(trial: optuna.trial.FrozenTrial | optuna.Trial) -> list[float]:
    """Each parameter on [0, 1] (log scale for log ranges, index for choices)."""
    out = []
    params, dists = trial.params, trial.distributions  # each a copy on optuna.Trial
    for name in sorted(params):
        d = dists[name]
        v = params[name]
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            out.append(d.choices.index(v) / max(1, len(d.choices) - 1))
        elif getattr(d, "log", False):
            out.append((math.log(v) - math.log(d.low)) / (math.log(d.high) - math.log(d.low)))
        else:
            out.append((v - d.low) / ((d.high - d.low) or 1))
    return out


def metrics_of(u: list[float]) -> dict[str, float | int]:
    """A landscape with a broad decoy (Sharpe about 1.2, just above the gate's 1.0) and a narrow
    peak elsewhere (about 2.1), a ripple on top, and a trade count that falls with some
    parameters, so about half of the space misses ``min_trades``: easy to get started on, hard
    to finish."""
    peak = [0.3, 0.7, 0.5, 0.2, 0.6, 0.4, 0.8, 0.35, 0.55]
    decoy = [0.8, 0.2, 0.6, 0.7, 0.3, 0.9, 0.2, 0.7, 0.3]
    d_peak = sum((a - b) ** 2 for a, b in zip(u, peak, strict=False))
    d_decoy = sum((a - b) ** 2 for a, b in zip(u, decoy, strict=False))
    sharpe = (
        2.2 * math.exp(-d_peak / 0.15)
        + 1.5 * math.exp(-d_decoy / 0.6)
        - 0.3
        + 0.1 * math.sin(9 * u[0]) * math.cos(7 * u[-1])
    )
    n_trades = round(120 * (1 - 0.8 * u[1]) * (1 - 0.6 * u[-2]))  # a count, as the backtest
    return {
        "sharpe": sharpe,
        "win_rate": 0.45 + 0.05 * sharpe,
        "alpha": 0.1 * sharpe,
        "max_drawdown": 0.3 - 0.05 * sharpe,
        "n_trades": n_trades,
        "total_return": 0.2 * sharpe,
    }


# -- prefill -----------------------------------------------------------------------------------
def prefill_trials(url: str, space: SearchSpace, study_id: int, upto: int) -> float:
    """Finished trials until the study holds ``upto``; returns the seconds it took."""
    t0 = time.perf_counter()
    conn = open_registry(url)
    have = conn.execute("SELECT count(*) FROM trials WHERE study_id = %s", (study_id,)).fetchone()
    n = int(have[0]) if have else 0
    gen = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=upto))
    thresholds = space.settings.thresholds
    while n < upto:
        with conn.transaction(), conn.pipeline():
            for _ in range(min(500, upto - n)):
                local = gen.ask()
                space.suggest(local)
                m = metrics_of(unit(local))
                trial_id, number = optuna_tables.create_trial(conn, study_id, local)
                cons = constraint_values(thresholds, m)
                optuna_tables.set_system_attrs(
                    conn, trial_id, {CONSTRAINTS_KEY: list(cons.values())}
                )
                optuna_tables.set_user_attrs(
                    conn, trial_id, {"experiment_id": trial_experiment_id(STUDY, number)}
                )
                optuna_tables.finish_trial(conn, trial_id, "COMPLETE", [m["sharpe"]])
                gen.tell(local, m["sharpe"])
                n += 1
    conn.close()
    return time.perf_counter() - t0


def prefill_registry(conn: psycopg.Connection[Any], rows: int, measured: int) -> None:
    """Registry rows in bulk: the measured study's trials (``measured`` of them) and other
    studies of 10,000 trials each, until ``rows`` result rows exist."""
    have = conn.execute("SELECT count(*) FROM model_results").fetchone()
    n = int(have[0]) if have else 0
    study_n = 0
    while n < rows:
        name = STUDY if study_n == 0 else f"other-{study_n}"
        size = measured if study_n == 0 else min(10_000, rows - n)
        study_n += 1
        if size <= 0:
            continue
        exists = conn.execute(
            "SELECT count(*) FROM experiments WHERE study_name = %s", (name,)
        ).fetchone()
        start = int(exists[0]) if exists else 0
        if start >= size:
            continue
        with conn.transaction():
            conn.execute(
                """
                INSERT INTO experiments (experiment_id, config, config_hash, symbol, timeframe,
                                         model_type, feature_groups, study_name, trial_number)
                SELECT %(name)s || '-t' || lpad((i + 1)::text, 5, '0'), %(config)s, 'h',
                       'BTC/USDT', '4h', 'xgboost', ARRAY['momentum'], %(name)s, i
                FROM generate_series(%(start)s, %(end)s - 1) AS i
                ON CONFLICT DO NOTHING
                """,
                {"name": name, "config": Jsonb({"bench": True}), "start": start, "end": size},
            )
            conn.execute(
                """
                INSERT INTO model_results (experiment_id, model_path, metrics, gate_passed,
                                           gate_failures, status, config_hash)
                SELECT %(name)s || '-t' || lpad((i + 1)::text, 5, '0'), '/nowhere.ubj',
                       jsonb_build_object('sharpe', s, 'win_rate', 0.5, 'alpha', s / 10,
                                          'max_drawdown', 0.2, 'n_trades', 40),
                       s > 0.5, ARRAY[]::text[], 'ok', 'h'
                FROM generate_series(%(start)s, %(end)s - 1) AS i,
                     LATERAL (SELECT sin(i * 12.9898) * 2 AS s) AS x
                """,
                {"name": name, "start": start, "end": size},
            )
        n += size - start
    conn.execute("ANALYZE experiments")
    conn.execute("ANALYZE model_results")


# -- per-trial cost ------------------------------------------------------------------------------
class SweepTrials:
    """A fresh ``Worker`` joined to the study (its first mirror sync timed as ``join``), running
    trials with the pipeline replaced by the synthetic function: claim, the trial's records and
    the mirror's tell. :meth:`run` runs a few and keeps each one's wall, CPU, claim and finish
    seconds."""

    def __init__(self, url: str, space: SearchSpace) -> None:
        self.space = space
        plan = WorkerPlan(url, str(SPACE), space.raw, STUDY, 10**9, 1, 0)
        t0 = time.perf_counter()
        self.w = Worker(plan, space)
        self.w.mirror.sync(self.w.conn)
        self.join = time.perf_counter() - t0
        self.times: dict[str, list[float]] = {"wall": [], "cpu": [], "claim": [], "finish": []}

    def run(self, n: int) -> None:
        w, thresholds = self.w, self.space.settings.thresholds
        for _ in range(n):
            c0, p0 = time.perf_counter(), time.process_time()
            got = w._claim()
            c1 = time.perf_counter()
            assert not isinstance(got, type(None)) and hasattr(got, "trial_id"), got
            cfg = self.space.config_for(got.values, trial_experiment_id(STUDY, got.number))
            m = metrics_of(unit(got.local)) if got.local is not None else metrics_of([0.5] * 9)
            cons = constraint_values(thresholds, m)
            with w.conn.transaction(), w.conn.pipeline():
                record_run(
                    w.conn,
                    cfg,
                    ResultRow(status="ok", metrics=m, gate_passed=True, gate_failures=()),
                    code_version="bench",
                    study_name=STUDY,
                    trial_number=got.number,
                )
                optuna_tables.set_user_attrs(
                    w.conn, got.trial_id, {"experiment_id": cfg.experiment_id, **m}
                )
                optuna_tables.set_system_attrs(
                    w.conn, got.trial_id, {CONSTRAINTS_KEY: list(cons.values())}
                )
                optuna_tables.finish_trial(w.conn, got.trial_id, "COMPLETE", [m["sharpe"]])
            got.heartbeat.join()
            got.constraints = cons
            w._tell_mirror(got, TrialState.COMPLETE, [m["sharpe"]])
            c2, p2 = time.perf_counter(), time.process_time()
            for key, value in (
                ("wall", c2 - c0),
                ("cpu", p2 - p0),
                ("claim", c1 - c0),
                ("finish", c2 - c1),
            ):
                self.times[key].append(value)

    def close(self) -> dict[str, float]:
        """Medians (seconds), the join, and how many trials the mirror holds."""
        held = len(self.w.mirror.storage.get_all_trials(0, deepcopy=False))
        self.w.heartbeat.close()
        self.w.conn.close()
        self.w.storage.engine.dispose()
        out = {k: statistics.median(v) for k, v in self.times.items()}
        # the mean too: the median hides the mirror's trim, a rebuild every 64 trials or so
        mean = statistics.mean(self.times["wall"])
        return {**out, "mean": mean, "join": self.join, "mirror": held}


class BareTPE:
    """The bare baseline: Optuna's TPE (the space's sampler settings, seeded per trial as
    workers seed it) asked and told in memory over a study prefilled with ``n_trials`` finished
    trials, as many as a worker's bounded history holds: the sampling alone, with no storage and
    nothing of sweep's. :meth:`run` times a few asks (with suggest and tell) at a time, so that
    they can alternate with sweep's trials and both see the same machine: on a shared machine
    the speed drifts twofold within minutes."""

    def __init__(self, space: SearchSpace, n_trials: int) -> None:
        self.space = space
        s = space.settings
        self.dists = space_distributions(space)
        self.storage = optuna.storages.InMemoryStorage()
        self.study = optuna.create_study(
            storage=self.storage,
            directions=study_directions(s),
            sampler=optuna.samplers.RandomSampler(seed=1),
        )
        self.times: list[float] = []
        self.i = 0
        self._trials(n_trials, timed=False)

    def run(self, n: int) -> None:
        self._trials(n, timed=True)

    def _trials(self, n: int, *, timed: bool) -> None:
        s = self.space.settings
        for _ in range(n):
            self.i += 1
            if timed:
                self.study.sampler = make_sampler(
                    s, 0, len(self.space.params), seed=self.i, search_space=self.dists
                )
            t0 = time.perf_counter()
            local = self.study.ask()
            self.space.suggest(local)
            m = metrics_of(unit(local))
            cons = constraint_values(s.thresholds, m)
            self.storage.set_trial_system_attr(
                local._trial_id, CONSTRAINTS_KEY, list(cons.values())
            )
            self.study.tell(local, m["sharpe"])
            if timed:
                self.times.append(time.perf_counter() - t0)


def per_trial(
    url: str, space: SearchSpace, size: int, n_measure: int
) -> tuple[dict[str, float], float]:
    """Sweep's per-trial medians and the bare baseline's median (seconds), measured in
    alternating batches of 10 trials."""
    bare = BareTPE(space, min(size, MIRROR_HELD))
    ours = SweepTrials(url, space)
    for k in range(0, n_measure, 10):
        bare.run(min(10, n_measure - k))
        ours.run(min(10, n_measure - k))
    return ours.close(), statistics.median(bare.times)


def results_query(url: str, work: Path) -> tuple[float, float, float]:
    """In-process median ms of the queries `sweep results --study S --top 10` runs, the same
    with the summary lines, and the command's wall ms."""
    conn = open_registry(url)
    lb, full = [], []
    for _ in range(7):
        t0 = time.perf_counter()
        study_row(conn, STUDY)
        rows = leaderboard(conn, study=STUDY, top=10)
        t1 = time.perf_counter()
        study_summary_lines(conn, STUDY)
        t2 = time.perf_counter()
        assert len(rows) == 10
        lb.append(t1 - t0)
        full.append(t2 - t0)
    conn.close()
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(
            [sys.executable, "-m", "sweep.cli", "results", "--study", STUDY, "--top", "10"],
            cwd=work,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )
        cli.append(time.perf_counter() - t0)
        assert p.returncode == 0, p.stderr
    return statistics.median(lb) * 1e3, statistics.median(full) * 1e3, statistics.median(cli) * 1e3


def cli_startup(work: Path) -> dict[str, float]:
    out = {}
    for args in (["--version"], ["--help"]):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "sweep.cli", *args],
                cwd=work,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                capture_output=True,
                check=True,
            )
            times.append(time.perf_counter() - t0)
        out[" ".join(args)] = statistics.median(times) * 1e3
    return out


# -- search quality ------------------------------------------------------------------------------
def quality(space: SearchSpace, n: int, seed: int, bounded: bool) -> tuple[list[float], float]:
    """Best feasible value after each checkpoint, and the sampler's ms per trial; TPE seeded per
    trial as sweep's workers seed it, through sweep's Mirror (``bounded``: its default history
    bound; else none)."""
    s = space.settings.model_copy(update={"seed": seed})
    dists = space_distributions(space)  # as workers build their samplers
    mirror = Mirror(
        STUDY,
        directions=study_directions(s),
        sampler=make_sampler(s, 0, len(space.params), search_space=dists),
        pruner=make_pruner(s),
        **({} if bounded else {"history": None}),
    )
    thresholds = s.thresholds
    best, curve, spent = -math.inf, [], 0.0
    checkpoints = {c for c in (100, 250, 500, 1000, 1500, 2000, 3000, n)}
    for i in range(n):
        mirror.study.sampler = make_sampler(
            s, 0, len(space.params), seed=seed * 7919 + i, search_space=dists
        )
        t0 = time.process_time()
        mirror.trim()
        local = mirror.study.ask()
        space.suggest(local)
        spent += time.process_time() - t0
        m = metrics_of(unit(local))
        cons = constraint_values(thresholds, m)
        mirror.storage.set_trial_system_attr(local._trial_id, CONSTRAINTS_KEY, list(cons.values()))
        t0 = time.process_time()
        mirror.study.tell(local, m["sharpe"])
        spent += time.process_time() - t0
        if all(v <= 0 for v in cons.values()):
            best = max(best, m["sharpe"])
        if i + 1 in checkpoints:
            curve.append(best)
    return curve, spent / n * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,1000,3000,10000")
    ap.add_argument("--measure", type=int, default=100)
    ap.add_argument("--registry-rows", type=int, default=100_000)
    ap.add_argument("--quality-trials", type=int, default=1500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated: trials,results,startup,quality")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    quiet_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = load_space(SPACE)
    sizes = [int(x) for x in args.sizes.split(",")]
    log(
        f"bench_scale: {SPACE.name}, {len(space.params)} parameters, sampler "
        f"{space.settings.sampler}, constraints {sorted(space.settings.thresholds)}"
    )
    with scratch_database("sweep-bench-scale-") as (work, url):
        (work / "data").symlink_to(ROOT / "data")
        os.chdir(work)
        conn = open_registry(url)
        register_study(conn, space, STUDY, 10**9, {})
        storage = create_storage(url, claims=True)
        study = open_study(storage, space, STUDY)
        study_id = study._study_id
        storage.engine.dispose()
        if "trials" not in skip:
            log(
                "\nper trial, sampling + storage, no pipeline (median of "
                f"{args.measure} trials; ms)"
            )
            log(
                "(bare: Optuna's TPE alone, in memory, over as many trials as the mirror holds, "
                "measured in batches of 10 alternating with sweep's; ratio: wall / bare)"
            )
            log(
                f"{'trials':>7} {'wall':>7} {'mean':>7} {'cpu':>7} {'claim':>7} {'finish':>7} "
                f"{'join s':>7} {'mirror':>7} {'bare':>7} {'ratio':>6}  prefill"
            )
            for size in sizes:
                took = prefill_trials(url, space, study_id, size)
                r, bare_s = per_trial(url, space, size, args.measure)
                bare = bare_s * 1e3
                log(
                    f"{size:>7} {r['wall'] * 1e3:>7.1f} {r['mean'] * 1e3:>7.1f} "
                    f"{r['cpu'] * 1e3:>7.1f} "
                    f"{r['claim'] * 1e3:>7.1f} {r['finish'] * 1e3:>7.1f} {r['join']:>7.2f} "
                    f"{int(r['mirror']):>7} {bare:>7.1f} {r['wall'] * 1e3 / bare:>6.2f}  "
                    f"{took:.0f} s  ({load()})"
                )
        if "results" not in skip:
            measured = conn.execute(
                "SELECT count(*) FROM experiments WHERE study_name = %s", (STUDY,)
            ).fetchone()
            prefill_registry(conn, args.registry_rows, max(10_000, int(measured[0]) + 1))
            total = conn.execute("SELECT count(*) FROM model_results").fetchone()
            lb, full, cli = results_query(url, work)
            log(
                f"\nsweep results --study {STUDY} --top 10 at {int(total[0]) if total else 0:,} "
                f"registry rows: leaderboard query {lb:.1f} ms, with the summary lines "
                f"{full:.1f} ms, the command end to end {cli:.0f} ms ({load()})"
            )
        if "startup" not in skip:
            st = cli_startup(work)
            log(
                "CLI start-up: "
                + ", ".join(f"sweep {k} {v:.0f} ms" for k, v in st.items())
                + f" ({load()})"
            )
        conn.close()
    if "quality" not in skip:
        n = args.quality_trials
        log(
            "\nsearch quality, in memory: best feasible Sharpe (synthetic: decoy ~1.2, "
            "peak ~2.1) after "
            f"{sorted({c for c in (100, 250, 500, 1000, 1500, 2000, 3000, n) if c <= n})} trials; "
            "sampler CPU ms per trial"
        )
        for seed in range(1, args.seeds + 1):
            for bounded in (True, False):
                curve, ms = quality(space, n, seed, bounded)
                label = "bounded" if bounded else "full   "
                log(
                    f"seed {seed} {label} "
                    + " ".join(f"{b:.3f}" for b in curve)
                    + f"   {ms:.1f} ms/trial ({load()})"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
