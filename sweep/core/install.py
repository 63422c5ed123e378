"""The environment sweep runs in: exactly one XGBoost build must be installed.

PyPI has several distributions of the same ``xgboost`` package: ``xgboost`` (with CUDA on Linux,
about 240 MB plus NVIDIA's NCCL), ``xgboost-cpu`` (what sweep depends on where it exists: no
CUDA libraries), ``xgboost-cu12`` and ``xgboost-cu13``. They write the same files, so with two
installed the one imported is whichever was installed last, and uninstalling either one deletes
files the other needs. :func:`check_xgboost` refuses that state with one line and a hint.
"""

from __future__ import annotations

import functools
from importlib.metadata import distributions

from sweep.core.errors import InstallError

XGBOOST_DISTRIBUTIONS = ("xgboost", "xgboost-cpu", "xgboost-cu12", "xgboost-cu13")


def find_xgboost(path: list[str] | None = None) -> dict[str, str]:
    """The XGBoost distributions installed on ``path`` (default: ``sys.path``), name -> version."""
    found: dict[str, str] = {}
    for name in XGBOOST_DISTRIBUTIONS:
        for dist in distributions(name=name, path=path) if path else distributions(name=name):
            found.setdefault(name, dist.version)
    return found


def check_xgboost(path: list[str] | None = None) -> str:
    """``name version`` of the one XGBoost distribution installed; InstallError otherwise."""
    found = find_xgboost(path)
    if len(found) == 1:
        name, version = next(iter(found.items()))
        return f"{name} {version}"
    if not found:
        raise InstallError(
            "XGBoost is not installed",
            hint="pip install xgboost-cpu (or xgboost for CUDA), or reinstall sweep",
        )
    both = " and ".join(f"{name} {version}" for name, version in found.items())
    raise InstallError(
        f"{both} are installed at once: they share the xgboost package's files, so the build you "
        "import is whichever came last and uninstalling one breaks the other",
        hint=f"pip uninstall -y {' '.join(found)}, then pip install xgboost-cpu "
        "(CPU only) or xgboost (CUDA)",
    )


@functools.cache
def xgboost_build() -> str:
    """:func:`check_xgboost` on ``sys.path``, once per process."""
    return check_xgboost()
