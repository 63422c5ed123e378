"""Experiment configs: pydantic models, loading with one-line errors, dumping.

An experiment file is the seed's YAML, accepted verbatim, plus optional blocks with documented
defaults (``model``, ``backtest``, ``gate``, ``data``, ``seed``). Unknown keys are errors with a
did-you-mean. A file may also hold ranges and a ``sweep:`` block; :mod:`sweep.space` handles those
and validates the fixed configs it produces with :class:`ExperimentConfig`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import typing
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from sweep.errors import ConfigError

TIMEFRAME_NAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# BASE/QUOTE, or freqtrade's futures form BASE/QUOTE:SETTLE (e.g. BTC/USDT:USDT)
_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?$")
SYMBOL_RULE = "must look like BASE/QUOTE in capitals, e.g. BTC/USDT (futures: BTC/USDT:USDT)"


def is_symbol(value: str) -> bool:
    """Whether ``value`` is a market symbol sweep accepts (see ``SYMBOL_RULE``)."""
    return bool(_SYMBOL.match(value))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetConfig(_Strict):
    """``binary``: label 1 when ``close[t+horizon] / close[t] - 1 > threshold``."""

    type: Literal["binary"] = "binary"
    horizon: Annotated[int, Strict(), Field(ge=1, le=10_000)]
    threshold: Annotated[float, Strict(), Field(gt=0.0, lt=10.0)]


class PositionConfig(_Strict):
    """Fraction of equity committed per trade, and the number of bars a trade is held."""

    size: Annotated[float, Strict(), Field(gt=0.0, le=1.0)]
    hold_max: Annotated[int, Strict(), Field(ge=1, le=10_000)]


class WalkForwardConfig(_Strict):
    """Walk-forward folds inside the training part; the test part becomes a sealed holdout."""

    type: Literal["walk_forward"] = "walk_forward"
    folds: Annotated[int, Strict(), Field(ge=2, le=50)] = 5
    mode: Literal["expanding", "rolling"] = "expanding"


class TrainingConfig(_Strict):
    """Chronological split and early stopping."""

    train_ratio: Annotated[float, Strict(), Field(gt=0.0, lt=1.0)]
    min_samples: Annotated[int, Strict(), Field(ge=1)] = 1000
    early_stopping_rounds: Annotated[int, Strict(), Field(ge=1)] = 50
    validation_ratio: Annotated[float, Strict(), Field(gt=0.0, lt=0.9)] = 0.2
    cv: WalkForwardConfig | None = None


class ModelConfig(_Strict):
    """XGBoost parameters (native API, ``binary:logistic``, ``hist`` trees)."""

    n_estimators: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 500
    max_depth: Annotated[int, Strict(), Field(ge=1, le=32)] = 4
    learning_rate: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.05
    subsample: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.8
    colsample_bytree: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] = 0.8
    min_child_weight: Annotated[float, Strict(), Field(ge=0.0)] = 1.0
    gamma: Annotated[float, Strict(), Field(ge=0.0)] = 0.0
    reg_alpha: Annotated[float, Strict(), Field(ge=0.0)] = 0.0
    reg_lambda: Annotated[float, Strict(), Field(ge=0.0)] = 1.0
    max_bin: Annotated[int, Strict(), Field(ge=2, le=4096)] = 256
    scale_pos_weight: Annotated[float, Strict(), Field(gt=0.0)] = 1.0


class BacktestConfig(_Strict):
    """Costs and the entry rule of the long-only backtest."""

    fee: Annotated[float, Strict(), Field(ge=0.0, lt=0.1)] = 0.001
    slippage: Annotated[float, Strict(), Field(ge=0.0, lt=0.1)] = 0.0005
    entry_threshold: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.5
    days_per_year: Annotated[float, Strict(), Field(gt=0.0, le=366.0)] = 365.0


class GateConfig(_Strict):
    """Pass/fail thresholds; ``null`` switches a check off."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    min_sharpe: Annotated[float, Strict()] | None = 1.0
    min_win_rate: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = 0.5
    min_trades: Annotated[int, Strict(), Field(ge=0)] | None = 30
    min_alpha: Annotated[float, Strict()] | None = None
    max_drawdown: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] | None = None
    min_dsr: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = None
    max_pbo: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = None


class DataConfig(_Strict):
    """Where OHLCV files are, and the window used (``start`` inclusive, ``end`` exclusive)."""

    dir: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class ExperimentConfig(_Strict):
    """One fully specified experiment (no ranges)."""

    experiment_id: str
    symbol: str
    timeframe: Timeframe
    model_type: str = "xgboost"
    feature_groups: Annotated[list[str], Field(min_length=1)]
    target: TargetConfig
    position: PositionConfig
    training: TrainingConfig
    model: ModelConfig = ModelConfig()
    backtest: BacktestConfig = BacktestConfig()
    gate: GateConfig = GateConfig()
    data: DataConfig = DataConfig()
    seed: Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)] = 42

    @field_validator("experiment_id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        if not _SAFE_ID.match(v) or ".." in v:
            raise ValueError(
                "must be a safe name: letters, digits, '.', '_' or '-', starting with a letter "
                "or digit, at most 128 characters (it becomes a file name)"
            )
        return v

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, v: str) -> str:
        if not is_symbol(v):
            raise ValueError(SYMBOL_RULE)
        return v

    def to_json_dict(self) -> dict[str, Any]:
        """The config as JSON-safe data, defaults filled in (what the registry stores)."""
        return self.model_dump(mode="json")

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the config; equal configs give equal hashes.

        Keys whose value is null are left out, so adding a new optional block (off by default)
        to sweep does not change the fingerprint of configs registered before it."""
        blob = json.dumps(_drop_none(self.to_json_dict()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


# --- loading -------------------------------------------------------------------------------------


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse a YAML mapping; return it with the line of every dotted key path."""
    try:
        text = path.read_text()
    except FileNotFoundError as e:
        raise ConfigError("file not found", file=str(path), hint="check the path") from e
    except OSError as e:
        raise ConfigError(f"cannot read file: {e.strerror}", file=str(path)) from e
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            f"malformed YAML: {where}{problem}", file=str(path), hint="check indentation and ':'"
        ) from e
    if not isinstance(data, dict):
        raise ConfigError(
            "the file must hold a YAML mapping of keys to values",
            file=str(path),
            value=type(data).__name__,
            hint="start with 'experiment_id: my-experiment'",
        )
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines)
    return data, lines


def _collect_lines(node: yaml.Node, prefix: str, out: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[path] = key_node.start_mark.line + 1
            _collect_lines(value_node, path, out)


def validate_experiment(
    data: Mapping[str, Any], *, file: str | None = None, lines: Mapping[str, int] | None = None
) -> ExperimentConfig:
    """Build an :class:`ExperimentConfig`, turning the first problem into a one-line error."""
    try:
        cfg = ExperimentConfig.model_validate(dict(data))
    except ValidationError as e:
        raise _to_config_error(e, file, lines or {}) from e
    check_references(cfg, file=file, lines=lines or {})
    return cfg


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate a fixed experiment file (no ranges, no ``sweep:`` block)."""
    p = Path(path)
    data, lines = read_yaml(p)
    return validate_experiment(data, file=str(p), lines=lines)


def check_references(cfg: ExperimentConfig, *, file: str | None, lines: Mapping[str, int]) -> None:
    """Names that point into registries: feature groups and the model kind."""
    # Imported here: the registries live in later modules, which do not import this one back.
    from sweep.features import resolve_features
    from sweep.model import model_kinds

    try:
        resolve_features(cfg.feature_groups)
    except ConfigError as e:
        raise ConfigError(
            e.message,
            file=file,
            key=with_line("feature_groups", lines),
            value=e.value,
            hint=e.hint,
        ) from e
    kinds = model_kinds()
    if cfg.model_type not in kinds:
        raise ConfigError(
            "unknown model_type",
            file=file,
            key=with_line("model_type", lines),
            value=cfg.model_type,
            hint=did_you_mean(cfg.model_type, kinds, "known model types"),
        )


def with_line(key: str, lines: Mapping[str, int]) -> str:
    """``key (line N)`` when the key's line is known, for error messages."""
    line = lines.get(key)
    return f"{key} (line {line})" if line else key


def did_you_mean(value: str, options: list[str] | tuple[str, ...], label: str) -> str:
    close = difflib.get_close_matches(value, list(options), n=1)
    known = f"{label}: {', '.join(options)}"
    return f"did you mean '{close[0]}'? {known}" if close else known


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at ``loc`` (for did-you-mean)."""
    model: type[BaseModel] = ExperimentConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        # ``WalkForwardConfig | None``: look through the Optional
        candidates = [ann, *typing.get_args(ann)]
        sub = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sub:
            return None
        model = sub[0]
    return model


def _to_config_error(e: ValidationError, file: str | None, lines: Mapping[str, int]) -> ConfigError:
    # A misspelt key shows up twice: as an unknown key and as a missing one. Report the unknown
    # key, whose did-you-mean names the fix.
    errors = sorted(e.errors(), key=lambda x: x["type"] != "extra_forbidden")
    err = errors[0]
    loc = tuple(p for p in err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    where = with_line(key, lines)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        holder = _model_at(loc)
        options = list(holder.model_fields) if holder else []
        return ConfigError(
            "unknown key",
            file=file,
            key=where,
            hint=did_you_mean(str(loc[-1]), options, "allowed keys") if options else None,
        )
    if kind == "missing":
        return ConfigError(
            "required key is missing", file=file, key=key, hint="see the config reference in README"
        )
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "literal_error" and loc and loc[-1] == "timeframe":
        msg = f"unknown timeframe; one of {', '.join(TIMEFRAME_NAMES)}"
    if isinstance(value, dict | list):
        value = json.dumps(value)[:80]
    return ConfigError(msg[0].lower() + msg[1:], file=file, key=where, value=value)


def canonical_order(
    data: Mapping[str, Any], model: type[BaseModel] = ExperimentConfig
) -> dict[str, Any]:
    """Keys in the order the config reference lists them (the seed's order), recursively; keys
    the model does not know (e.g. ``sweep``) keep their place at the end."""
    fields = list(model.model_fields)
    keys = sorted(data, key=lambda k: fields.index(k) if k in fields else len(fields))
    out: dict[str, Any] = {}
    for k in keys:
        v = data[k]
        field = model.model_fields.get(k)
        ann = field.annotation if field else None
        if isinstance(v, Mapping) and isinstance(ann, type) and issubclass(ann, BaseModel):
            v = canonical_order(v, ann)
        out[k] = v
    return out


def dump_yaml(data: Mapping[str, Any], header: str = "") -> str:
    """YAML text in the config reference's key order, with an optional comment header."""
    body = yaml.safe_dump(
        canonical_order(data), sort_keys=False, default_flow_style=False, width=100
    )
    if header:
        commented = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        return commented + body
    return body
