"""`sweep schema`: a JSON Schema (draft 2020-12) that the shipped files satisfy and typos fail."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import ROOT, SEED_YAML, run_cli, tiny_space

from sweep.study.schema import config_schema, schema_text
from sweep.study.space import parse_space

SHIPPED_SCHEMA = ROOT / "schema" / "sweep-config.schema.json"
SPACES = sorted((ROOT / "search_spaces").glob("*.yaml"))


class _AsEditorsRead(yaml.SafeLoader):
    """YAML as a language server reads it for validation: dates stay strings."""


_AsEditorsRead.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_AsEditorsRead)  # a SafeLoader


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)  # a valid draft 2020-12 schema
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_what_sweep_schema_prints() -> None:
    assert SHIPPED_SCHEMA.read_text() == schema_text(), (
        "regenerate it: sweep schema -o schema/sweep-config.schema.json --force"
    )
    assert json.loads(schema_text())["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_shipped_files_validate_and_spaces_name_the_schema_on_their_first_line(
    validator: jsonschema.Draft202012Validator,
) -> None:
    assert SPACES
    for path in [SEED_YAML, *SPACES]:
        errors = list(validator.iter_errors(load(path)))
        assert not errors, f"{path.name}: {errors[0].message}"
    for path in SPACES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), first
        named = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert named == SHIPPED_SCHEMA.resolve()
    # the seed's experiment file stays verbatim: no comment added to it
    assert not SEED_YAML.read_text().startswith("# yaml-language-server")


def _every_range_form() -> list[dict[str, Any]]:
    """Spaces sweep accepts, together using every range form on every kind of tunable key."""
    a = tiny_space("forms")
    a["symbol"] = {"choice": ["BTC/USDT", "ETH/USDT"]}
    a["timeframe"] = {"choice": ["1h", "4h"]}
    a["feature_groups"] = {"subset": ["momentum", "volume", "trend"], "min_size": 1, "max_size": 2}
    a["position"] = {"size": {"float": [0.01, 0.1], "step": 0.01}, "hold_max": {"int": [2, 8]}}
    a["model"]["n_estimators"] = {"int": [20, 200], "log": True}
    a["model"]["subsample"] = {"choice": [0.5, 0.8, 1.0]}
    a["backtest"]["fee"] = {"float": [0.0005, 0.002], "log": True}
    a["training"]["validation_ratio"] = {"float": [0.1, 0.3]}
    a["training"]["early_stopping_rounds"] = {"int": [5, 20], "step": 5}
    b = copy.deepcopy(tiny_space("wf"))
    b["feature_groups"] = {"subset": ["momentum", "volume"], "min_size": 2}
    b["training"]["cv"] = {"type": "walk_forward", "folds": 4, "mode": "rolling"}
    b["sweep"].update(
        objective=["sharpe", "win_rate"],
        direction=["maximize", "maximize"],
        sampler="nsgaii",
        pruner="none",
        constraints={"min_trades": 30, "max_drawdown": 0.25},
    )
    c = copy.deepcopy(tiny_space("pruned"))
    c["training"]["cv"] = {"type": "walk_forward", "folds": 5}
    c["sweep"].update(pruner={"type": "percentile", "percentile": 25, "warmup_folds": 2})
    c["sweep"]["constraints"] = "gate"
    c["target"]["horizon"] = {"choice": [1, 3, 6]}
    return [a, b, c]


def test_every_range_form_where_a_value_is_tunable_validates(
    validator: jsonschema.Draft202012Validator, tmp_path: Path
) -> None:
    for data in _every_range_form():
        # sweep itself accepts each of them (so the schema describes real files) ...
        path = tmp_path / f"{data['experiment_id']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        parse_space(load(path), file=str(path))
        # ... and so does the schema
        errors = list(validator.iter_errors(load(path)))
        assert not errors, f"{data['experiment_id']}: {errors[0].json_path}: {errors[0].message}"


def _typo(dotted: str, value: Any) -> dict[str, Any]:
    data = tiny_space("typo")
    *head, last = dotted.split(".")
    node = data
    for k in head:
        node = node[k]
    node[last] = value
    return data


TYPOS = [
    ("model.learning_rate", {"flaot": [0.01, 0.3]}),  # a misspelt range kind
    ("target.horizon", {"int": [1, 5], "stpe": 2}),  # a misspelt range option
    ("sweep.sampler", "tpee"),
    ("sweep.pruner", "medain"),
    ("sweep.direction", "maximise"),
    ("sweep.objective", "sharp"),
    ("sweep.constraints", {"min_trade": 30}),
    ("target.horizn", 3),  # an unknown key
    ("timeframe", "4hr"),
    ("feature_groups", {"subset": ["momentun", "volume"]}),
    ("training.min_samples", {"int": [100, 300]}),  # a range on a key that cannot be tuned
    ("target.horizon", {"float": [1.0, 5.0]}),  # a float range on an integer
    ("feature_groups", {"choice": [["momentum"], ["volume"]]}),  # a choice takes scalars
    ("experiment_id", "../escape"),
    ("position.size", 1.5),
]


@pytest.mark.parametrize(("dotted", "value"), TYPOS, ids=[t[0] for t in TYPOS])
def test_a_typo_fails_the_schema(
    validator: jsonschema.Draft202012Validator, dotted: str, value: Any
) -> None:
    assert not list(validator.iter_errors(tiny_space("ok")))
    assert list(validator.iter_errors(_typo(dotted, value)))


def sweep(*args: str, cwd: Path) -> Any:
    return run_cli(
        *args,
        cwd=cwd,
        env={
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        },
    )


def test_sweep_schema_prints_it_and_writes_a_file_only_when_told(tmp_path: Path) -> None:
    printed = sweep("schema", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == schema_text()

    out = tmp_path / "schema.json"
    out.write_text("mine")
    refused = sweep("schema", "-o", str(out), cwd=tmp_path)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        f"error: -o: exists already (got {str(out)!r}); pass --force to replace it"
    ]
    assert out.read_text() == "mine"
    forced = sweep("schema", "-o", str(out), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert out.read_text() == schema_text()
