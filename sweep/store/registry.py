"""The registry in PostgreSQL: migrations, writes and named queries.

SQL lives in ``sql/``: numbered forward-only migrations (``NNN_name.sql``) recorded in
``sweep_schema_version``, and named queries under ``sql/queries`` with named parameters. Every
unit of work is one short transaction. Migrations run under an advisory lock, so parallel workers
and machines that start together apply each one exactly once.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, RegistryError, did_you_mean
from sweep.core.returns import ENCODING, DailyReturns, encode
from sweep.store.db import connect, masked

if TYPE_CHECKING:
    from sweep.core.timing import TimingScores

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_MIGRATION = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_MIGRATION_LOCK = 0x5377_6565_70  # arbitrary constant: "Sweep"

Connection = psycopg.Connection[Any]
Cursor = psycopg.Cursor[Any]


@functools.cache
def query(name: str) -> str:
    """The text of ``sql/queries/<name>.sql``."""
    return (SQL_DIR / "queries" / f"{name}.sql").read_text()


def migrations() -> list[tuple[int, str, Path]]:
    """The migrations shipped with this version, in order."""
    found = []
    for p in sorted(SQL_DIR.glob("*.sql")):
        m = _MIGRATION.match(p.name)
        if m:
            found.append((int(m.group(1)), m.group(2), p))
    return found


def schema_version(conn: Connection) -> int:
    """The highest migration applied to this database (0 for a new one)."""
    return max(applied_versions(conn), default=0)


def applied_versions(conn: Connection) -> set[int]:
    """The migrations applied to this database (none for a new one)."""
    row = conn.execute("SELECT to_regclass('sweep_schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return set()
    return {int(r[0]) for r in conn.execute("SELECT version FROM sweep_schema_version")}


def upgrade(conn: Connection) -> list[str]:
    """Apply pending migrations in one transaction (all or none) under an advisory lock; return
    the names applied.

    A migration is pending when its number is not recorded, not merely when it is above the
    highest recorded one: numbers are reserved per feature branch (009 to 011 are, while 012 is
    shipped), so a database may hold 012 before 009 exists, and gets 009 when it ships."""
    applied: list[str] = []
    known = migrations()
    latest = known[-1][0] if known else 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sweep_schema_version ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = applied_versions(conn)
        current = max(done, default=0)
        if current > latest:
            raise RegistryError(
                f"database schema version {current} is newer than this sweep knows ({latest})",
                hint="upgrade sweep (pip install -U sweep) before using this database",
            )
        for version, name, path in known:
            if version in done:
                continue
            log.info("applying migration %03d_%s", version, name)
            conn.execute(path.read_text().encode())
            conn.execute(
                "INSERT INTO sweep_schema_version (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(f"{version:03d}_{name}")
    return applied


def transaction_unless_open(conn: Connection) -> contextlib.AbstractContextManager[Any]:
    """``conn.transaction()``, or nothing when the caller's transaction is open already (its
    statements then join it). Nested in a pipeline, psycopg's transaction() is a savepoint that
    syncs the pipeline at each of its levels: round trips that were a third of what recording
    a study's trial cost."""
    if conn.info.transaction_status == TransactionStatus.INTRANS:
        return contextlib.nullcontext()
    return conn.transaction()


def did_you_mean_experiment(conn: Connection, experiment_id: str) -> str:
    """``did you mean '<id>'? `` for the registered experiment id closest to a misspelt one, or
    nothing (``sql/queries/experiment_ids_near.sql``)."""
    rows = conn.execute(query("experiment_ids_near"), {"experiment_id": experiment_id}).fetchall()
    return did_you_mean(experiment_id, (str(r[0]) for r in rows))


def open_registry(url: str) -> Connection:
    """Connect (fail fast) and bring the schema up to date.

    The connection is in autocommit mode: every unit of work is an explicit
    ``conn.transaction()`` block, and a lone read never leaves a transaction open."""
    conn = connect(url, autocommit=True)
    try:
        upgrade(conn)
    except psycopg.Error as e:
        conn.close()
        raise RegistryError(f"cannot prepare the registry at {masked(url)}: {e}") from e
    return conn


@dataclass(frozen=True)
class ResultRow:
    """One ``model_results`` row, as the runner hands it over."""

    status: str  # ok | failed | pruned
    metrics: Mapping[str, Any] | None
    gate_passed: bool | None  # None: not a search result (a refit, or a robustness run)
    gate_failures: Sequence[str]
    model_path: str | None = None
    train_from: datetime | None = None
    train_to: datetime | None = None
    test_from: datetime | None = None
    test_to: datetime | None = None
    feature_names: Sequence[str] = ()
    data_fingerprint: Mapping[str, Any] | None = None
    duration_s: float | None = None
    cpu_s: float | None = None
    error: str | None = None
    returns: DailyReturns | None = None
    holdout_of_study: str | None = None  # set: a sealed-holdout evaluation, counted as a look
    timing: TimingScores | None = None  # the run's timing-test scores (sweep.core.timing)
    refit: bool = False  # a model fitted for live prediction: scores nothing, counts nowhere
    artifacts: Mapping[str, Any] | None = None  # where the model files went (sweep.artifacts)
    robust: RobustLink | None = None  # set: a robustness run of a study's candidate

    @property
    def role(self) -> str:
        """``model_results.role``: search (a trial or a single run), holdout or robust."""
        if self.holdout_of_study is not None:
            return "holdout"
        return "robust" if self.robust is not None else "search"


@dataclass(frozen=True)
class RobustLink:
    """What a robustness run is (``robust_evaluations``): which candidate of which study, which
    change (``eval_key`` names it deterministically, so a resumed command skips it), and the
    objective's value overall and per market regime."""

    study_name: str
    candidate_id: str
    kind: str  # base | neighbour | random | seed | symbol
    eval_key: str
    label: str
    changes: Mapping[str, Any]
    objective: str
    value: float | None
    passed: bool  # the gate's per-run checks
    regimes: Mapping[str, Any] | None = None


class RobustRecorded(RegistryError):
    """Another process recorded this robustness evaluation first."""

    def __init__(self, candidate_id: str, eval_key: str) -> None:
        super().__init__(f"the robustness run {eval_key} of {candidate_id} was recorded meanwhile")


def _timing_params(scores: TimingScores | None) -> dict[str, Any]:
    # numpy: loaded only when a run is recorded, so `sweep results` stays light
    from sweep.core.timing import ENCODING as TIMING_ENCODING
    from sweep.core.timing import encode_scores

    if scores is None:
        return dict.fromkeys(
            ("timing_objective", "timing_draws", "timing_encoding", "timing_data"), None
        )
    return {
        "timing_objective": scores.objective,
        "timing_draws": int(scores.draws.shape[0]),
        "timing_encoding": TIMING_ENCODING,
        "timing_data": encode_scores(scores),
    }


def _experiment_params(
    cfg: ExperimentConfig, study_name: str | None, trial_number: int | None
) -> dict[str, Any]:
    return {
        "experiment_id": cfg.experiment_id,
        "config": Jsonb(cfg.to_json_dict()),
        "config_hash": cfg.fingerprint(),
        "symbol": cfg.symbol,
        "timeframe": cfg.timeframe,
        "model_type": cfg.model_type,
        "feature_groups": list(cfg.feature_groups),
        "study_name": study_name,
        "trial_number": trial_number,
    }


def check_config_unchanged(
    conn: Connection, cfg: ExperimentConfig, *, force: bool, file: str | None = None
) -> None:
    """Refuse to record a run of an existing ``experiment_id`` whose config changed.

    The rule: an experiment id names one config. Re-running the same config adds a result row;
    running a different config under the same id is refused unless ``force``, which replaces the
    stored config (earlier result rows keep the ``config_hash`` they were produced with).
    """
    with conn.transaction():
        row = conn.execute(
            query("experiment_config_hash"), {"experiment_id": cfg.experiment_id}
        ).fetchone()
        stored = conn.execute(
            query("experiment_config"), {"experiment_id": cfg.experiment_id}
        ).fetchone()
    if row and not same_config(row[0], stored[0] if stored else None, cfg) and not force:
        changed = _changed_keys(stored[0] if stored else {}, cfg.to_json_dict())
        raise ConfigError(
            "is already registered with a different config"
            + (
                f" (changed: {', '.join(changed[:4])}{', ...' if len(changed) > 4 else ''})"
                if changed
                else ""
            ),
            file=file,
            key="experiment_id",
            value=cfg.experiment_id,
            hint="rename experiment_id for a new hypothesis, or pass --force to replace it",
        )


def same_config(stored_hash: str, stored_config: Any, cfg: ExperimentConfig) -> bool:
    """Whether a registered experiment (its stored ``config_hash`` and ``config``) is ``cfg``.

    Equal hashes, or a stored config that reads today as the same config: a version that hashed
    every value (defaults included), or lacked keys added since with their defaults, registered
    the same experiment under another hash."""
    if stored_hash == cfg.fingerprint():
        return True
    if not isinstance(stored_config, dict):
        return False
    try:
        then = ExperimentConfig.model_validate(stored_config)
    except ValidationError:
        return False
    return then.fingerprint() == cfg.fingerprint()


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ between two config mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new)):
            if old.get(k) != new.get(k):
                out += _changed_keys(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [prefix.rstrip(".")] if old != new else []


def record_run(
    conn: Connection,
    cfg: ExperimentConfig,
    result: ResultRow,
    *,
    code_version: str,
    force: bool = False,
    study_name: str | None = None,
    trial_number: int | None = None,
) -> tuple[int, datetime]:
    """Write the experiment row (if new) and one result row, in one transaction."""
    params = _experiment_params(cfg, study_name, trial_number)
    try:
        return _record_run(conn, cfg, result, params, code_version=code_version, force=force)
    except psycopg.Error as e:
        raise RegistryError(
            f"the database refused the result of {cfg.experiment_id}: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}"
        ) from e


def _record_run(
    conn: Connection,
    cfg: ExperimentConfig,
    result: ResultRow,
    params: dict[str, Any],
    *,
    code_version: str,
    force: bool,
) -> tuple[int, datetime]:
    returns = result.returns
    with transaction_unless_open(conn):
        row = conn.execute(query("insert_experiment"), params).fetchone()
        if row and row[0] != params["config_hash"]:
            stored = conn.execute(
                query("experiment_config"), {"experiment_id": cfg.experiment_id}
            ).fetchone()
            same = same_config(row[0], stored[0] if stored else None, cfg)
            if not same and not force:
                raise ConfigError(
                    "is already registered with a different config",
                    key="experiment_id",
                    value=cfg.experiment_id,
                    hint="rename experiment_id for a new hypothesis, or pass --force",
                )
            # --force, or the same config registered under an older hash: either way the row
            # now holds today's form of the config and its hash.
            conn.execute(query("replace_experiment_config"), params)
        got = conn.execute(
            query("insert_model_result"),
            {
                "experiment_id": cfg.experiment_id,
                "model_path": result.model_path,
                "train_from": result.train_from,
                "train_to": result.train_to,
                "test_from": result.test_from,
                "test_to": result.test_to,
                "metrics": Jsonb(dict(result.metrics)) if result.metrics is not None else None,
                "gate_passed": result.gate_passed,
                "gate_failures": list(result.gate_failures),
                "status": result.status,
                "error": result.error,
                "config_hash": params["config_hash"],
                "feature_names": list(result.feature_names),
                "data_fingerprint": Jsonb(dict(result.data_fingerprint))
                if result.data_fingerprint is not None
                else None,
                "duration_s": result.duration_s,
                "cpu_s": result.cpu_s,
                "code_version": code_version,
                "holdout": result.holdout_of_study is not None,
                "refit": result.refit,
                "artifacts": Jsonb(dict(result.artifacts)) if result.artifacts else None,
                "role": result.role,
                "robust_of": result.robust.candidate_id if result.robust is not None else None,
                "first_day": returns.first_day if returns is not None else None,
                "n_days": len(returns.values) if returns is not None else None,
                "encoding": ENCODING,
                "data": encode(returns) if returns is not None else None,
                **_timing_params(result.timing),
            },
        ).fetchone()
        assert got is not None
        if result.holdout_of_study is not None:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))",
                ("holdout:" + result.holdout_of_study,),
            )
            look = conn.execute(
                query("insert_holdout_look"),
                {
                    "study_name": result.holdout_of_study,
                    "experiment_id": cfg.experiment_id,
                    "result_id": got[0],
                },
            ).fetchone()
            if look is None:  # rolls back this transaction: the result row goes with it
                raise HoldoutRecorded(result.holdout_of_study, cfg.experiment_id)
        if result.robust is not None:
            link = result.robust
            done = conn.execute(
                query("insert_robust_evaluation"),
                {
                    "result_id": got[0],
                    "study_name": link.study_name,
                    "candidate_id": link.candidate_id,
                    "kind": link.kind,
                    "eval_key": link.eval_key,
                    "label": link.label,
                    "changes": Jsonb(dict(link.changes)),
                    "objective": link.objective,
                    "value": link.value,
                    "passed": link.passed,
                    "regimes": Jsonb(dict(link.regimes)) if link.regimes is not None else None,
                },
            ).fetchone()
            if done is None:  # a concurrent `sweep robust` was first: roll this one back
                raise RobustRecorded(link.candidate_id, link.eval_key)
    return int(got[0]), got[1]


class HoldoutRecorded(RegistryError):
    """Another process recorded this trial's holdout evaluation first."""

    def __init__(self, study: str, experiment_id: str) -> None:
        super().__init__(f"the holdout of {experiment_id} in {study} was recorded meanwhile")


def leaderboard(
    conn: Connection,
    *,
    passed_only: bool = False,
    top: int = 20,
    order: str = "sharpe",
    ascending: bool = False,
    study: str | None = None,
    include_failed: bool = False,
    holdout: bool = False,
    latest_only: bool | None = None,
) -> list[dict[str, Any]]:
    """Result rows ordered by a metric, as dicts (``n_matching``: rows before ``top``).

    ``holdout``: list sealed-holdout evaluations instead of ordinary runs. ``latest_only``
    (default: when ``study`` is given): one row per experiment, its latest run, so re-running an
    exported trial does not list it twice."""
    if latest_only is None:
        latest_only = study is not None
    with conn.cursor(row_factory=dict_row) as cur, conn.transaction():
        cur.execute(
            query("leaderboard"),
            {
                "passed_only": passed_only,
                "top": top,
                "order": order,
                "ascending": ascending,
                "study": study,
                "include_failed": include_failed,
                "holdout": holdout,
                "latest_only": latest_only,
            },
        )
        return list(cur.fetchall())


def to_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as JSON text (timestamps as ISO strings)."""
    return json.dumps([dict(r) for r in rows], default=str, indent=2)
