"""sweep: hyperparameter sweeps for config-driven trading-ML experiments, in PostgreSQL.

The public Python API, for notebooks and scripts. Each function is the code ``sweep run`` uses::

    import sweep

    cfg = sweep.load_config("experiments/btc-xgb-4h-momentum.yaml")
    bars = sweep.load_bars(cfg)                  # OHLCV, UTC index, resampled and validated
    X = sweep.features(cfg, bars)                # the config's feature columns, causal
    y = sweep.labels(cfg, bars)                  # 0/1, NaN where the label reads past the data
    bt = sweep.backtest(cfg, bars, y)            # backtest rules on every bar: .metrics, .trades
    outcome = sweep.run(cfg)                     # run and register, like `sweep run FILE`
    model = sweep.load_model(outcome.experiment_id)
    proba = sweep.predict(model, bars)           # NaN during the features' warm-up

Errors are :class:`SweepError` subclasses that carry the same one line the CLI prints
(``str(error)``). The heavy modules (pandas, XGBoost, Optuna, PostgreSQL) load on first use, so
``import sweep`` is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweep._version import __version__
from sweep.core.errors import ConfigError, DataError, PipelineError, RegistryError, SweepError

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from sweep.core.config import ExperimentConfig
    from sweep.core.frames import BacktestReport
    from sweep.study.models import LoadedModel
    from sweep.study.runner import RunOutcome

__all__ = [
    "ConfigError",
    "DataError",
    "PipelineError",
    "RegistryError",
    "SweepError",
    "__version__",
    "backtest",
    "features",
    "labels",
    "load_bars",
    "load_config",
    "load_model",
    "predict",
    "run",
]


def load_config(source: str | Path | Mapping[str, Any]) -> ExperimentConfig:
    """The validated experiment config of a YAML file, or of a mapping shaped like one.

    Raises :class:`ConfigError` with the one line the CLI prints (file, key, value, hint)."""
    from sweep.core.experiment import load_experiment, validate_experiment

    if isinstance(source, Mapping):
        return validate_experiment(source)
    return load_experiment(source)


def load_bars(cfg: ExperimentConfig) -> pd.DataFrame:
    """The OHLCV frame the pipeline uses for ``cfg``: a UTC DatetimeIndex of bar-open times,
    float columns ``open high low close volume``, resampled to ``cfg.timeframe``, validated and
    cut to ``data.start``/``data.end``. A copy: changing it changes nothing else."""
    from sweep.core.data import load_market_data, resolve_data_dir

    market = load_market_data(
        cfg.symbol, cfg.timeframe, resolve_data_dir(cfg.data.dir), cfg.data.start, cfg.data.end
    )
    return market.frame.copy()


def features(cfg: ExperimentConfig, bars: pd.DataFrame) -> pd.DataFrame:
    """The config's resolved feature columns, in the order the model reads them, for every bar.
    The value at bar t reads bars up to t only; NaN during each feature's warm-up."""
    from sweep.core.frames import feature_frame

    return feature_frame(cfg, bars)


def labels(cfg: ExperimentConfig, bars: pd.DataFrame) -> pd.Series:
    """The config's target as a Series aligned to ``bars``: 1.0, 0.0, or NaN where the label
    cannot be known (it reads past the last bar)."""
    from sweep.core.frames import label_series

    return label_series(cfg, bars)


def backtest(
    cfg: ExperimentConfig, bars: pd.DataFrame, proba: pd.Series | npt.ArrayLike
) -> BacktestReport:
    """The config's backtest rules on all of ``bars`` with the probabilities ``proba`` (one per
    bar; NaN never signals). Returns ``.metrics`` (the metrics dict the registry stores),
    ``.trades`` (one row per closed trade: ``entry_time``, ``exit_time``, ``net_return``, ...),
    ``.equity`` and ``.returns``."""
    from sweep.core.frames import backtest_frame

    return backtest_frame(cfg, bars, proba)


def run(source: ExperimentConfig | str | Path | Mapping[str, Any]) -> RunOutcome:
    """Run one experiment and register it, like ``sweep run FILE``: same pipeline, same row in
    ``model_results``, same model file. Uses ``SWEEP_DATABASE_URL`` or the embedded server.
    A config whose stored version under the same id differs is refused, as the CLI does without
    ``--force``."""
    import os

    from sweep.core.config import ExperimentConfig
    from sweep.store.db import database_url
    from sweep.store.registry import check_config_unchanged, open_registry
    from sweep.study.runner import execute, load_dataset

    cfg = source if isinstance(source, ExperimentConfig) else load_config(source)
    dataset = load_dataset(cfg)
    conn = open_registry(database_url())
    try:
        file = str(source) if isinstance(source, str | Path) else None
        check_config_unchanged(conn, cfg, force=False, file=file)
        return execute(cfg, conn, nthread=os.cpu_count() or 1, dataset=dataset)
    finally:
        conn.close()


def load_model(ref: str | Path) -> LoadedModel:
    """A registered model: by experiment id (its newest model in the registry), or by the path of
    a model file (a string naming an existing file is a path). The result carries the config it
    was trained under and its saved feature names."""
    from sweep.study.models import load_model as _load

    return _load(ref)


def predict(model: LoadedModel, bars: pd.DataFrame) -> pd.Series:
    """Probabilities for every bar of raw OHLCV ``bars`` at the model's timeframe, from the
    model's saved feature names; NaN during the features' warm-up."""
    from sweep.study.models import predict as _predict

    return _predict(model, bars)
