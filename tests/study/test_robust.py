"""`sweep robust` end to end: real subprocesses, the real data, a real PostgreSQL.

One tiny walk-forward study (BTC/USDT 4h from 2021, 3 folds) is evaluated once by the module's
fixture (`sweep robust --top 2 --random 2 --jobs 2`); the tests read what it registered and
printed, and check that the study's own counts and statistics did not move.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import DATA_DIR, SEED_LEADERBOARD, StudyDir, optuna_trials, sql, tiny_space
from psycopg.types.json import Jsonb
from test_study import gone_within, worker_pids

from sweep.core.experiment import validate_experiment
from sweep.core.regimes import REGIMES
from sweep.store.registry import leaderboard, open_registry, query
from sweep.study.folds import fit_default_folds
from sweep.study.optuna_study import FAIL_REASON
from sweep.study.robust import N_SEEDS, RobustRequest, plan_robustness
from sweep.study.robust_report import robustness_results
from sweep.study.runner import compute
from sweep.study.selection import Candidate, choose_robust, load_neighbourhoods
from sweep.study.space import first_value, load_space
from sweep.study.study_stats import load_study_returns, study_stats_for
from sweep.study.summary import study_summary_lines, summarize

STUDY = "rob"
SELECTING = "rob-select"


def wf_space(name: str) -> dict[str, Any]:
    space = tiny_space(name)
    space["training"]["cv"] = {"type": "walk_forward", "folds": 3, "mode": "expanding"}
    return space


def study_state(url: str, name: str) -> dict[str, Any]:
    """Everything a study says about its own search, from the registry and Optuna."""
    conn = open_registry(url)
    try:
        summary = summarize(conn, name)
        assert summary is not None and summary.best is not None
        stats, n = study_stats_for(conn, name, str(summary.best["experiment_id"]), "bars")
        tried = conn.execute(
            "SELECT count(*) FROM experiments e JOIN model_results r USING (experiment_id) "
            "WHERE e.study_name = %s",
            (name,),
        ).fetchone()
        return {
            "summary": study_summary_lines(conn, name),
            "n_results": summary.n_results,
            "best": summary.best["experiment_id"],
            "stats": stats.to_dict() if stats else None,
            "n": (n.own, n.others, n.total),
            "returns": sorted(load_study_returns(conn, name)),
            "rows": tried[0] if tried else None,
            "meta": sql(
                url,
                "SELECT n_complete, n_pruned, n_failed, best_experiment_id, stats "
                "FROM sweep_studies WHERE study_name = %s",
                (name,),
            ),
            "verdict": sql(
                url,
                "SELECT e.experiment_id, r.gate_passed, r.gate_failures FROM experiments e "
                "JOIN model_results r USING (experiment_id) WHERE e.study_name = %s "
                "ORDER BY r.id",
                (name,),
            ),
            "optuna": [(t.number, t.state.name) for t in optuna_trials(url, name)],
            "leaderboard": sql(url, SEED_LEADERBOARD),
            "queries": study_queries(conn, url, name),
        }
    finally:
        conn.close()


def study_queries(conn: Any, url: str, name: str) -> dict[str, Any]:
    """Every named query (sql/queries) that reads a study's trials, its results or its holdout
    looks, run as sweep runs them: a robustness run must change none of their answers."""
    chosen = str(
        sql(url, "SELECT best_experiment_id FROM sweep_studies WHERE study_name = %s", (name,))[0][
            "best_experiment_id"
        ]
    )
    window = sql(
        url,
        "SELECT r.id, e.symbol, e.timeframe, r.test_from, r.test_to FROM model_results r "
        "JOIN experiments e USING (experiment_id) WHERE r.experiment_id = %s "
        "ORDER BY r.id DESC LIMIT 1",
        (chosen,),
    )[0]
    on_bars = {
        "symbol": window["symbol"],
        "timeframe": window["timeframe"],
        "t0": window["test_from"],
        "t1": window["test_to"],
        "result_id": window["id"],
    }
    named: dict[str, Any] = {
        "study_tried": {"study_name": name},
        "trials_on_bars": {"study_name": name},
        "scorings_on_bars": on_bars,
        "study_timing": {"study_name": name},
        "study_verdict_settings": {"study_name": name},
        "study_results": {"study_name": name},
        "study_returns": {"study_name": name},
        "study_best": {"study_name": name, "metric": "sharpe", "maximize": True},
        "trial_counts": {"study_name": name, "fail_reason": FAIL_REASON},
        "holdout_result": {"study_name": name, "experiment_id": chosen},
        "study_get": {"study_name": name},
    }
    out: dict[str, Any] = {q: sql(url, query(q), params) for q, params in named.items()}
    for r in out["study_get"]:  # a resumed study restarts its clock, nothing else
        r.pop("started_at")
        r.pop("ended_at")
    out["study_list"] = [
        {k: v for k, v in r.items() if k not in ("started_at", "ended_at")}
        for r in sql(url, query("study_list"), {"grace": 60})
        if r["study_name"] == name
    ]
    for holdout in (False, True):
        for study in (None, name):
            rows = leaderboard(conn, top=10_000, include_failed=True, holdout=holdout, study=study)
            out[f"leaderboard holdout={holdout} study={study}"] = rows
    return out


class Evaluated:
    def __init__(self, sd: StudyDir) -> None:
        self.sd = sd
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}
        self.rerun: dict[str, Any] = {}
        self.pending: Any = None
        self.first: Any = None
        self.json: dict[str, Any] = {}


@pytest.fixture(scope="module")
def ev(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    sd = StudyDir(tmp_path_factory.mktemp("robust"), module_db)
    shutil.copy(DATA_DIR / "ETH_USDT-1h.csv.gz", sd.path / "data" / "ETH_USDT-1h.csv.gz")
    space = wf_space(STUDY)
    space["sweep"]["robust_top"] = 2  # the K of `--select robust` (the study's rule stays peak)
    sd.write("space.yaml", space)
    p = sd.sweep("run", "space.yaml", "--trials", "10", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    e = Evaluated(sd)
    # a look at the sealed holdout first, so the look counts are checked too
    look = sd.sweep("holdout", STUDY)
    assert look.returncode == 0, look.stderr
    e.before = study_state(module_db, STUDY)
    # robust selection asked for before any neighbourhood is evaluated: refused, nothing spent
    e.pending = sd.sweep("export", STUDY, "--select", "robust")
    e.first = sd.sweep("robust", STUDY, "--top", "2", "--random", "2", "--jobs", "2")
    assert e.first.returncode == 0, e.first.stderr
    e.after = study_state(module_db, STUDY)
    # the study run again with its budget met: it concludes again (statistics, verdict written
    # into its rows' gate columns) with the robustness runs registered beside it
    rerun = sd.sweep("run", "space.yaml", "--trials", "10", "--jobs", "1", "--no-progress")
    assert rerun.returncode == 0, rerun.stderr
    e.rerun = study_state(module_db, STUDY)
    again = sd.sweep("robust", STUDY, "--top", "2", "--random", "2", "--format", "json")
    assert again.returncode == 0, again.stderr
    e.json = json.loads(again.stdout)
    return e


def robust_rows(url: str, where: str = "", params: Any = None) -> list[dict[str, Any]]:
    return sql(
        url,
        "SELECT v.*, r.experiment_id, r.role, r.robust_of, r.gate_passed, r.gate_failures, "
        "r.status, r.metrics, "
        "e.study_name, e.trial_number FROM robust_evaluations v "
        "JOIN model_results r ON r.id = v.result_id "
        "JOIN experiments e ON e.experiment_id = r.experiment_id " + where,
        params,
    )


def test_robust_selection_before_any_evaluation_is_refused(ev: Evaluated) -> None:
    p = ev.pending
    assert p.returncode == 2 and p.stdout == ""
    assert "robust selection needs the neighbourhoods of the top" in p.stderr
    assert f"sweep robust {STUDY} --select robust" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_every_evaluation_is_a_registered_robust_run_linked_to_its_candidate(
    ev: Evaluated,
) -> None:
    url = ev.sd.url
    rows = robust_rows(url)
    candidates = ev.json["candidates"]
    ids = [c["candidate_id"] for c in candidates]
    assert len(ids) == 2 and ids[0] == ev.before["best"]
    assert ev.json["evaluations"] == len(rows) and ev.json["run_now"] == 0
    for r in rows:
        assert r["role"] == "robust" and r["robust_of"] == r["candidate_id"]
        assert r["gate_passed"] is None  # never on the seed's leaderboard
        assert r["study_name"] is None and r["trial_number"] is None  # not a trial
        assert r["status"] == "ok", r
        assert r["value"] == r["metrics"]["sharpe"]
        assert r["passed"] == (r["gate_failures"] == [])
    for cand in ids:
        kinds = Counter(r["kind"] for r in rows if r["candidate_id"] == cand)
        assert kinds["base"] == 1 and kinds["seed"] == N_SEEDS and kinds["random"] == 2
        assert kinds["symbol"] == 1  # ETH/USDT: the only other symbol with data
        planned = sql(
            url, "SELECT n_neighbours FROM robust_candidates WHERE candidate_id = %s", (cand,)
        )[0]["n_neighbours"]
        assert kinds["neighbour"] == planned >= 5
    symbols = {r["changes"]["symbol"] for r in rows if r["kind"] == "symbol"}
    assert symbols == {"ETH/USDT"}
    robust_ids = {r["experiment_id"] for r in rows}
    assert len(robust_ids) == len(rows)  # each evaluation its own experiment
    assert not {r["experiment_id"] for r in sql(url, SEED_LEADERBOARD)} & robust_ids
    listed = ev.sd.sweep("results", "--top", "1000", "--all", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert not {r["experiment_id"] for r in json.loads(listed.stdout)} & robust_ids


def test_the_study_counts_and_statistics_are_unchanged(ev: Evaluated) -> None:
    """Trial counts, DSR's N (on the bars), PBO, the timing test, the verdict in the trials' gate
    columns, the leaderboards and the holdout look counts: robustness runs (on the study's own
    bars and on another symbol) move none of them, nor does the study concluding again after."""
    assert ev.before["n"] == (10, {}, 10)  # DSR's N: the 10 trials, nothing else on the bars
    assert ev.before["queries"]["study_tried"] == [{"count": 10}]
    assert ev.before["queries"]["trials_on_bars"] == []
    assert ev.before["queries"]["holdout_result"][0]["looks"] == 1
    assert ev.before["meta"][0]["stats"]["verdict"] in ("edge", "no_edge", "undecided")
    assert None not in {r["gate_passed"] for r in ev.before["verdict"]}  # the verdict is written
    assert len(robust_rows(ev.sd.url)) > 0
    assert ev.after == ev.before
    assert ev.rerun == ev.before
    assert {r["gate_passed"] for r in robust_rows(ev.sd.url)} == {None}


def test_the_base_run_reproduces_the_candidate_and_splits_it_by_regime(ev: Evaluated) -> None:
    url = ev.sd.url
    for c in ev.json["candidates"]:
        trial = sql(
            url,
            "SELECT r.metrics FROM model_results r WHERE r.experiment_id = %s AND r.role = "
            "'search'",
            (c["candidate_id"],),
        )[0]["metrics"]
        base = c["base"]
        assert base["value"] == trial["sharpe"] == c["search_value"]
        table = c["base"]["regimes"]
        assert set(table) == set(REGIMES)  # (JSONB keeps its own key order)
        assert table["all"]["bars"] == trial["n_test"]
        assert table["up"]["bars"] + table["down"]["bars"] <= table["all"]["bars"]
        assert table["up"]["bars"] > 0 and table["down"]["bars"] > 0


def test_metrics_do_not_depend_on_the_number_of_jobs(
    ev: Evaluated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture ran with --jobs 2 (one XGBoost thread each); the same evaluation with two
    threads in this process gives the same metrics."""
    conn = open_registry(ev.sd.url)
    try:
        specs, _ = plan_robustness(conn, RobustRequest(STUDY, top=1))
    finally:
        conn.close()
    spec = next(s for s in specs if s.kind == "neighbour")
    stored = robust_rows(
        ev.sd.url,
        "WHERE v.eval_key = %s AND v.candidate_id = %s",
        (spec.eval_key, spec.candidate_id),
    )[0]["metrics"]
    monkeypatch.chdir(ev.sd.path)
    again = compute(spec.config, nthread=2)
    assert again.result is not None and again.result.metrics == stored


def test_the_report_prints_each_part_and_matches_the_sql_query(ev: Evaluated) -> None:
    out = ev.first.stdout
    for text in (
        f"robustness of {STUDY}: 2 candidate(s)",
        "on the study's 3 expanding walk-forward folds",
        "never on the sealed holdout",
        "neighbours, one parameter at a time:",
        "random neighbours, several parameters:",
        "seeds (own ",
        "ETH/USDT",
        "regimes of the base run's bars",
        "down, high vol",
        "chosen by the peak",
    ):
        assert text in out, text
    conn = open_registry(ev.sd.url)
    try:
        by_sql = load_neighbourhoods(conn, STUDY, "sharpe", True)
        results = robustness_results(conn, STUDY)
    finally:
        conn.close()
    assert {c.candidate_id for c in results} == set(by_sql)
    for c in results:
        s = by_sql[c.candidate_id]
        assert s.complete and c.complete
        assert (s.score, s.median, s.worst) == (
            c.neighbourhood.score,
            c.neighbourhood.median,
            c.neighbourhood.worst,
        )
        assert s.share_passed == pytest.approx(c.neighbourhood.share_passed)
        values = tuple(e.value for e in c.neighbours)
        assert Candidate(c.candidate_id, 0, 0.0, values).score() == s.score


def test_robust_selection_takes_the_plateau_where_spike_and_plateau_differ(
    ev: Evaluated,
) -> None:
    """The stored neighbour values are set to a spike (the peak, with neighbours that collapse)
    and a plateau (the runner-up, neighbours that hold): `--select robust` exports the plateau,
    the peak rule the spike."""
    url, sd = ev.sd.url, ev.sd
    peak, runner_up = (c["candidate_id"] for c in ev.json["candidates"])
    sql(
        url,
        "UPDATE robust_evaluations SET value = -3.0 - result_id * 0.001 "
        "WHERE candidate_id = %s AND kind = 'neighbour' RETURNING 1",
        (peak,),
    )
    sql(
        url,
        "UPDATE robust_evaluations SET value = 2.0 + result_id * 0.001 "
        "WHERE candidate_id = %s AND kind = 'neighbour' RETURNING 1",
        (runner_up,),
    )
    by_peak = sd.sweep("export", STUDY)
    by_robust = sd.sweep("export", STUDY, "--select", "robust")
    assert by_peak.returncode == 0 and by_robust.returncode == 0, by_robust.stderr
    assert f"\nexperiment_id: {peak}\n" in by_peak.stdout
    assert f"\nexperiment_id: {runner_up}\n" in by_robust.stdout
    assert "# chosen by robust selection: lower-quartile neighbour sharpe 2." in by_robust.stdout
    assert f"(the peak is {peak}" in by_robust.stdout
    holdout = sd.sweep("holdout", STUDY, "--select", "robust")
    assert holdout.returncode == 0, holdout.stderr
    assert holdout.stdout.startswith("chosen by robust selection")
    assert f"sealed holdout of {runner_up}" in holdout.stdout
    # the study's own rule is the peak: its summary is unchanged
    summary = sd.sweep("results", "--study", STUDY, "--top", "1")
    assert f"best: {peak}" in summary.stdout and "robust selection" not in summary.stdout


def assert_nothing_half_written(url: str) -> None:
    """Every robustness experiment has exactly one result row."""
    orphans = sql(
        url,
        "SELECT e.experiment_id FROM experiments e LEFT JOIN model_results r USING "
        "(experiment_id) WHERE e.study_name IS NULL GROUP BY 1 HAVING count(r.id) <> 1",
    )
    assert orphans == []


def test_an_interrupted_command_resumes_without_running_anything_twice(ev: Evaluated) -> None:
    sd = ev.sd
    ranked = sql(
        sd.url,
        "SELECT e.trial_number FROM experiments e JOIN model_results r USING (experiment_id) "
        "WHERE e.study_name = %s AND r.status = 'ok' AND r.role = 'search' "
        "AND e.experiment_id <> ALL(%s) ORDER BY e.trial_number LIMIT 1",
        (STUDY, [c["candidate_id"] for c in ev.json["candidates"]]),
    )
    number = int(ranked[0]["trial_number"])  # ids number trials as Optuna does
    cand = f"{STUDY}-t{number:04d}"
    cmd = ("robust", STUDY, "--trial", str(number), "--jobs", "2", "--no-progress")
    proc = sd.popen(*cmd)
    try:
        end = time.monotonic() + 240
        while time.monotonic() < end:
            assert proc.poll() is None, sd.output(proc)
            if len(robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,))) >= 2:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _out, err = sd.output(proc)
    assert rc == 130, err
    assert err.strip().splitlines()[-1] == "interrupted; run the same command again to resume"
    kept = len(robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,)))
    assert kept >= 2
    again = sd.sweep(*cmd)
    assert again.returncode == 0, again.stderr
    rows = robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,))
    keys = [r["eval_key"] for r in rows]
    assert len(keys) == len(set(keys))
    first_line = again.stdout.splitlines()[0]
    assert f"{len(rows)} evaluations ({len(rows) - kept} run now, {kept} registered earlier)" in (
        first_line
    )
    assert_nothing_half_written(sd.url)


def test_robust_workers_stop_when_their_command_is_killed(ev: Evaluated) -> None:
    # `kill -9` on `sweep robust` (the parent only): its workers must not run on unseen
    sd = ev.sd
    taken = sql(
        sd.url,
        "SELECT DISTINCT candidate_id FROM robust_evaluations WHERE study_name = %s",
        (STUDY,),
    )
    ranked = sql(
        sd.url,
        "SELECT e.trial_number FROM experiments e JOIN model_results r USING (experiment_id) "
        "WHERE e.study_name = %s AND r.status = 'ok' AND r.role = 'search' "
        "AND e.experiment_id <> ALL(%s) ORDER BY e.trial_number DESC LIMIT 1",
        (STUDY, [str(t["candidate_id"]) for t in taken]),
    )
    number = int(ranked[0]["trial_number"])
    cand = f"{STUDY}-t{number:04d}"
    # many random neighbours: more work than two workers finish in the seconds the test waits
    cmd = ("robust", STUDY, "--trial", str(number), "--random", "60", "--jobs", "2")
    proc = sd.popen(*cmd, "--no-progress")
    workers: list[int] = []
    try:
        end = time.monotonic() + 240
        while not robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,)):
            assert proc.poll() is None, sd.output(proc)
            assert time.monotonic() < end, "no evaluation was registered within 240 s"
            time.sleep(0.1)
        workers = worker_pids(proc.pid)
        assert len(workers) == 2
        at_kill = len(robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert gone_within(workers, 20) == [], "robust workers outlived their command"
        # they stopped, not finished the work: each ends the evaluation it was in, at most
        registered = len(robust_rows(sd.url, "WHERE v.candidate_id = %s", (cand,)))
        assert registered <= at_kill + 2, f"{registered - at_kill} evaluations ran after the kill"
    finally:
        for pid in [proc.pid, *workers]:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
    assert_nothing_half_written(sd.url)


def test_a_study_with_select_robust_ends_on_the_robust_choice(ev: Evaluated) -> None:
    sd = ev.sd
    space = wf_space(SELECTING)
    space["sweep"].update({"select": "robust", "robust_top": 2})
    sd.write("select.yaml", space)
    p = sd.sweep("run", "select.yaml", "--trials", "8", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    planned = sql(
        sd.url,
        "SELECT candidate_id, n_neighbours FROM robust_candidates WHERE study_name = %s",
        (SELECTING,),
    )
    assert len(planned) == 2
    rows = robust_rows(sd.url, "WHERE v.study_name = %s", (SELECTING,))
    assert {r["kind"] for r in rows} == {"neighbour"}  # only what the choice needs
    assert len(rows) == sum(r["n_neighbours"] for r in planned)
    trials = {
        r["experiment_id"]: r
        for r in sql(
            sd.url,
            "SELECT e.experiment_id, e.trial_number, r.metrics FROM experiments "
            "e JOIN model_results r USING (experiment_id) "
            "WHERE e.study_name = %s",
            (SELECTING,),
        )
    }
    expected = choose_robust(
        [
            Candidate(
                c["candidate_id"],
                trials[c["candidate_id"]]["trial_number"],
                trials[c["candidate_id"]]["metrics"]["sharpe"],
                tuple(r["value"] for r in rows if r["candidate_id"] == c["candidate_id"]),
            )
            for c in planned
        ]
    )
    meta = sql(
        sd.url,
        "SELECT best_experiment_id, stats FROM sweep_studies WHERE study_name = %s",
        (SELECTING,),
    )[0]
    assert meta["best_experiment_id"] == expected.experiment_id
    assert meta["stats"]["chosen_experiment_id"] == expected.experiment_id
    # the neighbours are not trials: N is this study's 8 and the other study's completed trials
    # on the same bars, and none of either study's robustness runs
    assert meta["stats"]["n_trials_own"] == 8
    others = sql(
        sd.url,
        "SELECT count(DISTINCT e.experiment_id) AS n FROM experiments e JOIN model_results r "
        "USING (experiment_id) WHERE e.study_name = %s AND r.status = 'ok' AND NOT r.holdout",
        (STUDY,),
    )[0]["n"]
    assert meta["stats"]["n_trials_bars"] == 8 + others
    assert "chosen by robust selection: lower-quartile neighbour sharpe" in p.stdout
    assert f"best: {expected.experiment_id}" in p.stdout
    chosen = trials[expected.experiment_id]["metrics"]
    dsr = sql(
        sd.url,
        "SELECT r.metrics ? 'dsr' AS has FROM model_results r WHERE r.experiment_id = %s",
        (expected.experiment_id,),
    )
    assert dsr[0]["has"] and chosen is not None
    assert len(optuna_trials(sd.url, SELECTING)) == 8


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("--top", "0"), "--top"),
        (("--top", "51"), "--top"),
        (("--trial", "1", "--top", "2"), "--top"),
        (("--random", "-1"), "--random"),
        (("--random", "101"), "--random"),
        (("--jobs", "0"), "--jobs"),
        (("--select", "robst"), "--select"),
        (("--trial", "-1"), "--trial"),
        (("--trial", "999"), "--trial"),
    ],
)
def test_bad_robust_options_exit_2_and_run_nothing(
    ev: Evaluated,
    args: tuple[str, ...],
    key: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sweep.cli.main import main

    monkeypatch.setenv("SWEEP_DATABASE_URL", ev.sd.url)
    monkeypatch.chdir(ev.sd.path)
    before = sql(ev.sd.url, "SELECT count(*) AS n FROM model_results")[0]["n"]
    try:
        code = main(["robust", STUDY, *args])
    except SystemExit as e:  # refused by the option's type, as argparse reads it
        code = e.code
    assert code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {key}")
    assert sql(ev.sd.url, "SELECT count(*) AS n FROM model_results")[0]["n"] == before


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["robust", "no-such-study"], "error: STUDY: no such study"),
        (["export", STUDY, "--select", "robst"], "did you mean 'robust'?"),
        (["export", STUDY, "--select", "robust", "--trial", "2"], "cannot be combined"),
        (["holdout", STUDY, "--select", "peek"], "did you mean 'peak'?"),
        (["holdout", STUDY, "--select", "peak", "--trial", "2"], "cannot be combined"),
    ],
)
def test_bad_select_and_study_names(
    ev: Evaluated,
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sweep.cli.main import main

    monkeypatch.setenv("SWEEP_DATABASE_URL", ev.sd.url)
    monkeypatch.chdir(ev.sd.path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and expected in err, err


def test_no_file_is_written_by_a_refused_export(ev: Evaluated) -> None:
    target = ev.sd.path / "refused.yaml"
    p = ev.sd.sweep("export", SELECTING + "-none", "-o", str(target))
    assert p.returncode == 2 and not Path(target).exists()


def test_the_readme_queries_give_the_reported_figures(ev: Evaluated) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("-- robustness: each evaluated candidate's neighbourhood")
    block = readme[start : readme.index("```", start)]
    peak = ev.json["candidates"][0]["candidate_id"]
    queries = [
        q.replace("'btc-4h-t0042'", f"'{peak}'").replace("'btc-4h'", f"'{STUDY}'")
        for q in block.split(";")
        if q.strip()
    ]
    assert len(queries) == 3
    scores = {r["candidate_id"]: r for r in sql(ev.sd.url, queries[0])}
    conn = open_registry(ev.sd.url)
    try:
        expected = {c.candidate_id: c for c in robustness_results(conn, STUDY)}
    finally:
        conn.close()
    assert set(scores) == set(expected)
    for cand, row in scores.items():
        g = expected[cand].neighbourhood
        assert row["neighbours"] == g.n
        assert (row["score"], row["median"], row["worst"]) == (g.score, g.median, g.worst)
        assert float(row["share_passed"]) == pytest.approx(g.share_passed)
    others = sql(ev.sd.url, queries[1])
    assert Counter(r["kind"] for r in others) == {"base": 1, "seed": N_SEEDS, "symbol": 1}
    regimes = {r["regime"]: r for r in sql(ev.sd.url, queries[2])}
    assert set(regimes) == set(REGIMES) and regimes["all"]["bars"] > 0


def test_evaluations_score_on_the_folds_the_candidate_ran_on(
    ev: Evaluated, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A study whose file sets no training.cv scores on main's default folds (sweep.study.space,
    fitted by sweep.study.folds): its evaluations use exactly the folds its trials ran on. A
    study registered before studies always scored on folds (its trials have no cv) gets the same
    default folds, fitted to its data, and the output says so. Only planned here, not run."""
    sd = ev.sd
    space = tiny_space("rob-default")
    assert "cv" not in space["training"]
    sd.write("default.yaml", space)
    p = sd.sweep("run", "default.yaml", "--trials", "2", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr
    monkeypatch.chdir(sd.path)
    fitted = fit_default_folds(load_space(sd.path / "default.yaml"))
    default_cv = validate_experiment(fitted.apply(first_values(fitted))).training.cv
    assert default_cv is not None
    conn = open_registry(sd.url)
    try:
        specs, run = plan_robustness(conn, RobustRequest("rob-default", top=1))
        cand = run.candidates[0]
        stored = conn.execute(
            "SELECT config FROM experiments WHERE experiment_id = %s", (cand,)
        ).fetchone()
        assert stored is not None
        trial_cv = validate_experiment(stored[0]).training.cv
        assert trial_cv == default_cv
        assert specs and all(s.config.training.cv == trial_cv for s in specs)
        assert "the study's" in run.cv_note and "has no training.cv" not in run.cv_note
        # as a study from before folds: its trial's config without cv
        training = {k: v for k, v in stored[0]["training"].items() if k != "cv"}
        cfg = validate_experiment({**stored[0], "training": training})
        assert cfg.training.cv is None
        with conn.transaction():
            conn.execute(
                "UPDATE experiments SET config = %s, config_hash = %s WHERE experiment_id = %s",
                (Jsonb(cfg.to_json_dict()), cfg.fingerprint(), cand),
            )
        specs, run = plan_robustness(conn, RobustRequest("rob-default", top=1))
    finally:
        conn.close()
    assert "has no training.cv" in run.cv_note
    assert specs and all(s.config.training.cv == default_cv for s in specs)


def first_values(space: Any) -> dict[str, Any]:
    return {p.path: first_value(p) for p in space.params}


def test_the_study_report_has_a_robustness_section_from_the_registered_runs(
    ev: Evaluated,
) -> None:
    from sweep.report import build_report

    html = build_report(STUDY, ev.sd.url).html
    section = html[html.index('<section id="robustness">') :]
    section = section[: section.index("</section>")]
    from sweep.study.robust_report import robustness_results

    conn = open_registry(ev.sd.url)
    try:
        results = robustness_results(conn, STUDY)  # as registered now
    finally:
        conn.close()
    assert results
    for c in results:  # every candidate, with its score
        assert c.candidate_id in section
        score = c.neighbourhood.score
        assert score is None or f"{score:.3f}" in section
    assert "never on the sealed holdout" in section and "regime" in section
