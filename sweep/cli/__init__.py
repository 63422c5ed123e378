"""The ``sweep`` command line: presentation only, one module per command group."""

from __future__ import annotations

from sweep.cli.main import main

__all__ = ["main"]
