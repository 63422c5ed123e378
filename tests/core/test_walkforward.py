"""Walk-forward folds, pruning hooks and the sealed holdout's separation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.config import WalkForwardConfig
from sweep.core.errors import PipelineError
from sweep.core.experiment import load_experiment
from sweep.core.metrics import avg_trade_return, profit_factor, win_rate
from sweep.core.pipeline import run_pipeline
from sweep.core.split import chronological_split, walk_forward_folds
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(200, 20_000),
    folds=st.integers(2, 8),
    mode=st.sampled_from(["expanding", "rolling"]),
    horizon=st.integers(1, 30),
    vr=st.floats(0.05, 0.5),
    min_samples=st.integers(1, 500),
)
def test_folds_are_ordered_purged_and_never_train_on_their_evaluation(
    n: int, folds: int, mode: str, horizon: int, vr: float, min_samples: int
) -> None:
    try:
        parts = walk_forward_folds(
            n,
            folds=folds,
            mode=mode,
            horizon=horizon,
            validation_ratio=vr,
            min_samples=min_samples,
        )
    except PipelineError as e:
        assert "insufficient samples" in str(e)
        return
    assert len(parts) == folds
    for k, p in enumerate(parts):
        assert p.fit[0] < p.fit[1] <= p.valid[0] - horizon
        assert p.valid[1] <= p.test[0] - horizon  # purge before evaluation
        assert p.n_fit >= min_samples
        assert p.test[1] <= n  # nothing beyond the search rows (the sealed part)
        if k:
            assert parts[k - 1].test[1] == p.test[0]  # evaluation blocks tile the rows
        if mode == "expanding":
            assert p.fit[0] == 0
    assert parts[-1].test[1] == n


def test_too_small_folds_fail_with_the_fold_named() -> None:
    with pytest.raises(PipelineError, match=r"insufficient samples: fold 1: \d+ < 1000"):
        walk_forward_folds(
            3000, folds=5, mode="expanding", horizon=3, validation_ratio=0.2, min_samples=1000
        )


@pytest.fixture(scope="module")
def seed_cv():  # type: ignore[no-untyped-def]
    cfg = load_experiment(ROOT / "experiments" / "btc-xgb-4h-momentum.yaml")
    return cfg.model_copy(
        update={"training": cfg.training.model_copy(update={"cv": WalkForwardConfig(folds=4)})}
    )


def test_walk_forward_run_never_reaches_the_sealed_test_part(seed_cv) -> None:  # type: ignore[no-untyped-def]
    ds = load_dataset(seed_cv)
    seen: list[int] = []
    result = run_pipeline(seed_cv, ds, on_fold=lambda k, m: seen.append(k))
    assert seen == [1, 2, 3, 4]
    assert result.metrics["cv_folds"] == 4
    # the holdout split of the same config starts after everything the folds evaluated
    plain = seed_cv.model_copy(
        update={"training": seed_cv.training.model_copy(update={"cv": None})}
    )
    sealed = run_pipeline(plain, ds)
    assert result.test_to < sealed.test_from
    gap = ds.market.frame.index.get_loc(sealed.test_from) - ds.market.frame.index.get_loc(
        result.test_to
    )
    assert gap > seed_cv.target.horizon
    assert len(result.test_returns) == len(result.test_index) == result.metrics["n_test"]


def test_a_fold_callback_can_stop_the_run(seed_cv) -> None:  # type: ignore[no-untyped-def]
    class Stop(Exception):
        pass

    def stop_after_two(k: int, metrics: dict[str, float | int | None]) -> None:
        assert "sharpe" in metrics
        if k == 2:
            raise Stop

    with pytest.raises(Stop):
        run_pipeline(seed_cv, load_dataset(seed_cv), on_fold=stop_after_two)


@pytest.mark.parametrize(
    ("entry_threshold", "fold_without_profit_factor"),
    [(0.5, "no trade"), (0.6, "no losing trade")],  # on the real data, see the asserts below
)
def test_walk_forward_profit_factor_pools_the_trades_of_all_folds(
    seed_cv,  # type: ignore[no-untyped-def]
    entry_threshold: float,
    fold_without_profit_factor: str,
) -> None:
    cfg = seed_cv.model_copy(
        update={
            "backtest": seed_cv.backtest.model_copy(update={"entry_threshold": entry_threshold})
        }
    )
    per_fold: list[dict[str, float | int | None]] = []
    result = run_pipeline(cfg, load_dataset(cfg), on_fold=lambda k, m: per_fold.append(m))
    counts = [int(m["n_trades"] or 0) for m in per_fold]
    trades = result.trade_returns
    # trade_returns is every fold's trades, in fold order: each fold's slice gives its metrics
    assert len(trades) == sum(counts) == result.metrics["n_trades"]
    for m, fold_trades in zip(per_fold, np.split(trades, np.cumsum(counts)[:-1]), strict=True):
        assert profit_factor(fold_trades) == m["profit_factor"]
        assert win_rate(fold_trades) == m["win_rate"]
        assert avg_trade_return(fold_trades) == m["avg_trade_return"]
    # The case a mean over folds could not score: a fold without a profit factor of its own.
    if fold_without_profit_factor == "no trade":
        assert any(n == 0 for n in counts)
    else:
        assert any(
            n > 0 and m["profit_factor"] is None for n, m in zip(counts, per_fold, strict=True)
        )
    assert np.any(trades < 0)  # ... while the pool has losing trades
    pooled = result.metrics["profit_factor"]
    assert pooled is not None
    assert pooled == profit_factor(trades)
    # win rate and average trade return were pooled already; the three now agree on the trades
    assert result.metrics["win_rate"] == pytest.approx(win_rate(trades), rel=1e-12)
    assert result.metrics["avg_trade_return"] == pytest.approx(avg_trade_return(trades), rel=1e-12)


def test_single_split_profit_factor_is_its_test_trades(seed_cv) -> None:  # type: ignore[no-untyped-def]
    plain = seed_cv.model_copy(
        update={"training": seed_cv.training.model_copy(update={"cv": None})}
    )
    result = run_pipeline(plain, load_dataset(plain))
    assert "cv_folds" not in result.metrics
    assert len(result.trade_returns) == result.metrics["n_trades"]
    assert result.metrics["profit_factor"] == profit_factor(result.trade_returns)


def test_split_of_the_whole_data_is_what_the_holdout_uses() -> None:
    s = chronological_split(1000, train_ratio=0.7, horizon=3, validation_ratio=0.2, min_samples=10)
    assert s.test == (700, 1000) and s.valid[1] == 697
