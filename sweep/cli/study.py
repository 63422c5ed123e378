"""The study commands of the CLI: run a space, list studies, export a trial, the dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from sweep.study.engine import Progress, run_study
from sweep.study.optuna_study import quiet_optuna
from sweep.study.space import SearchSpace
from sweep.study.summary import summary_lines

EXIT_OK = 0


def run_study_command(args: argparse.Namespace, space: SearchSpace, command: str = "run") -> int:
    quiet_optuna()
    show = not (args.quiet or args.json or args.no_progress)
    bar = _ProgressBar(sys.stderr) if show else None
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
    if bar:
        bar.close()
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "study": summary.name,
                    "status": summary.status,
                    "n_results": summary.n_results,
                    "n_passed": summary.n_passed,
                    "failures": summary.failures,
                    "best": summary.best,
                    "stats": summary.stats,
                },
                default=str,
                indent=2,
            )
        )
    elif not args.quiet:
        print("\n".join(summary_lines(summary)))
        if summary.status == "timed_out":
            print(
                f"stopped by --timeout at {summary.n_results} of {summary.n_target} trials; "
                "the same command runs the rest"
            )
        print(
            f"look closer: sweep results --study {summary.name} | sweep dashboard | "
            f"sweep export {summary.name} -o experiments/{summary.name}-best.yaml"
        )
    return EXIT_OK


class _ProgressBar:
    """``name  57/200 [#####.....] best sharpe 1.23 (t0042)  0:42 ETA 1:45`` on a terminal;
    a plain line every tenth of the budget otherwise (logs, CI)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_decile = -1
        self.width = 0
        self._robust_done: int | None = None

    def update(self, p: Progress) -> None:
        done = min(p.counts.counted, p.target)
        frac = done / p.target if p.target else 1.0
        new = done - p.done_at_start
        eta = (p.elapsed / new * (p.target - done)) if new > 0 else None
        best = "-" if p.best is None else f"{p.best:.3f}"
        flag = ", infeasible" if p.infeasible else ""
        who = f" ({p.best_id.rsplit('-', 1)[-1]}{flag})" if p.best_id else ""
        fill = int(frac * 24)
        line = (
            f"{p.name}  {done}/{p.target} [{'#' * fill}{'.' * (24 - fill)}] "
            f"best {p.objective} {best}{who}  running {p.counts.running}  "
            f"{_clock(p.elapsed)} ETA {_clock(eta)}"
        )
        write = self.stream.write
        if self.tty:
            write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            decile = int(frac * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            write(line + "\n")
        self.stream.flush()

    def robust(self, done: int, total: int) -> None:
        """Robust selection's neighbourhood runs, after the search (sweep.select: robust)."""
        if done == self._robust_done:
            return
        self._robust_done = done
        line = f"robust selection: {done}/{total} neighbour runs of the top trials"
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        elif done in (0, total) or done * 10 // total != (done - 1) * 10 // total:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


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


def studies(args: argparse.Namespace) -> int:
    from psycopg.rows import dict_row

    from sweep.cli.tables import format_table
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry, query, to_json

    conn = open_registry(database_url())
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            from sweep.study.optuna_study import heartbeat_settings

            cur.execute(query("study_list"), {"grace": heartbeat_settings()[1]})
            rows = list(cur.fetchall())
    finally:
        conn.close()
    if args.format == "json":
        print(to_json(rows))
    else:
        print(
            format_table(
                rows,
                [
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
                ],
            )
        )
    return EXIT_OK


def export(args: argparse.Namespace) -> int:
    _check_select(args)
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.export import export_trial
    from sweep.study.optuna_study import create_storage, quiet_optuna

    quiet_optuna()
    url = database_url()
    conn = open_registry(url)
    try:
        out = export_trial(
            conn, create_storage(url), args.study, _optuna_number(args.trial), select=args.select
        )
    finally:
        conn.close()
    if out.gate_failures:
        print("✗ Gate failures: " + ", ".join(out.gate_failures), file=sys.stderr)
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(out.text)
        tmp.replace(path)
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
        h = evaluate_holdout(
            conn,
            args.study,
            _optuna_number(args.trial),
            nthread=os.cpu_count() or 1,
            select=args.select,
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


def _optuna_number(trial: int | None) -> int | None:
    """``--trial 17`` names ``<study>-t0017``, which is Optuna's trial number 16."""
    if trial is None:
        return None
    if trial < 1:
        from sweep.core.errors import ConfigError

        raise ConfigError(
            "must be >= 1 (the number in the trial's id, t0001 = 1)", key="--trial", value=trial
        )
    return trial - 1
