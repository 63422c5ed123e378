"""``sweep report``: one self-contained HTML page for a study or an experiment.

Presentation only, like the CLI: it reads the registry and Optuna's storage, recomputes the
chosen run in-process (the pipeline is deterministic) and never writes to the database. In
particular it never evaluates a sealed holdout: it shows the looks already recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Built", "build_report"]


@dataclass(frozen=True)
class Built:
    """A report page: its HTML text, what it is about and how many plots it holds."""

    html: str
    kind: str  # study | experiment
    target: str
    n_figures: int


def build_report(target: str, url: str) -> Built:
    """The report of the study, or else the experiment, named ``target``."""
    from sweep.report.build import experiment_page, study_page
    from sweep.report.figures import plotly_white
    from sweep.study.optuna_study import quiet_optuna

    quiet_optuna()
    from sweep.report.gather import experiment_facts, resolve, study_facts
    from sweep.store.registry import open_registry

    conn = open_registry(url)
    try:
        kind = resolve(conn, target)
        with plotly_white():
            if kind == "study":
                page = study_page(study_facts(conn, target))
            else:
                page = experiment_page(experiment_facts(conn, target))
    finally:
        conn.close()
    return Built(page.render(), kind, target, len(page.figures))
