"""A study sizes its workers by the cores the process may use, not the machine's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import ROOT

from sweep.study.engine import available_cores


def test_available_cores_follow_the_cpu_affinity() -> None:
    assert 1 <= available_cores() <= (os.cpu_count() or 1)
    taskset = shutil.which("taskset")
    assert taskset, "util-linux's taskset is part of the test setup"
    p = subprocess.run(
        [
            taskset,
            "-c",
            "0",
            sys.executable,
            "-c",
            "from sweep.study.engine import available_cores; print(available_cores())",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1"
