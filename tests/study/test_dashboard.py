"""`sweep dashboard`: Optuna Dashboard served on the registry's database (loopback only)."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.error
import urllib.request
from typing import Any

from conftest import StudyDir, optuna_trials, sql, tiny_space

from sweep.study.optuna_study import trial_experiment_id

NAME = "dash-tiny"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.status == 200
        return json.loads(r.read())


def wait_for(url: str, proc: Any, limit: float = 20) -> Any:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        assert proc.poll() is None, "the dashboard exited early"
        try:
            return get_json(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {limit} s")


def test_dashboard_serves_the_study_with_its_trial_attributes(study_dir: StudyDir) -> None:
    space = tiny_space(NAME)
    space["sweep"]["constraints"] = {"min_trades": 20, "max_drawdown": 0.05}
    study_dir.write("space.yaml", space)
    p = study_dir.sweep("run", "space.yaml", "--trials", "6", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = study_dir.popen("dashboard", "--host", "127.0.0.1", "--port", str(port))
    try:
        listing = wait_for(f"{base}/api/studies", proc)
        (summary,) = [s for s in listing["study_summaries"] if s["study_name"] == NAME]
        assert summary["directions"] == ["maximize"]
        detail = get_json(f"{base}/api/studies/{summary['study_id']}")
        # each trial's model files are listed, and served from the artifact store
        first = detail["trials"][0]
        names = sorted(a["filename"] for a in first["artifacts"])
        assert [n.rsplit(".", 1)[1] for n in names] == ["json", "ubj"]
        served = urllib.request.urlopen(
            f"{base}/artifacts/{summary['study_id']}/{first['trial_id']}/"
            f"{first['artifacts'][0]['artifact_id']}",
            timeout=5,
        ).read()
        assert len(served) > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait()
    _out, err = study_dir.output(proc)
    assert f"http://127.0.0.1:{port}/" in err
    assert "password" not in err.lower()

    assert detail["name"] == NAME
    # the objective is labelled with its metric name, not "Objective 0"
    assert detail["objective_names"] == ["sharpe"]
    # the chosen trial is a study attribute, in the dashboard's own numbering ("Trial N"), and
    # the experiment id of that trial carries the same number
    study_attrs = {a["key"]: a["value"] for a in detail["user_attrs"]}
    (meta,) = sql(study_dir.url, "SELECT best_trial, best_experiment_id FROM sweep_studies")
    assert study_attrs["chosen_trial"] == str(meta["best_trial"])
    assert meta["best_experiment_id"] == f"{NAME}-t{meta['best_trial']:04d}"
    trials = {t["number"]: t for t in detail["trials"]}
    assert sorted(trials) == list(range(6))
    metrics = {
        r["experiment_id"]: r["metrics"]
        for r in sql(
            study_dir.url,
            "SELECT r.experiment_id, r.metrics FROM model_results r "
            "JOIN experiments e USING (experiment_id) WHERE e.study_name = %s",
            (NAME,),
        )
    }
    expected = {t.number: t for t in optuna_trials(study_dir.url, NAME)}
    for n, t in trials.items():
        assert t["state"] == "Complete"
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        eid = trial_experiment_id(NAME, n)
        assert attrs["experiment_id"] == eid
        assert float(attrs["sharpe"]) == metrics[eid]["sharpe"]
        params = {p["name"]: p["param_external_value"] for p in t["params"]}
        assert set(params) == set(expected[n].params)
        assert params["target.horizon"] == str(expected[n].params["target.horizon"])
        assert params["feature_groups"] == expected[n].params["feature_groups"]
        # the constraint values, in the names' order (the user attribute names them)
        assert t["constraints"] == list(expected[n].constraints.values())
        assert len(t["constraints"]) == 2
    # the dashboard's column list knows the user attributes sweep sets
    union = {a["key"] for a in detail["union_user_attrs"]}
    assert {"experiment_id", "sharpe", "win_rate", "n_trades"} <= union
    # each constraint's value is a column of its own, not only a JSON attribute
    assert {"constraint.min_trades", "constraint.max_drawdown"} <= union
    for t in trials.values():
        attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
        named = json.loads(attrs["constraints"])
        assert float(attrs["constraint.min_trades"]) == named["min_trades"]


def test_dashboard_with_an_unreachable_database_fails_fast_in_one_line(
    study_dir: StudyDir,
) -> None:
    dead = f"postgresql://u:secret@127.0.0.1:{free_port()}/nothing"
    t0 = time.monotonic()
    p = study_dir.sweep(
        "dashboard", "--port", str(free_port()), env={"SWEEP_DATABASE_URL": dead}, timeout=60
    )
    assert time.monotonic() - t0 < 30
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert "127.0.0.1" in lines[0] and "secret" not in lines[0]
