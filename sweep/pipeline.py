"""One experiment, no I/O: features -> target -> split -> model -> backtest -> metrics -> gate.

:func:`prepare_dataset` computes every registered feature once for a market dataset;
:func:`run_pipeline` selects the experiment's features by name, so a study's trials on the same
dataset share that work. Everything here is deterministic for a given config and dataset,
whatever ``nthread`` is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from sweep.backtest import run_backtest
from sweep.config import ExperimentConfig
from sweep.data import MarketData, bars_per_year
from sweep.errors import PipelineError
from sweep.features import compute_features, resolve_features
from sweep.gate import GateVerdict, evaluate_gate
from sweep.metrics import compute_metrics
from sweep.model import FittedModel, get_model_kind
from sweep.split import Split, chronological_split
from sweep.target import binary_target

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Dataset:
    """Market data with every registered feature computed once."""

    market: MarketData
    features: pd.DataFrame


def prepare_dataset(market: MarketData) -> Dataset:
    """Compute all registered features for ``market`` (causal; no fitted state)."""
    return Dataset(market=market, features=compute_features(market.frame, market.timeframe))


@dataclass(frozen=True)
class ExperimentResult:
    """What one run produced: metrics, verdict, the model and where each part lies in time."""

    config: ExperimentConfig
    metrics: dict[str, float | int | None]
    verdict: GateVerdict
    model: FittedModel
    feature_names: list[str]
    split: Split
    train_from: pd.Timestamp
    train_to: pd.Timestamp
    test_from: pd.Timestamp
    test_to: pd.Timestamp
    test_index: pd.DatetimeIndex = field(repr=False)
    test_returns: FloatArray = field(repr=False)


def usable_rows(x: FloatArray, y: FloatArray) -> tuple[int, int]:
    """``[start, stop)`` of the rows a run may use: after the features' warm-up (the first row
    where every feature is finite) and before the label runs out. Rows in between are kept even if
    a feature is NaN there (XGBoost treats it as missing), so row offsets stay bar offsets and the
    purge gap of ``horizon`` rows is ``horizon`` bars."""
    finite = np.isfinite(x).all(axis=1)
    start = int(np.argmax(finite)) if finite.any() else x.shape[0]
    labelled = np.flatnonzero(~np.isnan(y))
    stop = int(labelled[-1]) + 1 if labelled.size else 0
    return start, max(start, stop)


def run_pipeline(cfg: ExperimentConfig, dataset: Dataset, *, nthread: int = 1) -> ExperimentResult:
    """Run one experiment on a prepared dataset.

    Raises :class:`PipelineError` when the data cannot support it (too few samples, a one-class
    training label); a failed gate is a result, not an error.
    """
    frame = dataset.market.frame
    names = resolve_features(cfg.feature_groups)
    x_all = dataset.features[names].to_numpy(dtype=np.float64)
    close = frame["close"].to_numpy(dtype=np.float64)
    y_all = binary_target(close, cfg.target.horizon, cfg.target.threshold)
    start, stop = usable_rows(x_all, y_all)
    split = chronological_split(
        stop - start,
        train_ratio=cfg.training.train_ratio,
        horizon=cfg.target.horizon,
        validation_ratio=cfg.training.validation_ratio,
        min_samples=cfg.training.min_samples,
    )

    def rows(part: tuple[int, int]) -> slice:
        return slice(start + part[0], start + part[1])

    fit, valid, test = rows(split.fit), rows(split.valid), rows(split.test)
    y_fit = y_all[fit]
    if np.unique(y_fit).size < 2:
        raise PipelineError(
            f"the training label has one class only (label rate {float(y_fit.mean()):.3f}); "
            "lower target.threshold or change target.horizon"
        )
    kind = get_model_kind(cfg.model_type)
    model = kind.fit(
        x_all[fit],
        y_fit,
        x_all[valid],
        y_all[valid],
        params=cfg.model,
        feature_names=names,
        early_stopping_rounds=cfg.training.early_stopping_rounds,
        seed=cfg.seed,
        nthread=nthread,
    )
    proba = model.predict_proba(x_all[test])
    open_t = frame["open"].to_numpy(dtype=np.float64)[test]
    close_t = close[test]
    bt = run_backtest(
        open_t,
        close_t,
        proba,
        entry_threshold=cfg.backtest.entry_threshold,
        size=cfg.position.size,
        hold_max=cfg.position.hold_max,
        fee=cfg.backtest.fee,
        slippage=cfg.backtest.slippage,
    )
    metrics = compute_metrics(
        bt,
        open_t,
        close_t,
        bars_per_year=bars_per_year(cfg.timeframe, cfg.backtest.days_per_year),
        proba=proba,
        labels=y_all[test],
    ).to_dict()
    metrics.update(
        n_fit=split.n_fit,
        n_valid=split.n_valid,
        n_test=split.n_test,
        label_rate=round(float(y_fit.mean()), 6),
        best_iteration=model.best_iteration,
    )
    g = cfg.gate
    # DSR and PBO are properties of a study's choice among trials; a single run has neither.
    verdict = evaluate_gate(
        metrics,
        min_sharpe=g.min_sharpe,
        min_win_rate=g.min_win_rate,
        min_trades=g.min_trades,
        min_alpha=g.min_alpha,
        max_drawdown=g.max_drawdown,
    )
    index = frame.index
    return ExperimentResult(
        config=cfg,
        metrics=metrics,
        verdict=verdict,
        model=model,
        feature_names=names,
        split=split,
        train_from=index[fit.start],
        train_to=index[valid.stop - 1],
        test_from=index[test.start],
        test_to=index[test.stop - 1],
        test_index=pd.DatetimeIndex(index[test]),
        test_returns=bt.returns,
    )
