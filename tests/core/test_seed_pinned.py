"""The seed experiment's metrics are pinned: new targets, sides and exits change nothing for it.

``tests/data/seed_before_labels.json`` was recorded by the code before ``trade`` and
``triple_barrier`` targets, short positions and barrier exits existed. The seed (``binary``, long,
time exit) and its walk-forward variant must still give bit-identical metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sweep.core.experiment import load_experiment, validate_experiment
from sweep.core.pipeline import run_pipeline
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]
PINNED: dict[str, Any] = json.loads(
    (ROOT / "tests" / "data" / "seed_before_labels.json").read_text()
)


def seed_dict() -> dict[str, Any]:
    data = load_experiment(ROOT / "experiments" / "btc-xgb-4h-momentum.yaml").to_json_dict()
    data["data"]["dir"] = str(ROOT / "data")
    return data


@pytest.mark.parametrize("name", ["seed", "seed_walk_forward_4"])
def test_seed_metrics_are_bit_identical_to_the_pinned_run(name: str) -> None:
    data = seed_dict()
    if name == "seed_walk_forward_4":
        data["training"]["cv"] = {"type": "walk_forward", "folds": 4, "mode": "expanding"}
    cfg = validate_experiment(data)
    result = run_pipeline(cfg, load_dataset(cfg))
    pinned = PINNED[name]["metrics"]
    # Every pinned figure is the same to the bit; later versions add metrics of their own
    # (timing_p, alpha_exposure, bars_per_year), which change none of the pinned ones.
    assert {k: result.metrics.get(k) for k in pinned} == pinned
    assert set(result.metrics) - set(pinned) <= {"timing_p", "alpha_exposure", "bars_per_year"}
