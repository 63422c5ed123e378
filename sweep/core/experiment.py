"""A validated experiment: the config schema checked, then the names that point into the feature
and model registries. Separate from :mod:`sweep.core.config`, which the model module imports for its
parameter types, so that neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sweep.core.config import (
    ExperimentConfig,
    _to_config_error,
    did_you_mean,
    read_yaml,
    with_line,
)
from sweep.core.errors import ConfigError
from sweep.core.features import resolve_features
from sweep.core.model import model_kinds

__all__ = ["check_references", "load_experiment", "validate_experiment"]


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
