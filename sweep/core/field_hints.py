"""The hint of an error on a config value: what the key holds, and its bounds.

The bounds are read from the pydantic field itself (its ``ge``/``gt``/``le``/``lt``), so the
hint can never disagree with the check; the meanings are the README's config table in short.
"""

from __future__ import annotations

import typing
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo

MEANINGS: dict[str, str] = {
    "experiment_id": "names the run and its model files, e.g. btc-4h-momentum",
    "timeframe": "the bar length of the data",
    "target": "a mapping, e.g. {type: binary, horizon: 3, threshold: 0.008}",
    "position": "a mapping, e.g. {size: 0.02, hold_max: 6}",
    "training": "a mapping, e.g. {train_ratio: 0.7, min_samples: 1000}",
    "model": "a mapping of XGBoost parameters, e.g. {max_depth: 4}",
    "backtest": "a mapping, e.g. {fee: 0.001, slippage: 0.0005}",
    "gate": "a mapping of thresholds, e.g. {min_sharpe: 1.0, min_trades: 30}",
    "data": "a mapping, e.g. {dir: data, start: 2021-01-01}",
    "symbol": "BASE/QUOTE in capitals, e.g. BTC/USDT",
    "model_type": "a registered model kind, e.g. xgboost",
    "feature_groups": "a list of 1 to 64 group names, e.g. [momentum, volume]",
    "target.type": "binary, the only target kind so far",
    "target.horizon": "bars forward to measure",
    "target.threshold": "the move needed for label 1, a fraction (0.008 is 0.8%)",
    "position.size": "the fraction of equity committed per trade",
    "position.hold_max": "bars a trade is held at most",
    "training.train_ratio": "the share of rows before the test period",
    "training.min_samples": "the fewest rows a model is fitted on",
    "training.early_stopping_rounds": "rounds without improvement before early stopping",
    "training.validation_ratio": "the share of the training part kept for early stopping",
    "training.cv": "{type: walk_forward, folds: 5, mode: expanding}",
    "training.cv.folds": "walk-forward folds",
    "training.cv.mode": "expanding or rolling",
    "model.n_estimators": "boosting rounds at most",
    "model.max_depth": "tree depth",
    "model.learning_rate": "XGBoost's eta",
    "model.subsample": "the share of rows each tree sees",
    "model.colsample_bytree": "the share of features each tree sees",
    "model.min_child_weight": "the least hessian in a leaf",
    "model.gamma": "the least loss reduction to split a leaf",
    "model.reg_alpha": "L1 regularisation",
    "model.reg_lambda": "L2 regularisation",
    "model.max_bin": "histogram bins",
    "model.scale_pos_weight": "the weight of label-1 rows against label-0 rows",
    "backtest.fee": "the fee per side, a fraction of notional (0.001 is 10 bp)",
    "backtest.slippage": "the price slippage per side, a fraction",
    "backtest.entry_threshold": "enter when the predicted probability is above this",
    "backtest.days_per_year": "trading days a year, for annualising (252 stocks, 365 crypto)",
    "gate.min_sharpe": "the least annualised Sharpe ratio",
    "gate.min_win_rate": "the least share of winning trades",
    "gate.min_trades": "the fewest closed trades",
    "gate.min_alpha": "the least return over buy and hold, a fraction",
    "gate.max_drawdown": "the largest drawdown, a fraction",
    "gate.min_dsr": "the least deflated Sharpe ratio of a study's chosen trial",
    "gate.max_pbo": "the largest probability of backtest overfitting",
    "data.dir": "the folder of OHLCV files, e.g. data",
    "data.start": "the first bar used, a UTC date or time, e.g. 2021-01-01",
    "data.end": "the first bar not used, a UTC date or time after data.start",
    "seed": "XGBoost's seed",
}


def field_hint(path: str, field: FieldInfo | None, value: Any) -> str:
    """``bars forward to measure, at least 1, at most 10000`` for ``target.horizon``."""
    if isinstance(value, str) and _looks_numeric(value):
        if "e" in value.lower() and "." not in value:
            # YAML 1.1 (PyYAML) reads 1e-3 as text: a float needs a dot, as in 1.0e-3
            return f"YAML reads '{value}' as text; write 0.001 or 1.0e-3 (with a dot)"
        return f"write the number without quotes: {value.strip()}"
    meaning = MEANINGS.get(path) or MEANINGS.get(path.rsplit(".", 1)[0])  # a list item: its key
    parts = [p for p in (meaning, bounds_text(field) if field else "") if p]
    if field is not None and type(None) in typing.get_args(field.annotation) and parts:
        parts.append("or null")
    return ", ".join(parts) if parts else "see the Experiment config table in README"


def bounds_text(field: FieldInfo) -> str:
    """``at least 1, at most 10000`` from a field's constraints (also inside ``X | None``)."""
    found: list[Any] = []
    pending: list[Any] = list(field.metadata)
    for arg in typing.get_args(field.annotation):  # Annotated[float, Field(...)] | None
        pending += getattr(arg, "__metadata__", ())
    for meta in pending:
        found += meta.metadata if isinstance(meta, FieldInfo) else [meta]
    words = []
    for meta in found:
        if isinstance(meta, annotated_types.Ge):
            words.append(f"at least {_number(meta.ge)}")
        elif isinstance(meta, annotated_types.Gt):
            words.append(f"above {_number(meta.gt)}")
    for meta in found:
        if isinstance(meta, annotated_types.Le):
            words.append(f"at most {_number(meta.le)}")
        elif isinstance(meta, annotated_types.Lt):
            words.append(f"below {_number(meta.lt)}")
    return ", ".join(words)


def _number(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e7:
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def _looks_numeric(text: str) -> bool:
    if not any(c.isdigit() for c in text):
        return False  # 'nan', 'inf': words, not numbers written as text
    try:
        float(text)
    except ValueError:
        return False
    return True
