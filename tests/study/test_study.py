"""Studies end to end: the CLI in real subprocesses, real data, a real PostgreSQL per test.

Each test gets a database of its own (``study_dir``), so Optuna's tables start empty. Spaces are
tiny (BTC/USDT 4h from 2021, 60 trees: about 0.1 s a trial); the interruption tests use a slower
one (about 0.5 s a trial) so a signal lands while trials run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from conftest import (
    SEED_LEADERBOARD,
    StudyDir,
    is_counted,
    optuna_trials,
    sql,
    tiny_space,
)

from sweep.core.experiment import validate_experiment
from sweep.core.gate import constraint_values, feasible, shortfall
from sweep.study.optuna_study import create_storage, trial_experiment_id

FAST_STALE = {"SWEEP_HEARTBEAT_INTERVAL": "1", "SWEEP_HEARTBEAT_GRACE": "3"}


def slow_space(name: str) -> dict[str, Any]:
    """About 0.5 s a trial (2018 on, 500 rounds without early stopping)."""
    space = tiny_space(name)
    space["data"] = {"start": "2018-01-01"}
    space["model"]["n_estimators"] = 500
    space["model"]["learning_rate"] = 0.02
    space["training"]["early_stopping_rounds"] = 500
    return space


def experiments(url: str, study: str) -> list[dict[str, Any]]:
    return sql(
        url,
        "SELECT experiment_id, study_name, trial_number, config FROM experiments "
        "WHERE study_name = %s ORDER BY trial_number",
        (study,),
    )


def results(url: str, study: str) -> list[dict[str, Any]]:
    return sql(
        url,
        "SELECT r.* FROM model_results r JOIN experiments e USING (experiment_id) "
        "WHERE e.study_name = %s ORDER BY r.id",
        (study,),
    )


def study_meta(url: str, study: str) -> dict[str, Any]:
    rows = sql(url, "SELECT * FROM sweep_studies WHERE study_name = %s", (study,))
    assert len(rows) == 1
    return rows[0]


def assert_consistent(url: str, study: str, n: int) -> list[Any]:
    """The invariants of a finished study of budget ``n``; returns its Optuna trials."""
    trials = optuna_trials(url, study)
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    assert sum(is_counted(t) for t in trials) == n
    assert [t.number for t in trials if t.state.name == "RUNNING"] == []
    exps = experiments(url, study)
    ids = [e["experiment_id"] for e in exps]
    assert len(ids) == len(set(ids))
    for e in exps:
        assert e["experiment_id"] == trial_experiment_id(study, e["trial_number"])
    # every counted trial is registered, with its own experiment id in its user attributes
    by_number = {e["trial_number"]: e for e in exps}
    for t in trials:
        if is_counted(t):
            assert t.number in by_number, f"counted trial {t.number} has no experiments row"
            assert t.user_attrs["experiment_id"] == trial_experiment_id(study, t.number)
    per_experiment = Counter(r["experiment_id"] for r in results(url, study))
    assert set(per_experiment) == set(ids)
    return trials


def worker_pids(parent: int) -> list[int]:
    """The worker processes of a ``sweep run``: spawned by it, or forked by its fork server (not
    multiprocessing's resource tracker, nor the fork server itself)."""
    out = []
    for child in psutil.Process(parent).children():
        try:
            cmd = " ".join(child.cmdline())
            if "spawn_main" in cmd:
                out.append(child.pid)
            elif "forkserver" in cmd:
                out += [g.pid for g in child.children()]
        except psutil.NoSuchProcess:
            pass
    return out


def gone_within(pids: list[int], limit: float) -> list[int]:
    """The pids still alive (not zombies) after ``limit`` seconds."""
    end = time.monotonic() + limit
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if psutil.pid_exists(p) and _not_zombie(p)]
        time.sleep(0.1)
    return alive


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for_registered(sd: StudyDir, study: str, n: int, proc: Any, limit: float = 90) -> None:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, f"sweep run ended early: {sd.output(proc)}"
        try:
            if len(experiments(sd.url, study)) >= n:
                return
        except psycopg.errors.UndefinedTable:  # the run has not created the schema yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} trials registered after {limit} s")


def wait_for_running(sd: StudyDir, study: str, n: int, proc: Any, limit: float = 60) -> None:
    """Until ``n`` trials are RUNNING, i.e. every worker is inside a trial (a worker holds no
    trial between finishing one and claiming the next)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, f"sweep run ended early: {sd.output(proc)}"
        if sum(t.state.name == "RUNNING" for t in optuna_trials(sd.url, study)) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} trials running after {limit} s")


def test_small_study_registers_every_trial_and_reports_it(study_dir: StudyDir) -> None:
    name = "tiny-e2e"
    study_dir.write("space.yaml", tiny_space(name))
    p = study_dir.sweep("run", "space.yaml", "--trials", "8", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr

    url = study_dir.url
    trials = assert_consistent(url, name, 8)
    assert [t.number for t in trials] == list(range(8))
    assert all(t.state.name == "COMPLETE" for t in trials)

    exps = experiments(url, name)
    assert [e["experiment_id"] for e in exps] == [f"{name}-t{i:04d}" for i in range(8)]
    assert all(e["study_name"] == name for e in exps)
    res = results(url, name)
    assert len(res) == 8
    assert all(r["status"] == "ok" and r["error"] is None for r in res)
    metrics = {r["experiment_id"]: r["metrics"] for r in res}

    for e in exps:
        # the registered config is the full fixed config of that trial: no ranges left
        cfg = validate_experiment(e["config"])
        assert cfg.experiment_id == e["experiment_id"]
        trial = trials[e["trial_number"]]
        assert cfg.target.horizon == trial.params["target.horizon"]
        assert cfg.model.max_depth == trial.params["model.max_depth"]
        assert "+".join(cfg.feature_groups) == trial.params["feature_groups"]
    for t in trials:
        eid = t.user_attrs["experiment_id"]
        assert t.user_attrs["sharpe"] == metrics[eid]["sharpe"]
        assert t.values == [metrics[eid]["sharpe"]]
    for r in res:
        assert r["model_path"] and os.path.exists(r["model_path"])

    # the seed's leaderboard query runs verbatim and gives exactly the passed trials, best first
    board = sql(url, SEED_LEADERBOARD)
    passed = {r["experiment_id"] for r in res if r["gate_passed"]}
    assert {b["experiment_id"] for b in board} == passed
    sharpes = [float(b["sharpe"]) for b in board]
    assert sharpes == sorted(sharpes, reverse=True)

    # the chosen trial: the highest Sharpe among those that passed the gate's per-run checks
    # (all of them if none did), ties to the lowest trial number
    own_pass = [
        r
        for r in res
        if all(f.startswith(("study: ", "dsr ", "pbo ")) for f in (r["gate_failures"] or []))
    ]
    pool = own_pass or res
    best_id = max(pool, key=lambda r: (r["metrics"]["sharpe"], -int(r["experiment_id"][-4:])))[
        "experiment_id"
    ]
    best_number = int(best_id[-4:])  # the id holds Optuna's number
    meta = study_meta(url, name)
    assert meta["status"] == "completed"
    assert (meta["n_complete"], meta["n_failed"], meta["n_pruned"], meta["n_running"]) == (
        8,
        0,
        0,
        0,
    )
    assert meta["n_trials_target"] == 8
    assert meta["objectives"] == ["sharpe"] and meta["directions"] == ["maximize"]
    assert meta["sampler"] == "tpe" and meta["seed"] == 7
    assert meta["best_experiment_id"] == best_id and meta["best_trial"] == best_number
    fp = meta["data_fingerprint"]["BTC/USDT 4h"]
    assert re.fullmatch(r"[0-9a-f]{64}", fp["sha256"])
    assert all(r["data_fingerprint"]["sha256"] == fp["sha256"] for r in res)

    assert f"best: {best_id} (" in p.stdout
    assert f"study {name}: 8 trials registered (8 ok; target 8)" in p.stdout

    listed = study_dir.sweep("results", "--study", name)
    assert listed.returncode == 0, listed.stderr
    for e in exps:
        assert e["experiment_id"] in listed.stdout
    assert f"best: {best_id}" in listed.stdout
    unknown = study_dir.sweep("results", "--study", name + "-typo")
    assert unknown.returncode == 2, unknown.stderr
    assert "--study" in unknown.stderr and "no such study" in unknown.stderr

    table = study_dir.sweep("studies")
    assert table.returncode == 0, table.stderr
    line = next(ln for ln in table.stdout.splitlines() if ln.startswith(name))
    assert "completed" in line and best_id in line
    js = study_dir.sweep("studies", "--format", "json")
    assert js.returncode == 0, js.stderr
    (row,) = [r for r in json.loads(js.stdout) if r["study_name"] == name]
    assert row["n_complete"] == 8 and row["status"] == "completed"
    # while a study runs, its stored counts are as of the last participant that left: the
    # listing counts from Optuna's trials instead
    sql(
        study_dir.url,
        "UPDATE sweep_studies SET status = 'running', n_complete = 0 WHERE study_name = %s "
        "RETURNING study_name",
        (name,),
    )
    js = study_dir.sweep("studies", "--format", "json")
    (row,) = [r for r in json.loads(js.stdout) if r["study_name"] == name]
    assert row["n_complete"] == 8 and row["status"] == "interrupted"


def test_constraints_are_stored_as_optunas_and_steer_the_chosen_trial(study_dir: StudyDir) -> None:
    """`sweep.constraints`: each completed trial carries Optuna constraint values (what its
    samplers, best_trial and the dashboard read), named in a user attribute, and the chosen
    trial is a feasible one."""
    name = "constrained"
    space = tiny_space(name)
    thresholds = {"min_trades": 40, "max_drawdown": 0.02}
    space["sweep"]["constraints"] = thresholds
    study_dir.write("space.yaml", space)
    # 14 trials: TPE samples the last 4 (after 10 start-up trials) from constrained trials
    p = study_dir.sweep("run", "space.yaml", "--trials", "14", "--jobs", "2")  # with progress
    assert p.returncode == 0, p.stderr

    trials = assert_consistent(study_dir.url, name, 14)
    by_id = {r["experiment_id"]: r for r in results(study_dir.url, name)}
    for t in trials:
        assert t.state.name == "COMPLETE", t
        want = constraint_values(thresholds, by_id[t.user_attrs["experiment_id"]]["metrics"])
        assert t.user_attrs["constraints"] == want
        assert list(want) == sorted(thresholds)  # one order everywhere: GP reads by position
        assert list(t.constraints.values()) == list(want.values())  # as Optuna reads them
    ok = [r for r in by_id.values() if r["status"] == "ok"]
    met = [r for r in ok if feasible(thresholds, r["metrics"])]
    assert f"met by {len(met)} of {len(ok)} completed trials" in p.stdout
    assert "max_drawdown <= 2.0%, n_trades >= 40" in p.stdout
    # the rule: gate and constraints, else constraints, else gate, else the least shortfall;
    # best Sharpe first
    passing = [r for r in ok if not r["gate_failures"]]
    both = [r for r in met if not r["gate_failures"]]

    least = min(shortfall(thresholds, r["metrics"]) for r in ok)
    pool = both or met or passing or [r for r in ok if shortfall(thresholds, r["metrics"]) == least]
    best = max(pool, key=lambda r: (r["metrics"]["sharpe"], -int(r["experiment_id"][-4:])))
    meta = study_meta(study_dir.url, name)
    assert meta["best_experiment_id"] == best["experiment_id"]
    assert meta["constraints"] == thresholds  # as resolved when the study started
    # the progress line's final best so far is that same trial, flagged when none is feasible
    flag = "" if met else ", infeasible"
    last = [ln for ln in p.stderr.splitlines() if "best sharpe" in ln][-1]
    assert f"({best['experiment_id'].rsplit('-', 1)[-1]}{flag})" in last, last


def test_with_no_feasible_trial_the_closest_is_chosen_and_shown(study_dir: StudyDir) -> None:
    """Nothing meets the constraints or passes the gate: the chosen trial and the progress
    line's best are the least infeasible trial, as Optuna ranks them, not the top Sharpe (which
    a never-trading configuration's 0 often is)."""
    name = "infeasible"
    space = tiny_space(name)
    space["gate"] = {"min_sharpe": 5.0, "min_win_rate": 0.9, "min_trades": 500}
    space["sweep"]["constraints"] = "gate"
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "6", "--jobs", "1")
    assert p.returncode == 0, p.stderr
    thresholds = {"min_sharpe": 5.0, "min_win_rate": 0.9, "min_trades": 500.0}
    ok = [r for r in results(study_dir.url, name) if r["status"] == "ok"]
    assert ok and not any(feasible(thresholds, r["metrics"]) for r in ok)

    least = min(shortfall(thresholds, r["metrics"]) for r in ok)
    closest = [r for r in ok if shortfall(thresholds, r["metrics"]) == least]
    best = max(closest, key=lambda r: (r["metrics"]["sharpe"], -int(r["experiment_id"][-4:])))
    assert study_meta(study_dir.url, name)["best_experiment_id"] == best["experiment_id"]
    assert "the closest to the constraints" in p.stdout
    last = [ln for ln in p.stderr.splitlines() if "best sharpe" in ln][-1]
    assert f"({best['experiment_id'].rsplit('-', 1)[-1]}, infeasible)" in last, last


def test_a_pruned_trial_misses_every_constraint_in_full(study_dir: StudyDir) -> None:
    """A pruned trial has no final metrics; without constraint values Optuna's TPE would take it
    as feasible and rank it above every infeasible completed trial."""
    name = "constrained-pruned"
    space = tiny_space(name)
    space["training"]["cv"] = {"type": "walk_forward", "folds": 3}
    space["sweep"]["pruner"] = {
        "type": "percentile",
        "percentile": 25,
        "startup_trials": 1,
        "warmup_folds": 1,
    }
    space["sweep"]["constraints"] = {"min_trades": 10}
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "8", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    trials = assert_consistent(study_dir.url, name, 8)
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert pruned, "a top-25% pruner after one fold stops some of 8 trials"
    assert all(list(t.constraints.values()) == [1.0] for t in pruned)
    assert all(t.user_attrs["constraints"] == {"min_trades": 1.0} for t in pruned)
    for t in trials:
        if t.state.name == "COMPLETE":
            assert list(t.constraints.values()) == [(10 - t.user_attrs["n_trades"]) / 10]


def test_resume_runs_the_remainder_and_a_changed_space_is_refused(study_dir: StudyDir) -> None:
    name = "tiny-resume"
    space = tiny_space(name)
    study_dir.write("space.yaml", space)
    cmd = ("run", "space.yaml", "--jobs", "2", "--no-progress", "--trials")

    first = study_dir.sweep(*cmd, "4")
    assert first.returncode == 0, first.stderr
    assert sum(is_counted(t) for t in optuna_trials(study_dir.url, name)) == 4
    first_ids = {e["experiment_id"] for e in experiments(study_dir.url, name)}
    assert len(first_ids) == 4

    second = study_dir.sweep(*cmd, "7")
    assert second.returncode == 0, second.stderr
    trials = assert_consistent(study_dir.url, name, 7)
    assert [t.number for t in trials] == list(range(7))
    ids = {e["experiment_id"] for e in experiments(study_dir.url, name)}
    assert first_ids < ids and len(ids) == 7
    assert len(results(study_dir.url, name)) == 7
    meta = study_meta(study_dir.url, name)
    assert meta["n_trials_target"] == 7 and meta["n_complete"] == 7

    # the budget is met: the same command again adds nothing
    third = study_dir.sweep(*cmd, "7")
    assert third.returncode == 0, third.stderr
    assert len(optuna_trials(study_dir.url, name)) == 7
    assert len(results(study_dir.url, name)) == 7

    # a different space under the same study name is refused before anything runs
    space["sweep"]["seed"] = 8
    study_dir.write("space.yaml", space)
    changed = study_dir.sweep(*cmd, "9")
    assert changed.returncode == 2
    assert len(changed.stderr.strip().splitlines()) == 1, changed.stderr
    assert "different search space" in changed.stderr
    assert len(optuna_trials(study_dir.url, name)) == 7
    assert study_meta(study_dir.url, name)["n_trials_target"] == 7


def test_failing_trials_are_recorded_and_the_study_goes_on(study_dir: StudyDir) -> None:
    name = "tiny-fail"
    space = tiny_space(name)
    # a 500% move in a few bars never happens: a one-class label, a PipelineError
    space["target"]["threshold"] = {"choice": [0.01, 5.0]}
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "8", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr

    trials = assert_consistent(study_dir.url, name, 8)
    assert len(trials) == 8
    failed = [t for t in trials if t.state.name == "FAIL"]
    ok = [t for t in trials if t.state.name == "COMPLETE"]
    assert failed and ok, "the seeded sampler should draw both thresholds in 8 trials"
    assert all(t.params["target.threshold"] == 5.0 for t in failed)
    assert all(t.params["target.threshold"] == 0.01 for t in ok)

    rows = {r["experiment_id"]: r for r in results(study_dir.url, name)}
    for t in failed:
        row = rows[trial_experiment_id(name, t.number)]
        assert row["status"] == "failed"
        assert row["gate_passed"] is False
        assert "one class" in row["error"]
        assert t.user_attrs["fail_reason"] == row["error"]
    for t in ok:
        assert rows[trial_experiment_id(name, t.number)]["status"] == "ok"
        assert "fail_reason" not in t.user_attrs

    meta = study_meta(study_dir.url, name)
    assert meta["status"] == "completed"
    assert (meta["n_complete"], meta["n_failed"]) == (len(ok), len(failed))
    assert f"failures: {len(failed)}× " in p.stdout


def test_sigkill_of_one_worker_is_recovered_by_the_others(study_dir: StudyDir) -> None:
    name = "slow-kill-one"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "10", "--jobs", "2", "--no-progress")
    proc = study_dir.popen(*cmd, env=FAST_STALE)
    try:
        wait_for_registered(study_dir, name, 2, proc)
        workers = worker_pids(proc.pid)
        assert len(workers) == 2
        wait_for_running(study_dir, name, 2, proc)  # both workers mid-trial (~0.5 s each)
        os.kill(workers[0], signal.SIGKILL)
        running = [t for t in optuna_trials(study_dir.url, name) if t.state.name == "RUNNING"]
        assert running, "the kill should leave a claimed trial behind"
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _out, err = study_dir.output(proc)
    # the surviving worker fails the stale trials after the grace period and meets the budget
    assert rc == 0, err
    trials = assert_consistent(study_dir.url, name, 10)
    stale = [t for t in trials if t.state.name == "FAIL" and not is_counted(t)]
    assert stale, "the killed worker's trials must show as failed, not counted"
    assert all("fail_reason" not in t.user_attrs for t in stale)
    retried = {t.system_attrs.get("failed_trial"): t for t in trials}
    for t in stale:
        assert t.number in retried, f"stale trial {t.number} was not re-queued"
        assert retried[t.number].params == t.params
    assert study_meta(study_dir.url, name)["status"] == "completed"
    assert "sweep-worker-0 exited with -9" in err or "sweep-worker-1 exited with -9" in err


def test_sigkill_of_the_whole_run_then_the_same_command_completes(study_dir: StudyDir) -> None:
    name = "slow-kill-all"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "10", "--jobs", "2", "--no-progress")
    proc = study_dir.popen(*cmd, env=FAST_STALE)
    try:
        wait_for_registered(study_dir, name, 2, proc)
        wait_for_running(study_dir, name, 2, proc)
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-trial
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    before = optuna_trials(study_dir.url, name)
    left_running = [t.number for t in before if t.state.name == "RUNNING"]
    assert left_running, "a SIGKILL mid-study leaves RUNNING trials"
    assert sum(is_counted(t) for t in before) < 10

    again = study_dir.sweep(*cmd, env=FAST_STALE)
    assert again.returncode == 0, again.stderr
    trials = assert_consistent(study_dir.url, name, 10)
    by_number = {t.number: t for t in trials}
    for n in left_running:
        t = by_number[n]
        assert t.state.name == "FAIL" and "fail_reason" not in t.user_attrs
        assert not is_counted(t)
    retried = {t.system_attrs.get("failed_trial"): t for t in trials}
    for n in left_running:
        assert retried[n].params == by_number[n].params
    meta = study_meta(study_dir.url, name)
    assert meta["status"] == "completed"
    assert meta["n_complete"] + meta["n_failed"] == 10 and meta["n_running"] == 0


def test_a_trial_failed_as_stale_while_its_run_was_paused_stops_at_its_next_fold(
    study_dir: StudyDir,
) -> None:
    """A paused run (SIGSTOP: a suspended laptop, a frozen VM) loses its trial to another run's
    stale check; when it resumes, its next fold report finds the trial gone and it stops there
    instead of computing the rest for nothing, then goes on with the study."""
    name = "paused"
    space = slow_space(name)
    space["training"]["cv"] = {"type": "walk_forward", "folds": 5}
    space["sweep"]["pruner"] = {"type": "median", "startup_trials": 20}  # reports, never prunes
    study_dir.write("space.yaml", space)
    cmd = ("run", "space.yaml", "--trials", "4", "--jobs", "1", "--no-progress")
    paused = study_dir.popen(*cmd, env=FAST_STALE)
    other = None
    try:
        end = time.monotonic() + 90
        lost = None
        while lost is None:
            assert time.monotonic() < end, "the first run never started a trial"
            assert paused.poll() is None, study_dir.output(paused)
            try:
                running = [
                    t for t in optuna_trials(study_dir.url, name) if t.state.name == "RUNNING"
                ]
            except (KeyError, psycopg.errors.UndefinedTable):  # no study yet
                running = []
            if running and len(running[0].intermediate_values) <= 2:
                os.killpg(paused.pid, signal.SIGSTOP)
                lost = running[0].number
            time.sleep(0.02)
        other = study_dir.popen(*cmd, env=FAST_STALE)
        while optuna_trials(study_dir.url, name)[lost].state.name == "RUNNING":
            assert time.monotonic() < end + 60, "the paused run's trial was never failed"
            assert other.poll() is None, study_dir.output(other)
            time.sleep(0.1)
        os.killpg(paused.pid, signal.SIGCONT)
        codes = [p.wait(timeout=180) for p in (paused, other)]
    finally:
        for p in (paused, other):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert codes == [0, 0], [study_dir.output(p) for p in (paused, other)]
    _, err = study_dir.output(paused)
    assert f"trial {lost} was failed as stale" in err and "stopped after fold" in err, err
    trials = assert_consistent(study_dir.url, name, 4)
    t = trials[lost]
    assert t.state.name == "FAIL" and not is_counted(t)
    assert len(t.intermediate_values) < 5  # no fold reported after the loss
    assert lost not in {e["trial_number"] for e in experiments(study_dir.url, name)}


def test_timeout_stops_between_trials_and_the_same_command_runs_the_rest(
    study_dir: StudyDir,
) -> None:
    name = "timed"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "12", "--jobs", "1", "--no-progress")
    first = study_dir.sweep(*cmd, "--timeout", "2")
    assert first.returncode == 0, first.stderr
    trials = optuna_trials(study_dir.url, name)
    done = sum(is_counted(t) for t in trials)
    assert 1 <= done < 12, done
    assert [t.number for t in trials if t.state.name == "RUNNING"] == []  # finished, not cut
    assert study_meta(study_dir.url, name)["status"] == "timed_out"
    assert f"stopped by --timeout at {done} of 12 trials" in first.stdout

    rest = study_dir.sweep(*cmd)
    assert rest.returncode == 0, rest.stderr
    assert_consistent(study_dir.url, name, 12)
    assert study_meta(study_dir.url, name)["status"] == "completed"
    assert "--timeout" not in rest.stdout


def test_two_concurrent_runs_share_one_budget(study_dir: StudyDir) -> None:
    name = "tiny-concurrent"
    study_dir.write("space.yaml", tiny_space(name))
    # a brand-new database: both processes also race to create Optuna's tables
    cmd = ("run", "space.yaml", "--trials", "8", "--jobs", "1", "--no-progress")
    procs = [study_dir.popen(*cmd), study_dir.popen(*cmd)]
    try:
        codes = [p.wait(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert codes == [0, 0], [study_dir.output(p)[1] for p in procs]
    trials = assert_consistent(study_dir.url, name, 8)
    assert [t.number for t in trials] == list(range(8))
    assert len(experiments(study_dir.url, name)) == 8
    assert len(results(study_dir.url, name)) == 8
    meta = study_meta(study_dir.url, name)
    assert meta["status"] == "completed" and meta["n_complete"] == 8


def test_concurrent_first_starts_on_a_new_database(fresh_db: str) -> None:
    """The documented scale-out (every machine starts the same command) on a fresh database:
    several processes open the study storage at the same moment."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            create_storage(fresh_db).engine.dispose()
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(study_dir: StudyDir) -> None:
    name = "slow-sigint"
    study_dir.write("space.yaml", slow_space(name))
    cmd = ("run", "space.yaml", "--trials", "10", "--jobs", "2", "--no-progress")
    proc = study_dir.popen(*cmd)
    try:
        wait_for_registered(study_dir, name, 2, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _out, err = study_dir.output(proc)
    assert rc == 130, err
    # (workers exit quietly on Ctrl-C; the last line is the CLI's)
    assert err.strip().splitlines()[-1] == "interrupted; run the same command again to resume"

    trials = optuna_trials(study_dir.url, name)
    assert [t.number for t in trials if t.state.name == "RUNNING"] == []
    counted = sum(is_counted(t) for t in trials)
    assert counted < 10
    released = [t for t in trials if t.state.name == "FAIL" and not is_counted(t)]
    assert all(t.user_attrs.get("interrupted") is True for t in released)
    per_experiment = Counter(r["experiment_id"] for r in results(study_dir.url, name))
    exps = experiments(study_dir.url, name)
    assert {e["experiment_id"] for e in exps} == set(per_experiment)
    assert set(per_experiment.values()) == {1}
    assert study_meta(study_dir.url, name)["status"] == "interrupted"

    again = study_dir.sweep(*cmd)
    assert again.returncode == 0, again.stderr
    assert_consistent(study_dir.url, name, 10)
    assert study_meta(study_dir.url, name)["status"] == "completed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--trials", "0"), "--trials"),
        (("--jobs", "0"), "--jobs"),
        (("--trials", "2", "--study", "bad/name"), "--study"),
    ],
)
def test_bad_study_arguments_exit_2_and_write_nothing(
    study_dir: StudyDir, args: tuple[str, ...], message: str
) -> None:
    study_dir.write("space.yaml", tiny_space("tiny-bad"))
    p = study_dir.sweep("run", "space.yaml", "--no-progress", *args)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert message in p.stderr
    tables = sql(study_dir.url, "SELECT to_regclass('sweep_studies')::text AS t")[0]["t"]
    if tables is not None:
        assert sql(study_dir.url, "SELECT count(*) AS n FROM sweep_studies")[0]["n"] == 0


def test_resumed_and_parallel_random_search_never_replays_a_configuration(
    study_dir: StudyDir,
) -> None:
    """Each trial's sampler seed comes from the study seed and the trial's number, so a resumed
    run, a second worker or a second machine does not draw the same parameters again."""
    name = "tiny-random"
    space = tiny_space(name)
    space["sweep"]["sampler"] = "random"
    study_dir.write("space.yaml", space)
    cmd = ("run", "space.yaml", "--no-progress", "--trials")
    assert study_dir.sweep(*cmd, "3", "--jobs", "1").returncode == 0
    second = study_dir.sweep(*cmd, "8", "--jobs", "2")
    assert second.returncode == 0, second.stderr
    trials = assert_consistent(study_dir.url, name, 8)
    draws = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(draws)) == len(draws) == 8


def test_workers_of_in_process_studies_follow_the_callers_directory_and_environment(
    tmp_path: Path, fresh_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers are forked from a fork server that outlives one study (a notebook, a script running
    several): each study's workers must still see its caller's working directory (relative data
    paths) and environment (SWEEP_HOME), not the ones the server started with."""
    from sweep.study.engine import run_study
    from sweep.study.space import parse_space

    monkeypatch.setenv("SWEEP_DATABASE_URL", fresh_db)
    homes = []
    for k in (1, 2):
        where = StudyDir(tmp_path / f"user{k}", fresh_db)
        monkeypatch.chdir(where.path)
        monkeypatch.setenv("SWEEP_HOME", str(where.path / ".sweep"))
        data = tiny_space(f"inproc{k}")
        data["data"]["dir"] = "data"  # relative: resolved in the caller's directory
        summary = run_study(parse_space(data, file=f"inproc{k}.yaml"), n_trials=2, jobs=2)
        assert summary.by_status == {"ok": 2}, summary
        homes.append(where.path / ".sweep")
        shutil.rmtree(where.path / "data")  # a worker left in this directory finds no data
    for k, home in enumerate(homes, start=1):
        paths = [r["model_path"] for r in results(fresh_db, f"inproc{k}") if r["model_path"]]
        assert paths and all(Path(p).is_relative_to(home) for p in paths), (home, paths)


def test_the_cmaes_sampler_runs_out_of_the_box(study_dir: StudyDir) -> None:
    """CMA-ES needs the `cmaes` package, which Optuna imports only at the first sampled trial."""
    space = tiny_space("cma")
    space["sweep"]["sampler"] = "cmaes"
    study_dir.write("space.yaml", space)
    res = study_dir.sweep("run", "space.yaml", "--trials", "3", "--jobs", "1", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert [r["status"] for r in results(study_dir.url, "cma")] == ["ok"] * 3
