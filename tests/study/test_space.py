"""Search spaces: every range form, applying values, and one-line errors for bad ranges."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.distributions import (
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sweep.core.errors import ConfigError
from sweep.core.experiment import validate_experiment
from sweep.study.optuna_study import make_pruner
from sweep.study.space import SearchSpace, fixed_config_dict, load_space

ROOT = Path(__file__).resolve().parents[2]
SEED_YAML = ROOT / "experiments" / "btc-xgb-4h-momentum.yaml"
SEED: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())
GROUPS = ["momentum", "volume", "volatility", "trend"]


def with_values(**dotted: Any) -> dict[str, Any]:
    """The seed with ``a__b=value`` set at ``a.b``."""
    data = copy.deepcopy(SEED)
    for key, value in dotted.items():
        *head, last = key.split("__")
        node = data
        for k in head:
            node = node.setdefault(k, {})
        node[last] = value
    return data


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def space_of(tmp_path: Path, **dotted: Any) -> SearchSpace:
    return load_space(write(tmp_path, with_values(**dotted)))


def space_error(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, str]:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return path, message


# --- valid forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "spec", "distribution"),
    [
        ("target__horizon", {"int": [1, 11]}, IntDistribution(1, 11)),
        ("target__horizon", {"int": [1, 11], "step": 2}, IntDistribution(1, 11, step=2)),
        ("model__max_depth", {"int": [1, 16], "log": True}, IntDistribution(1, 16, log=True)),
        (
            "position__size",
            {"float": [0.01, 0.05], "step": 0.01},
            FloatDistribution(0.01, 0.05, step=0.01),
        ),
        (
            "target__threshold",
            {"float": [0.002, 0.03], "log": True},
            FloatDistribution(0.002, 0.03, log=True),
        ),
        ("backtest__fee", {"float": [0.0, 0.002]}, FloatDistribution(0.0, 0.002)),
        ("timeframe", {"choice": ["1h", "4h"]}, CategoricalDistribution(["1h", "4h"])),
        (
            "model__learning_rate",
            {"choice": [0.01, 0.1]},
            CategoricalDistribution([0.01, 0.1]),
        ),
    ],
)
def test_range_forms_parse_to_optuna_distributions(
    tmp_path: Path, key: str, spec: dict[str, Any], distribution: Any
) -> None:
    space = space_of(tmp_path, **{key: spec})
    assert space.is_study
    (param,) = space.params
    assert param.path == key.replace("__", ".")
    assert param.distribution == distribution


def test_subset_is_one_categorical_over_allowed_combinations(tmp_path: Path) -> None:
    spec = {"subset": GROUPS, "min_size": 2, "max_size": 3}
    space = space_of(tmp_path, feature_groups=spec)
    (param,) = space.params
    assert param.path == "feature_groups"
    assert param.kind == "subset"
    expected = ["+".join(c) for r in (2, 3) for c in itertools.combinations(GROUPS, r)]
    assert isinstance(param.distribution, CategoricalDistribution)
    assert list(param.distribution.choices) == expected
    assert len(expected) == 6 + 4


def test_subset_defaults_allow_every_non_empty_combination(tmp_path: Path) -> None:
    space = space_of(tmp_path, feature_groups={"subset": GROUPS})
    (param,) = space.params
    assert isinstance(param.distribution, CategoricalDistribution)
    assert len(param.distribution.choices) == 2 ** len(GROUPS) - 1
    assert "momentum" in param.distribution.choices
    assert "+".join(GROUPS) in param.distribution.choices


def test_subset_values_round_trip(tmp_path: Path) -> None:
    space = space_of(tmp_path, feature_groups={"subset": GROUPS, "min_size": 1})
    (param,) = space.params
    assert isinstance(param.distribution, CategoricalDistribution)
    for choice in param.distribution.choices:
        groups = param.to_config_value(choice)
        assert isinstance(groups, list)
        assert "+".join(groups) == choice
        # Listed order is kept, so equal subsets are equal configs.
        assert groups == [g for g in GROUPS if g in groups]
        cfg = space.config_for({"feature_groups": choice}, "x-t0001")
        assert cfg.feature_groups == groups


def test_dotted_names_and_apply_give_a_valid_fixed_config(tmp_path: Path) -> None:
    space = space_of(
        tmp_path,
        feature_groups={"subset": GROUPS},
        target__horizon={"int": [1, 12]},
        target__threshold={"float": [0.002, 0.03], "log": True},
        model__max_depth={"int": [2, 8]},
        timeframe={"choice": ["1h", "4h"]},
        sweep={"objective": "sharpe", "direction": "maximize", "seed": 3},
    )
    names = [p.path for p in space.params]
    assert names == [
        "timeframe",
        "feature_groups",
        "target.horizon",
        "target.threshold",
        "model.max_depth",
    ]
    values = {
        "timeframe": "1h",
        "feature_groups": "volume+trend",
        "target.horizon": 7,
        "target.threshold": 0.011,
        "model.max_depth": 5,
    }
    fixed = space.apply(values, experiment_id="btc-xgb-4h-momentum-t0007")
    assert "sweep" not in fixed
    cfg = validate_experiment(fixed)
    assert cfg.experiment_id == "btc-xgb-4h-momentum-t0007"
    assert cfg.timeframe == "1h"
    assert cfg.feature_groups == ["volume", "trend"]
    assert (cfg.target.horizon, cfg.target.threshold) == (7, 0.011)
    assert cfg.model.max_depth == 5
    # Untouched values come from the file; apply does not change the template.
    assert cfg.position.size == 0.02
    assert space.template["target"]["horizon"] == {"int": [1, 12]}
    # The export form keeps the file's key order.
    exported = fixed_config_dict(space, values, "best")
    assert list(exported) == [k for k in space.raw if k != "sweep"]
    assert list(exported)[:5] == [
        "experiment_id",
        "symbol",
        "timeframe",
        "model_type",
        "feature_groups",
    ]
    assert validate_experiment(exported).experiment_id == "best"


def test_optuna_trials_map_onto_valid_configs(tmp_path: Path) -> None:
    space = space_of(
        tmp_path,
        feature_groups={"subset": GROUPS, "max_size": 2},
        target__horizon={"int": [1, 12], "step": 1},
        position__size={"float": [0.01, 0.05], "step": 0.01},
        model__learning_rate={"float": [0.01, 0.3], "log": True},
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for number in range(20):
        trial = study.ask()
        values = space.suggest(trial)
        assert set(trial.params) == {p.path for p in space.params}
        cfg = space.config_for(values, f"btc-t{number:04d}")
        assert 1 <= len(cfg.feature_groups) <= 2
        assert 1 <= cfg.target.horizon <= 12
        assert cfg.position.size in {0.01, 0.02, 0.03, 0.04, 0.05}
        assert 0.01 <= cfg.model.learning_rate <= 0.3
        study.tell(trial, 0.0)


def test_sweep_settings(tmp_path: Path) -> None:
    space = space_of(
        tmp_path,
        target__horizon={"int": [1, 5]},
        sweep={
            "objective": ["sharpe", "max_drawdown"],
            "direction": ["maximize", "minimize"],
            "sampler": "random",
            "trials": 12,
        },
    )
    assert space.study_name == "btc-xgb-4h-momentum"
    assert space.settings.objectives == ["sharpe", "max_drawdown"]
    assert space.settings.directions == ["maximize", "minimize"]
    assert space.settings.sampler == "random"
    assert space.settings.trials == 12
    broadcast = space_of(
        tmp_path, target__horizon={"int": [1, 5]}, sweep={"objective": ["sharpe", "alpha"]}
    )
    assert broadcast.settings.directions == ["maximize", "maximize"]


def test_a_file_with_no_ranges_is_not_a_study() -> None:
    space = load_space(SEED_YAML)
    assert not space.is_study
    assert space.params == ()
    assert space.settings.objectives == ["sharpe"]


def test_a_sweep_block_alone_does_not_make_a_study(tmp_path: Path) -> None:
    space = space_of(tmp_path, sweep={"objective": "sharpe"})
    assert not space.is_study


def test_a_fixed_file_with_a_bad_value_fails_in_load_space(tmp_path: Path) -> None:
    _, message = space_error(tmp_path, with_values(target__horizon=0))
    assert "target.horizon" in message


# --- invalid forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "spec", "fragments"),
    [
        ("target.horizon", {"int": [5, 2]}, ["low > high", "(got [5, 2])"]),
        ("target.threshold", {"float": [0.03, 0.002]}, ["low > high"]),
        ("target.threshold", {"float": [0, 0.1], "log": True}, ["log scale needs low > 0"]),
        ("model.max_depth", {"int": [0, 8], "log": True}, ["log scale needs low > 0"]),
        ("timeframe", {"choice": []}, ["non-empty list"]),
        (
            "feature_groups",
            {"subset": ["momentum", "volume"], "min_size": 3},
            ["min_size must be between 1 and 2", "(got 3)"],
        ),
        (
            "feature_groups",
            {"subset": GROUPS, "min_size": 3, "max_size": 2},
            ["max_size must be between min_size (3) and 4", "(got 2)"],
        ),
        ("experiment_id", {"choice": ["a", "b"]}, ["cannot be tuned", "ranges are allowed on"]),
        ("training.min_samples", {"int": [100, 1000]}, ["cannot be tuned"]),
        ("seed", {"int": [1, 10]}, ["cannot be tuned"]),
        (
            "target.horizon",
            {"int": [1, 5], "stpe": 2},
            ["unknown range option 'stpe'", "did you mean 'step'?"],
        ),
        ("target.horizon", {"int": [1, 5.5]}, ["must be integers"]),
        ("target.threshold", {"float": [0.01, 0.02], "log": True, "step": 0.001}, ["log and step"]),
        ("target.horizon", {"int": [1, 5], "choice": [1, 2]}, ["exactly one of"]),
        # Extreme values that make invalid configs fail before trial 0, naming the range.
        ("position.size", {"float": [0.5, 1.5]}, ["must be <= 1", "(got 1.5)"]),
        ("position.hold_max", {"int": [0, 5]}, ["must be >= 1", "(got 0)"]),
        ("training.validation_ratio", {"choice": [0.2, 0.95]}, ["must be < 0.9", "(got 0.95)"]),
        ("feature_groups", {"subset": ["momentum", "bogus"]}, ["unknown feature group"]),
        ("feature_groups", {"choice": [["momentum"], ["bogus"]]}, []),
        ("timeframe", {"choice": ["4h", "3h"]}, ["must be one of 1m,", "(got '3h')"]),
        ("model.max_depth", {"int": [1, 64]}, ["(got 64)"]),
    ],
)
def test_invalid_range_names_the_key(
    tmp_path: Path, dotted: str, spec: dict[str, Any], fragments: list[str]
) -> None:
    path, message = space_error(tmp_path, with_values(**{dotted.replace(".", "__"): spec}))
    assert message.startswith(f"{path}: {dotted} (line ")
    for fragment in fragments:
        assert fragment in message


def test_objective_that_is_not_a_metric(tmp_path: Path) -> None:
    data = with_values(target__horizon={"int": [1, 5]}, sweep={"objective": "sharp"})
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: sweep.objective")
    assert "'sharp' is not a metric" in message
    assert "did you mean 'sharpe'?" in message


def test_unknown_sweep_key(tmp_path: Path) -> None:
    data = with_values(target__horizon={"int": [1, 5]}, sweep={"objectiv": "sharpe"})
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: sweep.objectiv")
    assert "unknown key" in message
    assert "did you mean 'objective'?" in message


def test_direction_count_mismatch(tmp_path: Path) -> None:
    data = with_values(
        target__horizon={"int": [1, 5]},
        sweep={"objective": ["sharpe", "alpha", "auc"], "direction": ["maximize", "minimize"]},
    )
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: sweep.direction")
    assert "one direction per objective" in message


def test_bad_sampler(tmp_path: Path) -> None:
    data = with_values(target__horizon={"int": [1, 5]}, sweep={"sampler": "grid-ish"})
    _, message = space_error(tmp_path, data)
    assert "sweep.sampler" in message


def test_sweep_block_must_be_a_mapping(tmp_path: Path) -> None:
    _, message = space_error(tmp_path, with_values(sweep="sharpe"))
    assert ": sweep (line " in message and ": must be a mapping" in message


def test_train_ratio_cannot_be_tuned_a_study_always_has_folds() -> None:
    from sweep.study.space import parse_space

    data = {
        "experiment_id": "wf",
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "feature_groups": ["momentum"],
        "target": {"horizon": 3, "threshold": 0.01},
        "position": {"size": 0.1, "hold_max": 4},
        "training": {"train_ratio": {"float": [0.6, 0.8]}, "cv": {"folds": 3}},
    }
    with pytest.raises(ConfigError, match=r"training\.train_ratio.*sealed holdout"):
        parse_space(data, file="wf.yaml")
    # Without training.cv a study scores on the default folds: still not tunable, and it says so.
    data["training"] = {"train_ratio": {"float": [0.6, 0.8]}}
    with pytest.raises(ConfigError, match=r"by default: 5 expanding folds"):
        parse_space(data, file="wf.yaml")


def test_a_study_without_folds_scores_on_five_expanding_folds() -> None:
    from sweep.study.space import DEFAULT_CV, parse_space

    data = {
        "experiment_id": "wf",
        "symbol": "BTC/USDT",
        "timeframe": "4h",
        "feature_groups": ["momentum"],
        "target": {"horizon": {"int": [1, 4]}, "threshold": 0.01},
        "position": {"size": 0.1, "hold_max": 4},
        "training": {"train_ratio": 0.7},
    }
    space = parse_space(data, file="wf.yaml")
    assert space.default_cv and space.template["training"]["cv"] == DEFAULT_CV
    assert "cv" not in space.raw["training"]  # the file as written is what the registry keeps
    cfg = space.config_for({"target.horizon": 2}, "wf-t0000")
    assert cfg.training.cv is not None and cfg.training.cv.folds == 5
    data["training"] = {"train_ratio": 0.7, "cv": None}  # null too: a study never scores on test
    assert parse_space(data, file="wf.yaml").default_cv
    data["training"] = {"train_ratio": 0.7, "cv": {"folds": 3}}
    assert not parse_space(data, file="wf.yaml").default_cv
    fixed = dict(data, target={"horizon": 2, "threshold": 0.01}, training={"train_ratio": 0.7})
    single = parse_space(fixed, file="one.yaml")  # no ranges: the seed's train/test meaning
    assert not single.is_study and "cv" not in single.template["training"]


WF = {"type": "walk_forward", "folds": 4}


@pytest.mark.parametrize(
    ("pruner", "kind", "settings"),
    [
        ("median", optuna.pruners.PercentilePruner, (50.0, 5, 2)),
        ({"type": "percentile", "percentile": 25}, optuna.pruners.PercentilePruner, (25.0, 5, 2)),
        (
            {"type": "median", "warmup_folds": 1, "startup_trials": 8},
            optuna.pruners.PercentilePruner,
            (50.0, 8, 1),
        ),
        ({"type": "wilcoxon", "p_threshold": 0.05}, optuna.pruners.WilcoxonPruner, None),
        ("none", optuna.pruners.NopPruner, None),
    ],
)
def test_pruner_by_name_or_with_settings(
    tmp_path: Path, pruner: Any, kind: type, settings: tuple[float, int, int] | None
) -> None:
    space = space_of(
        tmp_path, target__horizon={"int": [1, 5]}, training__cv=WF, sweep={"pruner": pruner}
    )
    made = make_pruner(space.settings)
    assert type(made) is kind
    if settings is not None:
        assert isinstance(made, optuna.pruners.PercentilePruner)
        # Optuna keeps these privately; they are what decides which trial stops when
        got = (made._percentile, made._n_startup_trials, made._n_warmup_steps)
        assert got == settings
    if isinstance(made, optuna.pruners.WilcoxonPruner):
        assert made._p_threshold == 0.05
    name = pruner if isinstance(pruner, str) else pruner["type"]
    assert space.settings.pruner.describe().startswith(name)


@pytest.mark.parametrize(
    ("pruner", "key", "words"),
    [
        ("mediam", "sweep.pruner", "'median'"),
        ({"type": "median", "warmup": 2}, "sweep.pruner.warmup", "did you mean 'warmup_folds'"),
        ({"type": "percentile", "percentile": 100}, "sweep.pruner.percentile", "must be < 100"),
        ({"type": "median", "warmup_folds": 4}, "sweep.pruner.warmup_folds", "4 folds"),
        ({"percentile": 25}, "sweep.pruner.type", "needs a type: none, median"),
        ({"type": "percentile"}, "sweep.pruner", "needs percentile"),
        ({"type": "median", "percentile": 30}, "sweep.pruner", "does not apply to pruner type"),
        ({"type": "wilcoxon", "startup_trials": 9}, "sweep.pruner", "it takes: p_threshold"),
        ({"type": "median", "warmup_folds": "2"}, "sweep.pruner.warmup_folds", "integer"),
        ({"type": "median", "warmup_folds": True}, "sweep.pruner.warmup_folds", "integer"),
        (None, "sweep.pruner", "a name (none, median, percentile, wilcoxon) or a mapping"),
    ],
)
def test_bad_pruner_settings_name_the_key(
    tmp_path: Path, pruner: Any, key: str, words: str
) -> None:
    data = with_values(target__horizon={"int": [1, 5]}, training__cv=WF, sweep={"pruner": pruner})
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: {key}"), message
    assert words in message


def test_with_two_folds_the_default_warmup_is_one_and_wilcoxon_is_refused(tmp_path: Path) -> None:
    two = {"type": "walk_forward", "folds": 2}
    space = space_of(
        tmp_path, target__horizon={"int": [1, 5]}, training__cv=two, sweep={"pruner": "median"}
    )
    assert space.settings.pruner.warmup == 1  # decide after the first of two folds
    data = with_values(
        target__horizon={"int": [1, 5]}, training__cv=two, sweep={"pruner": "wilcoxon"}
    )
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: sweep.pruner")
    assert "sweep.pruner.warmup_folds" not in message  # a key the user did not write
    assert "wilcoxon needs at least 3 folds" in message


def test_the_gp_sampler_is_refused_before_trial_0_without_pytorch(tmp_path: Path) -> None:
    import importlib.util

    data = with_values(target__horizon={"int": [1, 5]}, sweep={"sampler": "gp"})
    if importlib.util.find_spec("torch") is not None:
        assert load_space(write(tmp_path, data)).settings.sampler == "gp"
        return
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: sweep.sampler") and "pip install torch" in message


# --- constraints ---------------------------------------------------------------------------------


def test_constraints_gate_takes_the_files_per_run_gate_checks(tmp_path: Path) -> None:
    space = space_of(
        tmp_path,
        target__horizon={"int": [1, 5]},
        gate={"min_sharpe": 0.5, "min_trades": 40, "max_pbo": 0.5},
        sweep={"constraints": "gate"},
    )
    # the seed's gate keeps its default min_win_rate; max_pbo is about a study, not a trial
    assert space.settings.thresholds == {"min_sharpe": 0.5, "min_win_rate": 0.5, "min_trades": 40}


def test_constraints_mapping_and_the_default(tmp_path: Path) -> None:
    space = space_of(
        tmp_path,
        target__horizon={"int": [1, 5]},
        sweep={"constraints": {"min_trades": 30, "max_drawdown": 0.25}},
    )
    assert space.settings.thresholds == {"min_trades": 30.0, "max_drawdown": 0.25}
    assert space_of(tmp_path, target__horizon={"int": [1, 5]}).settings.thresholds == {}


@pytest.mark.parametrize(
    ("constraints", "gate", "key", "words"),
    [
        ({"min_trade": 30}, None, "sweep.constraints.min_trade", "did you mean 'min_trades'"),
        ({"max_pbo": 0.5}, None, "sweep.constraints.max_pbo", "about the whole study"),
        ({"min_trades": "30"}, None, "sweep.constraints.min_trades", "integer"),
        ({"min_win_rate": 1.5}, None, "sweep.constraints.min_win_rate", "less than or equal"),
        ({"min_sharpe": None}, None, "sweep.constraints.min_sharpe", "needs a threshold"),
        ({"min_alpha": float("nan")}, None, "sweep.constraints.min_alpha", "finite number"),
        ({}, None, "sweep.constraints", "gate, or a mapping"),
        ("gates", None, "sweep.constraints", "gate, or a mapping"),
        (
            "gate",
            {"min_sharpe": None, "min_win_rate": None, "min_trades": None},
            "sweep.constraints",
            "no per-run check",
        ),
    ],
)
def test_bad_constraints_name_the_key(
    tmp_path: Path, constraints: Any, gate: Any, key: str, words: str
) -> None:
    extra = {"gate": gate} if gate is not None else {}
    data = with_values(target__horizon={"int": [1, 5]}, sweep={"constraints": constraints}, **extra)
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: {key}"), message
    assert words in message
    assert "; " in message.split(" (got ", 1)[-1] or "did you mean" in message  # a hint


@pytest.mark.parametrize(
    ("dotted", "key", "shown"),
    [
        ({"gate__min_trades": "thirty"}, "gate.min_trades", "'thirty'"),
        ({"position__size": 2}, "position.size", "2"),
        ({"model__max_depth": {"int": [0, 8]}}, "model.max_depth", "0"),
        ({"training__min_sample": 1000}, "training.min_sample", None),
    ],
)
def test_an_error_in_a_space_file_names_its_own_key(
    tmp_path: Path, dotted: dict[str, Any], key: str, shown: str | None
) -> None:
    """Not the first range's key: every range is checked with the others at their first value,
    and a fixed key's error was once blamed on that first range."""
    data = with_values(feature_groups={"subset": GROUPS}, target__horizon={"int": [1, 5]}, **dotted)
    path, message = space_error(tmp_path, data)
    assert message.startswith(f"{path}: {key}"), message
    if shown is not None:
        assert f"(got {shown})" in message, message
