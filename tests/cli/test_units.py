"""One unit convention: percentages and UTC for people, fractions and ISO UTC for machines, and
the database's column names in JSON."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import ROOT, SEED_YAML, run_cli

from sweep.cli.results import JSON_COLUMNS
from sweep.cli.study import STUDY_JSON_COLUMNS, STUDY_JSON_DERIVED
from sweep.core.experiment import validate_experiment
from sweep.store.registry import ResultRow, open_registry, record_run

METRICS = {"sharpe": 1.25, "win_rate": 0.534, "alpha": -0.042, "max_drawdown": 0.1, "n_trades": 40}


@pytest.fixture
def registry(workdir: Path) -> Path:
    url = os.environ["SWEEP_DATABASE_URL"]
    data: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())
    with open_registry(url) as conn:
        record_run(
            conn,
            validate_experiment(copy.deepcopy(data)),
            ResultRow(status="ok", metrics=METRICS, gate_passed=True, gate_failures=()),
            code_version="test",
        )
        conn.execute(
            "INSERT INTO sweep_studies (study_name, space, space_hash, objectives, directions,"
            " sampler, pruner, n_trials_target, data_fingerprint, code_version, stats)"
            " VALUES ('s', '{}', 'h', '{win_rate}', '{maximize}', 'tpe', 'none', 10, '{}', 'x',"
            ' \'{"best_value": 0.61, "dsr": 0.5}\')'
        )
    return workdir


def sweep(*args: str, cwd: Path) -> str:
    p = run_cli(
        *args,
        cwd=cwd,
        env={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        },
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def stored_time(url: str) -> datetime:
    with psycopg.connect(url) as c:
        row = c.execute("SELECT trained_at FROM model_results").fetchone()
    assert row is not None
    return row[0].astimezone(UTC)  # type: ignore[no-any-return]


def test_people_get_percentages_and_utc(registry: Path) -> None:
    lines = sweep("results", cwd=registry).splitlines()
    assert "trained_at (UTC)" in lines[0]
    row = lines[2]
    assert "53.4%" in row and "-4.2%" in row and "10.0%" in row and "1.2500" in row
    when = stored_time(os.environ["SWEEP_DATABASE_URL"])
    assert when.strftime("%Y-%m-%d %H:%M:%S") in row
    studies = sweep("studies", cwd=registry)
    assert "61.0%" in studies  # a fraction objective's best value, for people


def test_machines_get_fractions_iso_utc_and_the_databases_names(registry: Path) -> None:
    url = os.environ["SWEEP_DATABASE_URL"]
    when = stored_time(url)
    (row,) = list(csv.DictReader(io.StringIO(sweep("results", "--format", "csv", cwd=registry))))
    assert row["win_rate"] == "0.534" and row["alpha"] == "-0.042"
    assert datetime.fromisoformat(row["trained_at"]) == when
    assert row["trained_at"].endswith("+00:00")

    (got,) = json.loads(sweep("results", "--format", "json", cwd=registry))
    assert tuple(got) == JSON_COLUMNS
    with psycopg.connect(url) as c:
        columns = {
            r[0]
            for r in c.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name IN ('model_results', 'experiments')"
            ).fetchall()
        }
    assert set(JSON_COLUMNS) <= columns  # every name is a column's
    assert got["metrics"] == METRICS  # fractions as stored
    assert got["trained_at"].endswith("+00:00")
    assert datetime.fromisoformat(got["trained_at"]) == when

    (study,) = json.loads(sweep("studies", "--format", "json", cwd=registry))
    assert tuple(study) == STUDY_JSON_COLUMNS + STUDY_JSON_DERIVED
    with psycopg.connect(url) as c:
        study_columns = {
            r[0]
            for r in c.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'sweep_studies'"
            ).fetchall()
        }
    assert set(STUDY_JSON_COLUMNS) <= study_columns  # the columns by their names
    assert not set(STUDY_JSON_DERIVED) & study_columns  # no column renamed by what is derived
    assert study["stats"]["best_value"] == 0.61
