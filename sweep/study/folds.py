"""Fit a study's default walk-forward folds to its data, before trial 0.

A study without ``training.cv`` scores on 5 expanding walk-forward folds (:mod:`sweep.study.space`).
On short data (daily bars, a narrow ``data`` window) the first fold may leave fewer than
``training.min_samples`` rows to fit on, and every trial would fail. Checked here, on the
configurations at the extremes of every range (the longest label reach, the coarsest timeframe,
each symbol), with the data they read: use fewer folds, down to 2, and say so; or refuse with a
hint when even 2 folds cannot fit. Folds the file set itself are left as they are: a trial that
cannot fit them fails with the pipeline's own message, as the user asked for that split.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from typing import Any

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, PipelineError
from sweep.core.pipeline import label_rows
from sweep.core.split import chronological_split, walk_forward_folds
from sweep.study.runner import load_dataset
from sweep.study.space import SearchSpace, first_value, to_optuna

log = logging.getLogger(__name__)

__all__ = ["MIN_FOLDS", "fit_default_folds", "folds_that_fit"]

MIN_FOLDS = 2


def _configs(space: SearchSpace) -> list[ExperimentConfig]:
    """Every range at each extreme, the others at their first value (as the space check)."""
    base = {p.path: first_value(p) for p in space.params}
    out = [space.config_for(base, "fold-check")]
    for p in space.params:
        for v in p.extremes():
            values = dict(base)
            values[p.path] = to_optuna(p, v)
            out.append(space.config_for(values, "fold-check"))
    return out


def folds_that_fit(cfg: ExperimentConfig, folds: int) -> bool:
    """Whether ``cfg``'s data leaves ``min_samples`` fitting rows in every one of ``folds``."""
    ds = load_dataset(cfg)
    start, stop, reach = label_rows(cfg, ds)
    t = cfg.training
    try:
        split = chronological_split(
            stop - start,
            train_ratio=t.train_ratio,
            horizon=reach,
            validation_ratio=t.validation_ratio,
            min_samples=t.min_samples,
        )
        walk_forward_folds(
            split.valid[1],
            folds=folds,
            mode=t.cv.mode if t.cv is not None else "expanding",
            horizon=reach,
            validation_ratio=t.validation_ratio,
            min_samples=t.min_samples,
        )
    except PipelineError:
        return False
    return True


def fit_default_folds(space: SearchSpace) -> SearchSpace:
    """``space`` with its default folds reduced until every extreme configuration fits them."""
    if not space.default_cv:
        return space
    configs = _configs(space)
    wanted = int(space.template["training"]["cv"]["folds"])
    for folds in range(wanted, MIN_FOLDS - 1, -1):
        if all(folds_that_fit(c, folds) for c in configs):
            break
    else:
        t = configs[0].training
        raise ConfigError(
            f"too little data for walk-forward folds: even {MIN_FOLDS} folds leave fewer than "
            f"training.min_samples = {t.min_samples} rows to fit the first fold on",
            file=space.file,
            key="training.cv",
            value=f"default {wanted} folds",
            hint="a study chooses on folds inside the training part; use a finer timeframe, "
            "more data (data.start), or a smaller training.min_samples",
        )
    if folds == wanted:
        return space
    log.warning(
        "%s: the default %d walk-forward folds leave fewer than training.min_samples rows in "
        "the first fold on this data; the study uses %d folds",
        space.file,
        wanted,
        folds,
    )
    return with_folds(space, folds)


def with_folds(space: SearchSpace, folds: int) -> SearchSpace:
    """The space with ``training.cv.folds`` set, in the template and in the raw file (which the
    workers and the registry receive), so every process runs the same folds."""
    template = copy.deepcopy(space.template)
    raw = copy.deepcopy(space.raw)
    cv: dict[str, Any] = {**template["training"]["cv"], "folds": folds}
    template["training"]["cv"] = cv
    raw.setdefault("training", {})["cv"] = dict(cv)
    return dataclasses.replace(space, template=template, raw=raw, default_cv=False)
