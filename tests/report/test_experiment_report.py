"""`sweep report` on a single experiment: the seed's, opened in headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg
from browser import Browser, network_sources
from conftest import ROOT, SEED_YAML, run_cli


def test_the_seed_experiments_report_shows_its_run_trades_equity_and_config(
    workdir: Path,
) -> None:
    (workdir / "experiments").mkdir()
    shutil.copy(SEED_YAML, workdir / "experiments" / SEED_YAML.name)
    # this tree first, and whatever else the caller put on the path
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = run_cli("run", f"experiments/{SEED_YAML.name}", cwd=workdir, env=env)
    assert run.returncode == 0, run.stderr
    url = os.environ["SWEEP_DATABASE_URL"]
    with psycopg.connect(url) as c:
        row = c.execute("SELECT id, metrics FROM model_results").fetchone()
    assert row is not None
    result_id, metrics = row

    p = run_cli("report", "btc-xgb-4h-momentum", cwd=workdir, env=env)
    assert p.returncode == 0, p.stderr
    out = workdir / "btc-xgb-4h-momentum.html"  # the default file, here
    assert p.stdout.startswith(f"✓ wrote {out.name}: experiment btc-xgb-4h-momentum, ")
    html = out.read_text()
    assert network_sources(html) == [] and html.count("* plotly.js v") == 1

    with Browser() as b:
        page = b.open(out)
    assert page.errors == [] and page.requests == [], (page.errors, page.requests)
    drawn = {p["key"]: p for p in page.rendered()}
    assert len(drawn) == page.expected == len(page.plots)
    assert {"equity", "trades"} <= set(drawn)
    assert drawn["equity"]["yaxes"] >= 2

    # its run, trades, equity and config, as registered
    assert "Experiment btc-xgb-4h-momentum" in html
    assert f"<th>result id</th><td>{result_id}</td>" in html
    assert "differs from the registered one" not in html  # recomputed: the same metrics
    n_trades = int(metrics["n_trades"])
    trades = html.split("<h3>Trades</h3>", 1)[1].split("</table>", 1)[0]
    assert trades.count("<tr>") - 1 == min(n_trades, 500)  # a row per trade, header aside
    assert f"Trade returns ({n_trades} trades)" in html
    assert "feature_groups:" in html and "hold_max: 6" in html  # the config as YAML
    assert "sha256" in html and "xgboost" in html  # data fingerprint, package versions

    # a second report to the same file is refused without --force, then replaces it
    again = run_cli("report", "btc-xgb-4h-momentum", cwd=workdir, env=env)
    assert again.returncode == 2 and "exists already" in again.stderr
    forced = run_cli("report", "btc-xgb-4h-momentum", "--force", cwd=workdir, env=env)
    assert forced.returncode == 0, forced.stderr
