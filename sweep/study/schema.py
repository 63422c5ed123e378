"""A JSON Schema (draft 2020-12) for experiment and search-space files, for editors.

Generated from the pydantic models (:class:`~sweep.core.config.ExperimentConfig`, the ``sweep:``
block's :class:`~sweep.study.settings.SweepSettings`) plus what the models cannot say: the range
forms allowed wherever a value is tunable (:data:`sweep.study.space.TUNABLE`), the names that
point into registries (feature groups, model types, metrics, gate checks) and the patterns that
validators check in code. An editor with a YAML language server validates and completes a file
whose first line names it (``# yaml-language-server: $schema=...``). The schema is a help for
writing files; ``sweep run`` still validates every file itself, before trial 0.
"""

from __future__ import annotations

import copy
from typing import Any

from sweep.core.config import _SAFE_ID, _SYMBOL, ExperimentConfig
from sweep.core.features import known_groups
from sweep.core.gate import PER_RUN_CHECKS
from sweep.core.model import model_kinds
from sweep.study.settings import OBJECTIVE_METRICS, SweepSettings
from sweep.study.space import TUNABLE

__all__ = ["DRAFT", "config_schema", "schema_text"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

_RANGES: dict[str, Any] = {
    "IntRange": {
        "description": "{int: [low, high]}, optional step: k, log: true",
        "type": "object",
        "properties": {
            "int": {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "integer"}],
                "items": False,
                "minItems": 2,
            },
            "step": {"type": "integer", "exclusiveMinimum": 0},
            "log": {"type": "boolean"},
        },
        "required": ["int"],
        "additionalProperties": False,
    },
    "FloatRange": {
        "description": "{float: [low, high]}, optional step: x, log: true",
        "type": "object",
        "properties": {
            "float": {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "number"}],
                "items": False,
                "minItems": 2,
            },
            "step": {"type": "number", "exclusiveMinimum": 0},
            "log": {"type": "boolean"},
        },
        "required": ["float"],
        "additionalProperties": False,
    },
    "SubsetRange": {
        "description": "{subset: [a, b, c]}, optional min_size: n (default 1), max_size: m",
        "type": "object",
        "properties": {
            "subset": {
                "type": "array",
                "items": {"$ref": "#/$defs/FeatureGroup"},
                "minItems": 1,
                "uniqueItems": True,
            },
            "min_size": {"type": "integer", "minimum": 1},
            "max_size": {"type": "integer", "minimum": 1},
        },
        "required": ["subset"],
        "additionalProperties": False,
    },
}


def _choice(value_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "{choice: [a, b, c]}",
        "type": "object",
        "properties": {
            "choice": {
                "type": "array",
                "items": copy.deepcopy(value_schema),
                "minItems": 1,
                "uniqueItems": True,
            }
        },
        "required": ["choice"],
        "additionalProperties": False,
    }


def _tunable(path: str) -> bool:
    return any(path == t or (t.endswith(".") and path.startswith(t)) for t in TUNABLE)


def _with_ranges(leaf: dict[str, Any]) -> dict[str, Any]:
    """``leaf`` or any range form that fits its type."""
    kinds = {leaf.get("type")} | {s.get("type") for s in leaf.get("anyOf", [])}
    options = [copy.deepcopy(leaf)]
    if "integer" in kinds:
        options.append({"$ref": "#/$defs/IntRange"})
    elif "number" in kinds:
        options.append({"$ref": "#/$defs/FloatRange"})
    if "array" in kinds:
        options.append({"$ref": "#/$defs/SubsetRange"})  # a choice takes scalars only
    else:
        options.append(_choice(leaf))
    out: dict[str, Any] = {"anyOf": options}
    for key in ("title", "description", "default"):
        if key in leaf:
            out[key] = leaf[key]
            for o in options[:1]:
                o.pop(key, None)
    return out


def _add_ranges(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> None:
    """Walk the properties from ``node`` (following ``$ref`` into ``$defs``) and let every
    tunable leaf take a range."""
    for name, prop in list(node.get("properties", {}).items()):
        path = f"{prefix}{name}"
        ref = prop.get("$ref")
        if ref is not None:
            _add_ranges(schema, schema["$defs"][ref.rsplit("/", 1)[-1]], f"{path}.")
        elif _tunable(path):
            node["properties"][name] = _with_ranges(prop)


def _sweep_block() -> dict[str, Any]:
    s = SweepSettings.model_json_schema()
    defs = s.pop("$defs", {})
    props = s["properties"]
    metric = {"enum": list(OBJECTIVE_METRICS), "type": "string"}
    props["objective"]["anyOf"] = [metric, {"type": "array", "items": metric, "minItems": 1}]
    pruner = defs["PrunerSettings"]
    props["pruner"] = {
        "description": "a pruner by name, or a mapping with its type and settings",
        "anyOf": [{"enum": pruner["properties"]["type"]["enum"], "type": "string"}, pruner],
    }
    gate_checks = {k: {"type": "number"} for k in PER_RUN_CHECKS}
    props["constraints"] = {
        "description": "gate (the file's own per-run gate checks), none, or a mapping of gate "
        "checks to thresholds",
        "anyOf": [
            {"enum": ["gate", "none"], "type": "string"},
            {"type": "null"},
            {
                "type": "object",
                "properties": gate_checks,
                "additionalProperties": False,
                "minProperties": 1,
            },
        ],
    }
    props["trials"].setdefault("type", "integer")
    return s


def config_schema() -> dict[str, Any]:
    """The schema of an experiment file, with ranges and a ``sweep:`` block allowed (a space)."""
    schema = ExperimentConfig.model_json_schema()
    props = schema["properties"]
    schema["$defs"].update(copy.deepcopy(_RANGES))
    schema["$defs"]["FeatureGroup"] = {"enum": known_groups(), "type": "string"}
    # JSON Schema's patterns search (as re.search does): anchored, as sweep's fullmatch
    props["experiment_id"]["pattern"] = f"^(?:{_SAFE_ID.pattern})$"
    props["experiment_id"]["description"] = (
        "a safe name (it names model files); in a space file, the study's name"
    )
    props["symbol"]["pattern"] = f"^(?:{_SYMBOL.pattern})$"
    props["model_type"]["enum"] = model_kinds()
    props["feature_groups"]["items"] = {"$ref": "#/$defs/FeatureGroup"}
    props["feature_groups"]["uniqueItems"] = True
    _add_ranges(schema, schema, "")
    props["sweep"] = _sweep_block()
    ordered: dict[str, Any] = {
        "$schema": DRAFT,
        "title": "sweep experiment or search-space file",
        "description": "An experiment config; any tunable value may be a range (int, float, "
        "choice, subset), and a sweep: block holds a study's settings. See README: Experiment "
        "config, Search spaces.",
    }
    ordered.update({k: v for k, v in schema.items() if k not in ("title", "description")})
    return ordered


def schema_text() -> str:
    """The schema as the JSON text ``sweep schema`` prints (and the repository ships)."""
    import json

    return json.dumps(config_schema(), indent=2) + "\n"
