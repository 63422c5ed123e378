"""``sweep robust``: does a study's winner sit on a plateau or on a spike?

Each candidate (the chosen trial, the top K, or ``--trial N``) is run again under small changes,
each change its own registered run (role ``robust``; ``sql/009_robust.sql``):

* **neighbours**: each parameter moved one step, alone (:mod:`sweep.study.neighbours`), plus
  ``random`` multi-parameter neighbours drawn from a seeded generator;
* **seeds**: the same config under 5 other XGBoost seeds (``seed + 1 .. seed + 5``);
* **symbols**: the same config on every other symbol with data at the same timeframe in the data
  directory;
* **base**: the candidate itself, whose per-bar returns give the table per market regime.

Every evaluation is scored on the search part only: the study's walk-forward folds
(``training.cv``), or 5 expanding folds when the study has none, so robustness spends no look at
the sealed holdout. Evaluations have deterministic keys: a command run again (after Ctrl-C, or
with more candidates) runs only what is not registered yet.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import multiprocessing as mp
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweep.core.config import is_safe_name
from sweep.core.data import find_data_file, resolve_data_dir
from sweep.core.datafiles import base_name, scan_data_dir
from sweep.core.errors import ConfigError, DataFileNotFound, RegistryError, SweepError
from sweep.core.experiment import validate_experiment
from sweep.store.db import database_url
from sweep.store.registry import Connection, open_registry, query, same_config
from sweep.study.folds import fit_default_folds
from sweep.study.interrupts import interrupts_noticed
from sweep.study.neighbours import Variation, neighbours, random_neighbours
from sweep.study.processes import run_processes, worker_context
from sweep.study.robust_runs import EvalSpec, RobustWorkerPlan, robust_worker_main, run_specs
from sweep.study.selection import SELECT_RULES
from sweep.study.space import SUBSET_SEPARATOR, Param, SearchSpace, parse_space
from sweep.study.summary import (
    Choice,
    choose_trial,
    is_feasible,
    no_such_study,
    passed_own_gate,
    ranked_trials,
    study_results,
    study_row,
    study_select,
    study_thresholds,
)

log = logging.getLogger(__name__)

__all__ = ["N_SEEDS", "RobustRequest", "RobustRun", "plan_robustness", "run_robustness"]

N_SEEDS = 5


@dataclass(frozen=True)
class RobustRequest:
    """What to evaluate. ``trial`` is Optuna's number (``--trial N`` is the number in the
    experiment id, less the study's ``trial_id_offset``: the same number for a study whose ids
    follow Optuna's numbering, one less for an older study); ``top`` the number of candidates
    (default: 1, the chosen trial; with robust selection, ``sweep.robust_top``);
    ``neighbours_only``: the one-at-a-time neighbours only (what robust selection needs)."""

    study: str
    trial: int | None = None
    top: int | None = None
    random: int = 0
    select: str | None = None
    jobs: int | None = None
    neighbours_only: bool = False

    def check(self) -> None:
        """Bad input, before anything is read or run."""
        if self.trial is not None and self.top is not None:
            raise ConfigError(
                "cannot be combined with --trial",
                key="--top",
                value=self.top,
                hint="--trial N evaluates one trial; --top K the K best",
            )
        if self.top is not None and not 1 <= self.top <= 50:
            raise ConfigError("must be between 1 and 50", key="--top", value=self.top)
        if not 0 <= self.random <= 100:
            raise ConfigError("must be between 0 and 100", key="--random", value=self.random)
        if self.jobs is not None and self.jobs < 1:
            raise ConfigError("must be >= 1", key="--jobs", value=self.jobs)
        if self.select is not None and self.select not in SELECT_RULES:
            raise ConfigError(
                "unknown selection rule",
                key="--select",
                value=self.select,
                hint="peak (the best objective) or robust (the best lower-quartile neighbour)",
            )


@dataclass
class RobustRun:
    """What a command planned and ran."""

    study: str
    candidates: list[str]
    planned: int  # evaluations of these candidates, registered earlier or now
    ran: int  # run by this command
    cv_note: str  # how evaluations were scored
    choice: Choice | None = None
    symbols: list[str] = field(default_factory=list)
    note: str = ""  # e.g. fewer candidates than asked for


def candidate_values(space: SearchSpace, config: dict[str, Any]) -> dict[str, Any]:
    """A registered trial's parameter values in Optuna's form, read from its config."""
    out: dict[str, Any] = {}
    for p in space.params:
        node: Any = config
        for part in p.path.split("."):
            node = node[part]
        out[p.path] = SUBSET_SEPARATOR.join(node) if p.kind == "subset" else node
    return out


def _eval_id(candidate: str, suffix: str) -> str:
    eid = f"{candidate}-r{suffix}"
    if len(eid) <= 128:
        return eid
    digest = hashlib.sha1(eid.encode()).hexdigest()[:16]
    return f"{candidate[: 128 - len(digest) - 2]}-r{digest}"


def symbols_with_data(data_dir: Path, timeframe: str) -> list[str]:
    """Symbols with a file in ``data_dir`` (or its freqtrade ``futures/`` folder) that gives
    ``timeframe`` bars (its own, or a finer timeframe that divides it), sorted."""
    if not data_dir.is_dir():
        return []
    found = set()
    for f in scan_data_dir(data_dir):
        if f.symbol in found:
            continue
        try:
            find_data_file(f.symbol, timeframe, data_dir)
        except (DataFileNotFound, SweepError):
            continue
        found.add(f.symbol)
    return sorted(found)


def _with_cv(cfg: dict[str, Any], cv: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    out.setdefault("training", {})["cv"] = dict(cv)
    return out


def _variations_of(
    space: SearchSpace, values: dict[str, Any], random: int, seed: int, neighbours_only: bool
) -> list[Variation]:
    found = neighbours(space.params, values)
    if not neighbours_only:
        found += random_neighbours(space.params, values, random, seed)
    return found


def _config_changes(params: tuple[Param, ...], changes: dict[str, Any]) -> dict[str, Any]:
    by_path = {p.path: p for p in params}
    return {k: by_path[k].to_config_value(v) for k, v in changes.items()}


def pool_note(k: int, n: int, rows: list[dict[str, Any]], thresholds: dict[str, float]) -> str:
    """Why fewer than the ``k`` candidates asked for: the pool the chosen trial comes from holds
    ``n``. When no trial met the constraints or passed the per-trial gate, the pool is the trials
    closest to the constraints, usually one: said so, since "top 5" then cannot mean five."""
    if thresholds and not any(is_feasible(r, thresholds) or passed_own_gate(r) for r in rows):
        closest = "the trial" if n == 1 else f"the {n} trials tied"
        return (
            f"top {k} candidates wanted: no trial met the constraints or passed the per-trial "
            f"gate, so the pool the chosen trial comes from is {closest} closest to the "
            "constraints (README: The chosen trial)"
        )
    return (
        f"top {k} candidates wanted: only {n} trial(s) are in the pool the chosen trial comes "
        "from (those that passed the gate and met the constraints, when any did; README: The "
        "chosen trial)"
    )


def plan_robustness(conn: Connection, req: RobustRequest) -> tuple[list[EvalSpec], RobustRun]:
    """Every evaluation of the request's candidates, the registered ones included; records each
    candidate's neighbourhood size (``robust_candidates``)."""
    meta = study_row(conn, req.study)
    if meta is None:
        raise no_such_study(conn, req.study)
    rows = study_results(conn, req.study)
    rule, k_robust = study_select(meta)
    rule = req.select or rule
    objectives, directions = list(meta["objectives"]), list(meta["directions"])
    note = ""
    if req.trial is not None:
        chosen = [r for r in rows if r["trial_number"] == req.trial and r["status"] == "ok"]
        if not chosen:
            raise ConfigError(
                "no completed trial with this number",
                key="--trial",
                value=req.trial + int(meta["trial_id_offset"]),  # the number in the id
                hint=f"`sweep results --study {req.study}` lists the trials",
            )
    else:
        k = req.top or (k_robust if rule == "robust" else 1)
        pool = ranked_trials(rows, objectives, directions, study_thresholds(meta))
        if not pool:
            raise RegistryError(f"study {req.study} has no completed trial to evaluate")
        chosen = pool[:k]
        if len(chosen) < k:
            note = pool_note(k, len(chosen), rows, study_thresholds(meta))
    space = parse_space(meta["space"], file=f"study {req.study}")
    specs: list[EvalSpec] = []
    run = RobustRun(req.study, [str(r["experiment_id"]) for r in chosen], 0, 0, "", note=note)
    for row in chosen:
        specs += _plan_candidate(conn, space, meta, row, req, objectives[0], run)
    run.planned = len(specs)
    return specs, run


def _plan_candidate(
    conn: Connection,
    space: SearchSpace,
    meta: dict[str, Any],
    row: dict[str, Any],
    req: RobustRequest,
    objective: str,
    run: RobustRun,
) -> list[EvalSpec]:
    cand = str(row["experiment_id"])
    registered = conn.execute(query("experiment_config"), {"experiment_id": cand}).fetchone()
    hashed = conn.execute(query("experiment_config_hash"), {"experiment_id": cand}).fetchone()
    assert registered is not None and hashed is not None
    values = candidate_values(space, registered[0])
    cv = (registered[0].get("training") or {}).get("cv")
    as_run = space.apply(values, cand)  # the trial's config, with the folds it ran on
    as_run.setdefault("training", {}).pop("cv", None)
    if cv:
        as_run["training"]["cv"] = cv
    if not same_config(hashed[0], registered[0], validate_experiment(as_run, file=space.file)):
        raise RegistryError(
            f"the config of {cand} does not follow from the study's space",
            hint="the study's space row was changed after the trial ran",
        )
    if cv:
        run.cv_note = (
            f"scored on the study's {cv['folds']} {cv['mode']} walk-forward folds of the "
            "search part"
        )
    else:
        # A study from before studies always scored on folds: its trials scored on the test
        # period, which is the sealed holdout now. Robustness scores on the default folds the
        # space defines, fitted to the data as a new study's are (sweep.study.folds).
        cv = dict(fit_default_folds(space).template["training"]["cv"])
        run.cv_note = (
            f"the study has no training.cv: scored on {cv['folds']} {cv['mode']} walk-forward "
            "folds of the search part (the study's own trials were scored on its test period)"
        )
    seed = zlib.crc32(f"{meta['study_name']}:{meta.get('seed')}:{row['trial_number']}".encode())
    variations = _variations_of(space, values, req.random, seed, req.neighbours_only)
    n_neighbours = sum(v.kind == "neighbour" for v in variations)
    with conn.transaction():
        conn.execute(
            query("upsert_robust_candidate"),
            {"candidate_id": cand, "study_name": req.study, "n_neighbours": n_neighbours},
        )
    base = _with_cv(space.apply(values), cv)
    planned: list[_Planned] = []
    for v in variations:
        digest = hashlib.sha1(v.key.encode()).hexdigest()[:10]
        planned.append(
            _Planned(
                v.kind,
                v.key,
                v.label,
                _config_changes(space.params, v.changes),
                _with_cv(space.apply({**values, **v.changes}), cv),
                ("n" if v.kind == "neighbour" else "x") + digest,
            )
        )
    if not req.neighbours_only:
        planned.append(_Planned("base", "base", "the candidate itself", {}, base, "base"))
        own_seed = int(registered[0].get("seed", 42))
        for i in range(1, N_SEEDS + 1):
            other = (own_seed + i) % 2**31
            planned.append(
                _Planned(
                    "seed",
                    f"seed:{other}",
                    f"seed {other}",
                    {"seed": other},
                    {**base, "seed": other},
                    f"seed{other}",
                )
            )
        data_dir = resolve_data_dir((registered[0].get("data") or {}).get("dir"))
        tf, own = str(registered[0]["timeframe"]), str(registered[0]["symbol"])
        run.symbols = [s for s in symbols_with_data(data_dir, tf) if s != own]
        for sym in run.symbols:
            suffix = "sym-" + base_name(sym)
            planned.append(
                _Planned(
                    "symbol", f"symbol:{sym}", sym, {"symbol": sym}, {**base, "symbol": sym}, suffix
                )
            )
    specs = []
    for p in planned:
        eid = _eval_id(cand, p.suffix)
        if not is_safe_name(eid):
            raise RegistryError(f"cannot name the robustness run {eid}")
        cfg = validate_experiment({**p.config, "experiment_id": eid}, file=f"robustness run {eid}")
        specs.append(EvalSpec(cfg, req.study, cand, p.kind, p.key, p.label, p.changes, objective))
    return specs


@dataclass(frozen=True)
class _Planned:
    kind: str
    key: str
    label: str
    changes: dict[str, Any]  # config values
    config: dict[str, Any]  # the candidate's config with the change, before cv and id
    suffix: str  # of the experiment id


def _done_keys(conn: Connection, candidates: list[str]) -> set[tuple[str, str]]:
    with conn.transaction():
        rows = conn.execute(query("robust_done"), {"candidates": candidates}).fetchall()
    return {(str(c), str(k)) for c, k in rows}


def run_robustness(
    req: RobustRequest,
    *,
    url: str | None = None,
    ctx: Any = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RobustRun:
    """Plan the request's evaluations and run those not registered yet (``req.jobs`` worker
    processes, default all cores); ``on_progress(done, total)`` as they finish."""
    req.check()
    url = url or database_url()
    conn = open_registry(url)
    try:
        specs, run = plan_robustness(conn, req)
        done = _done_keys(conn, run.candidates)
        todo = [s for s in specs if (s.candidate_id, s.eval_key) not in done]
        run.ran = len(todo)
        _run_specs(url, todo, req.jobs, ctx, on_progress)
        meta = study_row(conn, req.study)
        assert meta is not None
        if req.trial is None:
            run.choice = choose_trial(
                conn, meta, study_results(conn, req.study), select=req.select, top=req.top
            )
        return run
    finally:
        conn.close()


def _run_specs(
    url: str,
    specs: list[EvalSpec],
    jobs: int | None,
    ctx: Any,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    if not specs:
        return
    cores = os.cpu_count() or 1
    jobs = min(jobs if jobs is not None else cores, len(specs))
    nthread = max(1, cores // jobs)
    next_index, done = mp.Value("i", 0), mp.Value("i", 0)
    if jobs > 1:
        ctx = ctx or worker_context()
        next_index, done = ctx.Value("i", 0), ctx.Value("i", 0)
    plans = [
        RobustWorkerPlan(
            url,
            specs,
            nthread,
            next_index,
            done,
            cwd=os.getcwd(),
            env=dict(os.environ),
            parent_pid=os.getpid(),
        )
        for _ in range(jobs)
    ]

    def tick() -> None:
        if on_progress is not None:
            on_progress(int(done.value), len(specs))

    if jobs == 1:
        with interrupts_noticed():
            run_specs(plans[0], on_done=tick)
    else:
        run_processes(ctx, robust_worker_main, plans, "sweep-robust", on_tick=tick)
    tick()
