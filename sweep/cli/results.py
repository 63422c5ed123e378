"""`sweep results`: the leaderboard from SQL."""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import shutil
import sys

from sweep.cli.tables import (
    EXIT_OK,
    fit_columns,
    format_table,
    machine_value,
    metric_names,
    to_json,
)
from sweep.core.errors import ConfigError

# What `--format json` lists of each row: columns of model_results and experiments, by their
# names in the database (the metrics as the JSON object the registry stores).
JSON_COLUMNS = (
    "id",
    "experiment_id",
    "symbol",
    "timeframe",
    "feature_groups",
    "status",
    "gate_passed",
    "gate_failures",
    "holdout",
    "trained_at",
    "metrics",
)
# With --holdout, each look counted on the bars (sql/queries/leaderboard.sql).
HOLDOUT_JSON_COLUMNS = ("look_number", "looks_on_bars", "scored_on_bars")
_SHOWN_METRICS = ("sharpe", "win_rate", "alpha", "max_drawdown", "n_trades")
# On a terminal too narrow for the table, columns are left out in this order.
_DROP_ORDER = ("trained_at", "symbol", "timeframe", "max_drawdown", "status", "alpha")


def check_options(args: argparse.Namespace) -> None:
    """Bad options fail before the database is opened: nothing starts, nothing is written."""
    if args.every_run and not args.study:
        raise ConfigError(
            "needs --study NAME",
            key="--every-run",
            hint="without --study, `sweep results` lists every run already",
        )
    names = metric_names()
    if args.order not in names:
        close = difflib.get_close_matches(args.order, names, n=1)
        raise ConfigError(
            "is not a metric",
            key="--order",
            value=args.order,
            hint=f"did you mean '{close[0]}'?" if close else "metrics: " + ", ".join(names),
        )


def results(args: argparse.Namespace) -> int:
    from sweep.store.db import database_url
    from sweep.store.registry import leaderboard, open_registry

    check_options(args)
    conn = open_registry(database_url())
    try:
        if args.study:
            from sweep.study.summary import no_such_study, study_row

            if study_row(conn, args.study) is None:
                raise no_such_study(conn, args.study, key="--study")
        rows = leaderboard(
            conn,
            holdout=args.holdout,
            latest_only=False if args.every_run else None,
            passed_only=args.passed,
            top=args.top,
            order=args.order,
            ascending=args.asc,
            study=args.study,
            include_failed=args.all,
        )
        summary = None
        if args.study:
            from sweep.study.summary import study_summary_lines

            summary = study_summary_lines(conn, args.study)
    finally:
        conn.close()
    if args.format == "json":
        keys = JSON_COLUMNS + (HOLDOUT_JSON_COLUMNS if args.holdout else ())
        print(to_json([{c: r.get(c) for c in keys} for r in rows]))
        return EXIT_OK
    cols = ["experiment_id", "symbol", "timeframe", *_SHOWN_METRICS, "gate_passed"]
    if args.all:
        cols.append("status")
    if args.holdout:  # each look counted on the bars, as the holdout's own lines count them
        cols += ["look_number", "looks_on_bars", "scored_on_bars"]
    cols.append("trained_at")
    if args.order not in _SHOWN_METRICS:
        cols.insert(3, "order_value")
    rename = {"order_value": args.order}
    if args.format == "csv":
        every = [c for c in cols if c not in ("status", "trained_at", *HOLDOUT_JSON_COLUMNS)]
        every = ["id", *every, "status", "holdout", "trained_at"]
        if args.holdout:
            every += HOLDOUT_JSON_COLUMNS
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=[rename.get(c, c) for c in every])
        w.writeheader()
        w.writerows({rename.get(c, c): machine_value(r.get(c)) for c in every} for r in rows)
        print(buf.getvalue(), end="")
        return EXIT_OK
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    shown, left_out = fit_columns(rows, cols, width, _DROP_ORDER)
    print(format_table(rows, shown, rename=rename))
    total = int(rows[0]["n_matching"]) if rows else 0
    if total > len(rows):
        print(f"(showing {len(rows)} of {total}; a larger --top N shows more)")
    if left_out:
        n = len(left_out)
        print(f"({n} column{'s' if n > 1 else ''} left out to fit the terminal; see --format csv)")
    if summary:
        print()
        print("\n".join(summary))
    return EXIT_OK
