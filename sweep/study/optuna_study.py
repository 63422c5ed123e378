"""Optuna studies in the registry's PostgreSQL: storage, samplers, metadata and the trial budget.

The study lives in the same database as the registry (Optuna's RDB storage, its own tables), so
``sweep dashboard`` and any machine with the same ``SWEEP_DATABASE_URL`` see it. ``--trials N`` is
the study's total of *counted* trials: completed, pruned, and failed with a recorded reason.
Trials failed by the heartbeat (their worker died) are not counted; they are re-queued with the
same parameters. Claiming a new trial happens under a PostgreSQL advisory lock, so any number of
processes on any number of machines share one exact budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from psycopg.types.json import Jsonb

from sweep._version import __version__
from sweep.core.errors import ConfigError
from sweep.store import optuna_tables
from sweep.store.db import behind_pooler, connect, sqlalchemy_url
from sweep.store.registry import Connection, Cursor, query
from sweep.study.settings import SweepSettings
from sweep.study.space import SearchSpace
from sweep.study.verdict import resolve_study_gate

log = logging.getLogger(__name__)

ENV_HEARTBEAT = "SWEEP_HEARTBEAT_INTERVAL"
ENV_GRACE = "SWEEP_HEARTBEAT_GRACE"
_OPTUNA_SCHEMA_LOCK = 0x5377_6565_71  # advisory-lock key for creating Optuna's tables
FAIL_REASON = "fail_reason"  # user attribute of a trial that failed as a result (counted)
INTERRUPTED = "interrupted"  # user attribute of a trial stopped by Ctrl-C (not counted)
# A trial's constraint values: Optuna's system attribute holding them as a list (the form its
# constraints_func path writes; its samplers and best_trial read it, and so does optuna-dashboard,
# which does not read Trial.set_constraint's per-name keys), and sweep's user attribute holding
# them by name, in the same (sorted) order
CONSTRAINTS_KEY = "constraints"


def quiet_optuna() -> None:
    """Silence Optuna's notices about the features sweep uses on purpose (heartbeats with
    ask/tell, stale-trial retry, constraints with a sampler that cannot use them, as the README
    says) and its per-trial INFO logs; real warnings still show."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    warnings.filterwarnings("ignore", message="Constraints have been set, but CmaEsSampler")


def trial_experiment_id(study_name: str, number: int, offset: int = 0) -> str:
    """``btc-4h-t0000`` for Optuna trial number 0: the number optuna-dashboard shows and
    ``--trial`` takes. ``offset`` 1 is the numbering of studies started before sweep used
    Optuna's (``btc-4h-t0001`` for trial 0; ``sweep_studies.trial_id_offset``)."""
    return f"{study_name}-t{number + offset:04d}"


def trial_id_offset(conn: Connection, name: str) -> int:
    """How the study's experiment ids number its trials: 0 (Optuna's number; every study since
    migration 012), or 1 for a study started before (its ids keep ``t0001`` for trial 0)."""
    row = conn.execute(
        "SELECT trial_id_offset FROM sweep_studies WHERE study_name = %s", (name,)
    ).fetchone()
    return int(row[0]) if row is not None else 0


def heartbeat_settings() -> tuple[int, int]:
    """``SWEEP_HEARTBEAT_INTERVAL`` (default 5 s) and ``SWEEP_HEARTBEAT_GRACE`` (default 4
    intervals, at least 20 s), checked: whole seconds, the interval 1 to 3600 (an hour between
    signs of life is already long), the grace at least one interval and at most a day."""
    interval = _env_seconds(ENV_HEARTBEAT, "5", 1, 3600)
    grace = _env_seconds(ENV_GRACE, str(max(4 * interval, 20)), interval, 86_400)
    return interval, grace


def _env_seconds(name: str, default: str, low: int, high: int) -> int:
    text = os.environ.get(name, default)
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(
            f"must be whole seconds from {low} to {high}",
            key=name,
            value=text,
            hint="unset it for the default",
        )
    return value


def create_storage(
    url: str, *, prepared: bool = False, claims: bool = False
) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on the registry database, with heartbeats and stale-trial retry.

    ``prepared``: the caller knows that Optuna's tables exist and were checked in this run (a
    worker started by ``sweep run``, whose parent built the storage first), so the creation and
    the schema check, several round trips per worker, are skipped. ``claims``: the caller's
    workers will claim trials, so sweep's index on Optuna's trials table is added if missing
    (:func:`sweep.store.optuna_tables.ensure_indexes`)."""
    interval, grace = heartbeat_settings()
    if prepared:
        return _rdb_storage(url, interval, grace, prepared=True)
    # Optuna creates its tables on first use without a lock, so processes that start together on
    # a new database race on CREATE TABLE; build the storage under an advisory lock. A
    # transaction-level one: behind PgBouncer in transaction mode a session lock would stay with
    # whichever server connection took it. Tried, not waited for: the holder needs a second
    # connection (Optuna's own creates the tables), and behind a pooler, processes blocked on the
    # lock inside a transaction would hold every server connection of a small pool, so the holder
    # would wait for one of theirs until the pooler gave up (deadlocked, then "lost the
    # connection"). Between tries a waiting process holds no server connection.
    wait = 0.02
    with connect(url, autocommit=True) as lock_conn:
        while True:
            with lock_conn.transaction():
                row = lock_conn.execute(
                    "SELECT pg_try_advisory_xact_lock(%s)", (_OPTUNA_SCHEMA_LOCK,)
                ).fetchone()
                if row and row[0]:
                    return _storage_locked(lock_conn, url, interval, grace, claims=claims)
            time.sleep(wait)
            wait = min(wait * 2, 0.5)


def _storage_locked(
    lock_conn: Connection, url: str, interval: int, grace: int, *, claims: bool
) -> optuna.storages.RDBStorage:
    """:func:`create_storage`'s work, under the schema's advisory lock held by ``lock_conn``."""
    existed = optuna_tables.check_schema(lock_conn, url)
    # Tables that exist were just checked at the revision sweep speaks: Optuna's own creation
    # pass and version check (alembic, several round trips) would repeat that.
    storage = _rdb_storage(url, interval, grace, prepared=existed)
    if not existed:
        optuna_tables.check_schema(lock_conn, url)
    if claims:
        optuna_tables.ensure_indexes(lock_conn)
    return storage


def _rdb_storage(
    url: str, interval: int, grace: int, *, prepared: bool = False
) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(
        sqlalchemy_url(url),
        skip_compatibility_check=prepared,
        skip_table_creation=prepared,
        # One connection in a worker: with its own psycopg connection, a worker holds at most
        # two (the trial's heartbeat thread and the claim's stale-trial check take turns on it).
        # Creating the tables takes two at once (Optuna's alembic set-up nests a session in a
        # connection), so an unprepared storage may open a second one. Behind a transaction-mode
        # pooler, no prepared statements; a server that is gone fails fast.
        engine_kwargs={
            "pool_pre_ping": True,
            "pool_size": 1,
            "max_overflow": 0 if prepared else 1,
            "pool_timeout": 120,
            "connect_args": {
                "connect_timeout": 5,
                **({"prepare_threshold": None} if behind_pooler(url) else {}),
            },
        },
        heartbeat_interval=interval,
        grace_period=grace,
        heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=3
        ),
    )


def make_sampler(
    settings: SweepSettings,
    worker: int,
    n_params: int,
    *,
    seed: int | None = None,
    search_space: Mapping[str, BaseDistribution] | None = None,
) -> optuna.samplers.BaseSampler:
    """The study's sampler. Each worker gets its own seed (``seed + worker``, or ``seed`` when
    given): identical seeds in parallel workers would propose identical start-up trials.
    ``search_space`` (:func:`space_distributions`): every trial's distributions, known in advance,
    so TPE need not infer them from the trials each time (see :class:`FixedSpaceTPESampler`)."""
    if seed is None and settings.seed is not None:
        seed = settings.seed + worker
    name = settings.sampler
    multi = len(settings.objectives) > 1
    if name == "tpe":
        kw: dict[str, Any] = {"multivariate": True, "constant_liar": True, "n_startup_trials": 10}
        if search_space is not None:
            return FixedSpaceTPESampler(search_space, seed=seed, **kw)
        return optuna.samplers.TPESampler(seed=seed, **kw)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True)
    if name == "nsgaii":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        if multi:
            raise ConfigError(
                "cmaes supports one objective only",
                key="sweep.sampler",
                value=name,
                hint="use tpe or nsgaii for several objectives",
            )
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    raise AssertionError(name)


PER_TRIAL_SEEDED = ("tpe", "random", "gp")  # samplers with no state beyond their random stream


class FixedSpaceTPESampler(optuna.samplers.TPESampler):
    """Optuna's multivariate TPE with the search space given instead of inferred.

    TPE infers its joint search space as the intersection of every finished trial's
    distributions, incrementally, cached in the sampler. sweep seeds a fresh sampler per trial
    (:func:`trial_seed`), which drops that cache, so the intersection was recomputed over the
    whole study for every trial: the largest part of the sampler's cost in a large study (a
    categorical with many choices compares slowly). A sweep space gives every trial the same
    distributions, so the intersection is the space itself: the same dict (sorted by name,
    single-valued ranges left out, as Optuna returns it), hence the very same draws."""

    def __init__(self, search_space: Mapping[str, BaseDistribution], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fixed_space = {
            name: dist for name, dist in sorted(search_space.items()) if not dist.single()
        }

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return dict(self._fixed_space)  # built with multivariate=True and no groups


def space_distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """The Optuna distribution of each of the space's parameters (what ``space.suggest`` asks)."""
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    space.suggest(trial)
    return dict(trial.distributions)


def trial_seed(settings: SweepSettings, next_number: int) -> int | None:
    """The sampler seed for the trial that will get ``next_number``: from the study seed and the
    number, so resumed runs, workers and machines never replay one another's draws, while a
    one-worker study is reproducible."""
    if settings.seed is None:
        return None
    return (settings.seed * 1_000_003 + next_number) % 2**32


def make_pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``sweep.pruner``; steps are folds 1..k, so ``warmup_folds`` = 2 means
    the first decision comes after two folds."""
    p = settings.pruner
    if p.type in ("median", "percentile"):
        return optuna.pruners.PercentilePruner(
            percentile=50.0 if p.type == "median" else p.percentile,
            n_startup_trials=p.startup_trials,
            n_warmup_steps=p.warmup,
        )
    if p.type == "wilcoxon":
        return optuna.pruners.WilcoxonPruner(p_threshold=p.p_threshold, n_startup_steps=p.warmup)
    return optuna.pruners.NopPruner()


def study_directions(s: SweepSettings) -> list[optuna.study.StudyDirection]:
    return [
        optuna.study.StudyDirection.MAXIMIZE
        if d == "maximize"
        else optuna.study.StudyDirection.MINIMIZE
        for d in s.directions
    ]


def open_study(
    storage: optuna.storages.BaseStorage, space: SearchSpace, name: str, worker: int = 0
) -> optuna.Study:
    """Create the Optuna study, or join it if it exists with the same directions."""
    s = space.settings
    directions = study_directions(s)
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=directions,
        sampler=make_sampler(s, worker, len(space.params)),
        pruner=make_pruner(s),
        load_if_exists=True,
    )
    if list(study.directions) != directions:
        raise ConfigError(
            "an Optuna study of this name exists with other directions",
            key="sweep.direction",
            value=s.directions,
            hint="use --study NEW_NAME for a new study",
        )
    return study


# Study user attributes optuna-dashboard shows beside the study: the chosen trial (Optuna's number,
# the dashboard's "Trial N") and the study's verdict with its reasons, once the study has one.
CHOSEN_TRIAL_ATTR = "chosen_trial"
CHOSEN_ID_ATTR = "chosen_experiment_id"
VERDICT_ATTR = "verdict"
VERDICT_REASONS_ATTR = "verdict_reasons"


def name_metrics(study: optuna.Study, space: SearchSpace) -> None:
    """Label the objectives with their metric names (``sharpe``), for the dashboard and
    ``optuna.visualization``, instead of "Objective 0"."""
    names = space.settings.objectives
    if study.metric_names != names:
        study.set_metric_names(names)


def publish_study_attrs(
    storage: optuna.storages.BaseStorage,
    name: str,
    chosen: tuple[int, str] | None,
    stats: Mapping[str, Any] | None,
) -> None:
    """Write the chosen trial (Optuna's number and sweep's id) and the study's verdict as study
    user attributes, where Optuna Dashboard shows them (``chosen_trial``,
    ``chosen_experiment_id``, ``verdict``, ``verdict_reasons``)."""
    study_id = storage.get_study_id_from_name(name)
    st = dict(stats or {})
    attrs = {
        CHOSEN_TRIAL_ATTR: chosen[0] if chosen else None,
        CHOSEN_ID_ATTR: chosen[1] if chosen else None,
        VERDICT_ATTR: st.get("verdict"),
        VERDICT_REASONS_ATTR: list(st.get("verdict_reasons") or []),
    }
    for key, value in attrs.items():
        storage.set_study_user_attr(study_id, key, value)


def space_hash(space: SearchSpace) -> str:
    blob = json.dumps(space.raw, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def register_study(
    conn: Connection,
    space: SearchSpace,
    name: str,
    n_trials: int,
    fingerprints: Mapping[str, Any],
) -> None:
    """Insert the study's metadata row, or check that an existing one has the same space."""
    s = space.settings
    hash_ = space_hash(space)
    params = {
        "study_name": name,
        "space": Jsonb(json.loads(json.dumps(space.raw, default=str))),
        "space_hash": hash_,
        "objectives": s.objectives,
        "directions": s.directions,
        "sampler": s.sampler,
        "seed": s.seed,
        "pruner": s.pruner.describe(),
        "constraints": Jsonb(s.thresholds),
        "verdict_gate": Jsonb(resolve_study_gate(space.template.get("gate"))),
        "count_trials": s.count_trials,
        "n_trials_target": n_trials,
        "data_fingerprint": Jsonb(dict(fingerprints)),
        "code_version": __version__,
    }
    # Checked before and after the insert, in its transaction: a refused start writes nothing
    # (a completed study is not flipped back to 'running' by a machine with other data).
    with conn.transaction():
        _check_same_study(conn, space, name, hash_, fingerprints)
        conn.execute(query("insert_study"), params)
        _check_same_study(conn, space, name, hash_, fingerprints)


def _check_same_study(
    conn: Connection, space: SearchSpace, name: str, hash_: str, fingerprints: Mapping[str, Any]
) -> None:
    row = conn.execute(query("study_space_hash"), {"study_name": name}).fetchone()
    if row is None:
        return
    if row[0] != hash_:
        raise ConfigError(
            "a study of this name exists with a different search space",
            file=space.file,
            key="experiment_id",
            value=name,
            hint="use --study NEW_NAME, or restore the file the study was started with",
        )
    here, there = _sha256s(fingerprints), _sha256s(row[1])
    if here != there:
        # A machine with other data files would mix results from different data in one study.
        differ = sorted(k for k in set(here) | set(there) if here.get(k) != there.get(k))
        raise ConfigError(
            "this machine's data differ from the data the study was started with "
            f"({', '.join(differ)}: sha256 {_short(here.get(differ[0]))} here, "
            f"{_short(there.get(differ[0]))} in the study)",
            file=space.file,
            key="data",
            hint="copy the same OHLCV files here (the digests are of the bars sweep reads, "
            "resampled and cut to the config's dates, not of the files; the study's are in "
            "sweep_studies.data_fingerprint)",
        )


def _short(digest: Any) -> str:
    return str(digest)[:12] if digest else "none"


def _sha256s(fingerprints: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v or {}).get("sha256") for k, v in dict(fingerprints).items()}


def study_lock_key(name: str) -> int:
    """A stable 63-bit advisory-lock key for a study name."""
    return zlib.crc32(b"sweep-study:" + name.encode()) | (0x5357 << 32)


@dataclass(frozen=True)
class TrialCounts:
    """Trials of a study by state; ``counted`` is what the budget counts."""

    complete: int = 0
    pruned: int = 0
    failed: int = 0  # failed with a recorded reason (a result)
    lost: int = 0  # failed by heartbeat or interrupted (not a result; re-run)
    running: int = 0
    waiting: int = 0

    @property
    def total(self) -> int:
        """Every trial of the study: the number the next new trial gets."""
        return self.complete + self.pruned + self.failed + self.lost + self.running + self.waiting

    @property
    def counted(self) -> int:
        return self.complete + self.pruned + self.failed


def trial_counts(conn: Connection, name: str) -> TrialCounts:
    """Count the study's trials in one query on Optuna's tables."""
    rows = conn.execute(
        query("trial_counts"), {"study_name": name, "fail_reason": FAIL_REASON}
    ).fetchall()
    n = {str(state): int(count) for state, count, _ in rows}
    n["RESULT"] = sum(int(results) for _, _, results in rows)
    return _counts(n)


def _counts(n: Mapping[str, int]) -> TrialCounts:
    """Counts by Optuna state, with "RESULT" the FAILs that carry a recorded reason."""
    failed = n.get("RESULT", 0)
    return TrialCounts(
        complete=n.get("COMPLETE", 0),
        pruned=n.get("PRUNED", 0),
        failed=failed,
        lost=n.get("FAIL", 0) - failed,
        running=n.get("RUNNING", 0),
        waiting=n.get("WAITING", 0),
    )


class TrialTally:
    """A study's :class:`TrialCounts` for a worker's claims, read incrementally: the counts of
    the trials up to the first one still running or waiting never change (a finished trial stays
    finished, and new trials get higher ids), so they are kept here, and each claim reads only
    the trials after them (``sql/queries/trial_counts_since.sql``). Call :meth:`counts` under
    the study's advisory lock, as :func:`trial_counts`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.upto = 0  # every trial of the study with an id up to this one is finished ...
        self.settled: dict[str, int] = {}  # ... and counted here by state ("RESULT": FAILs
        # with a recorded reason)

    @property
    def settled_total(self) -> int:
        """How many trials the study has up to :attr:`upto` (for numbering the next one)."""
        return sum(n for state, n in self.settled.items() if state != "RESULT")

    def counts(self, conn: Connection) -> TrialCounts:
        return self.read(self.look(conn))

    def look(self, conn: Connection) -> Cursor:
        """The query :meth:`counts` runs, sent but not read (in a pipeline, read with other
        queries in one round trip)."""
        return conn.execute(
            query("trial_counts_since"),
            {"study_name": self.name, "after": self.upto, "fail_reason": FAIL_REASON},
        )

    def read(self, looked: Cursor) -> TrialCounts:
        n = dict(self.settled)
        for state, settled, count, results, upto in looked.fetchall():
            for key, k in ((str(state), int(count)), ("RESULT", int(results))):
                n[key] = n.get(key, 0) + k
                if settled:
                    self.settled[key] = self.settled.get(key, 0) + k
            self.upto = int(upto)
        return _counts(n)


class Claim(Enum):
    DONE = "done"  # the budget is met
    WAIT = "wait"  # the rest of the budget is running elsewhere


def finish_study(
    conn: Connection,
    name: str,
    status: str,
    best: tuple[int, str] | None,
    stats: Mapping[str, Any] | None = None,
    *,
    others: int = 0,
) -> TrialCounts:
    """Record the end of a run of the study: counts, best trial, and ``status`` unless ``others``
    (participants still at work) go on with it and the budget is not met."""
    counts = trial_counts(conn, name)
    with conn.transaction():
        conn.execute(
            query("finish_study"),
            {
                "study_name": name,
                "status": status,
                "n_complete": counts.complete,
                "n_pruned": counts.pruned,
                "n_failed": counts.failed,
                "n_running": counts.running,
                "best_trial": best[0] if best else None,
                "best_experiment_id": best[1] if best else None,
                "stats": Jsonb(dict(stats)) if stats is not None else None,
                "others": others,
            },
        )
    return counts
