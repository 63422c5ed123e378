"""`sweep.select` and `sweep.robust_top` in a space file: valid forms and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tiny_space

from sweep.core.errors import ConfigError
from sweep.study.space import load_space


def write(tmp_path: Path, sweep: dict[str, Any]) -> Path:
    data = tiny_space("sel")
    data["sweep"].update(sweep)
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_defaults_and_valid_forms(tmp_path: Path) -> None:
    s = load_space(write(tmp_path, {})).settings
    assert (s.select, s.robust_top) == ("peak", 5)
    s = load_space(write(tmp_path, {"select": "robust", "robust_top": 3})).settings
    assert (s.select, s.robust_top) == ("robust", 3)
    s = load_space(write(tmp_path, {"select": "peak", "robust_top": 50})).settings
    assert (s.select, s.robust_top) == ("peak", 50)


@pytest.mark.parametrize(
    ("sweep", "key", "fragments"),
    [
        (
            {"select": "robst"},
            "sweep.select",
            ["'robst' is not a selection rule", "did you mean 'robust'?", "rules: peak, robust"],
        ),
        ({"select": "peek"}, "sweep.select", ["did you mean 'peak'?"]),
        ({"select": "plateau"}, "sweep.select", ["rules: peak, robust"]),
        ({"select": 1}, "sweep.select", ["must be a string"]),
        ({"select": None}, "sweep.select", ["must be a string"]),
        ({"select": ["robust"]}, "sweep.select", ["must be a string"]),
        ({"robust_top": 1}, "sweep.robust_top", ["must be >= 2", "(got 1)"]),
        ({"robust_top": 0}, "sweep.robust_top", ["must be >= 2"]),
        ({"robust_top": 51}, "sweep.robust_top", ["must be <= 50"]),
        ({"robust_top": "5"}, "sweep.robust_top", ["must be an integer"]),
        ({"robust_top": 2.5}, "sweep.robust_top", ["must be an integer"]),
        ({"robust_top": True}, "sweep.robust_top", ["must be an integer"]),
        ({"robust_top": float("inf")}, "sweep.robust_top", ["must be an integer"]),
        ({"selct": "robust"}, "sweep.selct", ["unknown key", "did you mean 'select'?"]),
        ({"robust_tops": 3}, "sweep.robust_tops", ["unknown key", "did you mean 'robust_top'?"]),
    ],
)
def test_bad_select_settings_name_file_key_and_value(
    tmp_path: Path, sweep: dict[str, Any], key: str, fragments: list[str]
) -> None:
    path = write(tmp_path, sweep)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {key} (line "), message
    for fragment in fragments:
        assert fragment in message, message


def test_a_short_pool_says_why_when_no_trial_met_the_constraints() -> None:
    from sweep.study.robust import pool_note

    thresholds = {"min_sharpe": 1.0, "min_trades": 30}

    def row(sharpe: float, trades: int, failures: list[str]) -> dict[str, object]:
        return {
            "status": "ok",
            "metrics": {"sharpe": sharpe, "n_trades": trades},
            "gate_failures": failures,
        }

    missed = [row(0.9, 32, ["sharpe 0.90 < 1.00"]), row(0.4, 12, ["sharpe 0.40 < 1.00"])]
    note = pool_note(5, 1, missed, thresholds)
    assert "no trial met the constraints" in note and "is the trial closest" in note, note
    assert "the 2 trials tied closest" in pool_note(5, 2, missed, thresholds)
    met = [*missed, row(1.2, 40, [])]
    assert "only 1 trial(s) are in the pool" in pool_note(5, 1, met, thresholds)
