"""Purge gaps follow each target's real reach: no training label reads an evaluated bar.

For every target type and side, on random price paths: the chronological split and every
walk-forward fold, cut with the label's reach, leave no fitting or validation label whose last
bar read (entry at t + 1 up to its exit, at most t + reach) falls in the part after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.errors import PipelineError
from sweep.core.pipeline import usable_rows
from sweep.core.split import Split, chronological_split, walk_forward_folds
from sweep.core.target import Labels, make_labels
from sweep.core.trades import ExitRule, Prices


@st.composite
def labelled_path(draw: st.DrawFn) -> tuple[Labels, int]:
    """Labels of a random target on a random path, and the features' warm-up length."""
    n = draw(st.integers(300, 1500))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    close = 100 * np.exp(np.cumsum(rng.normal(0, draw(st.floats(0.002, 0.05)), n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n))
    atr = np.r_[np.full(14, np.nan), np.abs(np.diff(close))[13:]]
    kind = draw(st.sampled_from(["binary", "trade", "triple_barrier"]))
    side = draw(st.sampled_from(["long", "short"]))
    hold = draw(st.integers(1, 40))
    rule = ExitRule(
        hold_max=hold,
        fee=0.001,
        slippage=0.0005,
        side=side,
        take_profit=draw(st.floats(0.005, 0.2)) if kind == "triple_barrier" else None,
        stop_loss=draw(st.one_of(st.none(), st.floats(0.005, 0.2))),
        atr_multiple=draw(st.booleans()),
        borrow_rate=0.05,
        bars_per_year=2190.0,
    )
    args: dict[str, Any] = {
        "side": side,
        "hold_max": hold,
        "horizon": draw(st.integers(1, 40)),
        "threshold": draw(st.floats(0.0, 0.03)) if kind == "trade" else 0.004,
        "label_rule": None if kind == "binary" else rule,
    }
    labels = make_labels(kind, Prices(open_, high, low, close, atr), **args)
    return labels, draw(st.integers(0, 80))


def assert_purged(labels: Labels, start: int, part: Split) -> None:
    """Fitting labels end before the validation part; training labels before the evaluated."""
    fit = np.arange(start + part.fit[0], start + part.fit[1])
    valid = np.arange(start + part.valid[0], start + part.valid[1])
    test_start = start + part.test[0]
    assert np.all(labels.end[fit] >= 0) and np.all(labels.end[valid] >= 0)
    if fit.size:
        assert labels.end[fit].max() < start + part.valid[0]
    assert labels.end[np.r_[fit, valid]].max() < test_start
    assert part.horizon == labels.reach


@settings(max_examples=300, deadline=None)
@given(labelled_path(), st.floats(0.5, 0.9), st.floats(0.05, 0.4))
def test_the_chronological_split_purges_every_targets_reach(
    path: tuple[Labels, int], train_ratio: float, validation_ratio: float
) -> None:
    labels, warm_up = path
    x = np.ones((labels.y.shape[0], 2))
    x[:warm_up] = np.nan
    start, stop = usable_rows(x, labels.y)
    try:
        split = chronological_split(
            stop - start,
            train_ratio=train_ratio,
            horizon=labels.reach,
            validation_ratio=validation_ratio,
            min_samples=20,
        )
    except PipelineError as e:
        assert "insufficient samples" in str(e)
        return
    assert not np.isnan(labels.y[start:stop]).any()
    assert_purged(labels, start, split)


@settings(max_examples=200, deadline=None)
@given(
    labelled_path(),
    st.integers(2, 6),
    st.sampled_from(["expanding", "rolling"]),
    st.floats(0.05, 0.4),
)
def test_walk_forward_folds_purge_every_targets_reach(
    path: tuple[Labels, int], folds: int, mode: str, validation_ratio: float
) -> None:
    labels, warm_up = path
    x = np.ones((labels.y.shape[0], 2))
    x[:warm_up] = np.nan
    start, stop = usable_rows(x, labels.y)
    try:
        sealed = chronological_split(
            stop - start,
            train_ratio=0.8,
            horizon=labels.reach,
            validation_ratio=validation_ratio,
            min_samples=5,
        )
        parts = walk_forward_folds(
            sealed.valid[1],
            folds=folds,
            mode=mode,
            horizon=labels.reach,
            validation_ratio=validation_ratio,
            min_samples=5,
        )
    except PipelineError as e:
        assert "insufficient samples" in str(e)
        return
    for part in parts:
        assert_purged(labels, start, part)
        # nothing a fold sees, evaluated labels included, reaches the sealed test part
        assert labels.end[start + part.test[1] - 1] < start + sealed.test[0]
