"""`sweep data list` and `sweep data check`: what OHLCV files a folder holds, and how clean
one market's bars are."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from sweep.cli.tables import EXIT_FAILED, EXIT_OK, format_table
from sweep.core.errors import ConfigError, SweepError


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
    from sweep.core.data import resolve_data_dir

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
            from sweep.core.datafiles import exchange_folders

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
        from sweep.core.datacheck import report_rows

        _print_rows(report_rows(report), ["check", "result", "detail"], args.format)
    return EXIT_OK if report.ok else EXIT_FAILED


def _data_list_rows(data_dir: Any) -> list[dict[str, Any]]:
    from sweep.core.data import TIMEFRAMES, load_file
    from sweep.core.datacheck import measure_coverage
    from sweep.core.datafiles import scan_data_dir

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

    from sweep.core.config import SYMBOL_RULE, is_symbol
    from sweep.core.data import find_data_file, load_market_data, read_raw_checked
    from sweep.core.datacheck import build_report, measure_coverage
    from sweep.core.datafiles import file_format

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
