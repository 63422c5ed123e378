"""`sweep report`: one self-contained HTML file for a study or an experiment."""

from __future__ import annotations

import argparse
import time

from sweep.cli.output import check_output, write_whole
from sweep.cli.tables import EXIT_OK


def report(args: argparse.Namespace) -> int:
    if args.output:
        path = check_output(args.output, force=args.force)
    else:  # the default file, here: the refusal says how to name another
        path = check_output(
            f"{args.target}.html",
            force=args.force,
            key="report file",
            hint="pass --force to replace it, or -o FILE for another",
        )
    from sweep.report import build_report
    from sweep.store.db import database_url
    from sweep.study.optuna_study import quiet_optuna

    quiet_optuna()
    t0 = time.perf_counter()
    built = build_report(args.target, database_url())
    write_whole(path, built.html)
    size = len(built.html.encode()) / 2**20
    print(
        f"✓ wrote {path}: {built.kind} {built.target}, {built.n_figures} plots, "
        f"{size:.1f} MiB, in {time.perf_counter() - t0:.1f} s"
    )
    return EXIT_OK
