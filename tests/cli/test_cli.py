"""The command line as a user runs it: real subprocesses, a real registry, the real data."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import SEED_YAML, run_cli, seed_with

from sweep.core.experiment import validate_experiment
from sweep.core.features import resolve_features
from sweep.store.registry import ResultRow, open_registry, record_run

SEED: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())
SEED_FILE = "experiments/btc-xgb-4h-momentum.yaml"
ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"-?\d+\.\d{2}"
PERCENT = r"-?\d+\.\d%"
PASSED_LINE = re.compile(
    rf"^✓ btc-xgb-4h-momentum registered — Sharpe: {NUMBER}, WR: {PERCENT}, "
    rf"vs B&H: [+-]\d+\.\d%$"
)
FAILED_LINE = re.compile(r"^✗ Gate failures: \S.*$")


def sweep(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return run_cli(*args, cwd=cwd, env=env)


def db_counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as c:
        e = c.execute("SELECT count(*) FROM experiments").fetchone()
        r = c.execute("SELECT count(*) FROM model_results").fetchone()
    assert e is not None and r is not None
    return int(e[0]), int(r[0])


def model_files(workdir: Path) -> list[Path]:
    root = workdir / ".sweep" / "models"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


with_value = seed_with


@pytest.fixture
def project(workdir: Path) -> Path:
    """The workdir with the seed experiment file and a migrated, empty registry."""
    (workdir / "experiments").mkdir()
    shutil.copy(SEED_YAML, workdir / SEED_FILE)
    open_registry(os.environ["SWEEP_DATABASE_URL"]).close()
    return workdir


def one_error_line(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in res.stderr
    return lines[0]


# --- a real run ----------------------------------------------------------------------------------


def test_run_registers_and_is_reproducible(project: Path) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    res = sweep("run", SEED_FILE, cwd=project)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1, res.stdout
    assert PASSED_LINE.match(lines[0]) or FAILED_LINE.match(lines[0]), lines[0]
    assert db_counts(url) == (1, 1)

    again = sweep("run", SEED_FILE, "--json", cwd=project)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["experiment_id"] == "btc-xgb-4h-momentum"
    assert out["status"] == "ok"
    assert out["error"] is None
    assert db_counts(url) == (1, 2)

    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT id, metrics, gate_passed, gate_failures, model_path, feature_names,"
            " train_from, train_to, test_from FROM model_results ORDER BY id"
        ).fetchall()
        stored = c.execute("SELECT config FROM experiments").fetchone()
        timings = c.execute("SELECT duration_s, cpu_s FROM model_results").fetchall()
    (id1, metrics1, passed1, failures1, path1, names1, *_), second = rows
    id2, metrics2, passed2, failures2, path2, names2, train_from, train_to, test_from = second
    # Same config and data: identical metrics, verdict and features.
    assert metrics1 == metrics2
    assert (passed1, failures1, names1) == (passed2, failures2, names2)
    assert out["id"] == id2 != id1
    assert out["metrics"] == metrics2
    assert out["gate_passed"] == passed2
    assert out["gate_failures"] == failures2
    assert out["model_path"] == path2
    assert train_from < train_to < test_from
    # Each run's wall and CPU seconds are recorded (the pipeline trains a model: neither is 0).
    assert all(wall > 0 and cpu > 0 for wall, cpu in timings), timings
    assert stored is not None and stored[0]["target"] == {
        "type": "binary",
        "horizon": 3,
        "threshold": 0.008,
    }
    # The printed line carries the stored numbers.
    if passed1:
        assert f"Sharpe: {metrics1['sharpe']:.2f}," in lines[0]
    else:
        assert lines[0] == "✗ Gate failures: " + ", ".join(failures1)

    # Model files: XGBoost's own format plus metadata holding the resolved feature names.
    expected_names = resolve_features(["momentum", "volume", "volatility"])
    assert names1 == expected_names
    for path in (path1, path2):
        model = Path(path)
        assert model.is_file() and model.suffix == ".ubj"
        assert model.is_relative_to(project / ".sweep" / "models" / "btc-xgb-4h-momentum")
        meta = json.loads(model.with_suffix(".json").read_text())
        assert meta["feature_names"] == expected_names
        assert meta["config"] == stored[0]
        assert meta["experiment_id"] == "btc-xgb-4h-momentum"
    assert len(model_files(project)) == 4


def test_changed_config_under_the_same_id_needs_force(project: Path) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    with open_registry(url) as conn:
        record_run(
            conn,
            validate_experiment(copy.deepcopy(SEED)),
            ResultRow(status="ok", metrics={"sharpe": 1.0}, gate_passed=True, gate_failures=()),
            code_version="test",
        )
    changed = project / "experiments" / "changed.yaml"
    changed.write_text(yaml.safe_dump(with_value("target.threshold", 0.01), sort_keys=False))

    line = one_error_line(sweep("run", str(changed), cwd=project))
    assert "experiment_id" in line
    assert "'btc-xgb-4h-momentum'" in line
    assert "different config" in line
    assert "--force" in line
    assert db_counts(url) == (1, 1)
    assert model_files(project) == []

    forced = sweep("run", str(changed), "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert db_counts(url) == (1, 2)
    with psycopg.connect(url) as c:
        stored = c.execute("SELECT config FROM experiments").fetchone()
    assert stored is not None and stored[0]["target"]["threshold"] == 0.01
    assert len(model_files(project)) == 2


# --- results and db ------------------------------------------------------------------------------


@pytest.fixture
def leaderboard_rows(project: Path) -> Path:
    url = os.environ["SWEEP_DATABASE_URL"]
    with open_registry(url) as conn:
        for eid, sharpe, passed in [("low", 0.4, False), ("high", 2.2, True), ("mid", 1.4, True)]:
            data = copy.deepcopy(SEED)
            data["experiment_id"] = eid
            record_run(
                conn,
                validate_experiment(data),
                ResultRow(
                    status="ok",
                    metrics={"sharpe": sharpe, "win_rate": 0.5, "alpha": 0.0, "n_trades": 31},
                    gate_passed=passed,
                    gate_failures=() if passed else ("sharpe 0.40 < 1.00",),
                    train_from=datetime(2020, 1, 1, tzinfo=UTC),
                ),
                code_version="test",
            )
    return project


def test_results_json(leaderboard_rows: Path) -> None:
    res = sweep("results", "--format", "json", cwd=leaderboard_rows)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["experiment_id"], r["metrics"]["sharpe"]) for r in rows] == [
        ("high", 2.2),
        ("mid", 1.4),
        ("low", 0.4),
    ]
    passed = json.loads(
        sweep("results", "--format", "json", "--passed", cwd=leaderboard_rows).stdout
    )
    assert [r["experiment_id"] for r in passed] == ["high", "mid"]
    top = json.loads(
        sweep("results", "--format", "json", "--top", "1", cwd=leaderboard_rows).stdout
    )
    assert [r["experiment_id"] for r in top] == ["high"]


def test_results_csv(leaderboard_rows: Path) -> None:
    res = sweep("results", "--format", "csv", "--passed", cwd=leaderboard_rows)
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["experiment_id"] for r in rows] == ["high", "mid"]
    assert rows[0]["sharpe"] == "2.2"
    assert rows[0]["symbol"] == "BTC/USDT"
    assert rows[0]["gate_passed"] == "True"


def test_results_table(leaderboard_rows: Path) -> None:
    res = sweep("results", cwd=leaderboard_rows)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["experiment_id", "symbol", "timeframe", "sharpe"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert [line.split()[0] for line in lines[2:]] == ["high", "mid", "low"]
    assert "2.2000" in lines[2]
    passed = sweep("results", "--passed", cwd=leaderboard_rows).stdout.splitlines()
    assert [line.split()[0] for line in passed[2:]] == ["high", "mid"]


def test_results_on_an_empty_registry(project: Path) -> None:
    res = sweep("results", cwd=project)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "(no results)"
    assert json.loads(sweep("results", "--format", "json", cwd=project).stdout) == []


def test_results_every_run_without_study_is_a_usage_error(leaderboard_rows: Path) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    before = db_counts(url)
    for fmt in ("table", "json"):
        res = sweep("results", "--every-run", "--format", fmt, cwd=leaderboard_rows)
        line = one_error_line(res)  # exit 2, nothing on stdout
        assert line.startswith("error: --every-run: needs --study"), line
        assert "`sweep results` lists every run already" in line
    assert db_counts(url) == before


def test_db_url_prints_the_url(workdir: Path) -> None:
    res = sweep("db", "url", cwd=workdir)
    assert res.returncode == 0, res.stderr
    assert res.stdout == os.environ["SWEEP_DATABASE_URL"] + "\n"


# --- bad input -----------------------------------------------------------------------------------

# (name, file content, fragments the one error line must hold besides the file path)
BAD_CONFIGS: list[tuple[str, dict[str, Any] | str, list[str]]] = [
    (
        "malformed",
        "experiment_id: x\ntarget:\n  horizon: 3\n bad: [\n",
        ["malformed YAML", "line 4"],
    ),
    ("unknown-key", {**SEED, "foo": 1}, ["foo (line ", "unknown key"]),
    (
        "nested-unknown-key",
        with_value("target.horizn", 3),
        ["target.horizn (line ", "did you mean 'horizon'?"],
    ),
    ("wrong-type", with_value("target.horizon", "abc"), ["target.horizon (line ", "'abc'"]),
    ("horizon-0", with_value("target.horizon", 0), ["target.horizon (line ", "(got 0)"]),
    ("threshold-0", with_value("target.threshold", 0), ["target.threshold (line ", "(got 0)"]),
    (
        "train-ratio",
        with_value("training.train_ratio", 1.5),
        ["training.train_ratio (line ", "(got 1.5)"],
    ),
    ("size-0", with_value("position.size", 0), ["position.size (line ", "(got 0)"]),
    (
        "feature-group",
        with_value("feature_groups", ["momentum", "bogus"]),
        ["feature_groups (line ", "'bogus'", "known groups: momentum"],
    ),
    (
        "model-type",
        with_value("model_type", "lightgbm"),
        ["model_type (line ", "'lightgbm'", "xgboost"],
    ),
    ("unsafe-id", with_value("experiment_id", "../x"), ["experiment_id (line ", "'../x'"]),
    ("timeframe", with_value("timeframe", "3h"), ["timeframe (line ", "'3h'"]),
]


@pytest.mark.parametrize(
    ("name", "content", "fragments"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_exits_2_with_one_line_and_writes_nothing(
    project: Path, name: str, content: dict[str, Any] | str, fragments: list[str]
) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    path = project / "experiments" / f"{name}.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    before = db_counts(url)
    line = one_error_line(sweep("run", f"experiments/{name}.yaml", cwd=project))
    assert f"experiments/{name}.yaml: " in line
    for fragment in fragments:
        assert fragment in line, line
    assert db_counts(url) == before
    assert model_files(project) == []
    assert not (project / ".sweep" / "models" / "x").exists()


def test_missing_data_file_lists_the_names_looked_for(project: Path) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    path = project / "experiments" / "doge.yaml"
    path.write_text(yaml.safe_dump(with_value("symbol", "DOGE/USDT")))
    line = one_error_line(sweep("run", "experiments/doge.yaml", cwd=project))
    assert "symbol" in line
    assert "'DOGE/USDT'" in line
    assert "DOGE_USDT-{4h,1m,5m,15m,30m,1h,2h}.{parquet,feather,csv.gz,csv,json.gz,json}" in line
    assert str(project / "data") in line
    assert db_counts(url) == (0, 0)
    assert model_files(project) == []


HEADER = "timestamp,open,high,low,close,volume\n"
BAR = "{},100,101,99,100.5,10\n"


@pytest.mark.parametrize(
    ("stamps", "fragments"),
    [
        (
            ["2021-01-01T00:00:00Z", "2021-01-01T08:00:00Z", "2021-01-01T04:00:00Z"],
            ["not sorted ascending at row 3", "'2021-01-01T04:00:00+00:00'"],
        ),
        (
            ["2021-01-01T00:00:00Z", "2021-01-01T04:00:00Z", "2021-01-01T04:00:00Z"],
            ["duplicated timestamp at row 3", "'2021-01-01T04:00:00+00:00'"],
        ),
        (
            ["2021-01-01T00:00:00Z", "not-a-date", "2021-01-01T08:00:00Z"],
            ["unparseable timestamp at row 2 (line 3 of the file)", "'not-a-date'"],
        ),
    ],
    ids=["unsorted", "duplicated", "unparseable"],
)
def test_bad_data_file_exits_2_naming_file_key_and_value(
    project: Path, stamps: list[str], fragments: list[str]
) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    (project / "baddata").mkdir()
    (project / "baddata" / "BTC_USDT-4h.csv").write_text(
        HEADER + "".join(BAR.format(s) for s in stamps)
    )
    data = copy.deepcopy(SEED)
    data["data"] = {"dir": "baddata"}
    (project / "experiments" / "bad-data.yaml").write_text(yaml.safe_dump(data))
    line = one_error_line(sweep("run", "experiments/bad-data.yaml", cwd=project))
    assert "BTC_USDT-4h.csv: timestamp: " in line
    for fragment in fragments:
        assert fragment in line, line
    assert db_counts(url) == (0, 0)
    assert model_files(project) == []


def test_missing_experiment_file(project: Path) -> None:
    line = one_error_line(sweep("run", "experiments/nope.yaml", cwd=project))
    assert "experiments/nope.yaml: file not found" in line
