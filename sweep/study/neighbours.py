"""The neighbourhood of a trial in its study's space: each parameter moved one step, alone.

One step, by kind of range (values in Optuna's form, as :meth:`SearchSpace.apply` takes them):

* ``int``: ``value - step`` and ``value + step``;
* ``float``: ``value -/+ 10%`` of the range's width, in log space where the range is ``log``
  (``value * (high / low) ** -/+0.1``), rounded to the range's ``step`` when it has one;
* ``choice``: each other option;
* ``subset``: each element added or removed (within ``min_size`` .. ``max_size``).

A step that would leave the range is clipped to the bound, and dropped when that gives the
trial's own value back. :func:`random_neighbours` draws a few multi-parameter neighbours (2 or 3
parameters moved one step each) from a seeded generator, so a resumed command draws the same.
Everything here is pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from sweep.study.space import SUBSET_SEPARATOR, Param

__all__ = ["FLOAT_STEP", "Variation", "neighbours", "one_step", "random_neighbours"]

FLOAT_STEP = 0.10  # a float parameter's step: this fraction of its range


@dataclass(frozen=True)
class Variation:
    """A change of some parameters of a trial: ``changes`` maps a parameter's path to its new
    value in Optuna's form; ``key`` names it deterministically."""

    kind: str  # neighbour | random
    changes: dict[str, Any]
    label: str

    @property
    def key(self) -> str:
        return f"{self.kind}:" + json.dumps(self.changes, sort_keys=True, separators=(",", ":"))


def _round(x: float) -> float:
    """12 significant digits: the same step gives the same value (and key) on every machine."""
    return float(f"{x:.12g}")


def one_step(p: Param, value: Any) -> list[Any]:
    """The values one step away from ``value`` for parameter ``p`` (see the module docstring)."""
    d = p.distribution
    if isinstance(d, optuna.distributions.IntDistribution):
        out = [v for v in (value - d.step, value + d.step) if d.low <= v <= d.high]
        return [int(v) for v in out]
    if isinstance(d, optuna.distributions.FloatDistribution):
        if d.log:
            width = FLOAT_STEP * (math.log(d.high) - math.log(d.low))
            moved = [math.exp(math.log(value) - width), math.exp(math.log(value) + width)]
        else:
            width = FLOAT_STEP * (d.high - d.low)
            moved = [value - width, value + width]
        found: list[float] = []
        for v in moved:
            v = min(max(v, d.low), d.high)
            if d.step is not None:
                v = d.low + round((v - d.low) / d.step) * d.step
                v = min(max(v, d.low), d.high)
            v = _round(v)
            if v != _round(float(value)) and v not in found:
                found.append(v)
        return found
    assert isinstance(d, optuna.distributions.CategoricalDistribution)
    if p.kind == "choice":
        return [c for c in d.choices if c != value]
    names = list(p.options)
    have = set(str(value).split(SUBSET_SEPARATOR)) if value != "" else set()
    allowed = set(d.choices)
    out_subsets: list[str] = []
    for name in names:
        new = have ^ {name}  # added if absent, removed if present
        combo = SUBSET_SEPARATOR.join(n for n in names if n in new)
        if combo in allowed:
            out_subsets.append(combo)
    return out_subsets


def _show(p: Param, v: Any) -> str:
    if p.kind == "float" and isinstance(v, float):
        return f"{v:.4g}"
    if p.kind == "subset":
        return str(v) if v != "" else "(none)"
    return str(v)


def _label(params: Sequence[Param], values: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{p.path} {_show(p, values[p.path])} → {_show(p, changes[p.path])}"
        for p in params
        if p.path in changes
    )


def neighbours(params: Sequence[Param], values: Mapping[str, Any]) -> list[Variation]:
    """Every one-parameter-at-a-time neighbour of ``values``, in the file's parameter order."""
    out = []
    for p in params:
        for v in one_step(p, values[p.path]):
            changes = {p.path: v}
            out.append(Variation("neighbour", changes, _label(params, values, changes)))
    return out


def random_neighbours(
    params: Sequence[Param], values: Mapping[str, Any], n: int, seed: int
) -> list[Variation]:
    """``n`` distinct neighbours that move 2 or 3 parameters one step each (fewer when the space
    has fewer), drawn from ``numpy.random.default_rng(seed)``."""
    steps = {p.path: one_step(p, values[p.path]) for p in params}
    movable = [p for p in params if steps[p.path]]
    if n <= 0 or len(movable) < 2:
        return []
    rng = np.random.default_rng(seed)
    out: list[Variation] = []
    seen: set[str] = set()
    for _ in range(50 * n):  # a small space may hold fewer than n distinct ones
        if len(out) >= n:
            break
        m = int(rng.integers(2, min(3, len(movable)) + 1))
        chosen = sorted(rng.choice(len(movable), size=m, replace=False).tolist())
        changes = {}
        for i in chosen:
            p = movable[int(i)]
            options = steps[p.path]
            changes[p.path] = options[int(rng.integers(len(options)))]
        var = Variation("random", changes, _label(params, values, changes))
        if var.key not in seen:
            seen.add(var.key)
            out.append(var)
    return out
