"""The registry on a real PostgreSQL: migrations, one-transaction writes, the seed's query."""

from __future__ import annotations

import copy
import dataclasses
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import SEED_LEADERBOARD
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from sqlalchemy.engine import make_url

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, RegistryError
from sweep.core.experiment import validate_experiment
from sweep.store.db import EmbeddedServer, connect, masked, sqlalchemy_url
from sweep.store.registry import (
    Connection,
    ResultRow,
    RobustLink,
    RobustRecorded,
    check_config_unchanged,
    leaderboard,
    migrations,
    open_registry,
    record_run,
    schema_version,
    upgrade,
)

ROOT = Path(__file__).resolve().parents[2]
SEED: dict[str, Any] = yaml.safe_load(
    (ROOT / "experiments" / "btc-xgb-4h-momentum.yaml").read_text()
)


def make_cfg(experiment_id: str = "btc-xgb-4h-momentum", **changes: Any) -> ExperimentConfig:
    data = copy.deepcopy(SEED)
    data["experiment_id"] = experiment_id
    for dotted, value in changes.items():
        *head, last = dotted.split("__")
        node = data
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return validate_experiment(data)


def ok_row(sharpe: float | None, passed: bool, status: str = "ok", **metrics: Any) -> ResultRow:
    return ResultRow(
        status=status,
        metrics={"sharpe": sharpe, "win_rate": 0.55, "alpha": 0.01, "n_trades": 40, **metrics},
        gate_passed=passed,
        gate_failures=() if passed else ("sharpe 0.10 < 1.00",),
        train_from=datetime(2020, 1, 1, tzinfo=UTC),
        train_to=datetime(2022, 1, 1, tzinfo=UTC),
        feature_names=("rsi_14", "rsi_7"),
    )


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as c:
        e = c.execute("SELECT count(*) FROM experiments").fetchone()
        r = c.execute("SELECT count(*) FROM model_results").fetchone()
    assert e is not None and r is not None
    return int(e[0]), int(r[0])


@pytest.fixture
def fresh_db(server_url: str) -> Iterator[str]:
    """A brand-new empty database (no registry tables), dropped afterwards."""
    name = f"sweep_fresh_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    yield make_conninfo(**params)  # type: ignore[arg-type]
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def registry(clean_db: str) -> Iterator[Connection]:
    conn = open_registry(clean_db)
    yield conn
    conn.close()


# --- migrations ----------------------------------------------------------------------------------


def test_migrations_apply_once_and_are_recorded(fresh_db: str) -> None:
    known = migrations()
    assert known and [v for v, _, _ in known] == sorted(v for v, _, _ in known)
    with connect(fresh_db) as conn:
        assert schema_version(conn) == 0
        applied = upgrade(conn)
        assert applied == [f"{v:03d}_{name}" for v, name, _ in known]
        rows = conn.execute("SELECT version, name FROM sweep_schema_version ORDER BY 1").fetchall()
        assert rows == [(v, name) for v, name, _ in known]
        assert upgrade(conn) == []
        assert schema_version(conn) == known[-1][0]
        again = conn.execute("SELECT count(*) FROM sweep_schema_version").fetchone()
        assert again == (len(known),)


def test_a_migration_below_the_highest_applied_is_applied_when_it_ships(
    fresh_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Numbers are reserved per branch: a database at the highest number that lacks a lower one
    gets it when a later sweep ships it, instead of skipping it for being below the highest."""
    from sweep.store import registry

    known = migrations()
    assert len(known) >= 2
    late = known[-2]  # shipped after the highest had been applied
    with connect(fresh_db) as conn:
        monkeypatch.setattr(registry, "migrations", lambda: [m for m in known if m != late])
        assert f"{late[0]:03d}_{late[1]}" not in upgrade(conn)
        assert schema_version(conn) == known[-1][0]
        monkeypatch.undo()
        assert upgrade(conn) == [f"{late[0]:03d}_{late[1]}"]
        assert upgrade(conn) == []
        assert schema_version(conn) == known[-1][0]


def test_seed_tables_have_the_seed_columns(fresh_db: str) -> None:
    open_registry(fresh_db).close()
    with psycopg.connect(fresh_db) as c:
        cols = {
            (t, col): (dtype, nullable, default)
            for t, col, dtype, nullable, default in c.execute(
                "SELECT table_name, column_name, udt_name, is_nullable, column_default"
                " FROM information_schema.columns"
                " WHERE table_name IN ('experiments', 'model_results')"
            ).fetchall()
        }
        pk = c.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = 'experiments'::regclass AND i.indisprimary"
        ).fetchall()
    assert pk == [("experiment_id",)]
    assert cols["experiments", "experiment_id"][0] == "text"
    assert cols["experiments", "config"][:2] == ("jsonb", "NO")
    assert cols["experiments", "created_at"][0] == "timestamptz"
    assert "now()" in str(cols["experiments", "created_at"][2])
    assert cols["model_results", "id"][0] == "int4"
    assert "nextval" in str(cols["model_results", "id"][2])
    for col, dtype in [
        ("experiment_id", "text"),
        ("model_path", "text"),
        ("train_from", "timestamptz"),
        ("train_to", "timestamptz"),
        ("metrics", "jsonb"),
        ("gate_passed", "bool"),
        ("gate_failures", "_text"),
        ("trained_at", "timestamptz"),
    ]:
        assert cols["model_results", col][0] == dtype, col
    assert "now()" in str(cols["model_results", "trained_at"][2])


def test_a_newer_schema_fails_naming_the_upgrade(fresh_db: str) -> None:
    open_registry(fresh_db).close()
    newer = migrations()[-1][0] + 1
    with psycopg.connect(fresh_db, autocommit=True) as c:
        c.execute(
            "INSERT INTO sweep_schema_version (version, name) VALUES (%s, 'from_the_future')",
            (newer,),
        )
    with connect(fresh_db) as conn, pytest.raises(RegistryError) as info:
        upgrade(conn)
    message = str(info.value)
    assert "\n" not in message
    assert f"schema version {newer} is newer" in message
    assert "upgrade sweep" in message
    with pytest.raises(RegistryError, match="upgrade sweep"):
        open_registry(fresh_db)


# --- writes --------------------------------------------------------------------------------------


def test_record_run_writes_one_experiment_and_one_result(
    registry: Connection, clean_db: str
) -> None:
    cfg = make_cfg()
    rid, trained_at = record_run(registry, cfg, ok_row(1.3, True), code_version="test")
    assert counts(clean_db) == (1, 1)
    with psycopg.connect(clean_db) as c:
        exp = c.execute(
            "SELECT experiment_id, config, config_hash, symbol, timeframe, feature_groups"
            " FROM experiments"
        ).fetchone()
        res = c.execute(
            "SELECT id, experiment_id, metrics, gate_passed, gate_failures, trained_at, status,"
            " feature_names, train_from FROM model_results"
        ).fetchone()
    assert exp == (
        cfg.experiment_id,
        cfg.to_json_dict(),
        cfg.fingerprint(),
        "BTC/USDT",
        "4h",
        ["momentum", "volume", "volatility"],
    )
    assert res is not None
    assert res[:5] == (rid, cfg.experiment_id, dict(ok_row(1.3, True).metrics or {}), True, [])
    assert res[5] == trained_at
    assert res[6:8] == ("ok", ["rsi_14", "rsi_7"])
    assert res[8] == datetime(2020, 1, 1, tzinfo=UTC)


def test_rerun_of_the_same_config_adds_a_result_row_only(
    registry: Connection, clean_db: str
) -> None:
    cfg = make_cfg()
    first, _ = record_run(registry, cfg, ok_row(1.3, True), code_version="test")
    with psycopg.connect(clean_db) as c:
        created = c.execute("SELECT created_at FROM experiments").fetchone()
    second, _ = record_run(registry, make_cfg(), ok_row(0.2, False), code_version="test")
    assert second != first
    assert counts(clean_db) == (1, 2)
    with psycopg.connect(clean_db) as c:
        assert c.execute("SELECT created_at FROM experiments").fetchone() == created
        failures = c.execute("SELECT gate_failures FROM model_results WHERE id = %s", (second,))
        assert failures.fetchone() == (["sharpe 0.10 < 1.00"],)


def test_changed_config_under_the_same_id_is_refused(registry: Connection, clean_db: str) -> None:
    record_run(registry, make_cfg(), ok_row(1.3, True), code_version="test")
    changed = make_cfg(target__threshold=0.01)
    with pytest.raises(ConfigError) as info:
        check_config_unchanged(registry, changed, force=False)
    assert "experiment_id" in str(info.value)
    assert "btc-xgb-4h-momentum" in str(info.value)
    assert "--force" in str(info.value)
    with pytest.raises(ConfigError, match="already registered with a different config"):
        record_run(registry, changed, ok_row(2.0, True), code_version="test")
    assert counts(clean_db) == (1, 1)
    with psycopg.connect(clean_db) as c:
        stored = c.execute("SELECT config FROM experiments").fetchone()
    assert stored is not None and stored[0]["target"]["threshold"] == 0.008
    check_config_unchanged(registry, make_cfg(), force=False)  # the same config is fine


def test_force_replaces_the_stored_config(registry: Connection, clean_db: str) -> None:
    old = make_cfg()
    record_run(registry, old, ok_row(1.3, True), code_version="test")
    changed = make_cfg(target__threshold=0.01)
    check_config_unchanged(registry, changed, force=True)
    record_run(registry, changed, ok_row(1.5, True), code_version="test", force=True)
    assert counts(clean_db) == (1, 2)
    with psycopg.connect(clean_db) as c:
        exp = c.execute("SELECT config, config_hash FROM experiments").fetchone()
        hashes = c.execute("SELECT config_hash FROM model_results ORDER BY id").fetchall()
    assert exp == (changed.to_json_dict(), changed.fingerprint())
    assert hashes == [(old.fingerprint(),), (changed.fingerprint(),)]


def test_a_failed_write_leaves_nothing(registry: Connection, clean_db: str) -> None:
    record_run(registry, make_cfg("kept"), ok_row(1.0, True), code_version="test")
    before = counts(clean_db)
    with pytest.raises(RegistryError):
        record_run(registry, make_cfg("new-one"), ok_row(1.0, True, "bogus"), code_version="t")
    assert counts(clean_db) == before
    with psycopg.connect(clean_db) as c:
        assert (
            c.execute("SELECT 1 FROM experiments WHERE experiment_id = 'new-one'").fetchone()
            is None
        )
    # The connection is still usable after the rolled-back transaction.
    record_run(registry, make_cfg("new-one"), ok_row(1.0, True), code_version="test")
    assert counts(clean_db) == (before[0] + 1, before[1] + 1)


def _link(candidate: str, key: str = "seed:43") -> RobustLink:
    return RobustLink(
        study_name="s",
        candidate_id=candidate,
        kind="seed",
        eval_key=key,
        label="seed 43",
        changes={"seed": 43},
        objective="sharpe",
        value=1.1,
        passed=True,
    )


def test_a_robustness_run_is_linked_and_never_judged(registry: Connection, clean_db: str) -> None:
    """A robustness run: its own experiment, role robust, robust_of its candidate, gate_passed
    NULL (the database refuses anything else), and a second record of the same change is rolled
    back whole."""
    record_run(registry, make_cfg("cand"), ok_row(1.2, True), code_version="t")
    row = dataclasses.replace(ok_row(1.1, True), gate_passed=None, robust=_link("cand"))
    assert row.role == "robust"
    record_run(registry, make_cfg("cand-rseed43"), row, code_version="t")
    with psycopg.connect(clean_db) as c:
        got = c.execute(
            "SELECT r.role, r.robust_of, r.gate_passed, v.candidate_id, v.kind, v.value "
            "FROM model_results r JOIN robust_evaluations v ON v.result_id = r.id"
        ).fetchall()
        roles = c.execute("SELECT role FROM model_results ORDER BY id").fetchall()
    assert got == [("robust", "cand", None, "cand", "seed", 1.1)]
    assert roles == [("search",), ("robust",)]
    before = counts(clean_db)
    with pytest.raises(RobustRecorded):
        record_run(registry, make_cfg("cand-rseed43b"), row, code_version="t")
    assert counts(clean_db) == before
    judged = dataclasses.replace(row, gate_passed=True, robust=_link("cand", "seed:44"))
    with pytest.raises(RegistryError):
        record_run(registry, make_cfg("cand-rseed44"), judged, code_version="t")
    assert counts(clean_db) == before


def test_a_refused_write_is_a_registry_error(registry: Connection) -> None:
    with pytest.raises(RegistryError):
        record_run(registry, make_cfg("x"), ok_row(1.0, True, "bogus"), code_version="t")


# --- queries -------------------------------------------------------------------------------------


@pytest.fixture
def board(registry: Connection) -> Connection:
    """Six runs: four passed, one failed the gate, one failed to run; two in study 's1'."""
    for eid, sharpe, passed, status, study in [
        ("a", 0.9, True, "ok", None),
        ("b", 2.5, True, "ok", None),
        ("c", 1.7, True, "ok", "s1"),
        ("d", 3.1, False, "ok", "s1"),
        ("e", 1.1, True, "ok", None),
        ("f", None, False, "failed", None),
    ]:
        record_run(
            registry,
            make_cfg(eid),
            ok_row(sharpe, passed, status, max_drawdown=sharpe),
            code_version="test",
            study_name=study,
            trial_number=1 if study else None,
        )
    return registry


def test_the_seed_query_runs_verbatim(board: Connection, clean_db: str) -> None:
    with psycopg.connect(clean_db) as c:
        rows = c.execute(SEED_LEADERBOARD).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("b", "2.5"), ("c", "1.7"), ("e", "1.1"), ("a", "0.9")]
    assert all(r[2] == "0.55" and r[3] == "0.01" for r in rows)
    assert all(isinstance(r[4], datetime) for r in rows)


def test_leaderboard_orders_by_sharpe_descending(board: Connection) -> None:
    rows = leaderboard(board)
    assert [r["experiment_id"] for r in rows] == ["d", "b", "c", "e", "a"]
    assert rows[0]["sharpe"] == 3.1
    assert rows[0]["symbol"] == "BTC/USDT"
    assert rows[0]["gate_passed"] is False


def test_leaderboard_passed_only_and_top(board: Connection) -> None:
    assert [r["experiment_id"] for r in leaderboard(board, passed_only=True)] == [
        "b",
        "c",
        "e",
        "a",
    ]
    assert [r["experiment_id"] for r in leaderboard(board, passed_only=True, top=2)] == ["b", "c"]


def test_leaderboard_study_filter(board: Connection) -> None:
    assert [r["experiment_id"] for r in leaderboard(board, study="s1")] == ["d", "c"]
    assert leaderboard(board, study="nope") == []


def test_leaderboard_other_order_and_failed_runs(board: Connection) -> None:
    rows = leaderboard(board, order="max_drawdown", ascending=True)
    assert [r["experiment_id"] for r in rows] == ["a", "e", "c", "b", "d"]
    everything = leaderboard(board, include_failed=True)
    assert [r["experiment_id"] for r in everything] == ["d", "b", "c", "e", "a", "f"]
    assert everything[-1]["status"] == "failed"


# --- connections ---------------------------------------------------------------------------------


def test_unreachable_server_fails_fast_with_one_line_and_no_password() -> None:
    url = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/registry"
    t0 = time.monotonic()
    with pytest.raises(RegistryError) as info:
        connect(url)
    assert time.monotonic() - t0 < 10
    message = str(info.value)
    assert "\n" not in message
    assert "127.0.0.1:1/registry" in message
    assert "s3cr3t-pw" not in message
    assert "SWEEP_DATABASE_URL" in message


@pytest.mark.parametrize("url", ["mysql://alice:s3cr3t-pw@db.example/registry", "garbage = ="])
def test_malformed_url_is_a_registry_error_without_the_password(url: str) -> None:
    with pytest.raises(RegistryError) as info:
        connect(url)
    assert "s3cr3t-pw" not in str(info.value)


def test_masked_hides_the_password() -> None:
    assert masked("postgresql://bob:hunter2@db.example:6543/reg") == "db.example:6543/reg as bob"
    assert masked("not a url ::: =") == "<unparseable database URL>"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5555/postgres",
            "postgresql+psycopg://postgres@127.0.0.1:5555/postgres",
        ),
        (
            "postgresql://u:p%40ss%2Fw%3Ard@db.example:6543/reg",
            "postgresql+psycopg://u:p%40ss%2Fw%3Ard@db.example:6543/reg",
        ),
        ("postgresql://db.example/reg", "postgresql+psycopg://postgres@db.example:5432/reg"),
        (
            "host=/tmp/pgsock port=5433 dbname=reg user=me",
            "postgresql+psycopg://me@/reg?host=/tmp/pgsock&port=5433",
        ),
    ],
)
def test_sqlalchemy_url(url: str, expected: str) -> None:
    assert sqlalchemy_url(url) == expected


def test_sqlalchemy_url_keeps_an_awkward_password() -> None:
    url = make_conninfo(host="h", port=5432, dbname="d", user="u", password="p@ss/w:rd %x")
    parsed = make_url(sqlalchemy_url(url))
    assert parsed.password == "p@ss/w:rd %x"
    assert (parsed.username, parsed.host, parsed.port, parsed.database) == ("u", "h", 5432, "d")
    assert parsed.drivername == "postgresql+psycopg"


def test_embedded_server_starts_and_is_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWEEP_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    server = EmbeddedServer(tmp_path / "pg" / "pgdata")
    url = server.ensure_running()
    try:
        with connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        assert server.ensure_running() == url
        assert EmbeddedServer(tmp_path / "pg" / "pgdata").ensure_running() == url
    finally:
        assert server.stop() is True
    assert server.stop() is False
    with pytest.raises(RegistryError):
        connect(url)
