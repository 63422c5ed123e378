"""Config keys of targets, sides and exits: bounds, per-type refusals, fingerprints, warnings.

Every bad value goes through ``sweep run`` in-process: exit 2, one line naming the file, key and
value, nothing written to the registry or the models folder.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import SEED_YAML
from pydantic import BaseModel

from sweep.cli.main import main
from sweep.core.config import ExperimentConfig
from sweep.core.experiment import validate_experiment
from sweep.store.registry import open_registry
from sweep.study.space import load_space

SEED: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())


def variant(target: dict[str, Any] | None = None, **blocks: dict[str, Any]) -> dict[str, Any]:
    """The seed with its target replaced and keys of other blocks set."""
    data = copy.deepcopy(SEED)
    if target is not None:
        data["target"] = target
    for block, values in blocks.items():
        data.setdefault(block, {}).update(values)
    return data


TRADE = {"type": "trade", "threshold": 0.0}
BARRIER = {"type": "triple_barrier", "take_profit": 0.02, "stop_loss": 0.01}

# (case id, config, key named in the error, fragments of the message)
BAD: list[tuple[str, dict[str, Any], str, list[str]]] = [
    (
        "trade-horizon",
        variant({**TRADE, "horizon": 3}),
        "target.horizon",
        ["does not apply", "hold_max", "(got 3)"],
    ),
    (
        "barrier-horizon",
        variant({**BARRIER, "horizon": 3}),
        "target.horizon",
        ["does not apply to target type triple_barrier"],
    ),
    (
        "binary-no-horizon",
        variant({"type": "binary", "threshold": 0.01}),
        "target.horizon",
        ["required for target type binary"],
    ),
    (
        "trade-no-threshold",
        variant({"type": "trade"}),
        "target.threshold",
        ["required for target type trade"],
    ),
    (
        "trade-negative-threshold",
        variant({**TRADE, "threshold": -0.01}),
        "target.threshold",
        ["must be >= 0", "(got -0.01)"],
    ),
    (
        "trade-threshold-10",
        variant({**TRADE, "threshold": 10.0}),
        "target.threshold",
        ["must be < 10", "(got 10.0)"],
    ),
    (
        "barrier-threshold",
        variant({**BARRIER, "threshold": 0.01}),
        "target.threshold",
        ["does not apply to target type triple_barrier"],
    ),
    (
        "binary-take-profit",
        variant({**SEED["target"], "take_profit": 0.02}),
        "target.take_profit",
        ["does not apply to target type binary", "position.take_profit"],
    ),
    (
        "binary-stop-loss",
        variant({**SEED["target"], "stop_loss": 0.02}),
        "target.stop_loss",
        ["does not apply to target type binary"],
    ),
    (
        "binary-atr",
        variant({**SEED["target"], "atr_multiple": True}),
        "target.atr_multiple",
        ["does not apply to target type binary"],
    ),
    (
        "trade-take-profit",
        variant({**TRADE, "take_profit": 0.02}),
        "target.take_profit",
        ["does not apply to target type trade"],
    ),
    (
        "barrier-no-take-profit",
        variant({"type": "triple_barrier", "stop_loss": 0.01}),
        "target.take_profit",
        ["required for target type triple_barrier"],
    ),
    (
        "take-profit-0",
        variant({**BARRIER, "take_profit": 0.0}),
        "target.take_profit",
        ["must be > 0", "(got 0.0)"],
    ),
    (
        "take-profit-fraction-11",
        variant({**BARRIER, "take_profit": 11.0}),
        "target.take_profit",
        ["must be <= 10", "atr_multiple"],
    ),
    (
        "take-profit-atr-101",
        variant({**BARRIER, "atr_multiple": True, "take_profit": 101.0}),
        "target.take_profit",
        ["must be <= 100"],
    ),
    (
        "stop-fraction-1",
        variant({**BARRIER, "stop_loss": 1.0}),
        "target.stop_loss",
        ["must be < 1"],
    ),
    (
        "stop-nan",
        variant({**BARRIER, "stop_loss": float("nan")}),
        "target.stop_loss",
        ["(got nan)"],
    ),
    (
        "target-type",
        variant({**TRADE, "type": "trades"}),
        "target.type",
        ["must be one of binary, trade, triple_barrier", "(got 'trades')"],
    ),
    (
        "target-typo",
        variant({**BARRIER, "take_proft": 0.02}),
        "target.take_proft",
        ["did you mean 'take_profit'?"],
    ),
    (
        "side",
        variant(position={"side": "both"}),
        "position.side",
        ["must be one of long, short", "(got 'both')"],
    ),
    ("side-typo", variant(position={"sidee": "short"}), "position.sidee", ["did you mean 'side'?"]),
    (
        "position-take-profit",
        variant(position={"take_profit": -0.1}),
        "position.take_profit",
        ["must be > 0"],
    ),
    (
        "position-stop-fraction",
        variant(position={"stop_loss": 1.5}),
        "position.stop_loss",
        ["must be < 1"],
    ),
    (
        "position-stop-atr",
        variant(position={"atr_multiple": True, "stop_loss": 1000.0}),
        "position.stop_loss",
        ["must be <= 100"],
    ),
    (
        "position-atr-string",
        variant(position={"atr_multiple": "yes"}),
        "position.atr_multiple",
        ["must be true or false", "(got 'yes')"],
    ),
    (
        "borrow-negative",
        variant(backtest={"borrow_rate": -0.1}),
        "backtest.borrow_rate",
        ["must be >= 0"],
    ),
    (
        "borrow-3",
        variant(backtest={"borrow_rate": 3.0}),
        "backtest.borrow_rate",
        ["must be <= 2"],
    ),
    (
        "borrow-typo",
        variant(backtest={"borow_rate": 0.1}),
        "backtest.borow_rate",
        ["did you mean 'borrow_rate'?"],
    ),
    (
        "sample-weight",
        variant(training={"sample_weight": "unique"}),
        "training.sample_weight",
        ["must be one of none, uniqueness", "(got 'unique')"],
    ),
    (
        "sample-weight-typo",
        variant(training={"sample_weights": "uniqueness"}),
        "training.sample_weights",
        ["did you mean 'sample_weight'?"],
    ),
]


def db_counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as c:
        e = c.execute("SELECT count(*) FROM experiments").fetchone()
        r = c.execute("SELECT count(*) FROM model_results").fetchone()
    assert e is not None and r is not None
    return int(e[0]), int(r[0])


@pytest.fixture
def registry(workdir: Path) -> str:
    url = os.environ["SWEEP_DATABASE_URL"]
    open_registry(url).close()
    return url


@pytest.mark.parametrize(("name", "data", "key", "fragments"), BAD, ids=[c[0] for c in BAD])
def test_bad_value_exits_2_through_sweep_run_and_writes_nothing(
    registry: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: dict[str, Any],
    key: str,
    fragments: list[str],
) -> None:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    before = db_counts(registry)
    assert main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error: {path}: {key}")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert db_counts(registry) == before
    assert not (workdir / ".sweep" / "models").exists()


BAD_SPACES: list[tuple[str, dict[str, Any], str, list[str]]] = [
    (
        "type-range",
        variant({"type": {"choice": ["trade", "triple_barrier"]}, "threshold": 0.0}),
        "target.type",
        ["cannot be tuned"],
    ),
    (
        "take-profit-low-0",
        variant({**BARRIER, "take_profit": {"float": [0.0, 0.05]}}),
        "target.take_profit",
        ["must be > 0", "(got 0.0)"],
    ),
    (
        "side-choice",
        variant(position={"side": {"choice": ["long", "sideways"]}}),
        "position.side",
        ["(got 'sideways')"],
    ),
    (
        "borrow-range",
        variant(backtest={"borrow_rate": {"float": [0.0, 5.0]}}),
        "backtest.borrow_rate",
        ["must be <= 2", "(got 5.0)"],
    ),
    (
        "horizon-range-for-trade",
        variant({**TRADE, "horizon": {"int": [1, 12]}}),
        "target.horizon",
        ["does not apply to target type trade"],
    ),
]


@pytest.mark.parametrize(
    ("name", "data", "key", "fragments"), BAD_SPACES, ids=[c[0] for c in BAD_SPACES]
)
def test_bad_range_of_a_new_key_exits_2_before_trial_0(
    registry: str,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    data: dict[str, Any],
    key: str,
    fragments: list[str],
) -> None:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["run", str(path), "--trials", "2"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = err.strip()
    assert "\n" not in line
    assert line.startswith(f"error: {path}: {key}"), line
    for fragment in fragments:
        assert fragment in line, line
    assert db_counts(registry) == (0, 0)


def test_new_keys_are_tunable(tmp_path: Path) -> None:
    data = variant(
        {**BARRIER, "take_profit": {"float": [0.01, 0.05]}, "stop_loss": {"float": [0.005, 0.02]}},
        position={"side": {"choice": ["long", "short"]}, "take_profit": {"float": [0.01, 0.05]}},
        backtest={"borrow_rate": {"float": [0.0, 0.2]}},
        training={"sample_weight": {"choice": ["none", "uniqueness"]}},
    )
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    space = load_space(path)
    assert {p.path for p in space.params} == {
        "target.take_profit",
        "target.stop_loss",
        "position.side",
        "position.take_profit",
        "backtest.borrow_rate",
        "training.sample_weight",
    }
    values = {
        "target.take_profit": 0.03,
        "target.stop_loss": 0.01,
        "position.side": "short",
        "position.take_profit": 0.02,
        "backtest.borrow_rate": 0.1,
        "training.sample_weight": "uniqueness",
    }
    cfg = space.config_for(values, "x-t0001")
    assert (cfg.position.side, cfg.position.take_profit, cfg.target.take_profit) == (
        "short",
        0.02,
        0.03,
    )
    assert (cfg.backtest.borrow_rate, cfg.training.sample_weight) == (0.1, "uniqueness")


# --- the round-trip cost warning -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "backtest", "warns"),
    [
        ({"type": "binary", "horizon": 3, "threshold": {"float": [0.002, 0.03]}}, {}, True),
        ({"type": "binary", "horizon": 3, "threshold": {"float": [0.004, 0.03]}}, {}, False),
        # the space's highest cost counts: 2 x (0.002 + 0.0005) = 0.005 > 0.004
        (
            {"type": "binary", "horizon": 3, "threshold": {"float": [0.004, 0.03]}},
            {"fee": {"float": [0.0005, 0.002]}},
            True,
        ),
        ({"type": "binary", "horizon": 3, "threshold": 0.002}, {}, True),
        ({"type": "binary", "horizon": 3, "threshold": 0.008}, {}, False),
        # a trade threshold is net of costs: 0 is fine
        ({"type": "trade", "threshold": {"float": [0.0, 0.01]}}, {}, False),
    ],
)
def test_space_check_warns_when_a_binary_threshold_can_fall_below_costs(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    target: dict[str, Any],
    backtest: dict[str, Any],
    warns: bool,
) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(variant(target, backtest=backtest), sort_keys=False))
    with caplog.at_level(logging.WARNING, logger="sweep.study.space"):
        load_space(path)
    found = [r.getMessage() for r in caplog.records if "round-trip cost" in r.getMessage()]
    assert bool(found) == warns, found
    if warns:
        assert found[0].startswith(f"{path}: target.threshold (line ")


def test_shipped_spaces_never_reach_below_costs(caplog: pytest.LogCaptureFixture) -> None:
    root = SEED_YAML.parents[1] / "search_spaces"
    with caplog.at_level(logging.WARNING, logger="sweep.study.space"):
        spaces = [load_space(p) for p in sorted(root.glob("*.yaml"))]
    assert len(spaces) >= 2
    assert not [r for r in caplog.records if "round-trip cost" in r.getMessage()]
    kinds = {s.template["target"]["type"] for s in spaces}
    assert kinds >= {"trade", "triple_barrier"}


# --- fingerprints ---------------------------------------------------------------------------------


def defaults_of(model: type[BaseModel]) -> dict[str, Any]:
    """Every field of ``model`` that has a default, with it (JSON-safe)."""
    out = {}
    for name, field in model.model_fields.items():
        if not field.is_required():
            default = field.get_default(call_default_factory=True)
            out[name] = (
                default.model_dump(mode="json") if isinstance(default, BaseModel) else default
            )
    return out


def test_writing_any_default_explicitly_leaves_the_fingerprint_unchanged() -> None:
    seed = validate_experiment(copy.deepcopy(SEED)).fingerprint()
    checked = 0
    for block, field in ExperimentConfig.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            for key, default in defaults_of(ann).items():
                if block == "target" and key in ("horizon", "threshold"):
                    continue  # the seed sets them
                data = copy.deepcopy(SEED)
                data.setdefault(block, {})[key] = default
                assert validate_experiment(data).fingerprint() == seed, f"{block}.{key}"
                checked += 1
        elif not field.is_required():
            data = copy.deepcopy(SEED)
            data[block] = field.get_default(call_default_factory=True)
            assert validate_experiment(data).fingerprint() == seed, block
            checked += 1
    # every block at once, in full
    full = validate_experiment(copy.deepcopy(SEED)).to_json_dict()
    assert validate_experiment(full).fingerprint() == seed
    assert checked > 40


def test_new_keys_at_their_defaults_leave_the_seed_fingerprint_unchanged() -> None:
    seed = validate_experiment(copy.deepcopy(SEED)).fingerprint()
    explicit = variant(
        {**SEED["target"], "type": "binary"},
        position={"side": "long", "take_profit": None, "stop_loss": None, "atr_multiple": False},
        backtest={"borrow_rate": 0.0},
        training={"sample_weight": "none"},
    )
    assert validate_experiment(explicit).fingerprint() == seed
    for data in (
        variant(position={"side": "short"}),
        variant(position={"stop_loss": 0.02}),
        variant(backtest={"borrow_rate": 0.05}),
        variant(training={"sample_weight": "uniqueness"}),
        variant({"type": "trade", "threshold": 0.008}),
        variant(gate={"min_sharpe": None}),  # null where the default is not: a change
    ):
        assert validate_experiment(data).fingerprint() != seed


def test_the_stored_target_block_holds_the_keys_of_its_type() -> None:
    seed = validate_experiment(copy.deepcopy(SEED)).to_json_dict()
    assert seed["target"] == {"type": "binary", "horizon": 3, "threshold": 0.008}
    trade = validate_experiment(variant(TRADE)).to_json_dict()
    assert trade["target"] == {"type": "trade", "threshold": 0.0}
    barrier = validate_experiment(variant(BARRIER)).to_json_dict()
    assert barrier["target"] == {**BARRIER, "atr_multiple": False}
    for data in (seed, trade, barrier):
        assert validate_experiment(data).to_json_dict() == data
