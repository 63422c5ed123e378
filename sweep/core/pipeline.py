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

from sweep.core.annualisation import resolve_bars_per_year
from sweep.core.backtest import BacktestResult, backtest_outcomes
from sweep.core.config import ExperimentConfig
from sweep.core.data import MarketData
from sweep.core.errors import PipelineError
from sweep.core.features import compute_features, resolve_features
from sweep.core.gate import GateVerdict, evaluate_gate
from sweep.core.metrics import bh_return, compute_metrics, profit_factor
from sweep.core.model import FittedModel, get_model_kind
from sweep.core.split import Split, chronological_split, walk_forward_folds
from sweep.core.target import (
    Labels,
    backtest_rule,
    config_labels,
    label_rule,
    needs_atr,
    signal_atr,
    uniqueness_weights,
)
from sweep.core.timing import (
    ScoredPeriod,
    TimingScores,
    timing_p,
    timing_scores,
    trade_table,
)
from sweep.core.trades import ExitRule, Prices, outcomes_for

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
class FoldRun:
    """One scored block (the test part, or one walk-forward fold's evaluated block): its
    metrics, its bars' times and prices, and its backtest (equity, returns, trades)."""

    metrics: dict[str, float | int | None]
    index: pd.DatetimeIndex = field(repr=False)
    open: FloatArray = field(repr=False)
    close: FloatArray = field(repr=False)
    backtest: BacktestResult = field(repr=False)


@dataclass(frozen=True)
class ExperimentResult:
    """What one run produced: metrics, verdict, the model and where each part lies in time.

    ``test_returns`` are the per-bar returns of the scored bars (``test_index``); ``trade_returns``
    the net returns of their closed trades, in time order (all folds' with ``training.cv``).
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
    # each scored block in time order, for reports (the test part alone without folds)
    folds: tuple[FoldRun, ...] = field(default=(), repr=False)


def usable_rows(x: FloatArray, y: FloatArray) -> tuple[int, int]:
    """``[start, stop)`` of the rows a run may use: after the features' warm-up (the first row
    where every feature is finite) and the label's (an ATR barrier's first 14 bars), and before
    the label runs out. Rows in between are kept even if a feature is NaN there (XGBoost treats it
    as missing), so row offsets stay bar offsets and the purge gap of ``reach`` rows is ``reach``
    bars."""
    finite = np.isfinite(x).all(axis=1)
    start = int(np.argmax(finite)) if finite.any() else x.shape[0]
    labelled = np.flatnonzero(~np.isnan(y))
    if labelled.size:
        start = max(start, int(labelled[0]))
    stop = int(labelled[-1]) + 1 if labelled.size else 0
    return start, max(start, stop)


FoldCallback = Callable[[int, dict[str, float | int | None]], None]


@dataclass(frozen=True)
class ExperimentInputs:
    """A config's view of a dataset: its feature matrix, labels and usable rows."""

    names: list[str]
    x: FloatArray
    y: FloatArray
    prices: Prices
    start: int
    stop: int
    index: pd.DatetimeIndex
    labels: Labels
    rule: ExitRule  # the backtest's side and exits
    bars_per_year: float

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
    backtest: BacktestResult


def config_prices(
    cfg: ExperimentConfig, frame: pd.DataFrame, bpy: float
) -> tuple[Prices, ExitRule, float]:
    """The price arrays of ``frame`` that ``cfg``'s trades and labels read (with ATR(14) when a
    barrier is in ATR multiples), the backtest's exit rule, and the bars per year ``bpy`` (the
    annualisation: :func:`sweep.core.annualisation.resolve_bars_per_year`)."""
    rule = backtest_rule(cfg, bpy)
    high, low, close = (frame[c].to_numpy(dtype=np.float64) for c in ("high", "low", "close"))
    # ATR(14) over the whole series is causal: the value at a signal bar reads nothing after it.
    atr = signal_atr(high, low, close) if needs_atr(rule, label_rule(cfg, bpy)) else None
    return Prices(frame["open"].to_numpy(dtype=np.float64), high, low, close, atr), rule, bpy


def experiment_inputs(cfg: ExperimentConfig, dataset: Dataset) -> ExperimentInputs:
    frame = dataset.market.frame
    names = resolve_features(cfg.feature_groups)
    x = dataset.features[names].to_numpy(dtype=np.float64)
    per_year = resolve_bars_per_year(
        cfg.backtest.bars_per_year, dataset.market, cfg.backtest.days_per_year
    ).value
    prices, rule, bpy = config_prices(cfg, frame, per_year)
    labels = config_labels(cfg, prices, bpy)
    start, stop = usable_rows(x, labels.y)
    return ExperimentInputs(
        names,
        x,
        labels.y,
        prices,
        start,
        stop,
        pd.DatetimeIndex(frame.index),
        labels,
        rule,
        bpy,
    )


def label_rows(cfg: ExperimentConfig, dataset: Dataset) -> tuple[int, int, int]:
    """The rows ``[start, stop)`` ``cfg`` may use on ``dataset`` (:func:`usable_rows`) and its
    label's reach in bars, the purge gap between its splits (for checks before trial 0)."""
    inp = experiment_inputs(cfg, dataset)
    return inp.start, inp.stop, inp.labels.reach


def _weights(cfg: ExperimentConfig, inp: ExperimentInputs, rows: slice) -> FloatArray | None:
    """``training.sample_weight: uniqueness``: each row's label's average uniqueness among the
    rows of this part only (AFML ch. 4), each label spanning its entry bar to its last bar read."""
    if cfg.training.sample_weight != "uniqueness":
        return None
    t = np.arange(rows.start, rows.stop, dtype=np.int64)
    return uniqueness_weights(t + 1, inp.labels.end[t])


def _one_class_hint(cfg: ExperimentConfig) -> str:
    kind = cfg.target.type
    if kind == "binary":
        return "lower target.threshold or change target.horizon"
    if kind == "trade":
        return "change target.threshold (net of costs) or position.hold_max"
    return "change target.take_profit / stop_loss or position.hold_max"


def fit_split(
    cfg: ExperimentConfig, inp: ExperimentInputs, split: Split, nthread: int
) -> FittedModel:
    """Fit on the split's fitting rows, early stopping on its validation tail: the one way every
    model is trained (a run, a fold, a holdout, a refit for live prediction)."""
    fit, valid = inp.rows(split.fit), inp.rows(split.valid)
    y_fit = inp.y[fit]
    if np.unique(y_fit).size < 2:
        raise PipelineError(
            f"the training label has one class only (label rate {float(y_fit.mean()):.3f}); "
            + _one_class_hint(cfg)
        )
    # Passed only when asked for, so a model kind without sample weights runs everything else.
    weights: dict[str, FloatArray | None] = {}
    if cfg.training.sample_weight != "none":
        weights = {"weight_fit": _weights(cfg, inp, fit), "weight_valid": _weights(cfg, inp, valid)}
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
        **weights,
    )
    return model


def _evaluate(
    cfg: ExperimentConfig, inp: ExperimentInputs, split: Split, nthread: int
) -> _Evaluated:
    """Fit on the split's fitting rows (early stopping on its validation tail), backtest and
    score its test rows."""
    model = fit_split(cfg, inp, split, nthread)
    fit, test = inp.rows(split.fit), inp.rows(split.test)
    y_fit = inp.y[fit]
    proba = model.predict_proba(inp.x[test])
    p = inp.prices
    # The test period's own trades: one that would outlive it is a forced exit at its last bar.
    test_prices = Prices(
        p.open[test],
        p.high[test] if p.high is not None else None,
        p.low[test] if p.low is not None else None,
        p.close[test],
        p.atr[test] if p.atr is not None else None,
    )
    outcomes = outcomes_for(test_prices, inp.rule)
    bt = backtest_outcomes(
        test_prices.close,
        proba,
        outcomes,
        inp.rule,
        cfg.backtest.entry_threshold,
        cfg.position.size,
    )
    metrics = compute_metrics(
        bt,
        test_prices.open,
        test_prices.close,
        bars_per_year=inp.bars_per_year,
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
    # The trades a signal at each bar would open, for the timing test's random schedules: the
    # very outcomes the backtest took its trades from.
    period = ScoredPeriod(
        close=test_prices.close,
        table=trade_table(outcomes, inp.rule, cfg.backtest.fee),
        signals=bt.trades.entry_bar - 1,
        size=cfg.position.size,
        bh_return=bh_return(test_prices.open, test_prices.close),
        bars_per_year=inp.bars_per_year,
    )
    return _Evaluated(model, metrics, bt.returns, bt.trades.net_return, test, period, bt)


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

    Raises :class:`PipelineError` when the data cannot support it (too few samples, a one-class
    training label); a failed gate is a result, not an error.
    """
    inp = experiment_inputs(cfg, dataset)
    split = chronological_split(
        inp.stop - inp.start,
        train_ratio=cfg.training.train_ratio,
        horizon=inp.labels.reach,
        validation_ratio=cfg.training.validation_ratio,
        min_samples=cfg.training.min_samples,
    )
    if cfg.training.cv is None:
        ev = _evaluate(cfg, inp, split, nthread)
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
            horizon=inp.labels.reach,
            validation_ratio=cfg.training.validation_ratio,
            min_samples=cfg.training.min_samples,
        )
        evs = []
        for k, fold in enumerate(folds, start=1):
            ev = _evaluate(cfg, inp, fold, nthread)
            evs.append(ev)
            if on_fold is not None:
                on_fold(k, ev.metrics)
        trade_returns = np.concatenate([e.trade_returns for e in evs])
        metrics = _fold_means([e.metrics for e in evs], trade_returns)
    periods = tuple(e.period for e in evs)
    timing = timing_scores(periods, "sharpe", seed=cfg.seed)
    metrics["timing_p"] = timing_p(timing, "maximize")
    metrics["bars_per_year"] = inp.bars_per_year
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
        bars_per_year=inp.bars_per_year,
        timing=timing,
        scored_periods=periods,
        folds=tuple(
            FoldRun(
                e.metrics,
                index[e.test],
                inp.prices.open[e.test],
                inp.prices.close[e.test],
                e.backtest,
            )
            for e in evs
        ),
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
