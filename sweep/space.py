"""Ranges in place: the search-space form of an experiment file.

Any tunable value may be a range instead of a scalar (the forms are a contract):

* ``{int: [low, high]}`` with optional ``step: k`` and ``log: true``
* ``{float: [low, high]}`` with optional ``step: x`` and ``log: true``
* ``{choice: [a, b, c]}``
* ``{subset: [a, b, c, d]}`` with optional ``min_size: n`` (default 1) and ``max_size: m``

Optuna parameter names are the dotted config paths (``model.max_depth``), so a trial's values map
onto the config with no lookup table. A subset is one categorical parameter over every allowed
combination, written ``momentum+volume`` (in the listed order), which keeps min/max size exact.
Everything is checked by :func:`parse_space` before trial 0.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from sweep.config import (
    ExperimentConfig,
    GateConfig,
    did_you_mean,
    read_yaml,
    study_name_problem,
    validate_experiment,
    with_line,
)
from sweep.errors import ConfigError
from sweep.gate import PER_RUN_CHECKS

RANGE_KEYS = ("int", "float", "choice", "subset")
_OPTIONS = {
    "int": {"int", "step", "log"},
    "float": {"float", "step", "log"},
    "choice": {"choice"},
    "subset": {"subset", "min_size", "max_size"},
}
# Keys that may hold a range; a prefix ending in '.' covers the whole block.
TUNABLE = (
    "symbol",
    "timeframe",
    "feature_groups",
    "target.horizon",
    "target.threshold",
    "model.",
    "position.size",
    "position.hold_max",
    "backtest.entry_threshold",
    "backtest.fee",
    "backtest.slippage",
    "training.train_ratio",
    "training.early_stopping_rounds",
    "training.validation_ratio",
)
SUBSET_SEPARATOR = "+"

Scalar = int | float | str | bool
Value = Scalar | list[str]


@dataclass(frozen=True)
class Param:
    """One tunable value: its dotted path, its kind and its Optuna distribution."""

    path: str
    kind: Literal["int", "float", "choice", "subset"]
    distribution: optuna.distributions.BaseDistribution
    options: tuple[Any, ...] = ()

    def to_config_value(self, optuna_value: Any) -> Value:
        """The config value for an Optuna value (a subset's combination becomes a list)."""
        if self.kind == "subset":
            return [] if optuna_value == "" else str(optuna_value).split(SUBSET_SEPARATOR)
        return optuna_value  # type: ignore[no-any-return]

    def extremes(self) -> list[Value]:
        """Values that must all give a valid config (checked before trial 0)."""
        d = self.distribution
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            return [self.to_config_value(c) for c in d.choices]
        if isinstance(
            d, optuna.distributions.IntDistribution | optuna.distributions.FloatDistribution
        ):
            return [d.low, d.high]
        raise AssertionError(d)


WARMUP_FOLDS = 2  # the pruner's first decision: after this many folds, unless told otherwise


class PrunerSettings(BaseModel):
    """``sweep.pruner``: a name (``median``) or a mapping with ``type`` and the settings that
    apply to it. Steps are walk-forward folds; each fold reports the running mean of the objective
    over the folds so far (Wilcoxon: each fold's own score, compared fold by fold with the best
    trial's). No trial is judged after its last fold: stopping it then would save nothing and
    discard a finished result."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["none", "median", "percentile", "wilcoxon"]
    # percentile: keep trials in the top `percentile` % at a fold (Optuna's PercentilePruner);
    # median is percentile 50
    percentile: StrictFloat = Field(default=50.0, gt=0, lt=100)
    # folds every trial runs before any decision; unset: WARMUP_FOLDS, or 1 with only 2 folds
    warmup_folds: StrictInt | None = Field(default=None, ge=1, le=50)  # training.cv: <= 50 folds
    # completed trials before any pruning; at most sweep.trials' limit
    startup_trials: StrictInt = Field(default=5, ge=0, le=1_000_000)
    p_threshold: StrictFloat = Field(default=0.1, gt=0, lt=1)  # wilcoxon: prune below this

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"type": v}
        if not isinstance(v, dict):
            raise ValueError(
                "must be a name (none, median, percentile, wilcoxon) or a mapping with a type"
            )
        return v

    @model_validator(mode="after")
    def _settings_of_this_type(self) -> PrunerSettings:
        applies = {
            "none": set(),
            "median": {"warmup_folds", "startup_trials"},
            "percentile": {"percentile", "warmup_folds", "startup_trials"},
            "wilcoxon": {"warmup_folds", "p_threshold"},
        }[self.type]
        if self.type == "percentile" and "percentile" not in self.model_fields_set:
            raise ValueError(
                "type percentile needs percentile: the top % kept at each fold (e.g. 25)"
            )
        stray = sorted(self.model_fields_set - applies - {"type"})
        if stray:
            raise ValueError(
                f"{', '.join(stray)} does not apply to pruner type {self.type}"
                + (f" (it takes: {', '.join(sorted(applies))})" if applies else "")
            )
        return self

    @property
    def on(self) -> bool:
        return self.type != "none"

    @property
    def warmup(self) -> int:
        return self.warmup_folds if self.warmup_folds is not None else WARMUP_FOLDS

    def describe(self) -> str:
        """A short text for the study table and summaries."""
        if self.type == "none":
            return "none"
        if self.type == "wilcoxon":
            return f"wilcoxon (p < {self.p_threshold:g}, after {self.warmup} folds)"
        keep = "" if self.type == "median" else f"top {self.percentile:g}%, "
        return (
            f"{self.type} ({keep}after {self.warmup} folds, {self.startup_trials} startup trials)"
        )


class SweepSettings(BaseModel):
    """The ``sweep:`` block: study settings."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    objective: str | list[str] = "sharpe"
    direction: Literal["maximize", "minimize"] | list[Literal["maximize", "minimize"]] = "maximize"
    sampler: Literal["tpe", "random", "cmaes", "qmc", "nsgaii", "gp"] = "tpe"
    # Optuna's samplers seed numpy with seed + worker number, which must stay below 2^32
    seed: StrictInt | None = Field(default=42, ge=0, le=2**31 - 1)
    pruner: PrunerSettings = PrunerSettings(type="none")
    # trial ids are <study>-t0001 .. -t1000000 (config.MAX_STUDY_NAME leaves room for them)
    trials: StrictInt = Field(default=100, ge=1, le=1_000_000)
    # `gate` (the file's per-run gate checks) or a mapping of them ({min_trades: 30}); parse_space
    # resolves it to {gate key: threshold}, which trials must meet to count as feasible
    constraints: Any = None

    @field_validator("objective")
    @classmethod
    def _metric_names(cls, v: str | list[str]) -> str | list[str]:
        names = [v] if isinstance(v, str) else v
        if not names:
            raise ValueError("needs at least one metric")
        if len(set(names)) != len(names):
            raise ValueError("lists a metric twice")
        for n in names:
            if n not in OBJECTIVE_METRICS:
                raise ValueError(
                    f"'{n}' is not a metric; {did_you_mean(n, OBJECTIVE_METRICS, 'metrics')}"
                )
        return v

    @property
    def thresholds(self) -> dict[str, float]:
        """The resolved constraints (:func:`resolve_constraints`); empty when there are none."""
        assert not isinstance(self.constraints, str), "resolved by parse_space"
        return {k: float(v) for k, v in (self.constraints or {}).items()}

    @property
    def objectives(self) -> list[str]:
        return [self.objective] if isinstance(self.objective, str) else list(self.objective)

    @property
    def directions(self) -> list[str]:
        d: list[str] = [self.direction] if isinstance(self.direction, str) else list(self.direction)
        if len(d) == 1 and len(self.objectives) > 1:
            return d * len(self.objectives)
        return d


_SWEEP_HINT = "see the sweep: block in README"
_SWEEP_HINTS = {
    "objective": "a metric name, or a list of them for a multi-objective study",
    "direction": "maximize or minimize, or a list of them (one per objective)",
    "sampler": "one of tpe, random, cmaes, qmc, nsgaii, gp",
    "seed": "an integer from 0 to 2147483647, or null for unseeded draws",
    "trials": "the default number of trials, an integer from 1 to 1000000",
    "pruner": "a name (none, median, percentile, wilcoxon) or a mapping with a type",
    "type": "one of none, median, percentile, wilcoxon",
    "percentile": "the top % kept at each fold, above 0 and below 100",
    "warmup_folds": "folds before the first decision, 1 to 50 and fewer than training.cv.folds",
    "startup_trials": "completed trials before any pruning, 0 to 1000000",
    "p_threshold": "wilcoxon prunes below this p-value, above 0 and below 1",
}

OBJECTIVE_METRICS = (
    "sharpe",
    "sortino",
    "win_rate",
    "alpha",
    "total_return",
    "annual_return",
    "max_drawdown",
    "profit_factor",
    "avg_trade_return",
    "auc",
    "n_trades",
    "exposure",
)


@dataclass(frozen=True)
class SearchSpace:
    """A parsed experiment file: the template, its ranges and the study settings."""

    file: str
    template: dict[str, Any]
    params: tuple[Param, ...]
    settings: SweepSettings
    raw: dict[str, Any]

    @property
    def study_name(self) -> str:
        return str(self.template["experiment_id"])

    @property
    def is_study(self) -> bool:
        return bool(self.params)

    def apply(self, values: Mapping[str, Any], experiment_id: str | None = None) -> dict[str, Any]:
        """The template with each range replaced by ``values[path]`` (Optuna values)."""
        out = copy.deepcopy(self.template)
        for p in self.params:
            _set_path(out, p.path, p.to_config_value(values[p.path]))
        if experiment_id is not None:
            out["experiment_id"] = experiment_id
        return out

    def config_for(self, values: Mapping[str, Any], experiment_id: str) -> ExperimentConfig:
        return validate_experiment(self.apply(values, experiment_id), file=self.file)

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Ask ``trial`` for every parameter, in file order."""
        return {p.path: suggest_param(trial, p) for p in self.params}


def suggest_param(trial: optuna.trial.BaseTrial, p: Param) -> Any:
    """One ``suggest_*`` call for a parameter, through Optuna's public API."""
    d = p.distribution
    if isinstance(d, optuna.distributions.IntDistribution):
        return trial.suggest_int(p.path, d.low, d.high, step=d.step, log=d.log)
    if isinstance(d, optuna.distributions.FloatDistribution):
        return trial.suggest_float(p.path, d.low, d.high, step=d.step, log=d.log)
    assert isinstance(d, optuna.distributions.CategoricalDistribution)
    return trial.suggest_categorical(p.path, d.choices)


def load_space(path: str | Path) -> SearchSpace:
    """Read an experiment file that may hold ranges and a ``sweep:`` block; validate it all."""
    p = Path(path)
    data, lines = read_yaml(p)
    return parse_space(data, file=str(p), lines=lines)


def _fit_pruner_to_folds(
    settings: SweepSettings, cv: Any, file: str, lines: Mapping[str, int]
) -> SweepSettings:
    """The pruner decides after ``warmup_folds`` folds and never after the last one, so a fold
    must be left to decide at. Unset, ``warmup_folds`` is 2, or 1 with only 2 folds."""
    p = settings.pruner
    folds = cv.get("folds", 5) if isinstance(cv, dict) else None
    if not isinstance(folds, int):
        return settings  # training.cv's own validation names the problem
    if p.warmup_folds is None:
        p = p.model_copy(update={"warmup_folds": max(1, min(WARMUP_FOLDS, folds - 1))})
    # Optuna's Wilcoxon test needs at least two paired folds before it can decide
    first = max(2, p.warmup) if p.type == "wilcoxon" else p.warmup
    if first >= folds:
        explicit = settings.pruner.warmup_folds is not None
        raise ConfigError(
            f"leaves no fold to decide at: training.cv has {folds} folds, and the pruner first "
            f"decides after fold {first}, with no trial judged after its last fold",
            file=file,
            key=with_line("sweep.pruner" + (".warmup_folds" if explicit else ""), lines),
            value=p.warmup if explicit else p.type,
            hint="use more folds, a smaller warmup_folds, or pruner: none"
            if p.type != "wilcoxon"
            else "wilcoxon needs at least 3 folds; use more folds, or pruner: median",
        )
    return settings.model_copy(update={"pruner": p})


def resolve_constraints(
    spec: Any,
    gate_block: Any,
    *,
    file: str = "<config>",
    lines: Mapping[str, int] | None = None,
) -> dict[str, float | int]:
    """``sweep.constraints`` as ``{gate key: threshold}``: ``gate`` takes the experiment's own
    per-run gate checks (``gate:`` with its defaults), a mapping names some of them with their own
    thresholds. Optuna's samplers (TPE, NSGA-II, GP) then rank trials that miss a threshold below
    every trial that meets them all, instead of optimising the objective blindly."""
    lines = lines or {}
    key = "sweep.constraints"
    if spec is None or spec == "none":
        return {}
    if spec == "gate":
        gate = GateConfig.model_validate(gate_block or {})
        got = {k: getattr(gate, k) for k in PER_RUN_CHECKS if getattr(gate, k) is not None}
        if not got:
            raise ConfigError(
                "the gate has no per-run check to constrain trials by",
                file=file,
                key=with_line(key, lines),
                value=spec,
                hint="set a threshold under gate: (e.g. min_trades: 30), or list the "
                "constraints here: {min_trades: 30}",
            )
        return got
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(
            "must be gate, or a mapping of gate checks to thresholds",
            file=file,
            key=with_line(key, lines),
            value=spec,
            hint="e.g. constraints: {min_trades: 30, max_drawdown: 0.25}",
        )
    for name in spec:
        if name not in PER_RUN_CHECKS:
            study_level = name in ("min_dsr", "max_pbo")
            raise ConfigError(
                "is about the whole study, not one trial" if study_level else "unknown constraint",
                file=file,
                key=with_line(f"{key}.{name}", lines),
                value=spec[name],
                hint="set it under gate:, where the study's chosen trial is held to it"
                if study_level
                else did_you_mean(str(name), list(PER_RUN_CHECKS), "allowed"),
            )
    try:
        gate = GateConfig.model_validate(spec)
    except ValidationError as e:
        err = e.errors()[0]
        name = str(err["loc"][0])
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        raise ConfigError(
            msg,
            file=file,
            key=with_line(f"{key}.{name}", lines),
            value=err.get("input"),
            hint="a threshold in the metric's own terms: min_trades a count, min_win_rate and "
            "max_drawdown fractions (0.5, 0.25), min_sharpe and min_alpha numbers",
        ) from e
    got = {k: getattr(gate, k) for k in spec}
    if any(v is None for v in got.values()):
        name = next(k for k, v in got.items() if v is None)
        raise ConfigError(
            "needs a threshold",
            file=file,
            key=with_line(f"{key}.{name}", lines),
            value=None,
            hint="leave the key out to drop the constraint",
        )
    return got


def parse_space(
    data: Mapping[str, Any], *, file: str = "<config>", lines: Mapping[str, int] | None = None
) -> SearchSpace:
    lines = lines or {}
    raw = copy.deepcopy(dict(data))
    template = copy.deepcopy(dict(data))
    sweep_block = template.pop("sweep", None)
    sweep_block = {} if sweep_block is None else sweep_block
    if not isinstance(sweep_block, dict):
        raise ConfigError(
            "must be a mapping",
            file=file,
            key=with_line("sweep", lines),
            value=sweep_block,
            hint="e.g. sweep: {objective: sharpe, direction: maximize}",
        )
    try:
        settings = SweepSettings.model_validate(sweep_block)
    except ValidationError as e:
        err = e.errors()[0]
        # without pydantic's union members (`literal['maximize','minimize']`, `str`, ...)
        loc = [str(x) for i, x in enumerate(err["loc"]) if i == 0 or not _union_member(x)]
        if loc[:2] == ["pruner", "type"] and isinstance(sweep_block.get("pruner"), str):
            loc = ["pruner"]  # written as a name: `pruner: median`
        key = "sweep." + ".".join(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        msg = msg[:1].lower() + msg[1:]
        value = err.get("input")
        if err["type"] == "missing" and loc == ["pruner", "type"]:
            msg = "a pruner mapping needs a type: none, median, percentile or wilcoxon"
        if err["type"] == "extra_forbidden":
            model = PrunerSettings if loc[0] == "pruner" else SweepSettings
            fields = model.model_fields
            msg = "unknown key; " + did_you_mean(loc[-1], list(fields), "allowed keys")
            value = None
        hint = _SWEEP_HINTS.get(loc[-1] if loc[0] == "pruner" else loc[0])
        raise ConfigError(
            msg, file=file, key=with_line(key, lines), value=value, hint=hint or _SWEEP_HINT
        ) from e
    if len(settings.directions) != len(settings.objectives):
        raise ConfigError(
            "needs one direction per objective",
            file=file,
            key=with_line("sweep.direction", lines),
            value=settings.direction,
            hint=f"objectives: {', '.join(settings.objectives)}",
        )
    if settings.sampler == "gp" and importlib.util.find_spec("torch") is None:
        raise ConfigError(
            "Optuna's GP sampler needs PyTorch, which sweep does not install (a large download)",
            file=file,
            key=with_line("sweep.sampler", lines),
            value=settings.sampler,
            hint="pip install torch (a CPU build is enough), or use sampler: tpe",
        )
    training = template.get("training")
    if settings.pruner.on:
        pruner = settings.pruner.type
        cv = training.get("cv") if isinstance(training, dict) else None
        if not cv:
            raise ConfigError(
                "a pruner needs walk-forward folds to report to",
                file=file,
                key=with_line("sweep.pruner", lines),
                value=pruner,
                hint="add training.cv: {type: walk_forward, folds: 5}, or set pruner: none",
            )
        if len(settings.objectives) > 1:
            raise ConfigError(
                "Optuna prunes single-objective studies only",
                file=file,
                key=with_line("sweep.pruner", lines),
                value=pruner,
                hint="set pruner: none for a multi-objective study",
            )
        settings = _fit_pruner_to_folds(settings, cv, file, lines)
    params: list[Param] = []
    _find_ranges(template, "", params, file, lines)
    name = template.get("experiment_id")
    problem = study_name_problem(name) if params and isinstance(name, str) else None
    if problem:
        raise ConfigError(
            problem,
            file=file,
            key=with_line("experiment_id", lines),
            value=name,
            hint="a file with ranges is a study, named by its experiment_id",
        )
    if isinstance(training, dict) and training.get("cv"):
        for p in params:
            if p.path == "training.train_ratio":
                raise ConfigError(
                    "cannot be tuned with walk-forward folds: it sets where the sealed holdout "
                    "starts, and one trial's folds would score another trial's holdout",
                    file=file,
                    key=with_line(p.path, lines),
                    hint="fix train_ratio for the study",
                )
    space = SearchSpace(
        file=file, template=template, params=tuple(params), settings=settings, raw=raw
    )
    _check_configs(space, lines)  # before the gate block is read for `constraints: gate`
    constraints = resolve_constraints(
        settings.constraints, template.get("gate"), file=file, lines=lines
    )
    return dataclasses.replace(
        space, settings=settings.model_copy(update={"constraints": constraints})
    )


def _is_range(v: Any) -> bool:
    return isinstance(v, dict) and any(k in v for k in RANGE_KEYS)


def _tunable(path: str) -> bool:
    return any(path == t or (t.endswith(".") and path.startswith(t)) for t in TUNABLE)


def _find_ranges(
    node: dict[str, Any], prefix: str, out: list[Param], file: str, lines: Mapping[str, int]
) -> None:
    for key, value in node.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and not (isinstance(key, str) and key and "." not in key):
            # ranges are named by dotted paths, so a key holding '.' would name another key
            raise ConfigError(
                "unknown key",
                file=file,
                key=with_line(path, lines),
                hint="keys are plain names (target: {horizon: ...}), not dotted paths",
            )
        if _is_range(value):
            if not _tunable(path):
                raise ConfigError(
                    "cannot be tuned",
                    file=file,
                    key=with_line(path, lines),
                    value=value,
                    hint="ranges are allowed on: " + ", ".join(t.rstrip(".") for t in TUNABLE),
                )
            out.append(_parse_range(path, value, file, with_line(path, lines)))
        elif isinstance(value, dict):
            _find_ranges(value, f"{path}.", out, file, lines)


def _parse_range(path: str, spec: dict[str, Any], file: str, where: str) -> Param:
    kinds = [k for k in RANGE_KEYS if k in spec]
    if len(kinds) != 1:
        raise ConfigError(
            "a range has exactly one of int, float, choice, subset",
            file=file,
            key=where,
            value=spec,
            hint=_RANGE_HINT,
        )
    kind = kinds[0]
    extra = set(spec) - _OPTIONS[kind]
    if extra:
        bad = sorted(map(str, extra))[0]  # keys may be any YAML scalar (`true`, `1`)
        raise ConfigError(
            f"unknown range option '{bad}'",
            file=file,
            key=where,
            hint=did_you_mean(bad, sorted(_OPTIONS[kind] - {kind}), f"{kind} ranges take"),
        )

    def fail(msg: str, value: Any = None, hint: str | None = None) -> ConfigError:
        return ConfigError(msg, file=file, key=where, value=value, hint=hint or _RANGE_HINT)

    body = spec[kind]
    if kind in ("int", "float"):
        if not (isinstance(body, list) and len(body) == 2):
            raise fail(f"{kind} range needs [low, high]", body)
        low, high = body
        num = int if kind == "int" else float
        if kind == "int" and not all(_is_int(b) for b in body):
            raise fail("int range bounds must be integers", body, "use {float: [low, high]}")
        if not all(_is_int(b) or isinstance(b, float) for b in body):
            raise fail("range bounds must be numbers", body)
        if not all(_finite(b) for b in body):
            raise fail(
                "range bounds must be finite numbers",
                body,
                "bound the range within the key's own limits (README, Experiment config)",
            )
        if low > high:
            raise fail("low > high", body, hint="write [low, high]")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise fail("log must be true or false", log)
        step = spec.get("step")
        if log and low <= 0:
            raise fail("log scale needs low > 0", body)
        if log and step is not None:
            raise fail("log and step cannot be combined", spec)
        if step is not None:
            if kind == "int" and not (_is_int(step) and step > 0):
                raise fail("an int range's step must be an integer > 0", step)
            if not ((_is_int(step) or isinstance(step, float)) and _finite(step) and step > 0):
                raise fail("step must be a finite number > 0", step)
        dist: optuna.distributions.BaseDistribution
        try:
            if kind == "int":
                dist = optuna.distributions.IntDistribution(
                    int(low), int(high), log=log, step=int(step) if step is not None else 1
                )
            else:
                dist = optuna.distributions.FloatDistribution(
                    num(low), num(high), log=log, step=float(step) if step is not None else None
                )
        except ValueError as e:
            raise fail(str(e), body) from e
        return Param(path, "int" if kind == "int" else "float", dist)
    if not isinstance(body, list) or not body:
        raise fail(f"{kind} needs a non-empty list", body)
    if len(body) > MAX_OPTIONS:
        raise fail(
            f"{kind} lists {len(body)} options; at most {MAX_OPTIONS}",
            len(body),
            "each option is checked before trial 0; use an int or float range",
        )
    if kind == "choice":
        if len(set(map(repr, body))) != len(body):
            raise fail("choice options must be distinct", body)
        if not all(isinstance(c, int | float | str | bool) for c in body):
            raise fail("choice options must be scalars", body)
        return Param(
            path, "choice", optuna.distributions.CategoricalDistribution(body), tuple(body)
        )
    names = [str(x) for x in body]
    if len(set(names)) != len(names) or any(SUBSET_SEPARATOR in n for n in names):
        raise fail("subset items must be distinct names", body)
    min_size = spec.get("min_size", 1)
    max_size = spec.get("max_size", len(names))
    if not _is_int(min_size) or not 1 <= min_size <= len(names):
        raise fail(f"min_size must be between 1 and {len(names)} (the number of items)", min_size)
    if not _is_int(max_size) or not min_size <= max_size <= len(names):
        raise fail(f"max_size must be between min_size ({min_size}) and {len(names)}", max_size)
    combos = [
        SUBSET_SEPARATOR.join(c)
        for r in range(min_size, max_size + 1)
        for c in itertools.combinations(names, r)
    ]
    if len(combos) > 100_000:
        raise fail(f"subset allows {len(combos)} combinations; at most 100000", len(names))
    return Param(path, "subset", optuna.distributions.CategoricalDistribution(combos), tuple(names))


_RANGE_HINT = (
    "range forms: {int: [low, high]}, {float: [low, high]} (optional step, log), "
    "{choice: [a, b]}, {subset: [a, b], min_size, max_size}"
)
MAX_OPTIONS = 1000  # a choice or subset's list: each option is validated before trial 0


def _union_member(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float's range
        return False


def _set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    for k in head:
        d = d[k]
    d[last] = value


def _check_configs(space: SearchSpace, lines: Mapping[str, int]) -> None:
    """Every range's extreme values, each with the others at their first value, must give a
    valid experiment config; so a bad bound fails here, naming its key, not at trial 57."""
    base = {p.path: first_value(p) for p in space.params}
    trial_id = f"{space.template.get('experiment_id', 'x')}-t0001"
    if not space.params:
        validate_experiment(space.template, file=space.file, lines=lines)
        return
    # Every range at its first value: an error here names its own key (a fixed key, or a range
    # whose first value is bad), so the ranges' checks below can blame the one value they moved.
    validate_experiment(space.apply(base, trial_id), file=space.file, lines=lines)
    for p in space.params:
        for v in p.extremes():
            values = dict(base)
            values[p.path] = _to_optuna(p, v)
            try:
                space.config_for(values, trial_id)
            except ConfigError as e:
                raise ConfigError(
                    e.message,
                    file=space.file,
                    key=with_line(p.path, lines),
                    value=v,
                    hint=e.hint,
                ) from e


def first_value(p: Param) -> Any:
    """A range's first value (low bound, or first option) in Optuna's form."""
    d = p.distribution
    if isinstance(d, optuna.distributions.CategoricalDistribution):
        return d.choices[0]
    assert isinstance(
        d, optuna.distributions.IntDistribution | optuna.distributions.FloatDistribution
    )
    return d.low


def _to_optuna(p: Param, v: Any) -> Any:
    if p.kind == "subset":
        return SUBSET_SEPARATOR.join(v)
    return v


def fixed_config_dict(
    space: SearchSpace, values: Mapping[str, Any], experiment_id: str
) -> dict[str, Any]:
    """The file as the user wrote it, with each range replaced and ``sweep:`` dropped; keys keep
    the file's order so an exported config reads like its space."""
    out = space.apply(values)
    out["experiment_id"] = experiment_id
    return out
