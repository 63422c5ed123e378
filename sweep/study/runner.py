"""Running one experiment with I/O: data in, model file out, one registry transaction.

:func:`execute` is what ``sweep run FILE`` and every study trial call, so a trial and a single
experiment go through exactly the same steps.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sweep._version import __version__
from sweep.core.annualisation import resolve_bars_per_year
from sweep.core.config import ExperimentConfig
from sweep.core.data import load_market_data, resolve_data_dir
from sweep.core.errors import PipelineError
from sweep.core.model import save_model
from sweep.core.pipeline import (
    Dataset,
    ExperimentResult,
    FoldCallback,
    prepare_dataset,
    run_pipeline,
)
from sweep.core.returns import daily_returns
from sweep.core.timing import TimingScores, timing_objective, timing_scores
from sweep.store.artifacts import UploadedModel, upload_model
from sweep.store.db import sweep_home
from sweep.store.registry import Connection, ResultRow, RobustLink, record_run
from sweep.study.verdict import PENDING, provenance_failures, recorded_failures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a run left behind: its registry row id, status, metrics and verdict."""

    experiment_id: str
    result_id: int
    status: str
    metrics: dict[str, Any] | None
    gate_passed: bool | None  # None: a robustness run (never on a leaderboard)
    gate_failures: tuple[str, ...]
    error: str | None
    model_path: str | None
    result: ExperimentResult | None
    artifacts: UploadedModel | None = None  # the model's files in the artifact store


def models_dir() -> Path:
    """Where model files go: ``.sweep/models`` (or under ``SWEEP_HOME``)."""
    return sweep_home() / "models"


@functools.lru_cache(maxsize=8)
def _dataset(
    symbol: str, timeframe: str, data_dir: str, start: datetime | None, end: datetime | None
) -> Dataset:
    market = load_market_data(symbol, timeframe, Path(data_dir), start, end)
    return prepare_dataset(market)


def load_dataset(cfg: ExperimentConfig) -> Dataset:
    """The experiment's market data with features, computed once per process and dataset.

    Also checks ``backtest.bars_per_year`` against the data (a ConfigError when they disagree),
    so a bad value fails with the data, before anything is written."""
    data_dir = resolve_data_dir(cfg.data.dir).resolve()
    ds = _dataset(cfg.symbol, cfg.timeframe, str(data_dir), cfg.data.start, cfg.data.end)
    resolve_bars_per_year(cfg.backtest.bars_per_year, ds.market, cfg.backtest.days_per_year)
    return ds


def execute(
    cfg: ExperimentConfig,
    conn: Connection,
    *,
    nthread: int = 1,
    force: bool = False,
    study_name: str | None = None,
    trial_number: int | None = None,
    dataset: Dataset | None = None,
) -> RunOutcome:
    """Run ``cfg`` and register it. A :class:`PipelineError` becomes a ``failed`` row."""
    computed = compute(cfg, nthread=nthread, dataset=dataset)
    return persist(conn, computed, force=force, study_name=study_name, trial_number=trial_number)


@dataclass(frozen=True)
class Computed:
    """A run's result before it is written: the pipeline's result, or why it failed."""

    config: ExperimentConfig
    fingerprint: dict[str, object]
    result: ExperimentResult | None
    error: str | None
    duration_s: float
    status: str = "ok"  # ok | failed | pruned
    # process CPU time (all threads, XGBoost's included); None where it was not measured
    cpu_s: float | None = None


def compute(
    cfg: ExperimentConfig,
    *,
    nthread: int = 1,
    dataset: Dataset | None = None,
    on_fold: FoldCallback | None = None,
) -> Computed:
    """The pipeline part of a run (no writes). Data problems raise; pipeline problems are kept
    as the run's error. An exception raised by ``on_fold`` (pruning) propagates."""
    t0 = clock()
    ds = dataset if dataset is not None else load_dataset(cfg)
    fingerprint = ds.market.fingerprint.to_dict()
    try:
        result = run_pipeline(cfg, ds, nthread=nthread, on_fold=on_fold)
    except PipelineError as e:
        wall, cpu = since(t0)
        return Computed(cfg, fingerprint, None, e.message, wall, "failed", cpu)
    wall, cpu = since(t0)
    return Computed(cfg, fingerprint, result, None, wall, cpu_s=cpu)


def clock() -> tuple[float, float]:
    """Wall and process-CPU clocks now, for :func:`since`."""
    return time.perf_counter(), time.process_time()


def since(t0: tuple[float, float]) -> tuple[float, float]:
    """Wall and process-CPU seconds (all threads) since ``t0 = clock()``."""
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def persist(
    conn: Connection,
    computed: Computed,
    *,
    force: bool = False,
    study_name: str | None = None,
    trial_number: int | None = None,
    holdout_of: tuple[ExperimentConfig, str] | None = None,
    objective: str = "sharpe",
    robust: RobustLink | None = None,
) -> RunOutcome:
    """Write the model file and the registry rows of a computed run (one transaction).

    ``holdout_of=(trial_config, study)``: the run is that trial's sealed-holdout evaluation; its
    row is registered under the trial's experiment (and config), flagged, and counted as a look.
    ``objective``: the study's first objective, which the stored timing-test scores are of.
    ``robust``: the run is a robustness evaluation of a study's candidate (its own experiment,
    role ``robust``, ``gate_passed`` NULL; see ``sql/009_robust.sql``).
    """
    cfg, result = computed.config, computed.result
    registered = holdout_of[0] if holdout_of else cfg
    holdout_study = holdout_of[1] if holdout_of else None
    model_path: Path | None = None
    uploaded: UploadedModel | None = None
    if result is None:
        error = computed.error or "unknown error"
        status = "pruned" if computed.status == "pruned" else "failed"
        row = ResultRow(
            status=status,
            metrics=None,
            gate_passed=None if robust is not None else False,
            gate_failures=(error,),
            data_fingerprint=computed.fingerprint,
            duration_s=computed.duration_s,
            cpu_s=computed.cpu_s,
            error=error,
            holdout_of_study=holdout_study,
            robust=robust,
        )
    else:
        study_failures = _study_failures(conn, cfg, study_name, holdout_study)
        failures = (*result.verdict.failures, *study_failures)
        model_path = _save(result, computed.fingerprint)
        uploaded = _upload(model_path, cfg.experiment_id)
        row = ResultRow(
            status="ok",
            metrics=result.metrics,
            # A robustness run is never on a leaderboard nor under a study's verdict: NULL
            gate_passed=(
                None if robust is not None else result.verdict.passed and not study_failures
            ),
            gate_failures=failures,
            model_path=str(model_path),
            train_from=result.train_from.to_pydatetime(),
            train_to=result.train_to.to_pydatetime(),
            test_from=result.test_from.to_pydatetime(),
            test_to=result.test_to.to_pydatetime(),
            feature_names=result.feature_names,
            data_fingerprint=computed.fingerprint,
            duration_s=computed.duration_s,
            cpu_s=computed.cpu_s,
            returns=daily_returns(result.test_index, result.test_returns),
            holdout_of_study=holdout_study,
            timing=_timing_for(result, objective),
            artifacts=uploaded.to_json() if uploaded is not None else None,
            robust=robust,
        )
    try:
        rid, _ = record_run(
            conn,
            registered,
            row,
            code_version=__version__,
            force=force,
            study_name=study_name,
            trial_number=trial_number,
        )
    except BaseException:
        if model_path is not None:  # the row was not written, so the model must not stay either
            remove_model(model_path)
        if uploaded is not None:
            uploaded.remove()
        raise
    if result is None:
        return RunOutcome(
            cfg.experiment_id,
            rid,
            row.status,
            None,
            False,
            tuple(row.gate_failures),
            row.error,
            None,
            None,
        )
    return RunOutcome(
        cfg.experiment_id,
        rid,
        "ok",
        result.metrics,
        bool(row.gate_passed),
        tuple(row.gate_failures),
        None,
        str(model_path),
        result,
        uploaded,
    )


def _timing_for(result: ExperimentResult, objective: str) -> TimingScores:
    """The run's timing scores of the metric ``objective`` is judged by (the pipeline scores
    ``sharpe``; another objective is scored on the same draws, without re-running the model)."""
    wanted = timing_objective(objective)
    if wanted == result.timing.objective:
        return result.timing
    return timing_scores(result.scored_periods, wanted, seed=result.config.seed)


def _study_failures(
    conn: Connection, cfg: ExperimentConfig, study_name: str | None, holdout_study: str | None
) -> list[str]:
    """The study-level entries of a new row's gate failures: a trial of a running study waits
    for its verdict; a holdout look and a run of an exported file (``provenance``) take their
    study's recorded verdict."""
    if holdout_study is not None:
        return recorded_failures(conn, holdout_study) or []
    if study_name is not None:
        return [PENDING]
    if cfg.provenance is not None:
        return provenance_failures(conn, cfg.provenance.study)
    return []


def _upload(model_path: Path, experiment_id: str) -> UploadedModel | None:
    """The model's files in the artifact store; a store that fails mid-study (it was checked
    before trial 0) costs this run's remote copy, not its result: the files stay on this host."""
    try:
        return upload_model(model_path)
    except Exception as e:
        log.warning(
            "could not upload the model of %s to the artifact store (kept at %s): %s",
            experiment_id,
            model_path,
            str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__,
        )
        return None


def _save(result: ExperimentResult, fingerprint: dict[str, object]) -> Path:
    cfg = result.config
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return save_model(
        result.model,
        models_dir() / cfg.experiment_id,
        stamp,
        {
            "experiment_id": cfg.experiment_id,
            "config": cfg.to_json_dict(),
            "data_fingerprint": fingerprint,
            "train_from": result.train_from.isoformat(),
            "train_to": result.train_to.isoformat(),
            "test_from": result.test_from.isoformat(),
            "test_to": result.test_to.isoformat(),
            "versions": versions(),
        },
    )


def remove_model(model_path: Path) -> None:
    """Delete a model file and its metadata (and its folder when that leaves it empty)."""
    model_path.unlink(missing_ok=True)
    model_path.with_suffix(".json").unlink(missing_ok=True)
    directory = model_path.parent
    if directory.exists() and not any(directory.iterdir()):
        shutil.rmtree(directory, ignore_errors=True)


@functools.cache
def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from sweep.core.install import find_xgboost

    out = {"sweep": __version__}
    # xgboost-cpu or xgboost (CUDA): the same library, so the version goes under "xgboost"
    for name, installed in find_xgboost().items():
        out["xgboost"] = installed if name == "xgboost" else f"{installed} ({name})"
    for pkg in ("ta-lib", "numpy", "pandas", "optuna"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out
