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
import difflib
import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna

from sweep.core.config import (
    ExperimentConfig,
    did_you_mean,
    read_yaml,
    study_name_problem,
    with_line,
)
from sweep.core.errors import ConfigError
from sweep.core.experiment import validate_experiment
from sweep.study.constraints import resolve_constraints
from sweep.study.settings import SweepSettings, parse_settings

log = logging.getLogger(__name__)

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
    "target.take_profit",
    "target.stop_loss",
    "target.atr_multiple",
    "model.",
    "position.size",
    "position.hold_max",
    "position.side",
    "position.take_profit",
    "position.stop_loss",
    "position.atr_multiple",
    "backtest.entry_threshold",
    "backtest.fee",
    "backtest.slippage",
    "backtest.borrow_rate",
    "training.train_ratio",
    "training.early_stopping_rounds",
    "training.validation_ratio",
    "training.sample_weight",
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


@dataclass(frozen=True)
class SearchSpace:
    """A parsed experiment file: the template, its ranges and the study settings."""

    file: str
    template: dict[str, Any]
    params: tuple[Param, ...]
    settings: SweepSettings
    raw: dict[str, Any]
    # True when the file set no training.cv and the study scores on the default walk-forward
    # folds (a study never chooses on its test period: that is the sealed holdout).
    default_cv: bool = False

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
    space = parse_space(data, file=str(p), lines=lines)
    warn_below_costs(space, lines)
    return space


def warn_below_costs(space: SearchSpace, lines: Mapping[str, int]) -> None:
    """Warn when a ``binary`` target's threshold (a gross move) can fall below the round-trip
    cost ``2 * (fee + slippage)``: such a label calls a move a 1 that loses money as a trade."""
    target = space.template.get("target")
    if not isinstance(target, dict) or target.get("type", "binary") != "binary":
        return
    # the worst case the space can reach: its lowest threshold against its highest costs
    by_path = {p.path: p for p in space.params}
    reach: dict[str, list[float]] = {}
    for key in ("target.threshold", "backtest.fee", "backtest.slippage"):
        param = by_path.get(key)
        if param is not None:
            reach[key] = [float(v) for v in param.extremes() if isinstance(v, int | float)]
    cfg = validate_experiment(space.apply({p.path: first_value(p) for p in space.params}, "x"))
    fee = max(reach.get("backtest.fee", [cfg.backtest.fee]))
    slippage = max(reach.get("backtest.slippage", [cfg.backtest.slippage]))
    threshold = min(reach.get("target.threshold", [cfg.target.threshold or 0.0]))
    cost = 2 * (fee + slippage)
    if threshold < cost:
        log.warning(
            "%s: %s: a binary threshold of %g is below the round-trip cost %g "
            "(2 x (fee + slippage)): a 1 label there can be a losing trade; raise the threshold "
            "or use target type trade, whose threshold is net of costs",
            space.file,
            with_line("target.threshold", lines),
            threshold,
            cost,
        )


def parse_space(
    data: Mapping[str, Any], *, file: str = "<config>", lines: Mapping[str, int] | None = None
) -> SearchSpace:
    lines = lines or {}
    raw = copy.deepcopy(dict(data))
    template = copy.deepcopy(dict(data))
    default_cv = _default_walk_forward(template)
    settings = parse_settings(template.pop("sweep", None), template, file, lines)
    training = template.get("training")
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
                    hint="fix train_ratio for the study"
                    + (
                        " (a study scores on walk-forward folds by default: 5 expanding folds)"
                        if default_cv
                        else ""
                    ),
                )
    space = SearchSpace(
        file=file,
        template=template,
        params=tuple(params),
        settings=settings,
        raw=raw,
        default_cv=default_cv,
    )
    _check_configs(space, lines)  # before the gate block is read for `constraints: gate`
    constraints = resolve_constraints(
        settings.constraints, template.get("gate"), file=file, lines=lines
    )
    return dataclasses.replace(
        space, settings=settings.model_copy(update={"constraints": constraints})
    )


DEFAULT_CV: dict[str, Any] = {"type": "walk_forward", "folds": 5, "mode": "expanding"}


def _default_walk_forward(template: dict[str, Any]) -> bool:
    """A study (a file with ranges) without ``training.cv`` scores and chooses its trials on
    walk-forward folds inside the training part, so its test period stays a sealed holdout:
    choosing the best of N trials on the test period would report the maximum of N test scores.
    Sets ``training.cv`` in ``template`` and returns True when it did; a file without ranges
    keeps the seed's train/test meaning."""
    training = template.get("training")
    if not isinstance(training, dict) or training.get("cv") is not None:
        return False
    if not _has_range(template):
        return False
    training["cv"] = dict(DEFAULT_CV)
    return True


def _has_range(node: Any) -> bool:
    if _is_range(node):
        return True
    if isinstance(node, dict):
        return any(_has_range(v) for k, v in node.items() if k != "sweep")
    return False


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
        elif isinstance(value, dict) and _tunable(path):
            # a mapping where a value or a range belongs: a misspelt range kind (`flaot:`)
            raise _not_a_range(value, file, with_line(path, lines))
        elif isinstance(value, dict):
            _find_ranges(value, f"{path}.", out, file, lines)


def _not_a_range(spec: dict[str, Any], file: str, where: str) -> ConfigError:
    """The error for a mapping with no range kind: a did-you-mean for the likeliest typo."""
    keys = [str(k) for k in spec]
    close = [k for k in keys if difflib.get_close_matches(k, RANGE_KEYS, n=1)]
    bad = close[0] if close else keys[0] if keys else ""
    return ConfigError(
        f"unknown range kind '{bad}'" if bad else "an empty mapping is not a range",
        file=file,
        key=where,
        hint=did_you_mean(bad, RANGE_KEYS, "a range is one of") + " (see README: Search spaces)",
    )


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
            values[p.path] = to_optuna(p, v)
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


def to_optuna(p: Param, v: Any) -> Any:
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
