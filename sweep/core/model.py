"""Model kinds: a small registry; XGBoost through its native API.

A kind is one class with ``fit`` (early stopping on a validation set that the caller cuts from the
training data, never the test set), ``predict_proba``, ``save`` and ``load``. Models are saved in
the library's own format (XGBoost UBJSON, never pickle) beside a metadata JSON that holds the
resolved feature names; :func:`load_model` reads those names back, so a model always sees the
columns it was trained on, whatever the feature groups are called later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import xgboost as xgb

from sweep.core.config import ModelConfig
from sweep.core.install import xgboost_build

FloatArray = npt.NDArray[np.float64]


class FittedModel(Protocol):
    """What the pipeline needs from a trained model."""

    kind: str
    feature_names: list[str]
    best_iteration: int

    def predict_proba(self, x: FloatArray) -> FloatArray: ...

    def save(self, path: Path) -> None: ...


@dataclass
class XGBoostModel:
    """A fitted ``binary:logistic`` booster and the feature names it reads, in order."""

    booster: xgb.Booster
    feature_names: list[str]
    best_iteration: int
    kind: str = "xgboost"
    # Threads for prediction too: a DMatrix or predict call left at XGBoost's default takes every
    # core, and in parallel workers those extra OpenMP threads spin against each other.
    nthread: int = 1

    @classmethod
    def fit(
        cls,
        x_fit: FloatArray,
        y_fit: FloatArray,
        x_valid: FloatArray,
        y_valid: FloatArray,
        *,
        params: ModelConfig,
        feature_names: Sequence[str],
        early_stopping_rounds: int,
        seed: int,
        nthread: int,
        weight_fit: FloatArray | None = None,
        weight_valid: FloatArray | None = None,
    ) -> XGBoostModel:
        """Train with early stopping on ``(x_valid, y_valid)``; ``nthread`` set by the caller.
        Optional sample weights per row (``training.sample_weight``) weigh the fitting loss and
        the early-stopping loss."""
        xgboost_build()  # two XGBoost builds at once: refuse before training on either
        names = list(feature_names)
        dfit = xgb.DMatrix(
            x_fit, label=y_fit, weight=weight_fit, feature_names=names, nthread=nthread
        )
        dvalid = xgb.DMatrix(
            x_valid, label=y_valid, weight=weight_valid, feature_names=names, nthread=nthread
        )
        booster = xgb.train(
            xgboost_params(params, seed=seed, nthread=nthread),
            dfit,
            num_boost_round=params.n_estimators,
            evals=[(dvalid, "valid")],
            early_stopping_rounds=early_stopping_rounds,
            verbose_eval=False,
        )
        best = int(getattr(booster, "best_iteration", params.n_estimators - 1))
        return cls(booster=booster, feature_names=names, best_iteration=best, nthread=nthread)

    def predict_proba(self, x: FloatArray) -> FloatArray:
        """P(label = 1) from the trees up to the best early-stopping iteration."""
        d = xgb.DMatrix(x, feature_names=self.feature_names, nthread=self.nthread)
        out = self.booster.predict(d, iteration_range=(0, self.best_iteration + 1))
        return np.asarray(out, dtype=np.float64)

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path, feature_names: list[str], best_iteration: int) -> XGBoostModel:
        booster = xgb.Booster(params={"nthread": 1})
        booster.load_model(str(path))
        return cls(booster=booster, feature_names=feature_names, best_iteration=best_iteration)


def xgboost_params(params: ModelConfig, *, seed: int, nthread: int) -> dict[str, Any]:
    """The ``model:`` block in XGBoost's own parameter names."""
    return {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        "max_depth": params.max_depth,
        "eta": params.learning_rate,
        "subsample": params.subsample,
        "colsample_bytree": params.colsample_bytree,
        "min_child_weight": params.min_child_weight,
        "gamma": params.gamma,
        "alpha": params.reg_alpha,
        "lambda": params.reg_lambda,
        "max_bin": params.max_bin,
        "scale_pos_weight": params.scale_pos_weight,
        "seed": seed,
        "nthread": nthread,
        "verbosity": 0,
    }


@dataclass(frozen=True)
class ModelKind:
    """How to train and load one kind of model."""

    name: str
    fit: Callable[..., FittedModel]
    load: Callable[[Path, list[str], int], FittedModel]
    file_suffix: str


_KINDS: dict[str, ModelKind] = {
    "xgboost": ModelKind("xgboost", XGBoostModel.fit, XGBoostModel.load, ".ubj"),
}


def model_kinds() -> list[str]:
    """Names accepted by ``model_type``."""
    return sorted(_KINDS)


def get_model_kind(name: str) -> ModelKind:
    return _KINDS[name]


def save_model(model: FittedModel, directory: Path, name: str, metadata: dict[str, Any]) -> Path:
    """Write ``<name><suffix>`` and ``<name>.json`` (metadata with the feature names); return the
    model path. Files are written under temporary names and renamed, so a crash leaves no half
    model behind."""
    directory.mkdir(parents=True, exist_ok=True)
    kind = get_model_kind(model.kind)
    path = directory / f"{name}{kind.file_suffix}"
    meta_path = directory / f"{name}.json"
    meta = {
        **metadata,
        "model_type": model.kind,
        "feature_names": model.feature_names,
        "best_iteration": model.best_iteration,
        "model_file": path.name,
    }
    tmp_model = path.with_name(path.name + ".tmp" + kind.file_suffix)
    tmp_meta = meta_path.with_name(meta_path.name + ".tmp")
    model.save(tmp_model)
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    tmp_model.replace(path)
    tmp_meta.replace(meta_path)
    return path


def load_model(path: Path) -> tuple[FittedModel, dict[str, Any]]:
    """Load a saved model and its metadata; the model reads the saved feature names."""
    meta_path = path.with_suffix(".json")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    kind = get_model_kind(str(meta["model_type"]))
    model = kind.load(path, list(meta["feature_names"]), int(meta["best_iteration"]))
    return model, meta


def predict_frame(model: FittedModel, features: pd.DataFrame) -> FloatArray:
    """Probabilities for a feature frame, selecting the model's own columns by name."""
    missing = [n for n in model.feature_names if n not in features.columns]
    if missing:
        raise KeyError(f"features missing for this model: {', '.join(missing)}")
    x = features[model.feature_names].to_numpy(dtype=np.float64)
    return model.predict_proba(x)
