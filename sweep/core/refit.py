"""A model fitted for live prediction: no test part is scored, so nothing here is a trial.

Two parts of the data can be fitted on, with the pipeline's own training code
(:func:`sweep.core.pipeline.fit_split`) and layout (fitting rows, a purge gap, the early-stopping
tail):

- ``search``: the rows a walk-forward study searched on, i.e. everything before its sealed test
  part, cut exactly as ``sweep holdout`` cuts it. The test part is neither fitted nor scored, so
  this is no look at the holdout.
- ``all``: every labelled row up to the last bar (:func:`sweep.core.split.final_split`).

``predicts_from`` is the first bar no training row covers: the sealed test part's first bar
(``search``), or the first bar whose label could not be known yet (``all``); None when there is
no such bar in the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sweep.core.config import ExperimentConfig
from sweep.core.model import FittedModel
from sweep.core.pipeline import Dataset, experiment_inputs, fit_split
from sweep.core.split import chronological_split, final_split

__all__ = ["FinalFit", "RefitPart", "fit_final"]

RefitPart = Literal["search", "all"]


@dataclass(frozen=True)
class FinalFit:
    """A model fitted on one part of the data, and where that part lies in time."""

    config: ExperimentConfig
    part: RefitPart
    model: FittedModel
    feature_names: list[str]
    train_from: pd.Timestamp
    train_to: pd.Timestamp
    predicts_from: pd.Timestamp | None
    n_fit: int
    n_valid: int
    label_rate: float


def fit_final(
    cfg: ExperimentConfig, dataset: Dataset, *, part: RefitPart, nthread: int = 1
) -> FinalFit:
    """Fit ``cfg``'s model on ``part`` of ``dataset`` (module docstring); ``training.cv`` is
    ignored: the folds scored the search, this fit is the model that goes live.

    Raises :class:`sweep.core.errors.PipelineError` when the part cannot support a fit."""
    inp = experiment_inputs(cfg, dataset)
    n = inp.stop - inp.start
    t = cfg.training
    if part == "search":
        split = chronological_split(
            n,
            train_ratio=t.train_ratio,
            horizon=inp.labels.reach,
            validation_ratio=t.validation_ratio,
            min_samples=t.min_samples,
        )
        first_unseen: int | None = inp.start + split.test[0]
    else:
        split = final_split(
            n,
            horizon=inp.labels.reach,
            validation_ratio=t.validation_ratio,
            min_samples=t.min_samples,
        )
        first_unseen = inp.stop if inp.stop < len(inp.index) else None
    model = fit_split(cfg, inp, split, nthread)
    fit = inp.rows(split.fit)
    return FinalFit(
        config=cfg,
        part=part,
        model=model,
        feature_names=inp.names,
        train_from=inp.index[fit.start],
        train_to=inp.index[inp.rows(split.valid).stop - 1],
        predicts_from=None if first_unseen is None else inp.index[first_unseen],
        n_fit=split.n_fit,
        n_valid=split.n_valid,
        label_rate=round(float(np.mean(inp.y[fit])), 6),
    )
