"""Registered models for new bars: load one by experiment id or path, and predict with the very
features it was trained on. A model trained on another host is fetched from the artifact store
its run recorded (:mod:`sweep.store.artifacts`) into ``.sweep/artifact-cache``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError
from sweep.core.features import compute_features
from sweep.core.model import FittedModel
from sweep.core.model import load_model as load_model_file
from sweep.store.artifacts import download_model
from sweep.store.db import database_url, sweep_home
from sweep.store.registry import did_you_mean_experiment, open_registry, query

__all__ = ["LoadedModel", "load_model", "predict"]


@dataclass(frozen=True, repr=False)
class LoadedModel:
    """A trained model with what it needs to read new bars: the config it was trained under and
    its saved feature names (used by name, so a later change of a feature group never changes
    what an old model reads)."""

    model: FittedModel
    config: ExperimentConfig
    path: Path
    metadata: dict[str, Any]

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.feature_names)

    def __repr__(self) -> str:
        """One line a notebook can print (the generated one printed the whole config and the
        model object: kilobytes)."""
        m, c = self.metadata, self.config
        eid, kind = m.get("experiment_id", c.experiment_id), m.get("model_type", "xgboost")
        trained = f"{m.get('train_from', '?')} to {m.get('train_to', '?')}"
        return (
            f"LoadedModel({eid!r}: {kind} on {c.symbol} {c.timeframe}, "
            f"{len(self.feature_names)} features, trained {trained}, {str(self.path)!r})"
        )


def load_model(ref: str | Path) -> LoadedModel:
    """A model by experiment id (its newest registered model), or by the path of a model file.
    A string that names an existing file is a path."""
    path = Path(ref)
    if not path.is_file():
        # an experiment id has no path separator and no file suffix: this was meant as a file
        if isinstance(ref, Path) or "/" in ref or "\\" in ref or ref.endswith((".ubj", ".json")):
            raise ConfigError(
                "no such model file",
                key="model",
                value=str(ref),
                hint="give a model file sweep wrote (.ubj, with its .json beside it) or an "
                "experiment id (`sweep results` lists them)",
            )
        path = _registered_path(ref)
    if not path.with_suffix(".json").is_file():
        raise ConfigError(
            "has no metadata file beside it",
            key="model",
            value=str(path),
            hint="sweep writes <model>.json next to each model file; copy both",
        )
    model, meta = load_model_file(path)
    cfg = ExperimentConfig.model_validate(meta["config"])
    return LoadedModel(model=model, config=cfg, path=path, metadata=meta)


def _registered_path(experiment_id: str) -> Path:
    conn = open_registry(database_url())
    try:
        row = conn.execute(query("latest_model_path"), {"experiment_id": experiment_id}).fetchone()
        guess = did_you_mean_experiment(conn, experiment_id) if row is None else ""
    finally:
        conn.close()
    if row is None:
        raise ConfigError(
            "no registered model",
            key="experiment_id",
            value=experiment_id,
            hint=guess + "`sweep results` lists experiments; a failed or pruned run has no model",
        )
    path = Path(str(row[0]))
    if path.is_file() and path.with_suffix(".json").is_file():
        return path
    artifacts = row[1]
    if artifacts:  # trained on another host: fetch it from the artifact store, once
        cached = sweep_home() / "artifact-cache" / experiment_id / str(artifacts["model"])
        got = cached / str(artifacts["model_file"])
        if got.is_file() and got.with_suffix(".json").is_file():
            return got
        return download_model(artifacts, cached)
    if not path.is_file():
        raise ConfigError(
            "the registered model file is missing on this machine",
            key="model_path",
            value=str(path),
            hint="run it again here (`sweep run`) or copy the file and its .json beside it",
        )
    return path


def predict(model: LoadedModel, bars: pd.DataFrame) -> pd.Series:
    """Probabilities for every bar of ``bars`` (raw OHLCV at the model's timeframe), computed
    from the model's saved feature names; NaN during the features' warm-up, where the model
    never saw a row in training either."""
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in bars.columns]
    if missing:
        raise ConfigError(
            "needs OHLCV columns",
            key="bars",
            value=", ".join(map(str, bars.columns)),
            hint=f"missing: {', '.join(missing)}; sweep.load_bars(cfg) returns such a frame",
        )
    names = model.feature_names
    feats = compute_features(bars, model.config.timeframe, names)[names]
    x = feats.to_numpy(dtype=np.float64)
    warm = np.isfinite(x).all(axis=1)
    first = int(np.argmax(warm)) if warm.any() else len(x)
    proba = np.full(len(x), np.nan)
    if first < len(x):
        proba[first:] = model.model.predict_proba(x[first:])
    return pd.Series(proba, index=bars.index, name="proba")
