"""The chronological split: purge gaps, test tail, sample checks; and the real pipeline's cut."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.config import ExperimentConfig
from sweep.core.errors import PipelineError
from sweep.core.experiment import load_experiment, validate_experiment
from sweep.core.pipeline import Dataset, ExperimentResult, run_pipeline, usable_rows
from sweep.core.split import Split, chronological_split
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]
SEED_YAML = ROOT / "experiments" / "btc-xgb-4h-momentum.yaml"


def documented_layout(
    n: int, train_ratio: float, horizon: int, validation_ratio: float
) -> tuple[int, int, int, int]:
    """(fit_end, valid_start, train_end, test_start) as the module docstring lays them out."""
    n_test = math.floor(n * (1.0 - train_ratio))
    test_start = n - n_test
    train_end = max(test_start - horizon, 0)
    valid_start = train_end - math.floor(train_end * validation_ratio)
    fit_end = max(valid_start - horizon, 0)
    return fit_end, valid_start, train_end, test_start


def test_golden_split() -> None:
    s = chronological_split(1000, train_ratio=0.7, horizon=3, validation_ratio=0.2, min_samples=500)
    assert s == Split(fit=(0, 555), valid=(558, 697), test=(700, 1000), horizon=3)
    assert (s.n_fit, s.n_valid, s.n_test) == (555, 139, 300)


def test_golden_insufficient_samples_message() -> None:
    with pytest.raises(PipelineError) as info:
        chronological_split(
            1000, train_ratio=0.7, horizon=3, validation_ratio=0.2, min_samples=1000
        )
    assert str(info.value) == "insufficient samples: 555 < 1000"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_ratio": 0.0}, "train_ratio"),
        ({"train_ratio": 1.0}, "train_ratio"),
        ({"validation_ratio": 0.0}, "validation_ratio"),
        ({"validation_ratio": 1.0}, "validation_ratio"),
        ({"horizon": 0}, "horizon"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], match: str) -> None:
    args: dict[str, float] = {
        "train_ratio": 0.7,
        "horizon": 3,
        "validation_ratio": 0.2,
        "min_samples": 10,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        chronological_split(1000, **args)  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None)
@given(
    n=st.integers(0, 5000),
    train_ratio=st.floats(0.05, 0.95),
    horizon=st.integers(1, 60),
    validation_ratio=st.floats(0.01, 0.89),
    min_samples=st.integers(1, 3000),
)
def test_split_invariants(
    n: int, train_ratio: float, horizon: int, validation_ratio: float, min_samples: int
) -> None:
    fit_end, valid_start, train_end, test_start = documented_layout(
        n, train_ratio, horizon, validation_ratio
    )
    try:
        s = chronological_split(
            n,
            train_ratio=train_ratio,
            horizon=horizon,
            validation_ratio=validation_ratio,
            min_samples=min_samples,
        )
    except PipelineError as e:
        too_small = str(e) == f"insufficient samples: {fit_end} < {min_samples}"
        # The fit-size message comes exactly when the fit part is too small; otherwise the
        # refusal must be about an empty validation or a (nearly) empty test part.
        assert too_small == (fit_end < min_samples), str(e)
        if not too_small:
            assert str(e).startswith(f"insufficient samples: {n} usable rows")
            assert train_end - valid_start < 1 or n - test_start < 2
        return

    assert fit_end >= min_samples
    # Parts in time order, disjoint, covering [0, n) apart from the gaps.
    assert s.fit[0] == 0
    assert 0 < s.fit[1] <= s.valid[0] < s.valid[1] <= s.test[0] < s.test[1] == n
    # Purge gaps: at least ``horizon`` rows between fit and valid, and between train and test.
    assert s.valid[0] - s.fit[1] >= horizon
    assert s.test[0] - s.valid[1] >= horizon
    # The test part is the last floor(n * (1 - train_ratio)) rows.
    assert s.n_test == math.floor(n * (1.0 - train_ratio))
    assert s.test == (n - s.n_test, n)
    # The validation part is the tail of the train part, as documented.
    assert s.valid == (valid_start, train_end)
    assert s.n_fit == fit_end >= min_samples
    assert s.horizon == horizon
    fit_rows = set(range(*s.fit))
    valid_rows = set(range(*s.valid))
    test_rows = set(range(*s.test))
    assert not test_rows & (fit_rows | valid_rows)
    assert not fit_rows & valid_rows


def test_usable_rows_skips_warm_up_and_label_tail() -> None:
    x = np.ones((10, 2))
    x[:3, 0] = np.nan  # warm-up of feature 0
    x[:2, 1] = np.nan
    x[6, 1] = np.nan  # a NaN inside the window is kept (XGBoost treats it as missing)
    y = np.array([1, 0, 1, 0, 1, 0, 1, 0, np.nan, np.nan])
    assert usable_rows(x, y) == (3, 8)


def test_usable_rows_with_no_finite_row_is_empty() -> None:
    x = np.full((5, 1), np.nan)
    y = np.zeros(5)
    start, stop = usable_rows(x, y)
    assert start == stop


SeedRun = tuple[ExperimentConfig, Dataset, ExperimentResult]


@pytest.fixture(scope="module")
def seed_result() -> SeedRun:
    seed = load_experiment(SEED_YAML).to_json_dict()
    seed["data"]["dir"] = str(ROOT / "data")
    cfg = validate_experiment(seed)
    dataset = load_dataset(cfg)
    return cfg, dataset, run_pipeline(cfg, dataset)


def test_pipeline_purges_horizon_bars_between_train_and_test(seed_result: SeedRun) -> None:
    cfg, dataset, result = seed_result
    horizon = cfg.target.horizon
    index = dataset.market.frame.index
    assert result.train_from < result.train_to < result.test_from <= result.test_to
    bars_between = index.get_loc(result.test_from) - index.get_loc(result.train_to) - 1
    assert bars_between >= horizon
    # Whatever gaps the data has, the test starts at least horizon + 1 bars after train ends.
    assert result.test_from - result.train_to >= (horizon + 1) * pd.Timedelta(hours=4)
    # The last training label reads close[train_to + horizon], which is before the test period.
    last_label_read = index[index.get_loc(result.train_to) + horizon]
    assert last_label_read < result.test_from


def test_pipeline_test_part_is_the_tail_of_usable_rows(seed_result: SeedRun) -> None:
    cfg, dataset, result = seed_result
    index = dataset.market.frame.index
    assert result.split.n_test == len(result.test_index)
    assert result.test_index[0] == result.test_from
    assert result.test_index[-1] == result.test_to
    # Only the last ``horizon`` bars (no label) follow the test part.
    assert len(index) - 1 - index.get_loc(result.test_to) == cfg.target.horizon
    assert result.metrics["n_fit"] == result.split.n_fit >= cfg.training.min_samples
