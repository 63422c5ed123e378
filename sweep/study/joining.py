"""Joining a study from the database alone (``sweep worker STUDY``): the space, the sampler's
seeds, the data fingerprints and the trial budget are what ``sweep_studies`` recorded when the
study started, so a machine needs nothing but ``SWEEP_DATABASE_URL`` and the same data files."""

from __future__ import annotations

from dataclasses import dataclass

from sweep.store.registry import Connection
from sweep.study.space import SearchSpace, parse_space
from sweep.study.summary import no_such_study, study_row

__all__ = ["StoredStudy", "load_stored_study"]


@dataclass(frozen=True)
class StoredStudy:
    """A study as the database holds it: its space (parsed and checked like a file), its budget
    and its status."""

    name: str
    space: SearchSpace
    n_trials: int
    status: str


def load_stored_study(conn: Connection, name: str) -> StoredStudy:
    """The study ``name`` from ``sweep_studies``; one line if there is none."""
    row = study_row(conn, name)
    if row is None:
        raise no_such_study(
            conn,
            name,
            what="no such study in the database",
            hint="start it with `sweep run SPACE.yaml` on any machine; `sweep studies` lists them",
        )
    # Parsed exactly as a file is: a space stored by an older sweep that this one would refuse is
    # refused here, naming the study rather than a file.
    space = parse_space(row["space"], file=f"study {name} (sweep_studies.space)")
    return StoredStudy(name, space, int(row["n_trials_target"]), str(row["status"]))
