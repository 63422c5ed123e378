"""The exception hierarchy.

Every error sweep raises on purpose derives from :class:`SweepError`; each subclass is also the
matching built-in, so callers that catch ``ValueError`` or ``FileNotFoundError`` keep working.
The CLI prints ``str(error)`` as one line and exits 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_VALUE_CHARS = 100  # a value longer than this is cut in the one-line message


class SweepError(Exception):
    """Base of all errors sweep raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.key = key
        self.value = value
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``file: key: message (got value); hint`` with the parts that are known."""
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.key:
            parts.append(self.key)
        text = ": ".join([*parts, self.message])
        if self.value is not None:
            shown = repr(self.value)
            if len(shown) > MAX_VALUE_CHARS:
                shown = shown[: MAX_VALUE_CHARS - 3] + "..."
            text += f" (got {shown})"
        if self.hint:
            text += f"; {self.hint}"
        # One line whatever a file or value held: control characters are shown escaped.
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``did you mean 'x'? `` for the closest of ``choices`` to a misspelt ``word``, or nothing:
    the start of a hint."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


class ConfigError(SweepError, ValueError):
    """An experiment or search-space file is malformed or invalid."""


class DataError(SweepError, ValueError):
    """Market data is missing, malformed or too short."""


class DataFileNotFound(DataError, FileNotFoundError):
    """No OHLCV file could be found for a symbol and timeframe."""


class PipelineError(SweepError, RuntimeError):
    """An experiment could not be run to the end (e.g. too few samples); a recorded result."""


class RegistryError(SweepError, RuntimeError):
    """The database is unreachable, refused a write, or has a stale schema."""


class InstallError(SweepError, RuntimeError):
    """The Python environment cannot run sweep as installed (e.g. two XGBoost builds at once)."""
