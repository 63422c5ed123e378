"""The ``sweep`` command line. Bad input: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from sweep import __version__
from sweep.errors import ConfigError, SweepError

log = logging.getLogger("sweep")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sweep", description="Config-driven trading-ML experiments and sweeps."
    )
    p.add_argument("--version", action="version", version=f"sweep {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    # --debug and -v work after the subcommand too (`sweep run FILE --debug`)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and debug logs",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log progress to stderr",
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", parents=[common], help="run an experiment file, or a study if it holds ranges"
    )
    run.add_argument("file")
    run.add_argument("--trials", type=int, help="study: total finished trials wanted")
    run.add_argument("--jobs", type=int, help="study: worker processes (default: all cores)")
    run.add_argument("--study", help="study name (default: the file's experiment_id)")
    run.add_argument("--timeout", type=float, help="study: stop starting trials after S seconds")
    run.add_argument("--force", action="store_true", help="replace a changed config of this id")
    out = run.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    out.add_argument("--quiet", action="store_true", help="print nothing; exit code only")
    run.add_argument("--no-progress", action="store_true", help="study: no progress bar")

    res = sub.add_parser("results", parents=[common], help="the leaderboard from SQL")
    res.add_argument("--passed", action="store_true", help="only runs that passed the gate")
    res.add_argument("--top", type=int, default=20, help="rows to show (default 20)")
    res.add_argument("--order", default="sharpe", help="metric to sort by (default sharpe)")
    res.add_argument("--asc", action="store_true", help="ascending (e.g. for max_drawdown)")
    res.add_argument("--study", help="only this study's trials")
    res.add_argument("--all", action="store_true", help="include failed and pruned runs")
    res.add_argument("--holdout", action="store_true", help="sealed-holdout evaluations only")
    res.add_argument(
        "--every-run",
        action="store_true",
        help="with --study: every run, not only each trial's latest",
    )
    res.add_argument("--format", choices=("table", "csv", "json"), default="table")

    db = sub.add_parser("db", parents=[common], help="the registry database")
    db.add_argument("action", choices=("url", "upgrade", "status", "stop"))

    st = sub.add_parser("studies", parents=[common], help="list studies")
    st.add_argument("--format", choices=("table", "json"), default="table")

    ex = sub.add_parser(
        "export", parents=[common], help="write a study's trial as a fixed experiment YAML"
    )
    ex.add_argument("study")
    ex.add_argument(
        "--trial",
        type=int,
        help="the trial's number as in its id (btc-4h-t0017: 17); default: the best",
    )
    ex.add_argument("-o", "--output", help="file to write (default: stdout)")

    ho = sub.add_parser(
        "holdout",
        parents=[common],
        help="evaluate a walk-forward study's trial on its sealed holdout",
    )
    ho.add_argument("study")
    ho.add_argument(
        "--trial",
        type=int,
        help="the trial's number as in its id (btc-4h-t0017: 17); default: the best",
    )

    dash = sub.add_parser(
        "dashboard", parents=[common], help="serve Optuna Dashboard on the registry's storage"
    )
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8080)
    add_data_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("optuna", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        return int(_dispatch(args))
    except SweepError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sweep results | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("run", "holdout", "export"):  # the commands that train or load models
        from sweep.install import xgboost_build

        xgboost_build()
    if args.command == "run":
        return _run(args)
    if args.command == "results":
        return _results(args)
    if args.command == "db":
        return _db(args)
    if args.command == "data":
        return data_command(args)
    from sweep import cli_study  # the study commands pull in Optuna's storage machinery

    if args.command == "studies":
        return cli_study.studies(args)
    if args.command == "export":
        return cli_study.export(args)
    if args.command == "dashboard":
        return cli_study.dashboard(args)
    if args.command == "holdout":
        return cli_study.holdout(args)
    raise AssertionError(args.command)


def _run(args: argparse.Namespace) -> int:
    from sweep.space import load_space

    space = load_space(args.file)
    if space.is_study:
        from sweep import cli_study

        return cli_study.run_study_command(args, space)
    for flag in ("trials", "jobs", "timeout", "study"):
        if getattr(args, flag) is not None:
            log.warning("--%s is for studies; %s has no ranges", flag, args.file)
    return run_single(args, space.file)


def run_single(args: argparse.Namespace, file: str) -> int:
    from sweep.config import load_experiment
    from sweep.db import database_url
    from sweep.registry import check_config_unchanged, open_registry
    from sweep.runner import execute, load_dataset

    cfg = load_experiment(file)
    try:
        dataset = load_dataset(cfg)  # missing or bad data fails here, before anything is written
    except SweepError as e:
        if e.file is None:  # say which experiment file asked for the data
            e.file = file
        raise
    conn = open_registry(database_url())
    try:
        check_config_unchanged(conn, cfg, force=args.force, file=file)
        outcome = execute(cfg, conn, nthread=os.cpu_count() or 1, force=args.force, dataset=dataset)
    finally:
        conn.close()
    if args.json:
        print(
            json.dumps(
                {
                    "experiment_id": outcome.experiment_id,
                    "result_id": outcome.result_id,
                    "status": outcome.status,
                    "gate_passed": outcome.gate_passed,
                    "gate_failures": list(outcome.gate_failures),
                    "metrics": outcome.metrics,
                    "model_path": outcome.model_path,
                    "error": outcome.error,
                },
                indent=2,
            )
        )
    elif not args.quiet:
        print(
            result_line(
                outcome.experiment_id, outcome.metrics, outcome.gate_failures, outcome.error
            )
        )
    if outcome.status != "ok":
        return EXIT_FAILED
    return EXIT_OK


def result_line(
    experiment_id: str,
    metrics: dict[str, Any] | None,
    failures: Sequence[str],
    error: str | None = None,
) -> str:
    """The seed's one-line result."""
    from sweep.summary import pct  # pulls in the registry: keep `sweep --help` fast

    if error is not None:
        return f"✗ {experiment_id} failed: {error}"
    if failures:
        return "✗ Gate failures: " + ", ".join(failures)
    m = metrics or {}
    return (
        f"✓ {experiment_id} registered — Sharpe: {_num(m.get('sharpe'))}, "
        f"WR: {pct(m.get('win_rate'))}, vs B&H: {pct(m.get('alpha'), signed=True)}"
    )


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def _results(args: argparse.Namespace) -> int:
    from sweep.db import database_url
    from sweep.registry import leaderboard, open_registry, to_json

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
            from sweep.summary import study_row

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
            from sweep.summary import study_summary_lines

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


def format_table(
    rows: Sequence[dict[str, Any]], cols: Sequence[str], rename: dict[str, str] | None = None
) -> str:
    """A plain-text table; floats with 4 significant decimals, timestamps to the second."""
    rename = rename or {}

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}"
        if hasattr(v, "strftime"):
            return str(v.strftime("%Y-%m-%d %H:%M:%S"))
        return str(v)

    head = [rename.get(c, c) for c in cols]
    body = [[cell(r.get(c)) for c in cols] for r in rows]
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    if not body:
        lines.append("(no results)")
    return "\n".join(lines)


def _db(args: argparse.Namespace) -> int:
    from sweep.db import ENV_URL, EmbeddedServer, database_url, masked, sweep_home

    if args.action == "stop":
        if os.environ.get(ENV_URL):
            print(f"{ENV_URL} is set; sweep does not manage that server", file=sys.stderr)
            return EXIT_FAILED
        stopped = EmbeddedServer(sweep_home() / "pgdata").stop()
        print("stopped" if stopped else "not running")
        return EXIT_OK
    url = database_url()
    if args.action == "url":
        print(url)
        return EXIT_OK
    from sweep.registry import migrations, open_registry, schema_version, upgrade

    conn = open_registry(url) if args.action == "status" else None
    if args.action == "upgrade":
        from sweep.db import connect

        conn = connect(url, autocommit=True)
        applied = upgrade(conn)
        print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    assert conn is not None
    version = schema_version(conn)
    conn.close()
    if args.action == "status":
        latest = migrations()[-1][0]
        print(f"database: {masked(url)}\nschema version: {version} (latest {latest})")
    return EXIT_OK


# --- sweep data list / check ------------------------------------------------------------------


def add_data_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``sweep data list [DIR]`` and ``sweep data check SYMBOL TIMEFRAME [--data DIR]``."""
    data = sub.add_parser("data", parents=[common], help="list and check OHLCV files")
    actions = data.add_subparsers(dest="data_command", required=True)
    ls = actions.add_parser(
        "list", parents=[common], help="every OHLCV file in a data directory, with its span"
    )
    ls.add_argument("dir", nargs="?", help="data directory (default: SWEEP_DATA_DIR, else data/)")
    ls.add_argument("--format", choices=("table", "csv", "json"), default="table")
    check = actions.add_parser(
        "check", parents=[common], help="validation report on one market's bars"
    )
    check.add_argument("symbol", help="e.g. BTC/USDT, or BTC/USDT:USDT for futures")
    check.add_argument("timeframe", help="e.g. 1h; a coarser one is resampled from a finer file")
    check.add_argument(
        "--data", dest="data_dir", help="data directory (default: SWEEP_DATA_DIR, else data/)"
    )
    check.add_argument("--format", choices=("table", "csv", "json"), default="table")


def data_command(args: argparse.Namespace) -> int:
    """Exit 0 when the data is clean, 1 when a file would be refused, 2 on bad input."""
    from sweep.data import resolve_data_dir

    if args.data_command == "list":
        data_dir = resolve_data_dir(args.dir)
        if not data_dir.is_dir():
            raise ConfigError(
                "no such directory",
                key="DIR",
                value=str(data_dir),
                hint="give the folder of OHLCV files, e.g. data or user_data/data/binance",
            )
        rows = _data_list_rows(data_dir)
        cols = ["symbol", "timeframe", "format", "first_bar", "last_bar", "rows", "gaps"]
        cols += ["missing", "bars_per_year", "file", "status"]
        if not rows and args.format == "table":
            from sweep.datafiles import exchange_folders

            folders = exchange_folders(data_dir)
            where = f"; its folders {', '.join(folders)} hold some" if folders else ""
            print(f"(no OHLCV files in {data_dir}{where})")
        else:
            _print_rows(rows, cols, args.format)
        return EXIT_FAILED if any(r["status"] != "ok" for r in rows) else EXIT_OK
    report = _data_check_report(args.symbol, args.timeframe, resolve_data_dir(args.data_dir))
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        from sweep.datacheck import report_rows

        _print_rows(report_rows(report), ["check", "result", "detail"], args.format)
    return EXIT_OK if report.ok else EXIT_FAILED


def _data_list_rows(data_dir: Any) -> list[dict[str, Any]]:
    from sweep.data import TIMEFRAMES, load_file
    from sweep.datacheck import measure_coverage
    from sweep.datafiles import scan_data_dir

    rows = []
    for f in scan_data_dir(data_dir):
        row: dict[str, Any] = {
            "symbol": f.symbol,
            "timeframe": f.timeframe,
            "format": f.format,
            "file": f.relative_to(data_dir),
        }
        if f.timeframe not in TIMEFRAMES:
            row["status"] = f"timeframe {f.timeframe} is not one sweep reads"
        else:
            try:
                cov = measure_coverage(load_file(f.path, f.timeframe).index, f.timeframe)
            except SweepError as e:
                row["status"] = e.one_line().removeprefix(f"{f.path.name}: ")
            else:
                assert cov is not None  # a validated file has at least one bar
                row.update(
                    first_bar=cov.first_bar,
                    last_bar=cov.last_bar,
                    rows=cov.bars,
                    gaps=cov.gaps,
                    missing=cov.missing_bars,
                    bars_per_year=round(cov.bars_per_year),
                    status="ok",
                )
        rows.append(row)
    return rows


def _data_check_report(symbol: str, timeframe: str, data_dir: Any) -> Any:
    from dataclasses import replace

    from sweep.config import SYMBOL_RULE, is_symbol
    from sweep.data import find_data_file, load_market_data, read_raw_checked
    from sweep.datacheck import build_report, measure_coverage
    from sweep.datafiles import file_format

    if not is_symbol(symbol):
        raise ConfigError(SYMBOL_RULE, key="SYMBOL", value=symbol)
    path, source_tf = find_data_file(symbol, timeframe, data_dir)
    report = build_report(
        read_raw_checked(path),
        file=str(path),
        file_format=file_format(path),
        symbol=symbol,
        timeframe=timeframe,
        source_timeframe=source_tf,
    )
    if source_tf != timeframe:
        if report.ok:
            frame = load_market_data(symbol, timeframe, data_dir).frame
            report = replace(report, resampled=measure_coverage(frame.index, timeframe))
        else:
            note = f"no {timeframe} bars resampled from {source_tf}: fix the file first"
            report = replace(report, notes=[note])
    return report


def _print_rows(rows: Sequence[dict[str, Any]], cols: Sequence[str], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(list(rows), indent=2, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        print(buf.getvalue(), end="")
    else:
        print(format_table(rows, cols))


if __name__ == "__main__":
    raise SystemExit(main())
