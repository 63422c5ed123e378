"""Command-line options checked where argparse reads them: one line each, exit 2.

argparse's own error output is a usage block and a message; sweep's promise is one line naming
the option, the value and a hint, before anything starts. :class:`OneLineParser` prints that
line, and the ``type=`` functions here refuse values that are negative, zero where zero means
nothing, NaN, infinite, or absurdly large. Each bound is stated in the function that uses it.
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

MAX_TRIALS = 1_000_000  # as sweep.trials: trial ids run to <study>-t1000000
MAX_JOBS = 1024  # worker processes on one machine; more is a typo (scale out with more machines)
MAX_TIMEOUT_S = 366 * 24 * 3600  # a year; a longer study is stopped with Ctrl-C, not a clock
MAX_TOP = 1_000_000  # leaderboard rows, as many as one study's trials
MAX_LAST = 1_000_000  # bars shown by `sweep predict`: a century of hourly bars is 876,600
_SHOWN = 40  # characters of a bad value shown in the message


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        # "argument --top: must be ..." reads as sweep's other errors: "--top: must be ..."
        if message.startswith("argument "):
            message = message[len("argument ") :]
        hint = "" if "; " in message else f"; {self._did_you_mean(message)}see `{self.prog} --help`"
        text = f"error: {message}{hint}"
        print("".join(c if c.isprintable() else repr(c)[1:-1] for c in text), file=sys.stderr)
        sys.exit(2)

    def _did_you_mean(self, message: str) -> str:
        """``did you mean --trials? `` for a misspelt option or command, else nothing."""
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        invalid = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if unknown:
            word, options = unknown.group(1).split("=")[0], _option_strings(self)
        elif invalid:
            word, options = invalid.group(1), re.findall(r"'([^']*)'", invalid.group(2))
        else:
            return ""
        close = difflib.get_close_matches(word, options, n=1)
        return f"did you mean {close[0]}? " if close else ""


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option of ``parser`` and of its subcommands."""
    found: list[str] = []
    for action in parser._actions:
        found += action.option_strings
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _option_strings(sub)
    return sorted(set(found))


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def whole_number(low: int, high: int, hint: str) -> Callable[[str], int]:
    """An integer option from ``low`` to ``high`` inclusive."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high} (got {_shown(text)}); {hint}"
            )
        return value

    parse.__name__ = "whole number"
    return parse


def seconds(text: str) -> float:
    """``--timeout S``: a finite number of seconds, above 0 and at most a year."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_TIMEOUT_S} (a year) "
            f"(got {_shown(text)}); e.g. --timeout 3600 stops starting trials after an hour"
        )
    return value


def study_name(text: str) -> str:
    """A study name: a safe name that leaves room for its trial ids."""
    from sweep.core.config import study_name_problem  # pydantic: not at `sweep --help`

    problem = study_name_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem} (got {_shown(text)}); e.g. btc-4h-v2")
    return text


def output_path(example: str) -> Callable[[str], str]:
    """``-o FILE``: a file path whose folder exists or can be made (checked before the database
    is opened, so a typo does not wait for a study's export to fail at the last step). Whether
    the file exists already is the command's check (``--force``: sweep.cli.output)."""

    def parse(text: str) -> str:
        path = Path(text)
        problem = None
        if not text.strip():
            problem = "must be a file path"
        elif path.is_dir():
            problem = "is a directory"
        else:
            blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
            if blocking is not None:
                problem = f"cannot be made: {blocking} is a file, not a folder"
        if problem:
            raise argparse.ArgumentTypeError(f"{problem} (got {_shown(text)}); e.g. -o {example}")
        return text

    parse.__name__ = "file path"
    return parse


def report_target(text: str) -> str:
    """``sweep report TARGET``: a study name or an experiment id (both safe names)."""
    from sweep.core.config import SAFE_NAME_RULE, is_safe_name  # pydantic: not at `--help`

    if not is_safe_name(text):
        raise argparse.ArgumentTypeError(
            f"{SAFE_NAME_RULE} (got {_shown(text)}); a study (`sweep studies`) or an "
            "experiment id (`sweep results`)"
        )
    return text


output_file = output_path("experiments/btc-4h-best.yaml")
report_file = output_path("reports/btc-4h.html")
schema_file = output_path("schema/sweep-config.schema.json")


trials = whole_number(1, MAX_TRIALS, "the study's total of counted trials, e.g. --trials 200")
jobs = whole_number(1, MAX_JOBS, "worker processes on this machine (default: all cores)")
top = whole_number(1, MAX_TOP, "how many leaderboard rows to show, e.g. --top 10")
# Optuna's trial number, as in the id: btc-4h-t0000 is trial 0
trial_number = whole_number(
    0, MAX_TRIALS, "the number in the trial's id (btc-4h-t0017: 17), e.g. --trial 17"
)
last_bars = whole_number(1, MAX_LAST, "how many of the newest bars to show, e.g. --last 10")
port = whole_number(1, 65_535, "a TCP port, e.g. --port 8080")
robust_top = whole_number(
    1, 50, "how many of the study's best trials to evaluate (as sweep.robust_top), e.g. --top 5"
)
robust_random = whole_number(
    0, 100, "random multi-parameter neighbours per candidate (0: none), e.g. --random 8"
)
