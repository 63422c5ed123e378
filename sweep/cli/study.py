"""The study commands of the CLI: run a space, list studies, export a trial, the dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sweep.cli.progress import StudyProgress
from sweep.study.engine import run_study
from sweep.study.optuna_study import quiet_optuna
from sweep.study.space import SearchSpace
from sweep.study.summary import StudySummary, summary_lines

EXIT_OK = 0


def run_study_command(args: argparse.Namespace, space: SearchSpace, command: str = "run") -> int:
    quiet_optuna()
    show = not (args.quiet or args.json or args.no_progress)
    bar = StudyProgress(sys.stderr) if show else None
    try:
        summary = run_study(
            space,
            name=args.study,
            n_trials=args.trials,
            jobs=args.jobs,
            timeout=args.timeout,
            on_progress=bar.update if bar else None,
            command=command,
            on_robust=bar.robust if bar else None,
        )
    finally:  # after Ctrl-C too: the interruption's message starts on a clean line
        if bar:
            bar.close()
    if args.json:
        from sweep.cli.tables import to_json

        print(to_json(study_json(summary)))
    elif not args.quiet:
        print("\n".join(summary_lines(summary)))
        if summary.status == "timed_out":
            print(
                f"stopped by --timeout at {summary.n_results} of {summary.n_target} trials; "
                "the same command runs the rest"
            )
        n = summary.name
        print("look closer:")
        for cmd, what in (
            (f"sweep report {n}", "one HTML page: verdict, plots, equity"),
            (f"sweep results --study {n}", "the leaderboard"),
            ("sweep dashboard", "Optuna Dashboard on the same storage"),
            (f"sweep export {n} -o {n}-best.yaml", "the chosen trial as a file"),
        ):
            print(f"  {cmd:<{max(30, len(cmd))}}  # {what}")
    return EXIT_OK


# What `sweep studies --format json` lists: sweep_studies' columns, by their names there.
STUDY_JSON_COLUMNS = (
    "study_name",
    "status",
    "n_trials_target",
    "n_complete",
    "n_pruned",
    "n_failed",
    "n_running",
    "objectives",
    "directions",
    "sampler",
    "seed",
    "pruner",
    "constraints",
    "best_trial",
    "best_experiment_id",
    "trial_id_offset",
    "stats",
    "started_at",
    "ended_at",
)


# ... and what is read from them, under the names it has there: the verdict and its reasons (in
# stats), and the holdout looks counted from holdout_looks: this study's, and any study's on the
# same bars.
STUDY_JSON_DERIVED = (
    "participants",
    "verdict",
    "verdict_reasons",
    "holdout_looks",
    "holdout_looks_on_bars",
)


def study_json(summary: StudySummary) -> dict[str, Any]:
    """``sweep run SPACE --json``: the study's row by sweep_studies' column names, and its
    chosen trial's result by model_results' (``id``, not ``result_id``)."""
    best = dict(summary.best) if summary.best is not None else None
    if best is not None:
        best["id"] = best.pop("result_id", None)
    return {
        "study_name": summary.name,
        "status": summary.status,
        "n_trials_target": summary.n_target,
        "n_complete": summary.by_status.get("ok", 0),
        "n_pruned": summary.by_status.get("pruned", 0),
        "n_failed": summary.by_status.get("failed", 0),
        "best_trial": best["trial_number"] if best else None,
        "best_experiment_id": best["experiment_id"] if best else None,
        "stats": summary.stats,
        "best": best,
    }


def worker(args: argparse.Namespace) -> int:
    """``sweep worker STUDY``: join a study with what the database recorded of it."""
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.joining import load_stored_study

    # --jobs, --timeout and STUDY were checked by argparse (sweep.cli.args): bad arguments
    # start no server.
    conn = open_registry(database_url())
    try:
        stored = load_stored_study(conn, args.study)
    finally:
        conn.close()
    args.trials = stored.n_trials
    return run_study_command(args, stored.space, command="worker")


def _live_counts(conn: Any, rows: list[dict[str, Any]]) -> None:
    """A study not yet ended counts its trials from Optuna's tables: ``sweep_studies`` holds
    the counts as of the last participant that left, so a running study's would lag."""
    from sweep.study.optuna_study import trial_counts

    open_ = [r for r in rows if r["status"] in ("running", "interrupted")]
    if not open_:
        return
    exists = conn.execute("SELECT to_regclass('trials') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return  # no Optuna tables: nothing newer than the stored counts
    for r in open_:
        counts = trial_counts(conn, str(r["study_name"]))
        if counts.total:
            r.update(
                n_complete=counts.complete,
                n_pruned=counts.pruned,
                n_failed=counts.failed,
                n_running=counts.running,
            )


def studies(args: argparse.Namespace) -> int:
    import shutil

    from psycopg.rows import dict_row

    from sweep.cli.tables import fit_columns, format_table, to_json
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry, query

    conn = open_registry(database_url())
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            from sweep.study.optuna_study import heartbeat_settings

            cur.execute(query("study_list"), {"grace": heartbeat_settings()[1]})
            rows = list(cur.fetchall())
        _live_counts(conn, rows)
    finally:
        conn.close()
    if args.format == "json":
        keys = STUDY_JSON_COLUMNS + STUDY_JSON_DERIVED
        print(to_json([{c: r.get(c) for c in keys} for r in rows]))
        return EXIT_OK
    cols = [
        "study_name",
        "status",
        "participants",
        "n_trials_target",
        "n_complete",
        "n_pruned",
        "n_failed",
        "verdict",
        "best_experiment_id",
        "best_value",
        "dsr",
        "pbo",
        "timing_p",
        "holdout_looks",
        "started_at",
    ]
    from sweep.cli.tables import FRACTION_METRICS, pct

    for r in rows:  # a fraction objective's best value as a percentage, as everywhere for people
        objective = (r.get("objectives") or [""])[0]
        if objective in FRACTION_METRICS and r.get("best_value") is not None:
            r["best_value"] = pct(r["best_value"])
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    drop = (
        "started_at",
        "n_failed",
        "n_pruned",
        "best_value",
        "n_trials_target",
        "holdout_looks",
        "timing_p",
    )
    shown, left_out = fit_columns(rows, cols, width, drop)
    print(format_table(rows, shown, rename={"n_trials_target": "target"}))
    if left_out:
        n = len(left_out)
        print(f"({n} column{'s' if n > 1 else ''} left out to fit the terminal; see --format json)")
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    _check_select(args)
    from sweep.cli.output import check_output, write_whole
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.export import export_trial
    from sweep.study.optuna_study import create_storage, quiet_optuna

    path = check_output(args.output, force=args.force) if args.output else None
    quiet_optuna()
    url = database_url()
    conn = open_registry(url)
    try:
        number = _optuna_number(conn, args.study, args.trial)
        out = export_trial(conn, create_storage(url), args.study, number, select=args.select)
    finally:
        conn.close()
    if out.gate_failures:
        print("✗ Gate failures: " + ", ".join(out.gate_failures), file=sys.stderr)
    if path is not None:
        write_whole(path, out.text)
        print(f"✓ wrote {path} ({out.experiment_id})")
    else:
        print(out.text, end="")
    return EXIT_OK


def dashboard(args: argparse.Namespace) -> int:
    import optuna_dashboard

    from sweep.store.db import database_url, masked
    from sweep.store.registry import open_registry

    url = database_url()
    open_registry(url).close()  # fail fast, and make sure the schema exists

    from sweep.study.optuna_study import create_storage, quiet_optuna

    quiet_optuna()
    storage = create_storage(url)
    print(
        f"Optuna Dashboard on http://{args.host}:{args.port}/ for {masked(url)} (Ctrl-C to stop)",
        file=sys.stderr,
    )
    from sweep.store.artifacts import artifact_location, open_store

    # the trials' model files, listed per trial, downloadable from the store they went to
    store = open_store(artifact_location())
    optuna_dashboard.run_server(storage, host=args.host, port=args.port, artifact_store=store)
    return EXIT_OK


def holdout(args: argparse.Namespace) -> int:
    import os

    _check_select(args)
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.holdout import evaluate_holdout, holdout_line

    conn = open_registry(database_url())
    try:
        number = _optuna_number(conn, args.study, args.trial)
        h = evaluate_holdout(
            conn, args.study, number, nthread=os.cpu_count() or 1, select=args.select
        )
    finally:
        conn.close()
    if h.chosen_by:
        print(h.chosen_by)
    print(("✓ " if h.gate_passed else "✗ ") + holdout_line(h))
    return EXIT_OK


def _check_select(args: argparse.Namespace) -> None:
    """``--select``: a known rule, and not with ``--trial`` (which names the trial itself)."""
    from sweep.core.config import did_you_mean
    from sweep.core.errors import ConfigError
    from sweep.study.selection import SELECT_RULES

    if args.select is None:
        return
    if args.select not in SELECT_RULES:
        raise ConfigError(
            "unknown selection rule",
            key="--select",
            value=args.select,
            hint=did_you_mean(args.select, SELECT_RULES, "rules"),
        )
    if args.trial is not None:
        raise ConfigError(
            "cannot be combined with --trial",
            key="--select",
            value=args.select,
            hint="--trial N names the trial; --select chooses one",
        )


def _optuna_number(conn: Any, study: str, trial: int | None) -> int | None:
    """``--trial 17`` names ``<study>-t0017``: Optuna's trial 17, or 16 in a study started
    before sweep numbered ids as Optuna does (``sweep_studies.trial_id_offset`` 1)."""
    if trial is None:
        return None
    from sweep.study.optuna_study import trial_id_offset

    offset = trial_id_offset(conn, study)
    if trial < offset:
        from sweep.core.errors import ConfigError

        raise ConfigError(
            f"must be >= {offset}: this study's ids start at t{offset:04d}",
            key="--trial",
            value=trial,
        )
    return trial - offset
