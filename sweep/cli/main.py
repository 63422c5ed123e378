"""The ``sweep`` command line. Bad input: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from sweep._version import __version__
from sweep.cli import args as cli_args
from sweep.cli.tables import EXIT_BAD_INPUT, EXIT_OK
from sweep.core.errors import SweepError

_SELECT_HELP = (
    "peak (the best objective) or robust (among the top K, the best lower-quartile neighbour "
    "objective); default: the study's sweep.select"
)


def _parser() -> argparse.ArgumentParser:
    p = cli_args.OneLineParser(
        prog="sweep", description="Config-driven trading-ML experiments and sweeps."
    )
    p.add_argument("--version", action="version", version=f"sweep {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    # --debug and -v work after the subcommand too (`sweep run FILE --debug`)
    common = cli_args.OneLineParser(add_help=False)
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
    run.add_argument("--trials", type=cli_args.trials, help="study: total finished trials wanted")
    run.add_argument(
        "--jobs", type=cli_args.jobs, help="study: worker processes (default: all cores)"
    )
    run.add_argument(
        "--study", type=cli_args.study_name, help="study name (default: the file's experiment_id)"
    )
    run.add_argument(
        "--timeout", type=cli_args.seconds, help="study: stop starting trials after S seconds"
    )
    run.add_argument("--force", action="store_true", help="replace a changed config of this id")
    out = run.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    out.add_argument("--quiet", action="store_true", help="print nothing; exit code only")
    run.add_argument("--no-progress", action="store_true", help="study: no progress bar")

    wk = sub.add_parser(
        "worker",
        parents=[common],
        help="join a study on this machine: its space, seeds and budget come from the database",
    )
    wk.add_argument(
        "study", type=cli_args.study_name, help="the study's name (`sweep studies` lists them)"
    )
    wk.add_argument("--jobs", type=cli_args.jobs, help="worker processes (default: all cores)")
    wk.add_argument("--timeout", type=cli_args.seconds, help="stop starting trials after S seconds")
    wk_out = wk.add_mutually_exclusive_group()
    wk_out.add_argument("--json", action="store_true", help="print the study's summary as JSON")
    wk_out.add_argument("--quiet", action="store_true", help="print nothing; exit code only")
    wk.add_argument("--no-progress", action="store_true", help="no progress bar")

    res = sub.add_parser("results", parents=[common], help="the leaderboard from SQL")
    res.add_argument("--passed", action="store_true", help="only runs that passed the gate")
    res.add_argument("--top", type=cli_args.top, default=20, help="rows to show (default 20)")
    res.add_argument("--order", default="sharpe", help="metric to sort by (default sharpe)")
    res.add_argument("--asc", action="store_true", help="ascending (e.g. for max_drawdown)")
    res.add_argument("--study", type=cli_args.study_name, help="only this study's trials")
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
    ex.add_argument("study", type=cli_args.study_name)
    ex.add_argument(
        "--trial",
        type=cli_args.trial_number,
        help="the number in the trial's id (btc-4h-t0017: 17); default: the chosen trial",
    )
    ex.add_argument(
        "-o", "--output", type=cli_args.output_file, help="file to write (default: stdout)"
    )
    ex.add_argument("--select", help=_SELECT_HELP)
    ex.add_argument("--force", action="store_true", help="replace the -o file if it exists")

    ho = sub.add_parser(
        "holdout",
        parents=[common],
        help="evaluate a walk-forward study's trial on its sealed holdout",
    )
    ho.add_argument("study", type=cli_args.study_name)
    ho.add_argument(
        "--trial",
        type=cli_args.trial_number,
        help="the number in the trial's id (btc-4h-t0017: 17); default: the chosen trial",
    )
    ho.add_argument("--select", help=_SELECT_HELP)

    rb = sub.add_parser(
        "robust",
        parents=[common],
        help="does a study's winner hold up: neighbours, seeds, symbols, regimes",
    )
    rb.add_argument("study", type=cli_args.study_name)
    rb.add_argument(
        "--trial", type=cli_args.trial_number, help="evaluate this trial (btc-4h-t0017: 17)"
    )
    rb.add_argument(
        "--top", type=cli_args.robust_top, help="evaluate the K best (default: the chosen trial)"
    )
    rb.add_argument("--jobs", type=cli_args.jobs, help="worker processes (default: all cores)")
    rb.add_argument(
        "--random",
        type=cli_args.robust_random,
        default=0,
        help="also R random multi-parameter neighbours",
    )
    rb.add_argument("--select", help=_SELECT_HELP)
    rb.add_argument("--format", choices=("table", "json"), default="table")
    rb.add_argument("--no-progress", action="store_true", help="no progress line")

    rp = sub.add_parser(
        "report",
        parents=[common],
        help="one self-contained HTML report of a study or an experiment",
    )
    rp.add_argument("target", type=cli_args.report_target, metavar="STUDY|EXPERIMENT_ID")
    rp.add_argument(
        "-o",
        "--output",
        type=cli_args.report_file,
        help="file to write (default: TARGET.html here)",
    )
    rp.add_argument("--force", action="store_true", help="replace the file if it exists")

    sc = sub.add_parser(
        "schema",
        parents=[common],
        help="print the JSON Schema of experiment and space files (for editors)",
    )
    sc.add_argument(
        "-o", "--output", type=cli_args.schema_file, help="file to write (default: stdout)"
    )
    sc.add_argument("--force", action="store_true", help="replace the -o file if it exists")

    dash = sub.add_parser(
        "dashboard", parents=[common], help="serve Optuna Dashboard on the registry's storage"
    )
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=cli_args.port, default=8080)
    from sweep.cli.predict import add_predict_parser

    add_predict_parser(sub, common)
    from sweep.cli.data import add_data_parser

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
        return int(getattr(e, "exit_code", EXIT_BAD_INPUT))  # a lost database: 75, not bad input
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sweep results | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    # Each command group imports its own machinery, so `sweep --help` stays light.
    # the commands that train or load models
    if args.command in ("run", "holdout", "export", "predict"):
        from sweep.core.install import xgboost_build

        xgboost_build()
    if args.command == "data":
        from sweep.cli.data import data_command

        return data_command(args)
    if args.command == "run":
        from sweep.cli.run import run

        return run(args)
    if args.command == "predict":
        from sweep.cli.predict import predict

        return predict(args)
    if args.command == "results":
        from sweep.cli.results import results

        return results(args)
    if args.command == "db":
        from sweep.cli.db import db

        return db(args)
    if args.command == "report":
        from sweep.cli.report import report

        return report(args)
    if args.command == "schema":
        from sweep.cli.schema import schema

        return schema(args)
    from sweep.cli import study  # the study commands pull in Optuna's storage machinery

    if args.command == "worker":
        return study.worker(args)
    if args.command == "studies":
        return study.studies(args)
    if args.command == "export":
        return study.export(args)
    if args.command == "dashboard":
        return study.dashboard(args)
    if args.command == "holdout":
        return study.holdout(args)
    if args.command == "robust":
        from sweep.cli.robust import robust

        return robust(args)
    raise AssertionError(args.command)
