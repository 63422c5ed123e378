"""Files the CLI writes (``-o FILE``): checked before any work, written whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from sweep.core.errors import ConfigError

__all__ = ["check_output", "write_whole"]


def check_output(
    output: str, *, force: bool, key: str = "-o", hint: str = "pass --force to replace it"
) -> Path:
    """The path ``-o`` names, refused before anything runs when it would replace a file
    without ``--force``, is a folder, or lies in a folder that cannot be created."""
    path = Path(output)
    if path.is_dir():
        raise ConfigError("is a folder", key=key, value=output, hint="name a file")
    if path.exists() and not force:
        raise ConfigError("exists already", key=key, value=output, hint=hint)
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ConfigError(
            "cannot be written: its folder is not a writable folder",
            key=key,
            value=output,
            hint=f"check {parent}",
        )
    return path


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: a reader (or a crash)
    never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
