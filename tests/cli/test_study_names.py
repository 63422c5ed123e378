"""A misspelt study name gets one line with a did-you-mean among the studies the registry
knows, whichever command names it (the README: "a did-you-mean for every name sweep knows")."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweep.cli.main import main
from sweep.store.registry import open_registry
from sweep.study.optuna_study import register_study
from sweep.study.space import load_space

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def registry(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SWEEP_DATABASE_URL", fresh_db)
    monkeypatch.setenv("SWEEP_HOME", str(tmp_path / ".sweep"))
    monkeypatch.chdir(tmp_path)
    conn = open_registry(fresh_db)
    space = load_space(ROOT / "search_spaces" / "btc-4h.yaml")
    register_study(conn, space, "btc-4h", 10, {})
    register_study(conn, space, "eth-1h-wide", 10, {})
    conn.close()
    return fresh_db


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["worker", "btc-4"], "STUDY: no such study in the database"),
        (["results", "--study", "btc-4"], "--study: no such study"),
        (["export", "btc-4"], "STUDY: no such study"),
        (["holdout", "btc-4"], "STUDY: no such study"),
        (["robust", "btc-4"], "STUDY: no such study"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else "",
)
def test_a_misspelt_study_gets_a_did_you_mean(
    registry: str, capsys: pytest.CaptureFixture[str], argv: list[str], key: str
) -> None:
    capsys.readouterr()
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"error: {key} (got 'btc-4'); did you mean 'btc-4h'? "), line
    assert "sweep studies" in line


def test_a_name_like_none_gets_no_guess(registry: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["results", "--study", "zzzz"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "did you mean" not in line and line.endswith("`sweep studies` lists them")
