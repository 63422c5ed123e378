"""Prediction targets.

``binary``: ``y[t] = 1`` when ``close[t + horizon] / close[t] - 1 > threshold``, else 0. The label
reads ``horizon`` bars ahead, which is why :mod:`sweep.core.split` purges ``horizon`` bars between
train and test. Rows whose label would read past the last bar get NaN and are dropped.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def binary_target(
    close: npt.NDArray[np.float64], horizon: int, threshold: float
) -> npt.NDArray[np.float64]:
    """Forward-return label as float (1.0, 0.0, NaN for the last ``horizon`` rows)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    close = np.asarray(close, dtype=np.float64)
    y = np.full(close.shape[0], np.nan)
    if close.shape[0] > horizon:
        fwd = close[horizon:] / close[:-horizon] - 1.0
        y[:-horizon] = (fwd > threshold).astype(np.float64)
    return y
