"""One experiment, no I/O: features -> target -> split -> model -> backtest -> metrics -> gate.

:func:`prepare_dataset` computes every registered feature once for a market dataset;
:func:`run_pipeline` selects the experiment's features by name, so a study's trials on the same
dataset share that work. Everything here is deterministic for a given config and dataset,
whatever ``nthread`` is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from sweep.annualisation import resolve_bars_per_year
from sweep.backtest import run_backtest
from sweep.config import ExperimentConfig
from sweep.data import MarketData
from sweep.errors import PipelineError
from sweep.features import compute_features, resolve_features
from sweep.gate import GateVerdict, evaluate_gate
from sweep.metrics import bh_return, compute_metrics, profit_factor
from sweep.model import FittedModel, get_model_kind
from sweep.split import Split, chronological_split, walk_forward_folds
from sweep.target import binary_target
from sweep.timing import (
    ScoredPeriod,
    TimingScores,
    long_only_trade_table,
    timing_p,
    timing_scores,
)

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
    """What one run produced: metrics, verdict, the model and where each part lies in time.

    ``test_returns`` are the per-bar returns of the scored bars (``test_index``); ``trade_returns``
    the net returns of their closed trades, in time order (all folds' with ``training.cv``).
    ``bars_per_year`` is the annualisation used (:mod:`sweep.annualisation`). ``timing`` holds
    the timing test's Sharpe ratios (actual and random, behind ``metrics["timing_p"]``) and
    ``scored_periods`` what it ran on, so a study can score another objective
    (:func:`sweep.timing.timing_scores`) without re-running the model.
    """

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
    trade_returns: FloatArray = field(repr=False)
    bars_per_year: float
    timing: TimingScores = field(repr=False)
    scored_periods: tuple[ScoredPeriod, ...] = field(repr=False)


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


FoldCallback = Callable[[int, dict[str, float | int | None]], None]


@dataclass(frozen=True)
class _Inputs:
    """A config's view of a dataset: its feature matrix, labels and usable rows."""

    names: list[str]
    x: FloatArray
    y: FloatArray
    open_: FloatArray
    close: FloatArray
    start: int
    stop: int
    index: pd.DatetimeIndex

    def rows(self, part: tuple[int, int]) -> slice:
        return slice(self.start + part[0], self.start + part[1])


@dataclass(frozen=True)
class _Evaluated:
    model: FittedModel
    metrics: dict[str, float | int | None]
    returns: FloatArray
    trade_returns: FloatArray
    test: slice
    period: ScoredPeriod


def _inputs(cfg: ExperimentConfig, dataset: Dataset) -> _Inputs:
    frame = dataset.market.frame
    names = resolve_features(cfg.feature_groups)
    x = dataset.features[names].to_numpy(dtype=np.float64)
    close = frame["close"].to_numpy(dtype=np.float64)
    y = binary_target(close, cfg.target.horizon, cfg.target.threshold)
    start, stop = usable_rows(x, y)
    return _Inputs(
        names,
        x,
        y,
        frame["open"].to_numpy(dtype=np.float64),
        close,
        start,
        stop,
        pd.DatetimeIndex(frame.index),
    )


def _evaluate(
    cfg: ExperimentConfig, inp: _Inputs, split: Split, nthread: int, per_year: float
) -> _Evaluated:
    """Fit on the split's fitting rows (early stopping on its validation tail), backtest and
    score its test rows."""
    fit, valid, test = inp.rows(split.fit), inp.rows(split.valid), inp.rows(split.test)
    y_fit = inp.y[fit]
    if np.unique(y_fit).size < 2:
        raise PipelineError(
            f"the training label has one class only (label rate {float(y_fit.mean()):.3f}); "
            "lower target.threshold or change target.horizon"
        )
    model = get_model_kind(cfg.model_type).fit(
        inp.x[fit],
        y_fit,
        inp.x[valid],
        inp.y[valid],
        params=cfg.model,
        feature_names=inp.names,
        early_stopping_rounds=cfg.training.early_stopping_rounds,
        seed=cfg.seed,
        nthread=nthread,
    )
    proba = model.predict_proba(inp.x[test])
    open_t, close_t = inp.open_[test], inp.close[test]
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
        bars_per_year=per_year,
        size=cfg.position.size,
        proba=proba,
        labels=inp.y[test],
    ).to_dict()
    metrics.update(
        n_fit=split.n_fit,
        n_valid=split.n_valid,
        n_test=split.n_test,
        label_rate=round(float(y_fit.mean()), 6),
        best_iteration=model.best_iteration,
    )
    # The trades a signal at each bar would open, for the timing test's random schedules.
    table = long_only_trade_table(
        open_t,
        close_t,
        hold_max=cfg.position.hold_max,
        fee=cfg.backtest.fee,
        slippage=cfg.backtest.slippage,
    )
    period = ScoredPeriod(
        close=close_t,
        table=table,
        signals=bt.trades.entry_bar - 1,
        size=cfg.position.size,
        bh_return=bh_return(open_t, close_t),
        bars_per_year=per_year,
    )
    return _Evaluated(model, metrics, bt.returns, bt.trades.net_return, test, period)


def run_pipeline(
    cfg: ExperimentConfig,
    dataset: Dataset,
    *,
    nthread: int = 1,
    on_fold: FoldCallback | None = None,
) -> ExperimentResult:
    """Run one experiment on a prepared dataset.

    Without ``training.cv``: fit on the training part, score the test part. With it: score each
    walk-forward fold inside the training part (``on_fold(k, metrics)`` after fold ``k``, which
    may raise to stop the run, e.g. for pruning) and leave the test part sealed; the run's
    metrics are then the folds' means (counts summed; ``win_rate``, ``avg_trade_return`` and
    ``profit_factor`` over the trades of all folds pooled; ``cv_*`` summarise the folds).

    Every run also gets ``bars_per_year`` (the annualisation used) and ``timing_p``: the timing
    test of its Sharpe ratio against random entries with the same trades
    (:mod:`sweep.timing`), on the same scored bars, seeded by ``seed``.

    Raises :class:`PipelineError` when the data cannot support it (too few samples, a one-class
    training label), :class:`~sweep.errors.ConfigError` when ``backtest.bars_per_year``
    contradicts the data; a failed gate is a result, not an error.
    """
    per_year = resolve_bars_per_year(
        cfg.backtest.bars_per_year, dataset.market, cfg.backtest.days_per_year
    ).value
    inp = _inputs(cfg, dataset)
    split = chronological_split(
        inp.stop - inp.start,
        train_ratio=cfg.training.train_ratio,
        horizon=cfg.target.horizon,
        validation_ratio=cfg.training.validation_ratio,
        min_samples=cfg.training.min_samples,
    )
    if cfg.training.cv is None:
        ev = _evaluate(cfg, inp, split, nthread, per_year)
        folds = [split]
        evs = [ev]
        trade_returns = ev.trade_returns
        metrics = dict(ev.metrics)
    else:
        cv = cfg.training.cv
        folds = walk_forward_folds(
            split.valid[1],  # the search rows: everything before the purged, sealed test part
            folds=cv.folds,
            mode=cv.mode,
            horizon=cfg.target.horizon,
            validation_ratio=cfg.training.validation_ratio,
            min_samples=cfg.training.min_samples,
        )
        evs = []
        for k, fold in enumerate(folds, start=1):
            ev = _evaluate(cfg, inp, fold, nthread, per_year)
            evs.append(ev)
            if on_fold is not None:
                on_fold(k, ev.metrics)
        trade_returns = np.concatenate([e.trade_returns for e in evs])
        metrics = _fold_means([e.metrics for e in evs], trade_returns)
    periods = tuple(e.period for e in evs)
    timing = timing_scores(periods, "sharpe", seed=cfg.seed)
    metrics["timing_p"] = timing_p(timing, "maximize")
    metrics["bars_per_year"] = per_year
    verdict = evaluate_gate(
        metrics,
        # DSR and PBO are properties of a study's choice among trials; a single run has neither.
        min_sharpe=cfg.gate.min_sharpe,
        min_win_rate=cfg.gate.min_win_rate,
        min_trades=cfg.gate.min_trades,
        min_alpha=cfg.gate.min_alpha,
        max_drawdown=cfg.gate.max_drawdown,
    )
    first, last = folds[0], folds[-1]
    tests = [e.test for e in evs]
    index = inp.index
    test_index = pd.DatetimeIndex(
        index[np.concatenate([np.arange(t.start, t.stop) for t in tests])]
    )
    return ExperimentResult(
        config=cfg,
        metrics=metrics,
        verdict=verdict,
        model=evs[-1].model,
        feature_names=inp.names,
        split=split,
        train_from=index[inp.rows(first.fit).start],
        train_to=index[inp.rows(last.valid).stop - 1],
        test_from=index[tests[0].start],
        test_to=index[tests[-1].stop - 1],
        test_index=test_index,
        test_returns=np.concatenate([e.returns for e in evs]),
        trade_returns=trade_returns,
        bars_per_year=per_year,
        timing=timing,
        scored_periods=periods,
    )


def _fold_means(
    per_fold: list[dict[str, float | int | None]], trade_returns: FloatArray
) -> dict[str, float | int | None]:
    """Mean of each metric over folds (None when any fold lacks it); counts are summed; win rate,
    average trade return and profit factor pool the trades of all folds (``trade_returns``: every
    fold's per-trade net returns, concatenated)."""
    out: dict[str, float | int | None] = {}
    summed = {"n_trades", "n_test", "n_bars"}
    for key in per_fold[0]:
        vals = [m.get(key) for m in per_fold]
        if any(v is None for v in vals):
            out[key] = None
        elif key in summed:
            out[key] = int(sum(int(v) for v in vals if v is not None))
        else:
            out[key] = float(np.mean([float(v) for v in vals if v is not None]))
    # Trade-level ratios pool the folds' trades (a fold without trades has no win rate to
    # average in, and one without a losing trade no profit factor); the rest are plain means
    # over folds.
    trades = [int(m.get("n_trades") or 0) for m in per_fold]
    if sum(trades):
        for key in ("win_rate", "avg_trade_return"):
            vals = [m.get(key) for m in per_fold]
            out[key] = float(
                sum(float(v or 0.0) * n for v, n in zip(vals, trades, strict=True)) / sum(trades)
            )
    out["profit_factor"] = profit_factor(trade_returns)
    sharpes = [_finite(m, "sharpe") for m in per_fold]
    out["cv_folds"] = len(per_fold)
    out["cv_sharpe_min"] = min(sharpes)
    out["cv_sharpe_std"] = float(np.std(sharpes, ddof=1)) if len(sharpes) > 1 else 0.0
    return out


def _finite(metrics: dict[str, float | int | None], key: str) -> float:
    """A metric that must be a number: None (a NaN or infinity upstream) is an error, not 0."""
    value = metrics.get(key)
    if value is None:
        raise PipelineError(f"{key} is undefined (NaN) in a walk-forward fold")
    return float(value)
