"""`sweep schema`: the JSON Schema of experiment and search-space files, for editors."""

from __future__ import annotations

import argparse
import sys

from sweep.cli.output import check_output, write_whole
from sweep.cli.tables import EXIT_OK


def schema(args: argparse.Namespace) -> int:
    path = check_output(args.output, force=args.force) if args.output else None
    from sweep.study.schema import schema_text

    text = schema_text()
    if path is None:
        sys.stdout.write(text)
        return EXIT_OK
    write_whole(path, text)
    print(f"✓ wrote {path}")
    print("  editors use it for a YAML file whose first line names it (a path relative to")
    print("  the YAML file also works, as in search_spaces/*.yaml):")
    print(f"  # yaml-language-server: $schema={path.resolve()}")
    return EXIT_OK
