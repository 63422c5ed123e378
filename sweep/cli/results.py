"""`sweep results`: the leaderboard from SQL."""

from __future__ import annotations

import argparse
import csv
import io

from sweep.cli.tables import EXIT_OK, format_table
from sweep.core.errors import ConfigError


def results(args: argparse.Namespace) -> int:
    from sweep.store.db import database_url
    from sweep.store.registry import leaderboard, open_registry, to_json

    if args.every_run and not args.study:
        # Checked before the database is opened: bad arguments start no server.
        raise ConfigError(
            "needs --study NAME",
            key="--every-run",
            hint="without --study, `sweep results` lists every run already",
        )
    conn = open_registry(database_url())
    try:
        if args.study:
            from sweep.study.summary import study_row

            if study_row(conn, args.study) is None:
                raise ConfigError(
                    "no such study",
                    key="--study",
                    value=args.study,
                    hint="`sweep studies` lists them",
                )
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
        print(to_json(rows))
        return EXIT_OK
    cols = [
        "experiment_id",
        "symbol",
        "timeframe",
        "sharpe",
        "win_rate",
        "alpha",
        "max_drawdown",
        "n_trades",
        "gate_passed",
        "status",
        "holdout",
        "trained_at",
    ]
    if args.holdout:
        cols[cols.index("holdout")] = "look_number"
        cols.insert(cols.index("look_number") + 1, "looks_on_bars")
        cols.insert(cols.index("looks_on_bars") + 1, "scored_on_bars")
    if args.order not in ("sharpe", "win_rate", "alpha", "max_drawdown", "n_trades"):
        cols.insert(3, "order_value")
    if args.format == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        print(buf.getvalue(), end="")
        return EXIT_OK
    print(format_table(rows, cols, rename={"order_value": args.order}))
    total = int(rows[0]["n_matching"]) if rows else 0
    if total > len(rows):
        print(f"(showing {len(rows)} of {total}; a larger --top N shows more)")
    if summary:
        print()
        print("\n".join(summary))
    return EXIT_OK
