"""Messages in sweep's one-line style: file, key, value, hint; a did-you-mean for every name sweep
knows (range kinds, samplers, pruners, every enum), never pydantic's own wording."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tiny_space

from sweep.core.errors import ConfigError
from sweep.study.space import load_space


def _with(dotted: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(tiny_space("msg"))
    *head, last = dotted.split(".")
    node = data
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return data


# (dotted key, bad value, the key as the message names it, fragments the message must hold)
CASES: list[tuple[str, Any, str, list[str]]] = [
    # a misspelt range kind, on a number, a list and a string
    (
        "model.learning_rate",
        {"flaot": [0.01, 0.3]},
        "model.learning_rate",
        ["unknown range kind 'flaot'", "did you mean 'float'?"],
    ),
    (
        "feature_groups",
        {"subest": ["momentum", "volume"]},
        "feature_groups",
        ["unknown range kind 'subest'", "did you mean 'subset'?"],
    ),
    (
        "timeframe",
        {"choise": ["1h", "4h"]},
        "timeframe",
        ["unknown range kind 'choise'", "did you mean 'choice'?"],
    ),
    (
        "target.horizon",
        {"low": 1, "high": 5},
        "target.horizon",
        ["unknown range kind", "a range is one of: int, float, choice, subset"],
    ),
    # the sweep: block's enums
    (
        "sweep.sampler",
        "tpee",
        "sweep.sampler",
        [
            "must be one of tpe, random, cmaes, qmc, nsgaii, gp",
            "(got 'tpee')",
            "did you mean 'tpe'?",
        ],
    ),
    ("sweep.pruner", "medain", "sweep.pruner", ["did you mean 'median'?"]),
    (
        "sweep.pruner",
        {"type": "percentil", "percentile": 25},
        "sweep.pruner.type",
        ["did you mean 'percentile'?"],
    ),
    ("sweep.direction", "maximise", "sweep.direction", ["did you mean 'maximize'?"]),
    ("sweep.objective", "sharp", "sweep.objective", ["did you mean 'sharpe'?"]),
    (
        "sweep.constraints",
        {"min_trade": 30},
        "sweep.constraints.min_trade",
        ["did you mean 'min_trades'"],
    ),
    ("sweep.samplr", "tpe", "sweep.samplr", ["unknown key", "did you mean 'sampler'?"]),
    ("sweep.trials", 0, "sweep.trials", ["must be >= 1", "(got 0)"]),
    ("sweep.seed", "abc", "sweep.seed", ["must be an integer", "(got 'abc')"]),
    # the experiment's enums and bounds
    ("timeframe", "4hr", "timeframe", ["must be one of 1m, 5m", "did you mean '4h'?"]),
    (
        "target.type",
        "binry",
        "target.type",
        ["must be one of binary, trade, triple_barrier", "did you mean 'binary'?"],
    ),
    (
        "training.cv",
        {"type": "walkforward"},
        "training.cv.type",
        ["must be walk_forward", "did you mean 'walk_forward'?"],
    ),
    (
        "training.cv",
        {"type": "walk_forward", "mode": "expandng"},
        "training.cv.mode",
        ["did you mean 'expanding'?"],
    ),
    ("training.cv", {"type": "walk_forward", "folds": 1}, "training.cv.folds", ["must be >= 2"]),
    ("model_type", "xgbost", "model_type", ["did you mean 'xgboost'?"]),
    ("feature_groups", ["momentun"], "feature_groups", ["did you mean 'momentum'?"]),
    ("position", [1, 2], "position", ["must be a mapping"]),
    ("data.start", "yesterday", "data.start", ["must be a date or a UTC time", "2021-01-01"]),
    ("training.min_samples", 0, "training.min_samples", ["must be >= 1"]),
    ("model.max_depth", "deep", "model.max_depth", ["must be an integer"]),
]


@pytest.mark.parametrize(
    ("dotted", "value", "key", "fragments"), CASES, ids=[f"{c[0]}={c[1]}" for c in CASES]
)
def test_a_bad_value_gets_one_line_in_sweeps_words(
    tmp_path: Path, dotted: str, value: Any, key: str, fragments: list[str]
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(_with(dotted, value), sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_space(path)
    message = err.value.one_line()
    assert "\n" not in message
    assert message.startswith(f"{path}: {key} (line "), message
    for fragment in fragments:
        assert fragment in message, message
    # pydantic's own wording never reaches the user
    for raw in ("Input should", "input should", "Value error", "validation error", "pydantic"):
        assert raw not in message, message
