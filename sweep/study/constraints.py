"""``sweep.constraints``: hold trials to gate checks through Optuna's own constraints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sweep.core.config import GateConfig, did_you_mean, with_line
from sweep.core.errors import ConfigError
from sweep.core.gate import PER_RUN_CHECKS


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
