"""Experiment configs: the seed verbatim, defaults, and one-line errors for every bad input."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import seed_with

from sweep.core.config import ExperimentConfig
from sweep.core.errors import ConfigError, SweepError
from sweep.core.experiment import load_experiment, validate_experiment

ROOT = Path(__file__).resolve().parents[2]
SEED_YAML = ROOT / "experiments" / "btc-xgb-4h-momentum.yaml"
SEED: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


with_value = seed_with


def renamed(dotted: str, new_key: str) -> dict[str, Any]:
    data = copy.deepcopy(SEED)
    *head, last = dotted.split(".")
    node = data
    for k in head:
        node = node[k]
    node[new_key] = node.pop(last)
    return data


def load_error(tmp_path: Path, data: dict[str, Any] | str) -> tuple[Path, str]:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert isinstance(info.value, SweepError)
    assert isinstance(info.value, ValueError)
    return path, message


# --- the seed ------------------------------------------------------------------------------------


def test_seed_loads_verbatim_with_defaults() -> None:
    cfg = load_experiment(SEED_YAML)
    assert cfg.experiment_id == "btc-xgb-4h-momentum"
    assert cfg.symbol == "BTC/USDT"
    assert cfg.timeframe == "4h"
    assert cfg.model_type == "xgboost"
    assert cfg.feature_groups == ["momentum", "volume", "volatility"]
    assert (cfg.target.type, cfg.target.horizon, cfg.target.threshold) == ("binary", 3, 0.008)
    assert (cfg.position.size, cfg.position.hold_max) == (0.02, 6)
    assert cfg.training.train_ratio == 0.70
    assert cfg.training.min_samples == 1000
    assert cfg.training.early_stopping_rounds == 50
    # Documented defaults of the optional blocks.
    assert cfg.training.validation_ratio == 0.2
    assert cfg.seed == 42
    assert cfg.model.n_estimators == 500
    assert cfg.model.max_depth == 4
    assert cfg.model.learning_rate == 0.05
    assert cfg.backtest.fee == 0.001
    assert cfg.backtest.slippage == 0.0005
    assert cfg.backtest.entry_threshold == 0.5
    assert cfg.gate.min_sharpe == 1.0
    assert cfg.gate.min_win_rate == 0.5
    assert cfg.gate.min_trades == 30
    assert cfg.gate.min_dsr is None
    assert (cfg.data.dir, cfg.data.start, cfg.data.end) == (None, None, None)


def test_seed_json_round_trips() -> None:
    cfg = load_experiment(SEED_YAML)
    again = validate_experiment(cfg.to_json_dict())
    assert again == cfg
    assert again.fingerprint() == cfg.fingerprint()


def test_optional_blocks_override_defaults(tmp_path: Path) -> None:
    data = copy.deepcopy(SEED)
    data["model"] = {"max_depth": 6}
    data["gate"] = {"min_sharpe": None, "min_trades": 5}
    data["data"] = {"dir": "elsewhere", "start": "2020-01-01T00:00:00Z"}
    data["seed"] = 7
    cfg = load_experiment(write(tmp_path, data))
    assert cfg.model.max_depth == 6
    assert cfg.model.learning_rate == 0.05
    assert cfg.gate.min_sharpe is None
    assert cfg.gate.min_trades == 5
    assert cfg.data.dir == "elsewhere"
    assert cfg.data.start is not None and cfg.data.start.year == 2020
    assert cfg.seed == 7


def test_fingerprint_equal_for_equal_configs_and_changes_with_a_value() -> None:
    a = validate_experiment(copy.deepcopy(SEED))
    b = validate_experiment(copy.deepcopy(SEED))
    assert a.fingerprint() == b.fingerprint()
    # Writing a default explicitly is the same config.
    explicit = copy.deepcopy(SEED)
    explicit["seed"] = 42
    assert validate_experiment(explicit).fingerprint() == a.fingerprint()
    for dotted, value in [
        ("target.threshold", 0.009),
        ("target.horizon", 4),
        ("position.size", 0.03),
        ("feature_groups", ["momentum", "volume"]),
        ("model.max_depth", 5),
        ("seed", 1),
        ("backtest.bars_per_year", 8760.0),
    ]:
        changed = validate_experiment(with_value(dotted, value))
        assert changed.fingerprint() != a.fingerprint(), dotted


def test_bars_per_year_left_at_null_keeps_existing_fingerprints() -> None:
    # A key added later with the default null must not change the hash of configs registered
    # before it: values equal to their defaults are left out of the hashed JSON.
    from sweep.core.config import non_default

    a = validate_experiment(copy.deepcopy(SEED))
    assert a.backtest.bars_per_year is None
    assert "bars_per_year" not in non_default(a).get("backtest", {})
    explicit = validate_experiment(with_value("backtest.bars_per_year", None))
    assert explicit.fingerprint() == a.fingerprint()


# --- bad input -----------------------------------------------------------------------------------


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    text = "experiment_id: x\ntarget:\n  horizon: 3\n bad: [\n"
    _, message = load_error(tmp_path, text)
    assert "malformed YAML" in message
    assert "line 4" in message
    assert "; check indentation" in message


def test_a_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    _, message = load_error(tmp_path, "- a\n- b\n")
    assert "mapping" in message
    assert "'list'" in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("data", "key", "suggestion"),
    [
        ({**SEED, "foo": 1}, "foo", None),
        ({**SEED, "featur_group": ["momentum"]}, "featur_group", "feature_groups"),
        (with_value("target.horizn", 3), "target.horizn", "horizon"),
        (with_value("gate.min_sharp", 1.0), "gate.min_sharp", "min_sharpe"),
        (with_value("training.train_ratoi", 0.7), "training.train_ratoi", "train_ratio"),
    ],
)
def test_unknown_key_with_did_you_mean(
    tmp_path: Path, data: dict[str, Any], key: str, suggestion: str | None
) -> None:
    _, message = load_error(tmp_path, data)
    assert f": {key} (line " in message
    assert "unknown key" in message
    if suggestion:
        assert f"did you mean '{suggestion}'?" in message
    else:
        assert "allowed keys: experiment_id" in message


@pytest.mark.parametrize(
    ("data", "key", "suggestion"),
    [
        (renamed("training.train_ratio", "trian_ratio"), "training.trian_ratio", "train_ratio"),
        (renamed("feature_groups", "featur_groups"), "featur_groups", "feature_groups"),
    ],
)
def test_misspelt_required_key_gets_did_you_mean(
    tmp_path: Path, data: dict[str, Any], key: str, suggestion: str
) -> None:
    _, message = load_error(tmp_path, data)
    assert f": {key} (line " in message
    assert f"did you mean '{suggestion}'?" in message


def test_missing_required_key(tmp_path: Path) -> None:
    data = copy.deepcopy(SEED)
    del data["position"]
    _, message = load_error(tmp_path, data)
    assert ": position: required key is missing" in message


# (dotted key, bad value, expected fragment of the message, repr of the value in it)
BAD_VALUES: list[tuple[str, Any, str, str]] = [
    ("target.horizon", "abc", "must be an integer", "'abc'"),
    ("target.horizon", 3.5, "must be an integer", "3.5"),
    ("training.train_ratio", "high", "must be a number", "'high'"),
    ("position", "big", "must be a mapping", "'big'"),
    ("target.horizon", 0, "must be >= 1", "0"),
    ("target.horizon", -2, "must be >= 1", "-2"),
    ("target.threshold", 0, "must be > 0", "0"),
    ("target.threshold", -0.01, "must be > 0", "-0.01"),
    ("training.train_ratio", 0, "must be >= 0.05", "0"),
    ("training.train_ratio", 1, "must be <= 0.95", "1"),
    ("training.train_ratio", 1.5, "must be <= 0.95", "1.5"),
    ("position.size", 0, "must be >= 0.0001", "0"),
    ("position.size", 1.2, "must be <= 1", "1.2"),
    ("timeframe", "3h", "must be one of 1m, 5m", "'3h'"),
    ("symbol", "btcusdt", "BASE/QUOTE", "'btcusdt'"),
    ("symbol", "BTC-USDT", "BASE/QUOTE", "'BTC-USDT'"),
    ("symbol", "BTC/USDT:", "BASE/QUOTE", "'BTC/USDT:'"),
    ("symbol", "BTC/USDT:USDT:X", "BASE/QUOTE", "'BTC/USDT:USDT:X'"),
    ("symbol", "BTC/usdt:USDT", "futures: BTC/USDT:USDT", "'BTC/usdt:USDT'"),
    ("experiment_id", "../x", "safe name", "'../x'"),
    ("experiment_id", "a/b", "safe name", "'a/b'"),
    ("experiment_id", "has space", "safe name", "'has space'"),
    ("experiment_id", "", "safe name", "''"),
    ("experiment_id", ".hidden", "safe name", "'.hidden'"),
    ("feature_groups", [], "needs at least 1 item", "'[]'"),
    ("gate.min_alpha", float("nan"), "finite number", "nan"),
    ("gate.min_sharpe", float("inf"), "finite number", "inf"),
    ("backtest.bars_per_year", 0, "must be > 0", "0"),
    ("backtest.bars_per_year", -8760, "must be > 0", "-8760"),
    ("backtest.bars_per_year", 2_000_000, "must be <= 1000000", "2000000"),
    ("backtest.bars_per_year", "8760", "must be a number", "'8760'"),
    ("backtest.bars_per_year", True, "must be a number", "True"),
    ("backtest.bars_per_year", float("nan"), "must be a finite number", "nan"),
    ("backtest.bars_per_year", float("inf"), "must be a finite number", "inf"),
]


@pytest.mark.parametrize(("key", "value", "fragment", "shown"), BAD_VALUES)
def test_bad_value_names_file_key_and_value(
    tmp_path: Path, key: str, value: Any, fragment: str, shown: str
) -> None:
    path, message = load_error(tmp_path, with_value(key, value))
    assert message.startswith(f"{path}: {key} (line ")
    assert fragment in message
    assert f"(got {shown})" in message


@pytest.mark.parametrize("symbol", ["BTC/USDT", "XAU/USD", "BTC/USDT:USDT", "1000PEPE/USDT:USDT"])
def test_symbols_spot_and_freqtrade_futures(tmp_path: Path, symbol: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(with_value("symbol", symbol)))
    assert load_experiment(path).symbol == symbol


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    load_error(tmp_path, with_value("target.horizon", True))


@pytest.mark.parametrize(
    ("groups", "bad", "did_you_mean"),
    [
        (["momentum", "bogus"], "bogus", None),
        (["momentun"], "momentun", "momentum"),
    ],
)
def test_unknown_feature_group_lists_known_groups(
    tmp_path: Path, groups: list[str], bad: str, did_you_mean: str | None
) -> None:
    path, message = load_error(tmp_path, with_value("feature_groups", groups))
    assert message.startswith(f"{path}: feature_groups (line ")
    assert f"unknown feature group (got '{bad}')" in message
    assert "known groups: momentum, volume, volatility, trend" in message
    if did_you_mean:
        assert f"did you mean '{did_you_mean}'?" in message


def test_unknown_model_type(tmp_path: Path) -> None:
    path, message = load_error(tmp_path, with_value("model_type", "lightgbm"))
    assert message.startswith(f"{path}: model_type (line ")
    assert "unknown model_type (got 'lightgbm')" in message
    assert "known model types: xgboost" in message


def test_validate_without_a_file_still_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        validate_experiment(with_value("position.size", 2.0))
    assert info.value.key == "position.size"
    assert info.value.value == 2.0
    assert str(info.value).startswith("position.size: ")


def test_config_is_immutable() -> None:
    cfg = load_experiment(SEED_YAML)
    with pytest.raises(ValueError):
        cfg.seed = 1  # type: ignore[misc]
    assert isinstance(cfg, ExperimentConfig)
