"""Experiment configs: pydantic models, loading with one-line errors, dumping.

An experiment file is the seed's YAML, accepted verbatim, plus optional blocks with documented
defaults (``model``, ``backtest``, ``gate``, ``data``, ``seed``). Unknown keys are errors with a
did-you-mean. A file may also hold ranges and a ``sweep:`` block; :mod:`sweep.study.space`
handles those and validates the fixed configs it produces with :class:`ExperimentConfig`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import typing
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from sweep.core.errors import ConfigError
from sweep.core.errors import did_you_mean as closest
from sweep.core.field_hints import field_hint

TIMEFRAME_NAMES = ("1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
Timeframe = Literal["1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"]
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# BASE/QUOTE, or freqtrade's futures form BASE/QUOTE:SETTLE (e.g. BTC/USDT:USDT)
_SYMBOL = re.compile(r"[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(?::[A-Z0-9]{1,20})?")
SYMBOL_RULE = "must look like BASE/QUOTE in capitals, e.g. BTC/USDT (futures: BTC/USDT:USDT)"


def is_symbol(value: str) -> bool:
    """Whether ``value`` is a market symbol sweep accepts (see ``SYMBOL_RULE``)."""
    return bool(_SYMBOL.fullmatch(value))


def _safe_name_rule(most: int, why: str) -> str:
    return (
        "must be a safe name: letters, digits, '.', '_' or '-', starting with a letter "
        f"or digit, at most {most} characters ({why})"
    )


SAFE_NAME_RULE = _safe_name_rule(128, "it becomes a file name")
# The most bars sweep is meant to read: more than 19 years of 1m bars. Counts of rows, samples
# and trades above it cannot be met by any data set, so they are typos.
MAX_BARS = 10_000_000
# pandas keeps timestamps as int64 nanoseconds: 1677-09-21 to 2262-04-11.
_FIRST_DATE, _LAST_DATE = datetime(1678, 1, 1, tzinfo=UTC), datetime(2262, 1, 1, tzinfo=UTC)


# A study's trials are `<study>-t0001` .. `<study>-t1000000` (sweep.trials <= 1,000,000), and
# each trial id is an experiment id: a study name leaves room for the longest suffix.
MAX_STUDY_NAME = 128 - len("-t1000000")


def study_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a study, or None when it can."""
    if not is_safe_name(name):
        return _safe_name_rule(MAX_STUDY_NAME, "its trial ids become file names")
    assert isinstance(name, str)
    if len(name) > MAX_STUDY_NAME:
        return (
            f"a study name has at most {MAX_STUDY_NAME} characters, so its trial ids "
            "(<study>-t0000 and on) stay within 128"
        )
    return None


def is_safe_name(name: object) -> bool:
    """A name that can be a file name and an id: the whole string must match (no trailing
    newline slips through, as it does past ``$``), and it holds no ``..``."""
    return isinstance(name, str) and _SAFE_ID.fullmatch(name) is not None and ".." not in name


class _Strict(BaseModel):
    # No NaN or infinity anywhere: every numeric field is finite by construction.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Every numeric field has finite bounds. Why each bound, where it is not plain from the meaning:
# in the comments here and in the README's config table; sweep.core.field_hints turns a field's
# meaning and bounds into the hint of an error on it.


TARGET_TYPES = ("binary", "trade", "triple_barrier")


class TargetConfig(_Strict):
    """What the model learns (README: "Targets and exits"; :mod:`sweep.core.target`).

    ``binary``: label 1 when ``close[t+horizon] / close[t] - 1 > threshold`` (the fall, short).
    ``trade``: label 1 when the backtest's own trade signalled at ``t`` nets more than
    ``threshold`` after costs. ``triple_barrier``: label 1 when that trade's take-profit barrier
    is touched first (``take_profit``, ``stop_loss``: fractions of the entry price, or multiples
    of ATR(14) at ``t`` with ``atr_multiple``). The keys of another type are refused; the stored
    config holds only the keys of its type.
    """

    type: Literal["binary", "trade", "triple_barrier"] = "binary"
    # validate_default: the validators below say which type requires the key
    horizon: Annotated[int, Strict(), Field(ge=1, le=10_000)] | None = Field(
        default=None, validate_default=True
    )
    # bounded below by type (binary > 0, trade >= 0) in _threshold
    threshold: Annotated[float, Strict(), Field(gt=-10.0, lt=10.0)] | None = Field(
        default=None, validate_default=True
    )
    atr_multiple: Annotated[bool, Strict()] = False
    take_profit: Annotated[float, Strict(), Field(gt=0.0, le=100.0)] | None = Field(
        default=None, validate_default=True
    )
    stop_loss: Annotated[float, Strict(), Field(gt=0.0, le=100.0)] | None = None

    @field_validator("horizon")
    @classmethod
    def _horizon(cls, v: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("type")
        if kind == "binary" and v is None:
            raise ValueError("required for target type binary: bars forward to measure, >= 1")
        if kind in ("trade", "triple_barrier") and v is not None:
            raise ValueError(
                f"does not apply to target type {kind}: the trade's own reach "
                "(position.hold_max bars) is the label's reach; remove target.horizon"
            )
        return v

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, v: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("type")
        if kind == "binary" and (v is None or not v > 0):
            raise ValueError(
                ("required" if v is None else "must be > 0")
                + " for target type binary: the gross move needed for a 1 label"
            )
        if kind == "trade" and (v is None or not v >= 0):
            raise ValueError(
                ("required" if v is None else "must be >= 0")
                + " for target type trade: the net return a trade must beat after costs "
                "(0.0: any trade that nets a profit)"
            )
        if kind == "triple_barrier" and v is not None:
            raise ValueError(
                "does not apply to target type triple_barrier (label 1: the take-profit barrier "
                "is touched first); remove target.threshold"
            )
        return v

    @field_validator("atr_multiple")
    @classmethod
    def _atr_multiple(cls, v: bool, info: ValidationInfo) -> bool:
        kind = info.data.get("type")
        if v and kind in ("binary", "trade"):
            raise ValueError(
                f"does not apply to target type {kind}; barriers in ATR multiples for the "
                "backtest's exits are position.atr_multiple"
            )
        return v

    @field_validator("take_profit", "stop_loss")
    @classmethod
    def _barrier(cls, v: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("type")
        name = str(info.field_name)
        if kind in ("binary", "trade") and v is not None:
            raise ValueError(
                f"does not apply to target type {kind}; the backtest's exits are "
                f"position.{name}, or use target type triple_barrier"
            )
        if kind == "triple_barrier" and name == "take_profit" and v is None:
            raise ValueError(
                "required for target type triple_barrier: the upper barrier whose touch is a "
                "1 label (a fraction of the entry price, e.g. 0.02, or an ATR multiple)"
            )
        if v is not None and not info.data.get("atr_multiple", False):
            _check_fraction(name, v)
        return v

    @model_serializer(mode="wrap")
    def _keys_of_its_type(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The stored config holds only the keys its type uses, as the seed wrote them.
        data: dict[str, Any] = handler(self)
        if self.type != "triple_barrier":
            data.pop("atr_multiple", None)
        return {k: v for k, v in data.items() if v is not None}


def _check_fraction(name: str, v: float) -> None:
    """Barrier distances given as fractions of the entry price (not ATR multiples)."""
    if name == "stop_loss" and v >= 1.0:
        raise ValueError(
            "a stop-loss fraction must be < 1 (a 100% move: a long is worth nothing there, a "
            "short is liquidated before); set atr_multiple: true for ATR multiples"
        )
    if name == "take_profit" and v > 10.0:
        raise ValueError(
            "a take-profit fraction must be <= 10 (a 1000% move); set atr_multiple: true for "
            "ATR multiples"
        )


class PositionConfig(_Strict):
    """Side and size of a trade, and its exits: at most ``hold_max`` bars, and optional
    take-profit / stop-loss barriers (fractions of the entry price, or ATR(14) multiples at the
    signal bar with ``atr_multiple``). With a ``triple_barrier`` target and neither barrier set
    here, the backtest exits at the target's barriers."""

    # 1 bp of equity: below it a trade's P&L is lost in the rounding of the equity curve
    size: Annotated[float, Strict(), Field(ge=1e-4, le=1.0)]
    hold_max: Annotated[int, Strict(), Field(ge=1, le=10_000)]
    side: Literal["long", "short"] = "long"
    atr_multiple: Annotated[bool, Strict()] = False
    take_profit: Annotated[float, Strict(), Field(gt=0.0, le=100.0)] | None = None
    stop_loss: Annotated[float, Strict(), Field(gt=0.0, le=100.0)] | None = None

    @field_validator("take_profit", "stop_loss")
    @classmethod
    def _barrier(cls, v: float | None, info: ValidationInfo) -> float | None:
        if v is not None and not info.data.get("atr_multiple", False):
            _check_fraction(str(info.field_name), v)
        return v

    @property
    def has_barriers(self) -> bool:
        return self.take_profit is not None or self.stop_loss is not None


class WalkForwardConfig(_Strict):
    """Walk-forward folds inside the training part; the test part becomes a sealed holdout."""

    type: Literal["walk_forward"] = "walk_forward"
    folds: Annotated[int, Strict(), Field(ge=2, le=50)] = 5
    mode: Literal["expanding", "rolling"] = "expanding"


class TrainingConfig(_Strict):
    """Chronological split and early stopping."""

    train_ratio: Annotated[float, Strict(), Field(ge=0.05, le=0.95)]  # each part keeps >= 5%
    min_samples: Annotated[int, Strict(), Field(ge=1, le=MAX_BARS)] = 1000
    early_stopping_rounds: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 50
    validation_ratio: Annotated[float, Strict(), Field(ge=0.01, lt=0.9)] = 0.2
    cv: WalkForwardConfig | None = None
    # AFML ch. 4: weight each fitting row by its label's average uniqueness
    sample_weight: Literal["none", "uniqueness"] = "none"


# XGBoost reads its float parameters as 32-bit floats (at most 3.4e38: 1e308 was an XGBoostError
# after the data had loaded). 1e6 is far above any useful value and far below that.
_XGB_LIMIT = 1e6


class ModelConfig(_Strict):
    """XGBoost parameters (native API, ``binary:logistic``, ``hist`` trees)."""

    n_estimators: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 500
    max_depth: Annotated[int, Strict(), Field(ge=1, le=32)] = 4  # 2^32 leaves: more than any data
    # below 1e-4, even 100,000 rounds barely move the predictions off the base rate
    learning_rate: Annotated[float, Strict(), Field(ge=1e-4, le=1.0)] = 0.05
    subsample: Annotated[float, Strict(), Field(ge=0.05, le=1.0)] = 0.8  # 5%: trees see rows
    colsample_bytree: Annotated[float, Strict(), Field(ge=0.05, le=1.0)] = 0.8
    min_child_weight: Annotated[float, Strict(), Field(ge=0.0, le=_XGB_LIMIT)] = 1.0
    gamma: Annotated[float, Strict(), Field(ge=0.0, le=_XGB_LIMIT)] = 0.0
    reg_alpha: Annotated[float, Strict(), Field(ge=0.0, le=_XGB_LIMIT)] = 0.0
    reg_lambda: Annotated[float, Strict(), Field(ge=0.0, le=_XGB_LIMIT)] = 1.0
    max_bin: Annotated[int, Strict(), Field(ge=2, le=4096)] = 256
    # a 1000:1 class imbalance either way; beyond it one class is all the model sees
    scale_pos_weight: Annotated[float, Strict(), Field(ge=1e-3, le=1e3)] = 1.0


class BacktestConfig(_Strict):
    """Costs and the entry rule of the backtest."""

    fee: Annotated[float, Strict(), Field(ge=0.0, lt=0.1)] = 0.001
    slippage: Annotated[float, Strict(), Field(ge=0.0, lt=0.1)] = 0.0005
    entry_threshold: Annotated[float, Strict(), Field(ge=0.0, lt=1.0)] = 0.5
    # trading days a year: 252 where exchanges close at weekends, 365 for crypto; no market
    # trades fewer than 200 (1e-300 once made every Sharpe ratio vanish)
    days_per_year: Annotated[float, Strict(), Field(ge=200.0, le=366.0)] = 365.0
    # a short's cost of borrowing the asset, per year, charged per bar held (longs pay none)
    borrow_rate: Annotated[float, Strict(), Field(ge=0.0, le=2.0)] = 0.0
    # null: measured from the data (sweep.core.annualisation); 1m bars around the clock are 525,600
    bars_per_year: Annotated[float, Strict(), Field(gt=0.0, le=1_000_000.0)] | None = None


class GateConfig(_Strict):
    """Pass/fail thresholds; ``null`` switches a check off."""

    # an annualised Sharpe beyond +-100, or alpha beyond +-1000 (100,000%), is never a threshold
    min_sharpe: Annotated[float, Strict(), Field(ge=-100.0, le=100.0)] | None = 1.0
    min_win_rate: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = 0.5
    min_trades: Annotated[int, Strict(), Field(ge=0, le=MAX_BARS)] | None = 30
    min_alpha: Annotated[float, Strict(), Field(ge=-1000.0, le=1000.0)] | None = None
    max_drawdown: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] | None = None
    min_dsr: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = None
    max_pbo: Annotated[float, Strict(), Field(ge=0.0, le=1.0)] | None = None
    # The timing test's p-value (random entries with the same trades and exits); a study's
    # verdict uses the study-level p, corrected for choosing the best of its trials.
    max_timing_p: Annotated[float, Strict(), Field(gt=0.0, le=1.0)] | None = None


class ProvenanceConfig(_Strict):
    """Where an exported config came from: ``sweep run`` reads the study's verdict through it.
    Metadata only: it never changes a run's result or the config's fingerprint."""

    study: Annotated[str, Field(min_length=1, max_length=200)]
    trial: Annotated[int, Strict(), Field(ge=0, le=10_000_000)]


class DataConfig(_Strict):
    """Where OHLCV files are, and the window used (``start`` inclusive, ``end`` exclusive)."""

    dir: Annotated[str, Strict()] | None = None
    start: datetime | None = None
    end: datetime | None = None

    @field_validator("dir")
    @classmethod
    def _plain_path(cls, v: str | None) -> str | None:
        if v is not None and (len(v) > 1024 or any(ord(c) < 32 or ord(c) == 127 for c in v)):
            raise ValueError(
                "must be a folder path of at most 1024 characters, with no control characters"
            )
        return v

    @field_validator("start", "end")
    @classmethod
    def _representable(cls, v: datetime | None) -> datetime | None:
        if v is None:
            return v
        try:
            inside = _FIRST_DATE <= _as_utc(v) < _LAST_DATE
        except OverflowError:  # year 1 or 9999 moved past the calendar by its UTC offset
            inside = False
        if not inside:
            raise ValueError("must be a date from 1678 to 2261 (what pandas can hold)")
        return v

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("start")
        if v is not None and start is not None and _as_utc(v) <= _as_utc(start):
            raise ValueError(f"must be after data.start ({start.isoformat()})")
        return v


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as the data loader reads them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ExperimentConfig(_Strict):
    """One fully specified experiment (no ranges)."""

    # Strict: YAML's !!binary would otherwise pass bytes off as text
    experiment_id: Annotated[str, Strict()]
    symbol: Annotated[str, Strict()]
    timeframe: Timeframe
    model_type: Annotated[str, Strict()] = "xgboost"
    feature_groups: Annotated[list[Annotated[str, Strict()]], Field(min_length=1, max_length=64)]
    target: TargetConfig
    position: PositionConfig
    training: TrainingConfig
    model: ModelConfig = ModelConfig()
    backtest: BacktestConfig = BacktestConfig()
    gate: GateConfig = GateConfig()
    data: DataConfig = DataConfig()
    provenance: ProvenanceConfig | None = None
    seed: Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)] = 42

    @field_validator("experiment_id")
    @classmethod
    def _safe_id(cls, v: str) -> str:
        if not is_safe_name(v):
            raise ValueError(SAFE_NAME_RULE)
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
        """sha256 of the canonical JSON of the config's non-default values; equal configs give
        equal hashes.

        Every value equal to its field's default is left out (a block left at its defaults
        entirely), so adding a key with a default to sweep never changes the fingerprint of a
        config written before it. Configs registered by a version that hashed the full config
        are recognised by re-reading their stored config (:func:`sweep.store.registry.same_config`).
        ``provenance`` is left out too: where a file came from is not what it runs."""
        data = non_default(self)
        data.pop("provenance", None)
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def non_default(model: BaseModel) -> dict[str, Any]:
    """The JSON-safe values of ``model`` that differ from their fields' defaults, recursively
    (required fields always count)."""
    dumped = model.model_dump(mode="json")
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        if name not in dumped:  # a key the model's serializer leaves out
            continue
        value = getattr(model, name)
        if not field.is_required() and value == field.get_default(call_default_factory=True):
            continue
        out[name] = non_default(value) if isinstance(value, BaseModel) else dumped[name]
    return out


# --- loading -------------------------------------------------------------------------------------


def read_yaml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse a YAML mapping; return it with the line of every dotted key path.

    Read through :mod:`sweep.core.safe_yaml`: UTF-8 only, no duplicate keys, bounded nesting and
    alias expansion, so every bad file is one ConfigError."""
    from sweep.core.safe_yaml import parse_yaml, read_text

    text = read_text(path)
    data, node = parse_yaml(text, file=str(path))
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
    # Follows aliases (a key reached through one gets its anchor's line); bounded, because
    # parse_yaml refused documents that expand past safe_yaml.MAX_NODES or nest past MAX_DEPTH.
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            path = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[path] = key_node.start_mark.line + 1
            _collect_lines(value_node, path, out)


def with_line(key: str, lines: Mapping[str, int]) -> str:
    """``key (line N)`` when the key's line is known, for error messages."""
    line = lines.get(key)
    parent = key
    while line is None and "." in parent:  # a list item (feature_groups.0): its key's line
        parent = parent.rsplit(".", 1)[0]
        line = lines.get(parent)
    return f"{key} (line {line})" if line else key


def did_you_mean(value: str, options: list[str] | tuple[str, ...], label: str) -> str:
    return closest(value, options) + f"{label}: {', '.join(options)}"


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
    msg, hint = plain_message(err)
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str)[:80]
    if hint is None:  # no did-you-mean: what the key holds, and its bounds
        holder = _model_at(loc) if loc else None
        field = holder.model_fields.get(str(loc[-1])) if holder else None
        hint = field_hint(".".join(str(p) for p in loc), field, err.get("input"))
    return ConfigError(msg, file=file, key=where, value=value, hint=hint)


_EXPECTED = re.compile(r"'([^']*)'")


def _bound_text(bound: Any) -> str:
    """``1000000`` for 1e6, ``0.0001`` for 1e-4: a bound as it would be written in the file."""
    if isinstance(bound, float):
        return str(int(bound)) if bound.is_integer() else f"{bound:g}"
    return str(bound)


def plain_message(err: Mapping[str, Any]) -> tuple[str, str | None]:
    """A pydantic error in sweep's words: what must hold, and a hint (a did-you-mean for a value
    outside an enum), instead of pydantic's own text ("Input should be greater than ...")."""
    kind = str(err.get("type"))
    ctx = dict(err.get("ctx") or {})
    value = err.get("input")
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:
        op, name = bounds[kind]
        bound = ctx.get(name)
        return f"must be {op} {_bound_text(bound)}", None
    if kind == "literal_error":
        options = _EXPECTED.findall(str(ctx.get("expected", "")))
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"did you mean '{close[0]}'?" if close and isinstance(value, str) else None
        if len(options) == 1:
            return f"must be {options[0]}", hint
        return "must be one of " + ", ".join(options), hint
    plain = {
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "int_from_float": "must be an integer",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "string_type": "must be a string",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
        "model_attributes_type": "must be a mapping",
        "missing": "required key is missing",
    }
    if kind in plain:
        return plain[kind], None
    if kind.startswith(("datetime", "date")):
        return "must be a date or a UTC time", "e.g. 2021-01-01 or 2021-01-01T00:00:00Z"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"needs at least {n} item{'s' if n != 1 else ''}", None
    if kind == "too_long":
        return f"takes at most {ctx.get('max_length')} items", None
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:], None


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
