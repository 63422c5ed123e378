"""`sweep report` on a study, opened in a real browser (headless Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, network_sources
from conftest import StudyDir, sql, tiny_space

from sweep.core.config import ExperimentConfig
from sweep.core.returns import daily_returns
from sweep.report.replay import Replay, replay
from sweep.study.study_stats import load_study_returns

NAME = "rpt"
STUDY_PLOTS = {
    "equity",
    "folds",
    "trades",
    "history",
    "importance",
    "parallel",
    "slice",
    "contour",
    "sharpes",
    "pbo",
}


@pytest.fixture(scope="module")
def study(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyDir]:
    """A small walk-forward study with a pruner and a constraint: completed and pruned trials,
    folds, DSR and PBO."""
    d = StudyDir(tmp_path_factory.mktemp("report-study"), module_db)
    space = tiny_space(NAME)
    space["training"]["cv"] = {"type": "walk_forward", "folds": 3}
    space["sweep"].update(pruner="median", constraints={"min_trades": 5})
    d.write("space.yaml", space)
    p = d.sweep("run", "space.yaml", "--trials", "14", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    yield d


def counts(url: str) -> dict[str, int]:
    """Rows the report must never add to."""
    return {
        t: int(sql(url, f"SELECT count(*) AS n FROM {t}")[0]["n"])
        for t in ("experiments", "model_results", "holdout_looks", "trials", "sweep_studies")
    }


def test_the_study_report_opens_in_headless_chromium_with_every_plot_drawn(
    study: StudyDir,
) -> None:
    before = counts(study.url)
    out = study.path / "out" / "study.html"
    p = study.sweep("report", NAME, "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(
        rf"✓ wrote {re.escape(str(out))}: study {NAME}, \d+ plots, \d+\.\d MiB, in \d+\.\d s\n",
        p.stdout,
    ), p.stdout
    assert counts(study.url) == before  # read only: no row, no look, no trial
    html = out.read_text()
    # self-contained: plotly.js once, no source on the network
    assert html.count("* plotly.js v") == 1
    assert network_sources(html) == []
    assert len(html.encode()) < 10 * 2**20

    with Browser() as b:
        page = b.open(out)
        b.screenshot(study.path / "shot.png", 1280, 900)
    assert page.errors == [], page.errors
    assert page.requests == [], page.requests  # nothing loaded from the network
    drawn = {p["key"]: p for p in page.rendered()}
    assert len(page.plots) == page.expected > 0
    assert len(drawn) == page.expected, [p for p in page.plots if p["key"] not in drawn]
    assert set(drawn) >= STUDY_PLOTS, (set(drawn), page.missing)
    assert drawn["equity"]["yaxes"] >= 2  # equity and drawdown on axes of their own
    assert drawn["equity"]["traces"] == 4  # strategy, buy and hold, exposure-matched, drawdown
    assert (study.path / "shot.png").stat().st_size > 20_000

    # what the page says is what the registry holds
    (meta,) = sql(study.url, "SELECT * FROM sweep_studies")
    stats = meta["stats"]
    chosen = meta["best_experiment_id"]
    assert f"Study {NAME}" in html and chosen in html
    assert f"{stats['dsr']:.2f}" in html and f"{stats['pbo']:.2f}" in html
    # the verdict panel is the study's verdict (sweep.study.verdict) with its reasons and the
    # figures it reads: DSR, PBO and timing p, as sweep_studies.stats holds them
    word = {"edge": "edge", "no_edge": "no edge", "undecided": "undecided"}[stats["verdict"]]
    assert f'<div class="value">{word}</div>' in html
    assert stats["verdict_reasons"] and all(escape(r) in html for r in stats["verdict_reasons"])
    assert stats["timing_p"] is not None and f"{stats['timing_p']:.3f}" in html
    text = html.split("<script", 1)[0]  # the page's own text, before plotly.js
    assert "not computed" not in text and "not judged" not in text
    assert escape(stats["n_trials_note"]) in html  # N as the DSR counted it, on these bars
    assert "No look taken yet" in html and "this report never does" in html
    assert f"Trial {meta['best_trial']}" in html  # the dashboard's numbering
    assert "differs from the registered one" not in html  # recomputed exactly


def test_the_chosen_trials_curve_is_its_folds_blocks_and_matches_the_registry(
    study: StudyDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recomputed in-process from the stored config: the same metrics as registered, and the
    curve's returns compound to the daily returns the study's statistics were computed from."""
    monkeypatch.chdir(study.path)  # its data folder
    (meta,) = sql(study.url, "SELECT best_experiment_id FROM sweep_studies")
    eid = meta["best_experiment_id"]
    (row,) = sql(
        study.url,
        "SELECT e.config, r.metrics, r.data_fingerprint FROM experiments e JOIN model_results r "
        "USING (experiment_id) WHERE experiment_id = %s AND NOT r.holdout",
        (eid,),
    )
    cfg = ExperimentConfig.model_validate(row["config"])
    r = replay(cfg, row["metrics"], row["data_fingerprint"])
    assert isinstance(r, Replay), r
    assert r.mismatches == []
    assert len(r.folds) == 3 == cfg.training.cv.folds  # type: ignore[union-attr]
    returns = np.concatenate([f.backtest.returns for f in r.result.folds])
    got = daily_returns(r.index, returns)
    from sweep.store.registry import open_registry

    with open_registry(study.url) as conn:
        stored = load_study_returns(conn, NAME)[eid]
    assert got.first_day == stored.first_day
    assert np.allclose(got.values, stored.values, atol=1e-7)  # stored as float32
    assert r.equity[-1] == pytest.approx(float(np.prod(1 + returns)))


def test_the_report_shows_the_holdout_looks_already_taken_and_takes_none(
    study: StudyDir,
) -> None:
    look = study.sweep("holdout", NAME)
    assert look.returncode == 0, look.stderr
    before = counts(study.url)
    assert before["holdout_looks"] == 1
    out = study.path / "after-look.html"
    p = study.sweep("report", NAME, "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert counts(study.url) == before
    html = out.read_text()
    (lk,) = sql(study.url, "SELECT experiment_id FROM holdout_looks")
    assert "as recorded: 1 by this study" in html and lk["experiment_id"] in html
    assert "1 (1 of 1 on these bars)" in html  # counted on the bars, as `sweep holdout` does


def _nothing_written(study: StudyDir, before: dict[str, int], files: set[Path]) -> None:
    assert counts(study.url) == before
    assert set(study.path.rglob("*.html")) == files


BAD: list[tuple[str, list[str], str]] = [
    ("unknown", ["report", "no-such-study"], "no study or experiment of this name"),
    ("typo", ["report", "rtp"], "did you mean 'rpt'?"),
    ("exists", ["report", NAME, "-o", "{existing}"], "exists already"),
    ("folder", ["report", NAME, "-o", "{folder}"], "--output: is a directory"),
    ("missing", ["report"], "the following arguments are required: STUDY|EXPERIMENT_ID"),
    ("command typo", ["reprot", NAME], "did you mean report?"),
]


@pytest.mark.parametrize(("case", "args", "fragment"), BAD, ids=[b[0] for b in BAD])
def test_bad_report_input_exits_2_in_one_line_and_writes_nothing(
    study: StudyDir, case: str, args: list[str], fragment: str
) -> None:
    existing = study.path / "existing.html"
    existing.write_text("mine")
    (study.path / "a-folder.html").mkdir(exist_ok=True)
    before = counts(study.url)
    files = set(study.path.rglob("*.html"))
    argv = [a.format(existing=existing, folder=study.path / "a-folder.html") for a in args]
    p = study.sweep(*argv)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in p.stderr
    _nothing_written(study, before, files)
    assert existing.read_text() == "mine"
