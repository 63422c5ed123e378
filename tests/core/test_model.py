"""Saved models: XGBoost format, metadata with the resolved feature names, inference by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sweep.core.experiment import load_experiment
from sweep.core.model import load_model, model_kinds, predict_frame, save_model
from sweep.core.pipeline import run_pipeline
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]


def test_a_loaded_model_reads_its_own_features_by_name(tmp_path: Path) -> None:
    cfg = load_experiment(ROOT / "experiments" / "btc-xgb-4h-momentum.yaml")
    ds = load_dataset(cfg)
    result = run_pipeline(cfg, ds)
    path = save_model(result.model, tmp_path, "m", {"experiment_id": cfg.experiment_id})
    assert path.suffix == ".ubj" and path.exists()
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["feature_names"] == result.feature_names
    assert "rsi_14" in meta["feature_names"] and "adx_14" not in meta["feature_names"]

    model, meta2 = load_model(path)
    assert meta2 == meta
    # every registered feature, in reversed column order: the model picks its own by name
    frame = ds.features[list(reversed(ds.features.columns))]
    proba = predict_frame(model, frame.loc[result.test_index])
    np.testing.assert_allclose(
        proba,
        result.model.predict_proba(
            ds.features.loc[result.test_index, result.feature_names].to_numpy()
        ),
    )
    with pytest.raises(KeyError, match="rsi_14"):
        predict_frame(model, frame.drop(columns=["rsi_14"]))


def test_xgboost_is_a_registered_model_kind() -> None:
    assert "xgboost" in model_kinds()
