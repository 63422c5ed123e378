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
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sweep.store.db import EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
SEED_YAML = ROOT / "experiments" / "btc-xgb-4h-momentum.yaml"

# The seed's leaderboard query, verbatim from PRODUCT.md ("must run verbatim").
SEED_LEADERBOARD = """SELECT
experiment_id,
metrics->>'sharpe' AS sharpe,
metrics->>'win_rate' AS win_rate,
metrics->>'alpha' AS alpha,
trained_at
FROM model_results
WHERE gate_passed = true
ORDER BY (metrics->>'sharpe')::float DESC;
"""


def seed_with(dotted: str, value: Any) -> dict[str, Any]:
    """A fresh copy of the seed experiment as a mapping, one dotted key set to ``value``."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())
    *head, last = dotted.split(".")
    node = data
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return data


def debian_tool(binary: str, package: str) -> str:
    """The path of a Debian tool the tests need (PgBouncer, Chromium), installed with apt-get when
    it is missing, so that the README's test command needs nothing installed by hand. As root (CI)
    or with password-less sudo; otherwise the test fails saying what to install. Never a skip."""
    import fcntl

    def found() -> str | None:
        for candidate in (shutil.which(binary), f"/usr/sbin/{binary}", f"/usr/bin/{binary}"):
            if candidate and Path(candidate).exists():
                return candidate
        return None

    if (path := found()) is not None:
        return path
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    with open(Path(tempfile.gettempdir()) / "sweep-tests-apt.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers install one at a time
        if (path := found()) is None and shutil.which("apt-get"):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
                subprocess.run([*sudo, *args], env=env, capture_output=True, check=False)
            path = found()
    if path is None:
        pytest.fail(
            f"the tests need {binary}: install Debian's {package} (apt-get install {package})"
        )
    return path


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of a running server's maintenance database."""
    external = os.environ.get("SWEEP_DATABASE_URL", "").strip()
    if external:
        yield external
        return
    # Not under pytest's own temp root: another pytest run started as root resets that root to
    # mode 0700, and the server (which runs as its own user when started by root) then loses
    # its data directory mid-run.
    home = Path(tempfile.mkdtemp(prefix="sweep-test-pg-"))
    server = EmbeddedServer(home / "pgdata")
    url = server.ensure_running()
    yield url
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


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
    """The session database with the registry, study metadata and Optuna studies emptied."""
    with psycopg.connect(db_url, autocommit=True) as c:
        # The registry, study metadata and Optuna's own studies (their trials cascade).
        for table in ("model_results", "experiments", "sweep_studies", "studies"):
            exists = c.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if exists and exists[0]:
                c.execute(f'TRUNCATE "{table}" RESTART IDENTITY CASCADE')
    return db_url


@pytest.fixture
def workdir(tmp_path: Path, clean_db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory like a user's: data/ beside it, the test database in the env."""
    shutil.copytree(
        DATA_DIR, tmp_path / "data", ignore=shutil.ignore_patterns("ETH*", "XAU*", "USD_JPY*")
    )
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


# --- studies ------------------------------------------------------------------------------------
# A study needs a clean Optuna state as well as clean registry tables, so study tests get a
# database of their own (cheap: CREATE DATABASE on the session's server) and unique study names.


def _create_database(server_url: str, tag: str) -> tuple[str, str]:
    name = f"sweep_{tag}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return name, make_conninfo(**params)  # type: ignore[arg-type]


def _drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_db(server_url: str) -> Iterator[str]:
    """A brand-new database for one test: empty registry and no Optuna studies."""
    name, url = _create_database(server_url, "study")
    yield url
    _drop_database(server_url, name)


@pytest.fixture
def study_dir(tmp_path: Path, fresh_db: str) -> StudyDir:
    return StudyDir(tmp_path, fresh_db)


@pytest.fixture(scope="module")
def module_db(server_url: str) -> Iterator[str]:
    """A brand-new database shared by the tests of one module (e.g. one study, many checks)."""
    name, url = _create_database(server_url, "mod")
    yield url
    _drop_database(server_url, name)


class StudyDir:
    """A user's working directory for studies: data/ beside it, its own SWEEP_HOME, a database."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        (path / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA_DIR / "BTC_USDT-1h.csv.gz", path / "data" / "BTC_USDT-1h.csv.gz")
        self.env = {
            "SWEEP_DATABASE_URL": url,
            "SWEEP_HOME": str(path / ".sweep"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self._popened: list[subprocess.Popen[str]] = []

    def write(self, name: str, data: dict[str, Any]) -> Path:
        p = self.path / name
        p.write_text(yaml.safe_dump(data, sort_keys=False))
        return p

    def sweep(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.path, env={**self.env, **(env or {})}, timeout=timeout)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """``sweep ARGS`` started in a session (process group) of its own, as a terminal starts
        it, so a test can signal it; its output goes to files (see :meth:`output`)."""
        out_path, err_path = self._logs(len(self._popened))
        with out_path.open("w") as out, err_path.open("w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sweep.cli", *args],
                cwd=self.path,
                env={**os.environ, **self.env, **(env or {})},
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        self._popened.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[str]) -> tuple[str, str]:
        """stdout and stderr of a process started by :meth:`popen`."""
        out_path, err_path = self._logs(self._popened.index(proc))
        return out_path.read_text(), err_path.read_text()

    def _logs(self, i: int) -> tuple[Path, Path]:
        return self.path / f"popen-{i}.out", self.path / f"popen-{i}.err"


def tiny_space(name: str) -> dict[str, Any]:
    """A small, fast search space on BTC/USDT 4h (2021 on, 60 trees): about 0.1 s a trial."""
    return {
        "experiment_id": name,
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "model_type": "xgboost",
        "feature_groups": {"subset": ["momentum", "volume", "volatility"], "min_size": 1},
        "target": {
            "type": "binary",
            "horizon": {"int": [1, 6]},
            "threshold": {"float": [0.004, 0.02], "log": True},
        },
        "position": {"size": 0.02, "hold_max": 4},
        "training": {"train_ratio": 0.7, "min_samples": 300, "early_stopping_rounds": 10},
        "model": {"n_estimators": 60, "learning_rate": 0.2, "max_depth": {"int": [2, 4]}},
        "backtest": {"entry_threshold": {"float": [0.3, 0.5]}},
        "gate": {"min_sharpe": 0.0, "min_win_rate": 0.3, "min_trades": 5},
        "data": {"start": "2021-01-01"},
        "sweep": {"objective": "sharpe", "direction": "maximize", "sampler": "tpe", "seed": 7},
    }


def sql(url: str, text: str, params: Any = None) -> list[dict[str, Any]]:
    """Rows of one query on the registry's database, as dicts."""
    from psycopg.rows import dict_row

    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as c:
        return list(c.execute(text, params).fetchall())


def optuna_trials(url: str, study_name: str) -> list[Any]:
    """The study's trials (``FrozenTrial``), read through Optuna's own storage API."""
    import optuna

    from sweep.study.optuna_study import create_storage

    # sweep's storage takes the advisory lock under which Optuna's tables are created: a bare
    # RDBStorage polling here while a `sweep run` creates them races it on CREATE TABLE
    storage = create_storage(url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        return sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    finally:
        storage.engine.dispose()


def is_counted(trial: Any) -> bool:
    """The budget's rule: complete, pruned, or failed with a recorded reason."""
    state = trial.state.name
    return state in ("COMPLETE", "PRUNED") or (
        state == "FAIL" and "fail_reason" in trial.user_attrs
    )
