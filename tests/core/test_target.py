"""The binary target: golden labels, the strict threshold and the NaN tail."""

from __future__ import annotations

import numpy as np
import pytest

from sweep.core.target import binary_target

# Powers of two, so every forward return is exact and the "strictly greater" border is real.
CLOSE = np.array([1.0, 1.5, 1.5, 3.0, 1.5, 1.5])


@pytest.mark.parametrize(
    ("horizon", "threshold", "expected"),
    [
        # forward returns over 1 bar: 0.5, 0.0, 1.0, -0.5, 0.0
        (1, 0.5, [0.0, 0.0, 1.0, 0.0, 0.0, np.nan]),
        (1, 0.25, [1.0, 0.0, 1.0, 0.0, 0.0, np.nan]),
        (1, 1.0, [0.0, 0.0, 0.0, 0.0, 0.0, np.nan]),
        # over 2 bars: 0.5, 1.0, 0.0, -0.5
        (2, 0.5, [0.0, 1.0, 0.0, 0.0, np.nan, np.nan]),
        (2, 0.125, [1.0, 1.0, 0.0, 0.0, np.nan, np.nan]),
        # over 3 bars: 2.0, 0.0, 0.0
        (3, 1.5, [1.0, 0.0, 0.0, np.nan, np.nan, np.nan]),
    ],
)
def test_golden_labels(horizon: int, threshold: float, expected: list[float]) -> None:
    np.testing.assert_array_equal(binary_target(CLOSE, horizon, threshold), expected)


def test_a_return_equal_to_the_threshold_is_labelled_zero() -> None:
    y = binary_target(np.array([2.0, 3.0]), 1, 0.5)  # 3 / 2 - 1 == 0.5 exactly
    assert y[0] == 0.0


@pytest.mark.parametrize("horizon", [1, 2, 5])
def test_nan_tail_is_exactly_horizon_rows(horizon: int) -> None:
    close = np.linspace(100.0, 120.0, 20)
    y = binary_target(close, horizon, 0.001)
    assert np.isnan(y[-horizon:]).all()
    assert not np.isnan(y[:-horizon]).any()
    assert set(np.unique(y[:-horizon])) <= {0.0, 1.0}


@pytest.mark.parametrize("n", [0, 1, 3])
def test_series_not_longer_than_horizon_is_all_nan(n: int) -> None:
    y = binary_target(np.ones(n), 3, 0.01)
    assert y.shape == (n,)
    assert np.isnan(y).all()


def test_label_reads_only_close_at_t_and_t_plus_horizon() -> None:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 200)))
    y = binary_target(close, 4, 0.005)
    expected = (close[4:] / close[:-4] - 1.0 > 0.005).astype(float)
    np.testing.assert_array_equal(y[:-4], expected)


def test_accepts_integers_and_returns_float() -> None:
    y = binary_target(np.array([100, 110, 100]), 1, 0.05)  # type: ignore[arg-type]
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [1.0, 0.0, np.nan])


@pytest.mark.parametrize("horizon", [0, -1])
def test_horizon_below_one_is_refused(horizon: int) -> None:
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        binary_target(CLOSE, horizon, 0.01)
