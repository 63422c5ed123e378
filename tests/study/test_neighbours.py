"""A trial's neighbourhood in its space: one step per kind of range, clipped, deterministic."""

from __future__ import annotations

import math
from typing import Any

import pytest
from conftest import tiny_space

from sweep.study.neighbours import neighbours, one_step, random_neighbours
from sweep.study.space import Param, parse_space


def param(spec: dict[str, Any], path: str = "model.max_depth") -> Param:
    data = tiny_space("nb")
    data["model"] = {"n_estimators": 60, "max_depth": 3}
    data["target"]["horizon"] = 3
    data["target"]["threshold"] = 0.01
    data["backtest"] = {"entry_threshold": 0.5}
    data["feature_groups"] = ["momentum"]
    node = data
    *head, last = path.split(".")
    for k in head:
        node = node[k]
    node[last] = spec
    (p,) = parse_space(data).params
    return p


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ({"int": [2, 8]}, 5, [4, 6]),
        ({"int": [2, 8]}, 2, [3]),  # at a bound: one side only
        ({"int": [2, 8]}, 8, [7]),
        ({"int": [2, 8], "step": 2}, 4, [2, 6]),
        ({"int": [1, 16], "log": True}, 1, [2]),
        ({"int": [3, 3]}, 3, []),  # nothing to move
    ],
)
def test_int_moves_one_step(spec: dict[str, Any], value: int, expected: list[int]) -> None:
    assert one_step(param(spec), value) == expected


def test_float_moves_ten_percent_of_its_range() -> None:
    p = param({"float": [0.3, 0.7]}, "backtest.entry_threshold")
    assert one_step(p, 0.5) == pytest.approx([0.46, 0.54])
    assert one_step(p, 0.32) == pytest.approx([0.3, 0.36])  # clipped to the bound
    assert one_step(p, 0.3) == pytest.approx([0.34])  # the bound itself: one side


def test_log_float_moves_ten_percent_of_its_range_in_log_space() -> None:
    p = param({"float": [0.001, 0.1], "log": True}, "target.threshold")
    lo, hi = one_step(p, 0.01)
    ratio = 100**0.1  # a tenth of two decades
    assert lo == pytest.approx(0.01 / ratio) and hi == pytest.approx(0.01 * ratio)
    assert math.log(hi) - math.log(0.01) == pytest.approx(math.log(0.01) - math.log(lo))


def test_float_with_step_stays_on_its_grid() -> None:
    p = param({"float": [0.3, 0.7], "step": 0.05}, "backtest.entry_threshold")
    assert one_step(p, 0.5) == pytest.approx([0.45, 0.55])
    for v in one_step(p, 0.35):
        assert round((v - 0.3) / 0.05, 9) == round((v - 0.3) / 0.05)


def test_choice_moves_to_each_other_value() -> None:
    p = param({"choice": ["1h", "2h", "4h"]}, "timeframe")
    assert one_step(p, "2h") == ["1h", "4h"]


def test_subset_adds_or_removes_one_element_within_its_sizes() -> None:
    p = param(
        {"subset": ["momentum", "volume", "volatility"], "min_size": 1, "max_size": 2},
        "feature_groups",
    )
    # {momentum}: add volume or volatility; removing momentum would leave nothing (min_size 1)
    assert one_step(p, "momentum") == ["momentum+volume", "momentum+volatility"]
    # {momentum, volatility}: remove either; adding volume would exceed max_size 2
    assert one_step(p, "momentum+volatility") == ["volatility", "momentum"]


def test_neighbours_move_one_parameter_at_a_time_with_readable_labels() -> None:
    space = parse_space(tiny_space("nb"))
    values = {
        "feature_groups": "momentum+volume",
        "target.horizon": 3,
        "target.threshold": 0.01,
        "model.max_depth": 4,
        "backtest.entry_threshold": 0.4,
    }
    found = neighbours(space.params, values)
    assert all(len(v.changes) == 1 and v.kind == "neighbour" for v in found)
    assert len({v.key for v in found}) == len(found)
    labels = [v.label for v in found]
    assert "model.max_depth 4 → 3" in labels  # 4 is the top of [2, 4]: no 5
    assert "model.max_depth 4 → 5" not in labels
    assert "target.horizon 3 → 2" in labels and "target.horizon 3 → 4" in labels
    assert "feature_groups momentum+volume → momentum+volume+volatility" in labels
    # every neighbour gives a valid config of the space
    for v in found:
        space.config_for({**values, **v.changes}, "nb-t0001")


def test_random_neighbours_are_seeded_distinct_and_move_several_parameters() -> None:
    space = parse_space(tiny_space("nb"))
    values = {
        "feature_groups": "momentum",
        "target.horizon": 3,
        "target.threshold": 0.01,
        "model.max_depth": 3,
        "backtest.entry_threshold": 0.4,
    }
    a = random_neighbours(space.params, values, 6, seed=11)
    b = random_neighbours(space.params, values, 6, seed=11)
    c = random_neighbours(space.params, values, 6, seed=12)
    assert [v.key for v in a] == [v.key for v in b]  # a resumed command draws the same
    assert [v.key for v in a] != [v.key for v in c]
    assert len(a) == 6 and len({v.key for v in a}) == 6
    assert all(2 <= len(v.changes) <= 3 and v.kind == "random" for v in a)
    # drawing more keeps the first ones
    assert [v.key for v in random_neighbours(space.params, values, 8, seed=11)][:6] == [
        v.key for v in a
    ]
    assert random_neighbours(space.params, values, 0, seed=11) == []
