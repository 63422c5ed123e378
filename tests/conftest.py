"""Shared fixtures: a real PostgreSQL database for each test session, and the real data.

The server is ``SWEEP_DATABASE_URL`` when set (CI points it at the machine's server), else an
embedded server started in a temporary folder. Either way each session gets a database of its own,
created here and dropped at the end, so tests never touch a user's registry.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sweep.db import EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
SEED_YAML = ROOT / "experiments" / "btc-xgb-4h-momentum.yaml"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a running server's maintenance database."""
    external = os.environ.get("SWEEP_DATABASE_URL", "").strip()
    if external:
        yield external
        return
    home = tmp_path_factory.mktemp("embedded")
    server = EmbeddedServer(home / "pgdata")
    url = server.ensure_running()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def db_url(server_url: str) -> Iterator[str]:
    """A fresh database for this test session (one per xdist worker)."""
    name = f"sweep_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    url = make_conninfo(**params)  # type: ignore[arg-type]
    yield url
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clean_db(db_url: str) -> str:
    """The session database with the registry tables emptied."""
    with psycopg.connect(db_url, autocommit=True) as c:
        exists = c.execute("SELECT to_regclass('model_results') IS NOT NULL").fetchone()
        if exists and exists[0]:
            c.execute("TRUNCATE model_results, experiments RESTART IDENTITY CASCADE")
    return db_url


@pytest.fixture
def workdir(tmp_path: Path, clean_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory like a user's: data/ beside it, the test database in the env."""
    shutil.copytree(DATA_DIR, tmp_path / "data", ignore=shutil.ignore_patterns("ETH*"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWEEP_DATABASE_URL", clean_db)
    monkeypatch.setenv("SWEEP_HOME", str(tmp_path / ".sweep"))
    return tmp_path


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``sweep ARGS`` in a subprocess, as a user runs it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sweep.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
