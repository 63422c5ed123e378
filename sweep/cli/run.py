"""`sweep run`: one experiment, or a study when the file holds ranges."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

from sweep.cli.tables import EXIT_FAILED, EXIT_OK, num, pct, to_json
from sweep.core.errors import SweepError

log = logging.getLogger("sweep")


def run(args: argparse.Namespace) -> int:
    from sweep.study.space import load_space

    space = load_space(args.file)
    if space.is_study:
        start_fork_server(args.jobs)
        from sweep.cli.study import run_study_command

        return run_study_command(args, space)
    for flag in ("trials", "jobs", "timeout", "study"):
        if getattr(args, flag) is not None:
            log.warning("--%s is for studies; %s has no ranges", flag, args.file)
    return run_single(args, space.file)


def start_fork_server(jobs: int | None) -> None:
    """With more than one worker, start the fork server now: it imports the pipeline on another
    core while this process imports the engine, and the first worker need not wait for it."""
    from sweep.study.processes import available_cores, worker_context

    if (jobs if jobs is not None else available_cores()) > 1:
        worker_context()


def run_single(args: argparse.Namespace, file: str) -> int:
    from sweep.core.experiment import load_experiment
    from sweep.store.artifacts import artifact_location, check_store
    from sweep.store.db import database_url
    from sweep.store.registry import check_config_unchanged, open_registry
    from sweep.study.runner import execute, load_dataset

    cfg = load_experiment(file)
    try:
        dataset = load_dataset(cfg)  # missing or bad data fails here, before anything is written
    except SweepError as e:
        if e.file is None:  # say which experiment file asked for the data
            e.file = file
        raise
    check_store(artifact_location())  # before anything is written
    conn = open_registry(database_url())
    try:
        check_config_unchanged(conn, cfg, force=args.force, file=file)
        outcome = execute(cfg, conn, nthread=os.cpu_count() or 1, force=args.force, dataset=dataset)
    finally:
        conn.close()
    if args.json:
        # model_results' column names (`id`, as in the database)
        print(
            to_json(
                {
                    "experiment_id": outcome.experiment_id,
                    "id": outcome.result_id,
                    "status": outcome.status,
                    "gate_passed": outcome.gate_passed,
                    "gate_failures": list(outcome.gate_failures),
                    "metrics": outcome.metrics,
                    "model_path": outcome.model_path,
                    "error": outcome.error,
                }
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
    if error is not None:
        return f"✗ {experiment_id} failed: {error}"
    if failures:
        return "✗ Gate failures: " + ", ".join(failures)
    m = metrics or {}
    return (
        f"✓ {experiment_id} registered — Sharpe: {num(m.get('sharpe'))}, "
        f"WR: {pct(m.get('win_rate'))}, vs B&H: {pct(m.get('alpha'), signed=True)}"
    )
