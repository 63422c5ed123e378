"""Every bad input, one line: a corpus of bad experiment files, space files, data files and
command-line options, each refused the same way.

The promise, checked for every case: exit 2; nothing on stdout and exactly one line on stderr,
naming the file (or option), the key and the value, with a hint; no traceback; nothing written
(the registry's experiments and model_results, sweep_studies, Optuna's studies and trials, model
files). Most cases run in-process through the CLI's entry function ``sweep.cli.main``; a sample
runs as real subprocesses. On top, hypothesis mutates the shipped experiment and space files
(values, keys, bytes) and checks that every mutant is accepted or refused in one line, never with
a traceback, before anything would be written.
"""

from __future__ import annotations

import copy
import gzip
import importlib
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from conftest import ROOT, SEED_YAML, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweep.cli.main import main
from sweep.core.errors import SweepError

SPACE_YAML = ROOT / "search_spaces" / "btc-4h.yaml"
SEED_TEXT = SEED_YAML.read_text()
SPACE_TEXT = SPACE_YAML.read_text()
SEED: dict[str, Any] = yaml.safe_load(SEED_TEXT)
SPACE: dict[str, Any] = yaml.safe_load(SPACE_TEXT)
TABLES = (
    "experiments",
    "model_results",
    "sweep_studies",
    "studies",
    "trials",
    "robust_evaluations",
    "robust_candidates",
)


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``sweep ARGV`` in a folder holding ``files`` (a value of None is a folder) besides the
    shipped ``exp.yaml`` and ``space.yaml``; ``expect``: fragments of the one error line."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    files: Mapping[str, str | bytes | None] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)


def _set(base: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    *head, last = dotted.split(".")
    node = data
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return data


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _got(value: Any) -> str:
    return f"(got {value!r})"


def exp(id: str, dotted: str, value: Any, *expect: str) -> Case:
    """The seed experiment with one key set; by default the line names the key and value."""
    frags = expect or (f": {dotted} (line ", _got(value))
    return Case(
        f"exp-{id}",
        ("run", "bad.yaml"),
        ("bad.yaml: ", *frags),
        {"bad.yaml": _dump(_set(SEED, dotted, value))},
    )


def space(id: str, dotted: str, value: Any, *expect: str) -> Case:
    """The shipped search space with one key set."""
    frags = expect or (f": {dotted} (line ", _got(value))
    return Case(
        f"space-{id}",
        ("run", "bad.yaml"),
        ("bad.yaml: ", *frags),
        {"bad.yaml": _dump(_set(SPACE, dotted, value))},
    )


def raw(id: str, content: str | bytes, *expect: str, name: str = "bad.yaml") -> Case:
    """A file of exactly these bytes."""
    return Case(f"file-{id}", ("run", name), (f"{name}: ", *expect), {name: content})


# A registered experiment whose model file is gone (see ``registry_url``): `sweep predict` cases.
PREDICTABLE = "predict-fixture"
GONE_MODEL = "/nonexistent/predict-fixture/model.ubj"

HEADER = "timestamp,open,high,low,close,volume\n"


def bars(n: int = 60, *, row: int | None = None, col: str = "", text: str = "") -> str:
    """``n`` valid 4h bars from 2021-01-01; with ``row``, that row's ``col`` is ``text``."""
    lines = [HEADER.strip()]
    for i in range(n):
        fields = {
            "timestamp": f"2021-01-{1 + i // 6:02d}T{4 * (i % 6):02d}:00:00Z",
            "open": "100",
            "high": "101",
            "low": "99",
            "close": "100.5",
            "volume": "10",
        }
        if i == row:
            fields[col] = text
        lines.append(",".join(fields.values()))
    return "\n".join(lines) + "\n"


def data(id: str, name: str, content: str | bytes, *expect: str) -> Case:
    """The seed experiment reading ``baddata/<name>``: the line names the data file."""
    files = {"bad.yaml": _dump(_set(SEED, "data.dir", "baddata")), f"baddata/{name}": content}
    return Case(f"data-{id}", ("run", "bad.yaml"), (f"{name}: ", *expect), files)


def option(
    id: str,
    *argv: str,
    expect: tuple[str, ...],
    env: Mapping[str, str] | None = None,
    files: Mapping[str, str | bytes | None] | None = None,
) -> Case:
    return Case(f"cli-{id}", argv, expect, files=files or {}, env=env or {})


def _gz(text: str | bytes) -> bytes:
    return gzip.compress(text.encode() if isinstance(text, str) else text, mtime=0)


_RNG = random.Random(12)
_NOISE = bytes(_RNG.randrange(256) for _ in range(4000))
BOMB = (
    "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + SEED_TEXT.replace("experiment_id: btc-xgb-4h-momentum", "experiment_id: *i")
)
DEEP_FLOW = SEED_TEXT + "extra: " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_BLOCK = SEED_TEXT + "extra:\n" + "- " * 5000 + "v\n"  # 5000 nested block sequences
ALIAS_CHAIN = (
    SEED_TEXT
    + "c0: &c0 {x: 1}\n"
    + "".join(f"c{i}: &c{i} {{x: *c{i - 1}}}\n" for i in range(1, 70))
)
LONG = "a" * 200

CASES: list[Case] = [
    # --- experiment files: the YAML itself ---
    raw("alias-bomb", BOMB, "e (line 5)", "expands to more than 10,000 values", "billion laughs"),
    raw("alias-recursive", SEED_TEXT + "loop: &l [*l]\n", "loop[0] (line ", "contains it"),
    raw("alias-chain-deep", ALIAS_CHAIN, "nests deeper than 64 levels once aliases"),
    raw("deep-flow-5000", DEEP_FLOW, "line 17", "nests deeper than 64 levels"),
    raw("deep-block-5000", DEEP_BLOCK, "line 18", "nests deeper than 64 levels"),
    raw(
        "duplicate-top-key",
        SEED_TEXT + "experiment_id: other\n",
        "experiment_id (line 17): duplicate key (first at line 1)",
        "only the last",
    ),
    raw(
        "duplicate-nested-key",
        SEED_TEXT.replace("  horizon: 3 ", "  horizon: 3\n  horizon: 5 "),
        "target.horizon (line 9): duplicate key (first at line 8)",
    ),
    raw(
        "duplicate-in-flow",
        SEED_TEXT.replace(
            "position:\n  size: 0.02          # 2% of portfolio per trade\n",
            "position:\n  size: 0.02\n  size: 0.5\n",
        ),
        "position.size (line 12): duplicate key",
    ),
    raw(
        "non-utf8-latin1",
        SEED_TEXT.encode().replace(b"btc-xgb-4h-momentum", b"caf\xe9"),
        "is not UTF-8: byte 0xe9 at line 1, column 19",
        "b'nt_id: caf\\xe9",
        "save the file as UTF-8",
    ),
    raw("utf16", SEED_TEXT.encode("utf-16"), "is UTF-16 text", "save it as UTF-8"),
    raw("binary", _NOISE, "holds a NUL byte", "not a text file"),
    raw("empty", "", "the file is empty", "experiment_id: my-experiment"),
    raw("whitespace-only", "\n\n   \n", "the file is empty"),
    raw("comments-only", "# nothing here\n", "must hold a YAML mapping", "(got 'NoneType')"),
    raw("top-level-list", "- a\n- b\n", "must hold a YAML mapping", "(got 'list')"),
    raw("top-level-scalar", "hello\n", "must hold a YAML mapping", "(got 'str')"),
    raw("two-documents", SEED_TEXT + "---\n" + SEED_TEXT, "malformed YAML", "another document"),
    raw(
        "python-tag",
        SEED_TEXT + "x: !!python/object/apply:os.system ['true']\n",
        "malformed YAML",
        "python/object/apply:os.system",
    ),
    raw("unhashable-key", SEED_TEXT + "? [a, b]\n: 1\n", "malformed YAML", "unhashable"),
    raw("tab-indent", SEED_TEXT + "gate:\n\tmin_sharpe: 1\n", "malformed YAML", "line 18"),
    raw("control-char", SEED_TEXT + "x: a\x07b\n", "malformed YAML", "special characters"),
    raw("unclosed-bracket", "experiment_id: [x\n", "malformed YAML", "line 2"),
    raw(
        "int-5000-digits",
        SEED_TEXT.replace("horizon: 3 ", "horizon: " + "9" * 5000 + " "),
        "malformed YAML",
        "4300",
    ),
    raw(
        "too-large",
        SEED_TEXT + "#" + "x" * 1_000_001 + "\n",
        "bytes; a config file is at most 256,000",
    ),
    raw(
        "binary-tag-id",
        SEED_TEXT.replace("experiment_id: btc-xgb-4h-momentum", "experiment_id: !!binary aGk="),
        "experiment_id (line 1)",
        "(got b'hi')",
    ),
    raw(
        "unknown-tag",
        SEED_TEXT.replace("horizon: 3 ", "horizon: !weird 3 "),
        "malformed YAML",
        "!weird",
    ),
    Case(
        "file-directory", ("run", "adir"), ("adir: is a directory", "a .yaml file"), {"adir": None}
    ),
    Case("file-missing", ("run", "nope.yaml"), ("nope.yaml: file not found", "check the path")),
    Case("file-dev-null", ("run", "/dev/null"), ("/dev/null: is not a regular file",)),
    # --- experiment files: names ---
    exp("id-newline", "experiment_id", "x\n"),
    exp("id-tab", "experiment_id", "x\ty"),
    exp("id-nul", "experiment_id", "x\x00y"),
    exp("id-empty", "experiment_id", ""),
    exp("id-parent", "experiment_id", "../x"),
    exp("id-slash", "experiment_id", "a/b"),
    exp("id-dotdot", "experiment_id", "a..b"),
    exp("id-hidden", "experiment_id", ".hidden"),
    exp("id-unicode", "experiment_id", "café"),
    exp("id-rtl-override", "experiment_id", "a\u202eb"),
    exp("id-long", "experiment_id", LONG, ": experiment_id (line ", "at most 128 characters"),
    exp("id-int", "experiment_id", 123),
    exp("id-null", "experiment_id", None, ": experiment_id (line ", "must be a string"),
    exp("id-list", "experiment_id", ["a"], ": experiment_id (line ", "(got '[\"a\"]')"),
    exp("symbol-newline", "symbol", "BTC/USDT\n"),
    exp("symbol-lower", "symbol", "btc/usdt"),
    exp("symbol-int", "symbol", 5),
    exp("timeframe-3h", "timeframe", "3h"),
    exp("timeframe-int", "timeframe", 4),
    exp("model-type", "model_type", "lightgbm"),
    exp("groups-empty", "feature_groups", [], ": feature_groups (line ", "(got '[]')"),
    exp("groups-string", "feature_groups", "momentum"),
    exp("groups-unknown", "feature_groups", ["momentum", "bogus"], "'bogus'", "known groups"),
    exp("groups-int", "feature_groups", [1], ": feature_groups.0 (line ", "(got 1)"),
    exp("target-type", "target.type", "ternary"),
    exp("unknown-key", "foo", 1, ": foo (line ", "unknown key", "allowed keys"),
    exp("misspelt-key", "target.horizn", 3, ": target.horizn (line ", "did you mean 'horizon'"),
    exp("block-not-mapping", "position", "big"),
    # --- experiment files: numbers ---
    exp("horizon-0", "target.horizon", 0),
    exp("horizon-negative", "target.horizon", -1),
    exp("horizon-2e70", "target.horizon", 2**70),
    exp("horizon-float", "target.horizon", 3.5),
    exp("horizon-string", "target.horizon", "3", "(got '3'); write the number without quotes: 3"),
    exp("horizon-bool", "target.horizon", True),
    exp("horizon-inf", "target.horizon", float("inf")),
    exp("threshold-0", "target.threshold", 0),
    exp("threshold-negative", "target.threshold", -0.01),
    exp("threshold-nan", "target.threshold", float("nan")),
    exp("threshold-inf", "target.threshold", float("inf")),
    exp("threshold-1e308", "target.threshold", 1e308),
    exp("threshold-exp-text", "target.threshold", "1e-3", "YAML reads '1e-3' as text; write 0.001"),
    exp("threshold-percent", "target.threshold", "0.8%"),
    exp("size-0", "position.size", 0),
    exp("size-tiny", "position.size", 1e-300),
    exp("size-above-1", "position.size", 1.5),
    exp("size-nan", "position.size", float("nan")),
    exp("hold-max-0", "position.hold_max", 0),
    exp("hold-max-huge", "position.hold_max", 10**9),
    exp("train-ratio-0", "training.train_ratio", 0),
    exp("train-ratio-1", "training.train_ratio", 1),
    exp("train-ratio-tiny", "training.train_ratio", 1e-300),
    exp("train-ratio-nan", "training.train_ratio", float("nan")),
    exp("min-samples-0", "training.min_samples", 0),
    exp("min-samples-2e70", "training.min_samples", 2**70),
    exp("early-stopping-0", "training.early_stopping_rounds", 0),
    exp("early-stopping-huge", "training.early_stopping_rounds", 10**9),
    exp("validation-ratio-0", "training.validation_ratio", 0),
    exp("validation-ratio-0.95", "training.validation_ratio", 0.95),
    exp("cv-folds-1", "training.cv", {"folds": 1}, ": training.cv.folds (line ", "(got 1)"),
    exp("cv-folds-1000", "training.cv", {"folds": 1000}, ": training.cv.folds", "(got 1000)"),
    exp("cv-mode", "training.cv", {"mode": "sideways"}, ": training.cv.mode", "'sideways'"),
    exp("gamma-1e308", "model.gamma", 1e308),
    exp("gamma-negative", "model.gamma", -1.0),
    exp("scale-pos-weight-1e308", "model.scale_pos_weight", 1e308),
    exp("scale-pos-weight-0", "model.scale_pos_weight", 0),
    exp("min-child-weight-inf", "model.min_child_weight", float("inf")),
    exp("min-child-weight-negative", "model.min_child_weight", -1),
    exp("reg-alpha-inf", "model.reg_alpha", float("inf")),
    exp("reg-lambda-1e308", "model.reg_lambda", 1e308),
    exp("learning-rate-0", "model.learning_rate", 0),
    exp("learning-rate-2", "model.learning_rate", 2.0),
    exp("max-depth-0", "model.max_depth", 0),
    exp("max-depth-100", "model.max_depth", 100),
    exp("n-estimators-0", "model.n_estimators", 0),
    exp("n-estimators-huge", "model.n_estimators", 10**7),
    exp("subsample-0", "model.subsample", 0),
    exp("subsample-tiny", "model.subsample", 1e-300),
    exp("colsample-1.5", "model.colsample_bytree", 1.5),
    exp("max-bin-1", "model.max_bin", 1),
    exp("max-bin-huge", "model.max_bin", 10**6),
    exp("fee-negative", "backtest.fee", -0.001),
    exp("fee-half", "backtest.fee", 0.5),
    exp("fee-nan", "backtest.fee", float("nan")),
    exp("slippage-1", "backtest.slippage", 1),
    exp("entry-threshold-1", "backtest.entry_threshold", 1.0),
    exp("entry-threshold-negative", "backtest.entry_threshold", -0.1),
    exp("days-per-year-1e-300", "backtest.days_per_year", 1e-300),
    exp("days-per-year-0", "backtest.days_per_year", 0),
    exp("days-per-year-400", "backtest.days_per_year", 400),
    exp("gate-sharpe-inf", "gate.min_sharpe", float("inf")),
    exp("gate-sharpe-1e308", "gate.min_sharpe", 1e308),
    exp("gate-win-rate-1.5", "gate.min_win_rate", 1.5),
    exp("gate-min-trades-negative", "gate.min_trades", -1),
    exp("gate-min-trades-2e70", "gate.min_trades", 2**70),
    exp("gate-alpha-nan", "gate.min_alpha", float("nan")),
    exp("gate-drawdown-0", "gate.max_drawdown", 0),
    exp("gate-dsr-2", "gate.min_dsr", 2.0),
    exp("gate-pbo-negative", "gate.max_pbo", -0.1),
    exp("seed-negative", "seed", -7),
    exp("seed-2e70", "seed", 2**70),
    exp("seed-float", "seed", 1.5),
    exp("seed-bool", "seed", True),
    exp("data-start-text", "data.start", "not a date"),
    exp("data-start-year-1", "data.start", "0001-01-01", ": data.start (line ", "1678 to 2261"),
    exp(
        "data-start-overflows-utc",
        "data.start",
        "0001-01-01T00:00:00+01:00",
        ": data.start (line ",
        "1678 to 2261",
    ),
    exp("data-end-year-9999", "data.end", "9999-12-31T23:59:59-01:00", ": data.end (line "),
    exp(
        "data-end-before-start",
        "data",
        {"start": "2022-01-01", "end": "2021-01-01"},
        ": data.end (line ",
        "must be after data.start",
    ),
    exp("data-dir-nul", "data.dir", "a\x00b"),
    exp("data-dir-long", "data.dir", "d" * 5000, ": data.dir (line ", "at most 1024"),
    # --- search-space files ---
    space("seed-negative", "sweep.seed", -7),
    space("seed-2e70", "sweep.seed", 2**70),
    space("seed-string", "sweep.seed", "42"),
    space("seed-bool", "sweep.seed", True),
    space("trials-0", "sweep.trials", 0),
    space("trials-negative", "sweep.trials", -1),
    space("trials-huge", "sweep.trials", 10**7),
    space("trials-float", "sweep.trials", 2.5),
    space("objective-unknown", "sweep.objective", "sharp", "sweep.objective", "did you mean"),
    space("objective-empty", "sweep.objective", [], "sweep.objective", "at least one"),
    space(
        "objective-twice",
        "sweep.objective",
        ["sharpe", "sharpe"],
        "sweep.objective (line ",
        "lists a metric twice",
    ),
    space("direction", "sweep.direction", "up"),
    space(
        "direction-count",
        "sweep.direction",
        ["maximize", "minimize"],
        "sweep.direction",
        "one direction per objective",
    ),
    space("sampler", "sweep.sampler", "grid"),
    space("select-unknown", "sweep.select", "robst", "sweep.select (line ", "did you mean"),
    space("select-number", "sweep.select", 1, "sweep.select (line ", "(got 1)"),
    space("robust-top-1", "sweep.robust_top", 1),
    space("robust-top-huge", "sweep.robust_top", 51),
    space("robust-top-float", "sweep.robust_top", 2.5),
    space("robust-top-text", "sweep.robust_top", "5"),
    space("sampler-typo", "sweep.sampler", "tpee", "sweep.sampler (line ", "did you mean 'tpe'?"),
    space("pruner-typo", "sweep.pruner", "mediun", "sweep.pruner", "did you mean 'median'?"),
    space(
        "direction-typo",
        "sweep.direction",
        "maximise",
        "sweep.direction (line ",
        "did you mean 'maximize'?",
    ),
    space(
        "range-kind-typo",
        "model.max_depth",
        {"flaot": [3, 8]},
        "model.max_depth (line ",
        "did you mean 'float'",
    ),
    space(
        "cv-mode-typo",
        "training.cv",
        {"type": "walk_forward", "folds": 3, "mode": "expandng"},
        "training.cv.mode",
        "did you mean 'expanding'?",
    ),
    space("sweep-range-key", "sweep", {"int": None}, "sweep.int (line ", "unknown key"),
    space("objective-number", "sweep.objective", 5, "sweep.objective (line ", "(got 5)"),
    space(
        "constraint-range-key",
        "sweep.constraints",
        {"int": "1e-3"},
        "sweep.constraints.int (line ",
        "unknown constraint",
        "allowed: min_sharpe",
    ),
    space("pruner-name", "sweep.pruner", "mediam", "sweep.pruner", "'mediam'"),
    space(
        "pruner-startup-huge",
        "sweep.pruner",
        {"type": "median", "startup_trials": 2**70},
        "sweep.pruner.startup_trials",
        _got(2**70),
    ),
    space("not-a-mapping", "sweep", "sharpe", ": sweep (line ", "must be a mapping"),
    space(
        "bound-inf",
        "model.learning_rate",
        {"float": [0.01, float("inf")]},
        ": model.learning_rate (line ",
        "finite",
        "(got [0.01, inf])",
    ),
    space(
        "bound-1e308",
        "model.gamma",
        {"float": [0.0, 1e308]},
        ": model.gamma (line ",
        "(got 1e+308)",
    ),
    space(
        "bound-nan",
        "model.subsample",
        {"float": [float("nan"), 1.0]},
        ": model.subsample (line ",
        "finite",
    ),
    space(
        "bound-int-2e70",
        "position.hold_max",
        {"int": [1, 2**70]},
        ": position.hold_max (line ",
        _got(2**70),
    ),
    space(
        "bound-int-1e400",
        "target.horizon",
        {"int": [1, 10**400]},
        ": target.horizon (line ",
        "finite",
    ),
    space(
        "bound-outside-field",
        "position.size",
        {"float": [0.5, 1.5]},
        ": position.size (line ",
        "(got 1.5)",
    ),
    space(
        "scale-pos-weight-range",
        "model.scale_pos_weight",
        {"float": [1.0, 1e308], "log": True},
        ": model.scale_pos_weight (line ",
        "(got 1e+308)",
    ),
    space("low-above-high", "target.horizon", {"int": [12, 1]}, ": target.horizon", "low > high"),
    space(
        "log-zero",
        "target.threshold",
        {"float": [0.0, 0.03], "log": True},
        ": target.threshold",
        "log scale needs low > 0",
    ),
    space("log-text", "model.max_depth", {"int": [2, 8], "log": "yes"}, "log must be true"),
    space("step-0", "model.max_depth", {"int": [2, 8], "step": 0}, ": model.max_depth", "step"),
    space(
        "step-nan",
        "model.subsample",
        {"float": [0.5, 1.0], "step": float("nan")},
        ": model.subsample",
        "step must be a finite number > 0",
    ),
    space("step-bool", "model.max_depth", {"int": [2, 8], "step": True}, "step must be an integer"),
    space("int-float-bounds", "target.horizon", {"int": [1, 5.5]}, "must be integers"),
    space("choice-empty", "timeframe", {"choice": []}, ": timeframe (line ", "non-empty list"),
    space("choice-duplicates", "timeframe", {"choice": ["4h", "4h"]}, "must be distinct"),
    space("choice-bad-option", "timeframe", {"choice": ["4h", "3h"]}, ": timeframe", "'3h'"),
    space(
        "choice-too-many",
        "model.max_depth",
        {"choice": list(range(1, 2002))},
        ": model.max_depth",
        "at most 1000",
    ),
    space(
        "subset-min-size-0",
        "feature_groups",
        {"subset": ["momentum", "volume"], "min_size": 0},
        ": feature_groups",
        "min_size must be between 1 and 2",
    ),
    space(
        "subset-unknown-group",
        "feature_groups",
        {"subset": ["momentum", "bogus"]},
        ": feature_groups",
        "'bogus'",
    ),
    space("untunable", "seed", {"int": [1, 10]}, ": seed (line ", "cannot be tuned"),
    space("dotted-key", "model", {".": {"float": [0.5, 20]}}, ": model.. (line ", "unknown key"),
    space("empty-key", "target", {"": {"int": [1, 5]}}, ": target. (line ", "unknown key"),
    space(
        "range-option-typo",
        "target.horizon",
        {"int": [1, 5], "stpe": 2},
        "unknown range option 'stpe'",
        "did you mean 'step'",
    ),
    raw(
        "space-range-bool-key",
        SPACE_TEXT.replace("0.3], log: true}", "0.3], true}"),
        "model.learning_rate (line 20)",
        "unknown range option 'True'",
    ),
    space("two-kinds", "target.horizon", {"int": [1, 5], "choice": [1, 2]}, "exactly one of"),
    space(
        "constraint-typo",
        "sweep.constraints",
        {"min_trade": 30},
        "sweep.constraints.min_trade",
        "did you mean 'min_trades'",
    ),
    space(
        "constraint-2e70",
        "sweep.constraints",
        {"min_trades": 2**70},
        "sweep.constraints.min_trades",
        _got(2**70),
    ),
    space(
        "constraint-nan",
        "sweep.constraints",
        {"min_alpha": float("nan")},
        "sweep.constraints.min_alpha",
        "finite",
    ),
    space("study-id-newline", "experiment_id", "s\n"),
    space("study-id-long", "experiment_id", "s" * 125, ": experiment_id (line ", "at most 119"),
    raw(
        "space-duplicate-key",
        SPACE_TEXT.replace("  seed: 42\n", "  seed: 42\n  seed: 7\n"),
        "sweep.seed (line ",
        "duplicate key",
    ),
    raw(
        "space-alias-bomb",
        SPACE_TEXT + BOMB.split("experiment_id")[0].replace("a:", "z:", 1),
        "expands to more than 10,000 values",
    ),
    raw(
        "space-non-utf8",
        SPACE_TEXT.encode().replace(b"btc-4h  ", b"btc-\xff  "),
        "is not UTF-8: byte 0xff",
    ),
    # --- data files ---
    data("csv-gz-empty", "BTC_USDT-4h.csv.gz", b"", "empty file"),
    data(
        "csv-gz-truncated",
        "BTC_USDT-4h.csv.gz",
        _gz(bars(3000))[:3000],
        "truncated or corrupt gzip data",
        "download or compress it again",
    ),
    data("csv-gz-garbage", "BTC_USDT-4h.csv.gz", _NOISE, "truncated or corrupt gzip data"),
    data("csv-gz-of-nothing", "BTC_USDT-4h.csv.gz", _gz(""), "empty file"),
    data("csv-gz-of-binary", "BTC_USDT-4h.csv.gz", _gz(_NOISE), "BTC_USDT-4h.csv.gz: "),
    data("csv-empty", "BTC_USDT-4h.csv", "", "empty file", "the first line must be timestamp"),
    data("csv-header-only", "BTC_USDT-4h.csv", HEADER, "no bars: the file holds no rows"),
    data(
        "csv-non-utf8",
        "BTC_USDT-4h.csv",
        bars(20).encode().replace(b"2021-01-02T04", b"2021-01-02T\xff4"),
        "not UTF-8 text: byte 0xff",
        "save the file as UTF-8",
    ),
    data("csv-binary", "BTC_USDT-4h.csv", _NOISE, "BTC_USDT-4h.csv: "),
    data(
        "csv-extra-field",
        "BTC_USDT-4h.csv",
        bars(20, row=4, col="volume", text="10,7"),
        "malformed CSV",
    ),
    data(
        "csv-wrong-header",
        "BTC_USDT-4h.csv",
        bars(20).replace("volume", "vol", 1),
        ": volume: columns must be exactly",
    ),
    data(
        "close-inf",
        "BTC_USDT-4h.csv",
        bars(60, row=7, col="close", text="inf"),
        ": close: not a finite number at row 8",
        "(got inf)",
    ),
    data(
        "low-minus-inf",
        "BTC_USDT-4h.csv",
        bars(60, row=3, col="low", text="-inf"),
        ": low: not a finite number at row 4",
    ),
    data(
        "close-1e400",
        "BTC_USDT-4h.csv",
        bars(60, row=5, col="close", text="1e400"),
        ": close: not a finite number at row 6",
        "(got inf)",
    ),
    data(
        "volume-nan",
        "BTC_USDT-4h.csv",
        bars(60, row=2, col="volume", text="nan"),
        ": volume: missing value (NaN) at row 3",
    ),
    data(
        "high-absurd",
        "BTC_USDT-4h.csv",
        bars(60, row=9, col="high", text="1e300"),
        ": high: price must be <= 1e+12",
        "(got 1e+300)",
    ),
    data(
        "volume-absurd",
        "BTC_USDT-4h.csv",
        bars(60, row=9, col="volume", text="1e300"),
        ": volume: volume must be <= 1e+30",
    ),
    data(
        "close-zero",
        "BTC_USDT-4h.csv",
        bars(60, row=1, col="close", text="0"),
        ": close: price must be > 0",
    ),
    data(
        "timestamp-year-9999",
        "BTC_USDT-4h.csv",
        bars(60, row=4, col="timestamp", text="9999-01-01T00:00:00Z"),
        ": timestamp: unparseable timestamp at row 5",
    ),
    data(
        "parquet-garbage",
        "BTC_USDT-4h.parquet",
        _NOISE,
        "BTC_USDT-4h.parquet: not a readable parquet file",
    ),
    # --- command-line options ---
    option("trials-0", "run", "space.yaml", "--trials", "0", expect=("--trials: ", "(got '0')")),
    option("trials-negative", "run", "space.yaml", "--trials", "-1", expect=("--trials: ",)),
    option("trials-nan", "run", "space.yaml", "--trials", "nan", expect=("--trials: ", "'nan'")),
    option("trials-text", "run", "space.yaml", "--trials", "abc", expect=("--trials: ", "'abc'")),
    option("trials-huge", "run", "space.yaml", "--trials", "1" + "0" * 12, expect=("--trials: ",)),
    option("trials-float", "run", "space.yaml", "--trials", "1.5", expect=("--trials: ", "'1.5'")),
    option("trials-empty", "run", "space.yaml", "--trials=", expect=("--trials: ", "(got '')")),
    option("jobs-0", "run", "space.yaml", "--jobs", "0", expect=("--jobs: ", "(got '0')")),
    option("jobs-negative", "run", "space.yaml", "--jobs", "-2", expect=("--jobs: ", "'-2'")),
    option("jobs-huge", "run", "space.yaml", "--jobs", "100000", expect=("--jobs: ", "1024")),
    option("timeout-negative", "run", "space.yaml", "--timeout", "-5", expect=("--timeout: ",)),
    option("timeout-0", "run", "space.yaml", "--timeout", "0", expect=("--timeout: ", "'0'")),
    option("timeout-nan", "run", "space.yaml", "--timeout", "nan", expect=("--timeout: ", "nan")),
    option("timeout-inf", "run", "space.yaml", "--timeout", "inf", expect=("--timeout: ", "inf")),
    option("timeout-1e308", "run", "space.yaml", "--timeout", "1e308", expect=("--timeout: ",)),
    option("timeout-text", "run", "space.yaml", "--timeout", "1h", expect=("--timeout: ", "'1h'")),
    option(
        "study-newline",
        "run",
        "space.yaml",
        "--study",
        "s\n",
        expect=("--study: must be a safe name", "(got 's\\n')"),
    ),
    option("study-parent", "run", "space.yaml", "--study", "../x", expect=("--study: ", "'../x'")),
    option("study-empty", "run", "space.yaml", "--study", "", expect=("--study: ", "(got '')")),
    option("study-space", "run", "space.yaml", "--study", "a b", expect=("--study: ", "'a b'")),
    option("study-long", "run", "space.yaml", "--study", "s" * 125, expect=("at most 119",)),
    option("results-top-negative", "results", "--top", "-1", expect=("--top: ", "(got '-1')")),
    option("results-top-0", "results", "--top", "0", expect=("--top: ", "(got '0')")),
    option("results-top-nan", "results", "--top", "nan", expect=("--top: ", "'nan'")),
    option("results-top-huge", "results", "--top", "9" * 30, expect=("--top: ",)),
    option("results-study", "results", "--study", "s\n", expect=("--study: ", "'s\\n'")),
    option("results-format", "results", "--format", "xml", expect=("--format: ", "'xml'")),
    option("export-study", "export", "s\n", expect=("study: ", "'s\\n'")),
    option(
        "export-trial-huge", "export", "btc-4h", "--trial", "2000000", expect=("--trial: ", "0 to")
    ),
    option("export-trial-negative", "export", "btc-4h", "--trial", "-3", expect=("--trial: ",)),
    option(
        "export-output-dir",
        "export",
        "btc-4h",
        "-o",
        "adir",
        files={"adir": None},
        expect=("--output: ", "is a directory", "'adir'"),
    ),
    option(
        "export-output-under-file",
        "export",
        "btc-4h",
        "-o",
        "exp.yaml/best.yaml",
        expect=("--output: cannot be made: exp.yaml is a file",),
    ),
    option("holdout-trial-negative", "holdout", "btc-4h", "--trial", "-1", expect=("--trial: ",)),
    option("holdout-trial-text", "holdout", "btc-4h", "--trial", "t0017", expect=("'t0017'",)),
    option("holdout-study", "holdout", "../x", expect=("study: ", "'../x'")),
    option("export-select", "export", "btc-4h", "--select", "robst", expect=("--select: ",)),
    option(
        "export-select-with-trial",
        "export",
        "btc-4h",
        "--select",
        "robust",
        "--trial",
        "2",
        expect=("--select: cannot be combined with --trial",),
    ),
    option("holdout-select", "holdout", "btc-4h", "--select", "peek", expect=("--select: ",)),
    option("robust-study", "robust", "../x", expect=("study: ", "'../x'")),
    option(
        "robust-trial-negative", "robust", "btc-4h", "--trial", "-1", expect=("--trial: ", "'-1'")
    ),
    option("robust-top-0", "robust", "btc-4h", "--top", "0", expect=("--top: ", "(got '0')")),
    option("robust-top-huge", "robust", "btc-4h", "--top", "51", expect=("--top: ", "50")),
    option("robust-top-nan", "robust", "btc-4h", "--top", "nan", expect=("--top: ", "'nan'")),
    option(
        "robust-top-with-trial",
        "robust",
        "btc-4h",
        "--trial",
        "1",
        "--top",
        "2",
        expect=("--top: cannot be combined with --trial",),
    ),
    option("robust-jobs-0", "robust", "btc-4h", "--jobs", "0", expect=("--jobs: ", "(got '0')")),
    option("robust-random-negative", "robust", "btc-4h", "--random", "-1", expect=("--random: ",)),
    option("robust-random-huge", "robust", "btc-4h", "--random", "101", expect=("--random: ",)),
    option("robust-select", "robust", "btc-4h", "--select", "plateau", expect=("--select: ",)),
    option("robust-format", "robust", "btc-4h", "--format", "xml", expect=("--format: ", "'xml'")),
    option(
        "export-output-exists",
        "export",
        "btc-4h",
        "-o",
        "exp.yaml",
        expect=("-o: exists already", "(got 'exp.yaml')", "--force"),
    ),
    option(
        "report-target",
        "report",
        "../x",
        expect=("STUDY|EXPERIMENT_ID: must be a safe name", "(got '../x')"),
    ),
    option(
        "report-unknown",
        "report",
        "btc-4h-nothing",
        expect=("no study or experiment of this name", "(got 'btc-4h-nothing')", "sweep studies"),
    ),
    option(
        "report-output-exists",
        "report",
        "btc-4h",
        "-o",
        "exp.yaml",
        expect=("-o: exists already", "(got 'exp.yaml')", "--force"),
    ),
    option(
        "report-default-output-exists",
        "report",
        "btc-4h",
        files={"btc-4h.html": "mine"},
        expect=("report file: exists already", "(got 'btc-4h.html')", "--force", "-o FILE"),
    ),
    option(
        "report-output-dir",
        "report",
        "btc-4h",
        "-o",
        "adir",
        files={"adir": None},
        expect=("--output: ", "is a directory", "'adir'"),
    ),
    option(
        "report-output-under-file",
        "report",
        "btc-4h",
        "-o",
        "exp.yaml/r.html",
        expect=("--output: cannot be made: exp.yaml is a file",),
    ),
    option(
        "schema-output-exists",
        "schema",
        "-o",
        "exp.yaml",
        expect=("-o: exists already", "(got 'exp.yaml')", "--force"),
    ),
    option(
        "schema-output-dir",
        "schema",
        "-o",
        "adir",
        files={"adir": None},
        expect=("--output: ", "is a directory", "'adir'"),
    ),
    option("schema-output-empty", "schema", "-o", "", expect=("--output: must be a file path",)),
    option(
        "results-order-typo",
        "results",
        "--order",
        "sharp",
        expect=("--order: is not a metric (got 'sharp')", "did you mean 'sharpe'?"),
    ),
    option(
        "results-order-unknown",
        "results",
        "--order",
        "zzz",
        expect=("--order: is not a metric (got 'zzz')", "metrics: sharpe, "),
    ),
    option("results-format-typo", "results", "--format", "jsn", expect=("did you mean json?",)),
    option("db-action-typo", "db", "statsu", expect=("did you mean status?",)),
    option(
        "report-unknown-option", "report", "btc-4h", "--forse", expect=("did you mean --force?",)
    ),
    option("dashboard-port-0", "dashboard", "--port", "0", expect=("--port: ", "(got '0')")),
    option("dashboard-port-high", "dashboard", "--port", "70000", expect=("--port: ",)),
    option("unknown-option", "run", "exp.yaml", "--trails", "5", expect=("--trails", "--trials?")),
    option("unknown-command", "rnu", "exp.yaml", expect=("'rnu'", "did you mean run?")),
    option("run-without-file", "run", expect=("file",)),
    option(
        "every-run-without-study", "results", "--every-run", expect=("--every-run: needs --study",)
    ),
    option(
        "predict-unknown-id",
        "predict",
        "no-such-experiment",
        expect=("EXPERIMENT_ID: no registered experiment", "'no-such-experiment'", "sweep results"),
    ),
    option("predict-last-0", "predict", PREDICTABLE, "--last", "0", expect=("--last: ", "'0'")),
    option("predict-last-text", "predict", PREDICTABLE, "--last", "abc", expect=("'abc'",)),
    option("predict-last-negative", "predict", PREDICTABLE, "--last", "-5", expect=("--last: ",)),
    option("predict-format", "predict", PREDICTABLE, "--format", "xml", expect=("'xml'", "csv")),
    option(
        "predict-data-without-symbol",
        "predict",
        PREDICTABLE,
        "--data",
        "other",
        files={"other/ETH_USDT-1h.csv": bars(60)},
        expect=("symbol: no OHLCV file for BTC/USDT 4h in ", "other", "(got 'BTC/USDT')"),
    ),
    option(
        "predict-data-missing-dir",
        "predict",
        PREDICTABLE,
        "--data",
        "nowhere",
        expect=("nowhere (no such directory)",),
    ),
    option(
        "predict-model-file-deleted",
        "predict",
        PREDICTABLE,
        expect=("model_path: the registered model file is missing", GONE_MODEL, "--refit"),
    ),
    option(
        "heartbeat-text",
        "run",
        "space.yaml",
        env={"SWEEP_HEARTBEAT_INTERVAL": "abc"},
        expect=("SWEEP_HEARTBEAT_INTERVAL: must be whole seconds", "(got 'abc')"),
    ),
    option(
        "heartbeat-grace-negative",
        "run",
        "space.yaml",
        env={"SWEEP_HEARTBEAT_GRACE": "-1"},
        expect=("SWEEP_HEARTBEAT_GRACE: must be whole seconds from 5", "(got '-1')"),
    ),
    option("worker-jobs-0", "worker", "btc-4h", "--jobs", "0", expect=("--jobs: ", "(got '0')")),
    option("worker-jobs-huge", "worker", "btc-4h", "--jobs", "5000", expect=("--jobs: ", "1024")),
    option("worker-timeout-nan", "worker", "btc-4h", "--timeout", "nan", expect=("--timeout: ",)),
    option("worker-timeout-0", "worker", "btc-4h", "--timeout", "0", expect=("--timeout: ", "'0'")),
    option("worker-study", "worker", "../x", expect=("study: ", "'../x'")),
    option("worker-no-study", "worker", expect=("study",)),
    option(
        "worker-unknown-study",
        "worker",
        "no-such-study",
        expect=("STUDY: no such study in the database", "'no-such-study'", "sweep studies"),
    ),
    option(
        "pgbouncer-setting",
        "run",
        "space.yaml",
        env={"SWEEP_PGBOUNCER": "maybe"},
        expect=("SWEEP_PGBOUNCER: must be 1", "'maybe'"),
    ),
    option(
        "artifacts-scheme",
        "run",
        "exp.yaml",
        env={"SWEEP_ARTIFACTS": "ftp://host/models"},
        expect=("SWEEP_ARTIFACTS: unknown artifact store scheme ftp://", "s3://bucket/prefix"),
    ),
    option(
        "artifacts-no-bucket",
        "run",
        "space.yaml",
        env={"SWEEP_ARTIFACTS": "s3:///models"},
        expect=("SWEEP_ARTIFACTS: names no bucket", "'s3:///models'"),
    ),
    option(
        "artifacts-unwritable",
        "run",
        "exp.yaml",
        env={"SWEEP_ARTIFACTS": "exp.yaml/models"},
        expect=("SWEEP_ARTIFACTS: cannot create the artifact directory",),
    ),
    option(
        "artifacts-no-parent",
        "run",
        "exp.yaml",
        env={"SWEEP_ARTIFACTS": "/nonexistent/shared/models"},
        expect=(
            "SWEEP_ARTIFACTS: cannot create the artifact directory: /nonexistent/shared is not a",
            "mount the shared directory",
        ),
    ),
    option(
        "artifacts-file",
        "run",
        "exp.yaml",
        env={"SWEEP_ARTIFACTS": "exp.yaml"},
        expect=("SWEEP_ARTIFACTS: is not a directory", "'exp.yaml'"),
    ),
    option(
        "database-url",
        "results",
        env={"SWEEP_DATABASE_URL": "mysql://user@host/db"},
        expect=("the database URL is not a PostgreSQL URL", "postgresql://"),
    ),
]

# A sample of the table in real subprocesses, as a user's shell runs them: one of each kind.
SUBPROCESS_SAMPLE = (
    "file-alias-bomb",
    "file-non-utf8-latin1",
    "file-duplicate-top-key",
    "exp-id-newline",
    "exp-gamma-1e308",
    "space-bound-inf",
    "data-csv-gz-truncated",
    "cli-timeout-nan",
    "cli-results-top-negative",
    "cli-study-newline",
    "cli-predict-unknown-id",
    "cli-worker-unknown-study",
    "cli-pgbouncer-setting",
)


# --- running a case ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry_url(module_db: str) -> str:
    """A database with the registry's and Optuna's tables, so every count below is real."""
    from sweep.store.registry import open_registry
    from sweep.study.optuna_study import create_storage, quiet_optuna

    for module in (
        "sweep.study.engine",
        "sweep.study.runner",
    ):  # no case's timing includes importing them
        importlib.import_module(module)

    conn = open_registry(module_db)
    try:
        _register_gone_model(conn)
    finally:
        conn.close()
    quiet_optuna()
    create_storage(module_db).engine.dispose()
    return module_db


def _register_gone_model(conn: Any) -> None:
    """The seed as experiment PREDICTABLE, with one result whose model file is not on disk."""
    from sweep.core.experiment import validate_experiment
    from sweep.store.registry import ResultRow, record_run

    cfg = validate_experiment({**SEED, "experiment_id": PREDICTABLE})
    row = ResultRow(
        status="ok", metrics={}, gate_passed=False, gate_failures=(), model_path=GONE_MODEL
    )
    record_run(conn, cfg, row, code_version="test")


def _materialize(case: Case, folder: Path) -> None:
    (folder / "data").symlink_to(ROOT / "data")
    (folder / "exp.yaml").write_text(SEED_TEXT)
    (folder / "space.yaml").write_text(SPACE_TEXT)
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _written(url: str, home: Path) -> tuple[tuple[int, ...], list[Path]]:
    with psycopg.connect(url, autocommit=True) as c:
        counts = []
        for table in TABLES:
            row = c.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            counts.append(int(row[0]))
    models = sorted(p for p in home.rglob("*") if p.is_file()) if home.exists() else []
    return tuple(counts), models


def _check_line(case: Case, code: object, out: str, err: str) -> str:
    assert code == 2, f"exit {code}\n{out}{err}"
    assert "Traceback" not in err, err
    assert out == "", out
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in case.expect:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    # a hint follows the message and value (a did-you-mean counts)
    assert "; " in line.split(" (got ", 1)[-1] or "did you mean" in line, line
    return line


@pytest.fixture
def case_dir(tmp_path: Path, registry_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SWEEP_DATABASE_URL", registry_url)
    monkeypatch.setenv("SWEEP_HOME", str(tmp_path / ".sweep"))
    for name in (
        "SWEEP_DATA_DIR",
        "SWEEP_HEARTBEAT_INTERVAL",
        "SWEEP_HEARTBEAT_GRACE",
        "SWEEP_PGBOUNCER",
        "SWEEP_ARTIFACTS",
    ):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    case: Case,
    case_dir: Path,
    registry_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _materialize(case, case_dir)
    before = _written(registry_url, case_dir / ".sweep")
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    caplog.set_level(logging.WARNING)
    t0 = time.process_time()
    try:
        code: object = main(list(case.argv))
    except SystemExit as e:  # argparse's refusals
        code = e.code
    elapsed = time.process_time() - t0
    out, err = capsys.readouterr()
    _check_line(case, code, out, err)
    # a warning logged on the way would be a second line on a user's terminal
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert _written(registry_url, case_dir / ".sweep") == before
    # refusals are immediate (CPU seconds): no case gets as far as training a model
    assert elapsed < 3, elapsed


@pytest.mark.parametrize("case_id", SUBPROCESS_SAMPLE)
def test_bad_input_in_a_real_subprocess(case_id: str, tmp_path: Path, registry_url: str) -> None:
    (case,) = [c for c in CASES if c.id == case_id]
    _materialize(case, tmp_path)
    env = {
        "SWEEP_DATABASE_URL": registry_url,
        "SWEEP_HOME": str(tmp_path / ".sweep"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **case.env,
    }
    before = _written(registry_url, tmp_path / ".sweep")
    res = run_cli(*case.argv, cwd=tmp_path, env=env, timeout=60)
    _check_line(case, res.returncode, res.stdout, res.stderr)
    assert _written(registry_url, tmp_path / ".sweep") == before


def test_the_alias_bomb_is_refused_in_milliseconds(tmp_path: Path) -> None:
    """A billion values behind nine lines: refused before anything expands them (it once ran
    80 s and died of a MemoryError). CPU time, so a busy machine does not make it flaky."""
    from sweep.core.config import read_yaml

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    t0 = time.process_time()
    with pytest.raises(SweepError, match="expands to more than 10,000 values"):
        read_yaml(path)
    assert time.process_time() - t0 < 0.5


def test_the_corpus_covers_every_kind_of_input() -> None:
    kinds = {c.id.split("-", 1)[0] for c in CASES}
    assert kinds == {"file", "exp", "space", "data", "cli"}
    assert len(CASES) >= 120
    assert len({c.id for c in CASES}) == len(CASES)


def test_anchors_aliases_and_merge_keys_stay_allowed(tmp_path: Path) -> None:
    """Users' anchors are not refused (only expansion past the bounds is), and a merge key's
    keys may be overridden in the same mapping: that is no duplicate."""
    from sweep.core.experiment import load_experiment

    text = SEED_TEXT.replace("early_stopping_rounds: 50", "early_stopping_rounds: &rounds 40") + (
        "costs: &costs {fee: 0.002, slippage: 0.001}\n"
        "backtest:\n  <<: *costs\n  fee: 0.003\n"
        "gate: {min_trades: *rounds}\n"
    )
    path = tmp_path / "anchors.yaml"
    path.write_text(text)
    with pytest.raises(SweepError, match=r"costs \(line 17\): unknown key"):
        load_experiment(path)  # the anchor's own key is still checked like any other
    path.write_text(
        text.replace("costs: &costs", "model: &costs", 1)
        .replace("{fee: 0.002, slippage: 0.001}", "{max_bin: 64}")
        .replace("  <<: *costs\n  fee: 0.003", "  fee: 0.003")
    )
    cfg = load_experiment(path)
    assert (cfg.model.max_bin, cfg.backtest.fee, cfg.gate.min_trades) == (64, 0.003, 40)
    merged = SEED_TEXT + "backtest:\n  <<: {fee: 0.002, slippage: 0.001}\n  fee: 0.003\n"
    path.write_text(merged)
    cfg = load_experiment(path)
    assert (cfg.backtest.fee, cfg.backtest.slippage) == (0.003, 0.001)


# --- hypothesis: mutations of the shipped files ---------------------------------------------------

# Values a mutation may write: edge numbers, text with control characters and other scripts,
# and near-valid values (a real timeframe, symbol, group, range) so mutants get past the first
# check and reach the deeper ones.
_NEAR_VALID = st.sampled_from(
    [
        "1e-3",
        "4h",
        "1h",
        "1d",
        "15m",
        "BTC/USDT",
        "ETH/USDT",
        "DOGE/USDT",
        "momentum",
        "trend",
        "tpe",
        "random",
        "median",
        "wilcoxon",
        "gate",
        "2021-01-01",
        "2021-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31",
        "2030-01-01",
        "x\n",
        "",
        ".inf",
        0,
        1,
        -1,
        0.5,
        0.999,
        1e-300,
        1e308,
        2**31,
        2**70,
        {"int": [1, 5]},
        {"float": [0.0, 1.0]},
        {"float": [0.01, 0.1], "log": True},
        {"choice": ["1h", "4h"]},
        {"subset": ["momentum", "trend"]},
        {"type": "walk_forward"},
    ]
)
_SCALARS = st.one_of(
    _NEAR_VALID,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["int", "float", "choice", "subset", "step", "log", "type", "folds"])
    return st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(keys | st.text(max_size=6), inner, max_size=3)
    )


_VALUES = st.recursive(_SCALARS, _nested, max_leaves=6)
_KEYS = st.sampled_from(
    ["horizon", "seed", "sweep", "model", "gate", "data", "cv", "min_size", "<<", "start", "end"]
) | st.text(max_size=10)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    out = []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_paths(v, (*prefix, k)))
    return out


@st.composite
def _mutant(draw: st.DrawFn, base: dict[str, Any]) -> str:
    """``base`` with 1 to 3 keys set to another value, deleted, renamed or added."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths)) if paths else ()
        parent: Any = data
        for k in path[:-1]:
            parent = parent[k]
        op = draw(st.sampled_from(["set", "set", "delete", "rename", "add"]))
        # copies: sampled_from hands out the same object every time, and later steps mutate
        value = copy.deepcopy(draw(_VALUES))
        if not path or op == "add":
            target = parent if isinstance(parent, dict) else data
            target[draw(_KEYS)] = value
        elif op == "set":
            parent[path[-1]] = value
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(_KEYS)] = parent.pop(path[-1])
    return _dump(data)


_SNIPPETS = st.sampled_from(
    [
        b"\x00",
        b"\xff",
        b"\xe9",
        b":",
        b": ",
        b"&a ",
        b"*a",
        b"[",
        b"]",
        b"{",
        b"}",
        b"- ",
        b" ",
        b"\t",
        b"\n",
        b"!!binary ",
        b"!!python/none ",
        b"#",
        b"'",
        b'"',
        b"<<: ",
        b"\xe2\x80\xae",
        b"\r",
        b"---\n",
        b"...\n",
        b"? ",
        b"|\n",
        b">\n",
        b"1e999",
        b".nan",
    ]
) | st.binary(min_size=1, max_size=3)


@st.composite
def _byte_mutant(draw: st.DrawFn, text: str) -> bytes:
    """The file's bytes with 1 to 4 insertions, replacements, deletions or duplicated lines."""
    b = bytearray(text.encode())
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(b)))
        op = draw(st.sampled_from(["insert", "replace", "delete", "dup-line"]))
        if op == "insert":
            b[pos:pos] = draw(_SNIPPETS)
        elif op == "replace":
            b[pos : pos + 1] = draw(_SNIPPETS)
        elif op == "delete":
            del b[pos : pos + draw(st.integers(1, 20))]
        else:
            start = b.rfind(b"\n", 0, pos) + 1
            end = b.find(b"\n", pos)
            line = b[start : end + 1] if end >= 0 else b[start:] + b"\n"
            b[start:start] = line
    return bytes(b)


def _preflight(path: Path) -> None:
    """What ``sweep run FILE`` does before its first write: read and validate the file; then, for
    a study, every dataset it can reach (``run_study``'s checks), or the experiment's dataset."""
    from sweep.core.experiment import load_experiment
    from sweep.study.engine import data_fingerprints
    from sweep.study.runner import load_dataset
    from sweep.study.space import load_space

    space = load_space(path)
    if space.is_study:
        data_fingerprints(space)
        return
    cfg = load_experiment(path)
    try:
        load_dataset(cfg)
    except SweepError as e:
        if e.file is None:  # as `sweep run` names the experiment file that asked for the data
            e.file = str(path)
        raise


def _accepted_or_refused_in_one_line(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not (path.parent / "data").exists():
        (path.parent / "data").symlink_to(ROOT / "data")
    try:
        _preflight(path)
    except SweepError as e:
        line = e.one_line()
        assert line.isprintable(), line
        assert line.startswith(f"{path}: ") or str(e.file).endswith(
            (".csv", ".csv.gz", ".parquet")
        ), line
        assert "; " in line.split(" (got ", 1)[-1] or "did you mean" in line, line
        # the CLI says the same, as one line with exit 2 (refusals stop before the database)
        capsys.readouterr()
        assert main(["run", str(path)]) == 2
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"error: {line}\n")
    # any other exception is a traceback and exit 1 for the user, and fails here


FUZZ_EXAMPLES = int(os.environ.get("SWEEP_FUZZ_EXAMPLES", "0"))  # > 0: a longer, random run
_FUZZ = settings(
    max_examples=FUZZ_EXAMPLES or 100,
    derandomize=not FUZZ_EXAMPLES,  # CI runs the same examples every time
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_FUZZ
@given(text=_mutant(SEED))
def test_mutated_experiment_files(
    text: str, case_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case_dir / "mutant.yaml"
    path.write_text(text)
    _accepted_or_refused_in_one_line(path, capsys)


@_FUZZ
@given(text=_mutant(SPACE))
def test_mutated_space_files(text: str, case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = case_dir / "mutant.yaml"
    path.write_text(text)
    _accepted_or_refused_in_one_line(path, capsys)


@_FUZZ
@given(raw_bytes=_byte_mutant(SEED_TEXT) | _byte_mutant(SPACE_TEXT))
def test_byte_mutations_of_the_shipped_files(
    raw_bytes: bytes, case_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = case_dir / "mutant.yaml"
    path.write_bytes(raw_bytes)
    _accepted_or_refused_in_one_line(path, capsys)
