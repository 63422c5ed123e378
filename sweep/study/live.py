"""The model behind live signals (``sweep predict``): which registered model, or a refit.

- Without walk-forward folds: the experiment's newest model (a run's, or a refit's).
- With them: a search result's model was fitted on its last fold's training rows only, so the
  model is one fitted on the whole search part: the sealed holdout's, if the trial was looked at,
  else a refit on the search part (:func:`sweep.core.refit.fit_final`), fitted on the very rows
  ``sweep holdout`` fits on without scoring the holdout, and registered so it is fitted once.
- ``refit_all``: a refit on every labelled bar of the given data, registered.

A refit is its own ``model_results`` row, flagged ``refit``, with ``gate_passed`` NULL and no test
period: it scores nothing, so it is no trial (no trial count, no DSR N, no leaderboard row).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sweep._version import __version__
from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError
from sweep.core.model import save_model
from sweep.core.pipeline import Dataset
from sweep.core.refit import FinalFit, RefitPart, fit_final
from sweep.store.registry import (
    Connection,
    ResultRow,
    did_you_mean_experiment,
    query,
    record_run,
)
from sweep.study.models import LoadedModel, load_model
from sweep.study.runner import clock, load_dataset, models_dir, remove_model, since, versions

log = logging.getLogger(__name__)

__all__ = ["LiveModel", "experiment_config", "live_model"]


@dataclass(frozen=True)
class LiveModel:
    """The model chosen, where it comes from, and the first bar it never trained on."""

    loaded: LoadedModel
    result_id: int
    source: str  # run | holdout | refit (search part) | refit (all data)
    train_from: pd.Timestamp | None
    train_to: pd.Timestamp | None
    predicts_from: pd.Timestamp | None
    refitted_now: bool


def experiment_config(conn: Connection, experiment_id: str) -> ExperimentConfig:
    """The registered config of ``experiment_id``; a one-line error when there is none."""
    row = conn.execute(query("experiment_config"), {"experiment_id": experiment_id}).fetchone()
    if row is None:
        raise ConfigError(
            "no registered experiment",
            key="EXPERIMENT_ID",
            value=experiment_id,
            hint=did_you_mean_experiment(conn, experiment_id)
            + "`sweep results` lists experiment ids (`sweep run FILE` registers one)",
        )
    return ExperimentConfig.model_validate(row[0])


def live_model(
    conn: Connection,
    cfg: ExperimentConfig,
    *,
    refit_all: Dataset | None = None,
    nthread: int = 1,
) -> LiveModel:
    """The model for live signals of ``cfg`` (module docstring); ``refit_all``: refit on all of
    this dataset and register it first."""
    if refit_all is not None:
        return _refit(conn, cfg, refit_all, "all", nthread)
    folds = cfg.training.cv is not None
    row = conn.execute(
        query("live_model"), {"experiment_id": cfg.experiment_id, "folds": folds}
    ).fetchone()
    if row is None:
        if folds:
            log.info("%s: fitting a model on the whole search part", cfg.experiment_id)
            return _refit(conn, cfg, load_dataset(cfg), "search", nthread)
        raise ConfigError(
            "has no registered model",
            key="EXPERIMENT_ID",
            value=cfg.experiment_id,
            hint="a failed or pruned run keeps none: run it again, or pass --refit",
        )
    rid, path, holdout, refit, train_from, train_to, test_from = row
    loaded = _load_registered(Path(str(path)))
    meta = loaded.metadata
    if refit:
        source = f"refit ({'search part' if meta.get('refit') == 'search' else 'all data'})"
        predicts_from = _stamp(meta.get("predicts_from"))
    else:
        source = "holdout" if holdout else "run"
        predicts_from = _stamp(test_from)
    return LiveModel(
        loaded, int(rid), source, _stamp(train_from), _stamp(train_to), predicts_from, False
    )


def _load_registered(path: Path) -> LoadedModel:
    if not path.is_file():
        raise ConfigError(
            "the registered model file is missing on this machine",
            key="model_path",
            value=str(path),
            hint="pass --refit to fit and register a new one, or copy the file and its .json back",
        )
    return load_model(path)


def _stamp(value: Any) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _refit(
    conn: Connection, cfg: ExperimentConfig, dataset: Dataset, part: RefitPart, nthread: int
) -> LiveModel:
    t0 = clock()
    final = fit_final(cfg, dataset, part=part, nthread=nthread)
    wall, cpu = since(t0)
    fingerprint = dataset.market.fingerprint.to_dict()
    path = _save(final, fingerprint)
    row = ResultRow(
        status="ok",
        metrics={
            "n_fit": final.n_fit,
            "n_valid": final.n_valid,
            "label_rate": final.label_rate,
            "best_iteration": final.model.best_iteration,
        },
        gate_passed=None,
        gate_failures=(),
        model_path=str(path),
        train_from=final.train_from.to_pydatetime(),
        train_to=final.train_to.to_pydatetime(),
        feature_names=final.feature_names,
        data_fingerprint=fingerprint,
        duration_s=wall,
        cpu_s=cpu,
        refit=True,
    )
    try:
        rid, _ = record_run(conn, cfg, row, code_version=__version__)
    except BaseException:
        remove_model(path)  # the row was not written, so the model must not stay either
        raise
    loaded = load_model(path)
    source = f"refit ({'search part' if part == 'search' else 'all data'})"
    return LiveModel(
        loaded, rid, source, final.train_from, final.train_to, final.predicts_from, True
    )


def _save(final: FinalFit, fingerprint: dict[str, object]) -> Path:
    cfg = final.config
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return save_model(
        final.model,
        models_dir() / cfg.experiment_id,
        f"{stamp}-refit",
        {
            "experiment_id": cfg.experiment_id,
            "config": cfg.to_json_dict(),
            "data_fingerprint": fingerprint,
            "refit": final.part,
            "train_from": final.train_from.isoformat(),
            "train_to": final.train_to.isoformat(),
            "predicts_from": None
            if final.predicts_from is None
            else final.predicts_from.isoformat(),
            "versions": versions(),
        },
    )
