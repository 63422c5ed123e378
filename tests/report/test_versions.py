"""The report's package versions name the XGBoost build that is installed."""

from __future__ import annotations

from sweep.core.install import find_xgboost
from sweep.report.build import versions


def test_the_report_names_the_installed_xgboost_build() -> None:
    # sweep installs xgboost-cpu, which has no metadata under the name "xgboost": a lookup of
    # "xgboost" alone said "not installed" beside the model's own "3.2.0 (xgboost-cpu)"
    found = find_xgboost()
    assert found, "the test environment has an XGBoost build"
    shown = dict(versions())["xgboost"]
    assert shown != "not installed"
    for name, v in found.items():
        assert v in shown and (name == "xgboost" or f"({name})" in shown)
