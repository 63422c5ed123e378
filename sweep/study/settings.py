"""The ``sweep:`` block of a space file: objective, direction, sampler, seed, pruner, trials and
constraints, validated before trial 0."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, Literal

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

from sweep.core.config import did_you_mean, plain_message, with_line
from sweep.core.errors import ConfigError
from sweep.study.selection import SELECT_RULES

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
    # DSR's N: `bars` counts every trial scored on the same bars, across studies and single runs
    # (choosing among them all is what inflates the best); `study` counts this study's only.
    count_trials: Literal["bars", "study"] = "bars"
    # How the study's chosen trial is picked: `peak` (the best objective) or `robust` (among the
    # top `robust_top`, the best lower quartile of its neighbours' objective; sweep.study.selection)
    select: str = "peak"
    robust_top: StrictInt = Field(default=5, ge=2, le=50)

    @field_validator("select")
    @classmethod
    def _select_rule(cls, v: str) -> str:
        if v not in SELECT_RULES:
            raise ValueError(
                f"'{v}' is not a selection rule; {did_you_mean(str(v), SELECT_RULES, 'rules')}"
            )
        return v

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


def _union_member(part: int | str) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool"))


def parse_settings(
    sweep_block: Any, template: Mapping[str, Any], file: str, lines: Mapping[str, int]
) -> SweepSettings:
    """Validate the ``sweep:`` block against the rest of the file (a pruner needs folds)."""
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
        msg, hint = plain_message(err)
        value = err.get("input")
        if err["type"] == "missing" and loc == ["pruner", "type"]:
            msg = "a pruner mapping needs a type: none, median, percentile or wilcoxon"
            hint = "e.g. pruner: {type: median, warmup_folds: 2}"
        if err["type"] == "extra_forbidden":
            model = PrunerSettings if loc[0] == "pruner" else SweepSettings
            fields = model.model_fields
            msg = "unknown key; " + did_you_mean(loc[-1], list(fields), "allowed keys")
            value = hint = None
        hint = hint or _SWEEP_HINTS.get(loc[-1] if loc[0] == "pruner" else loc[0])
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
    return settings


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
