"""What the study benchmarks share: a scratch database, and ``sweep run`` as a user runs it.

Each study runs in a fresh process: studies run one after another in a long-lived process would
pay for the previous ones' garbage (slower later studies).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[tuple[Path, str]]:
    """A temp dir (also ``SWEEP_HOME``) and a database URL: ``SWEEP_DATABASE_URL`` when set,
    else an embedded server started in the temp dir and stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SWEEP_HOME"] = str(work / ".sweep")
    server = None
    if not os.environ.get("SWEEP_DATABASE_URL"):
        sys.path.insert(0, str(ROOT))
        from sweep.store.db import EmbeddedServer

        server = EmbeddedServer(work / "pgdata")
        os.environ["SWEEP_DATABASE_URL"] = server.ensure_running()
    try:
        yield work, os.environ["SWEEP_DATABASE_URL"]
    finally:
        if server is not None:
            server.stop()


def sweep_run(
    work: Path, url: str, space: Path, n: int, *args: str, env: dict[str, str] | None = None
) -> None:
    """``sweep run SPACE --trials N --jobs 1 --no-progress ARGS`` with this checkout's code on
    ``url``; its output is shown only if it fails (then this raises)."""
    full_env = {
        **os.environ,
        **(env or {}),
        "SWEEP_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "sweep.cli", "run", str(space), "--trials", str(n)]
    cmd += ["--jobs", "1", "--no-progress", *args]
    done = subprocess.run(cmd, cwd=work, env=full_env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"{' '.join(cmd)} exited with {done.returncode}")
