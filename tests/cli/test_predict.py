"""`sweep predict`: live signals that are the registered backtest's own trades, on new bars too,
with the model it says it uses (a run's, a walk-forward trial's refit or holdout, `--refit`)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from conftest import DATA_DIR, run_cli, seed_with

import sweep
from sweep.cli.main import main
from sweep.core.data import clear_cache

# The seed with a lower entry threshold, so its test period holds many trades to compare.
TRADING: dict[str, Any] = seed_with("backtest.entry_threshold", 0.3)
TRADING["experiment_id"] = "btc-predict-test"
BARRIERS: dict[str, Any] = seed_with(
    "target", {"type": "triple_barrier", "take_profit": 0.03, "stop_loss": 0.015}
)
BARRIERS["experiment_id"] = "btc-predict-barriers"
BARRIERS["backtest"] = {"entry_threshold": 0.35}


def _predict(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(["predict", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    got: dict[str, Any] = json.loads(out)
    return got


def _times(values: pd.Series) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in pd.DatetimeIndex(values)]


@pytest.mark.parametrize("data", [TRADING, BARRIERS], ids=["time-exit", "barriers"])
def test_signals_on_the_test_period_are_the_registered_backtests_trades(
    workdir: Path, capsys: pytest.CaptureFixture[str], data: dict[str, Any]
) -> None:
    cfg = sweep.load_config(data)
    outcome = sweep.run(cfg)
    assert outcome.status == "ok" and outcome.result is not None
    bars = sweep.load_bars(cfg)
    test = bars.index.isin(outcome.result.test_index)
    shown = int(np.sum(bars.index >= outcome.result.test_from))
    got = _predict(capsys, cfg.experiment_id, "--last", str(shown))
    assert got["model"]["source"] == "run"
    assert got["walk_from"] == _times(pd.Series([outcome.result.test_from]))[0]
    rows = pd.DataFrame(got["signals"]).set_index("time")
    assert len(rows) == shown and rows.index[-1] == _times(pd.Series([bars.index[-1]]))[0]

    # The registered backtest: the test period's bars with the model's probabilities give the
    # registered metrics (tests/test_api.py checks predict() bit for bit), and these trades.
    proba = sweep.predict(sweep.load_model(cfg.experiment_id), bars)
    bt = sweep.backtest(cfg, bars[test], proba[test])
    assert bt.metrics["n_trades"] == outcome.metrics["n_trades"] == len(bt.trades) > 20
    np.testing.assert_array_equal(rows["probability"].to_numpy()[: int(test.sum())], proba[test])

    index = list(rows.index)
    in_test = set(_times(pd.Series(bars.index[test])))
    expected = dict.fromkeys(in_test, "none")
    exits: dict[str, str] = {}
    for trade in bt.trades.itertuples():
        signal_at = index[index.index(_times(pd.Series([trade.entry_time]))[0]) - 1]
        exit_at = _times(pd.Series([trade.exit_time]))[0]
        for t in index[index.index(signal_at) + 1 : index.index(exit_at) + 1]:
            expected[t] = "hold"
            exits[t] = exit_at
        expected[signal_at] = "enter"
        exits[signal_at] = exit_at
        if trade.forced_exit:  # the test period ended: live, the trade runs on past it
            last = trade
    for t in sorted(in_test):
        assert rows.loc[t, "signal"] == expected[t], t
    assert (rows["signal"] == "enter").sum() >= len(bt.trades)
    # every trade that closed inside the test period exits at the same bar, for the same reason
    closed = bt.trades[~bt.trades["forced_exit"]]
    for trade in closed.itertuples():
        exit_at = _times(pd.Series([trade.exit_time]))[0]
        for t in [k for k, v in exits.items() if v == exit_at]:
            assert rows.loc[t, "exit_time"] == exit_at
            assert rows.loc[t, "exit"] == trade.exit_reason
    if bt.trades["forced_exit"].any():
        signal_at = index[index.index(_times(pd.Series([last.entry_time]))[0]) - 1]
        assert rows.loc[signal_at, "exit_time"] > _times(pd.Series([last.exit_time]))[0]


def _append_bars(src: Path, dst: Path, hours: int) -> pd.DataFrame:
    """A copy of the shipped hourly file with ``hours`` new bars after its last one."""
    frame = pd.read_csv(src)
    last = frame.iloc[-1]
    start = pd.Timestamp(last["timestamp"]) + pd.Timedelta("1h")
    rng = np.random.default_rng(5)
    close = float(last["close"]) * np.exp(np.cumsum(rng.normal(0.0, 0.004, hours)))
    open_ = np.r_[float(last["close"]), close[:-1]]
    extra = pd.DataFrame(
        {
            "timestamp": [
                (start + pd.Timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(hours)
            ],
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.uniform(50.0, 150.0, hours),
        }
    )
    both = pd.concat([frame, extra], ignore_index=True)
    dst.mkdir(parents=True, exist_ok=True)
    with gzip.open(dst / src.name, "wt") as f:
        both.to_csv(f, index=False)
    return extra


def test_new_bars_beyond_the_registered_data_get_signals(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = sweep.load_config(TRADING)
    assert sweep.run(cfg).status == "ok"
    before = _predict(capsys, cfg.experiment_id, "--last", "30")
    extra = _append_bars(DATA_DIR / "BTC_USDT-1h.csv.gz", workdir / "live", hours=26)
    clear_cache()
    after = _predict(capsys, cfg.experiment_id, "--last", "30", "--data", "live")
    old = {r["time"]: r for r in before["signals"]}
    new = {r["time"]: r for r in after["signals"]}
    # every complete 4h bin of the new hours is a new bar (an open bin at the end is no bar yet)
    added = sorted(set(new) - set(old))
    hours = pd.DatetimeIndex(pd.read_csv(workdir / "live" / "BTC_USDT-1h.csv.gz")["timestamp"])
    bins = pd.Series(1, index=hours.floor("4h")).groupby(level=0).size()
    complete = _times(pd.Series(bins.index[bins == 4]))
    assert added == [t for t in complete if t > max(old)] and len(added) >= 6
    assert max(new) == added[-1] < extra["timestamp"].iloc[-1]
    assert all(new[t]["probability"] is not None for t in added)
    # the bars both runs show: the same probabilities, bit for bit (features read no later bar)
    shared = sorted(set(old) & set(new))
    assert len(shared) == 30 - len(added)
    for t in shared:
        assert new[t]["probability"] == old[t]["probability"], t
    assert after["model"] == before["model"] and after["data"]["last_bar"] == added[-1]
    # a position still open at the last bar says so, with its time exit
    for r in after["signals"]:
        if r["exit"] == "open":
            assert r["exit_time"] > added[-1]


def _registry(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as c:
        return list(c.execute(sql, params).fetchall())


def test_refit_is_registered_as_its_own_run_that_counts_nowhere(
    workdir: Path, clean_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = sweep.load_config(TRADING)
    assert sweep.run(cfg).status == "ok"
    board = main(["results", "--format", "json"])
    listed = json.loads(capsys.readouterr().out)
    assert board == 0 and len(listed) == 1
    got = _predict(capsys, cfg.experiment_id, "--last", "3", "--refit")
    model = got["model"]
    assert model["source"] == "refit (all data)" and model["registered_now"] is True
    assert Path(model["path"]).is_file()
    # fitted up to the last labelled bar: the label reads target.horizon bars ahead
    bars = sweep.load_bars(cfg)
    assert model["train_to"] == _times(pd.Series([bars.index[-1 - cfg.target.horizon]]))[0]
    rows = _registry(
        clean_db,
        "SELECT refit, gate_passed, test_from, holdout FROM model_results ORDER BY id",
    )
    assert rows[1] == (True, None, None, False) and rows[0][0] is False
    # not on the leaderboard, and the next prediction uses it
    main(["results", "--format", "json", "--all"])
    assert len(json.loads(capsys.readouterr().out)) == 1
    again = _predict(capsys, cfg.experiment_id, "--last", "3")
    assert again["model"]["path"] == model["path"] and again["model"]["registered_now"] is False


WF_SPACE = """\
experiment_id: wfp
symbol: BTC/USDT
timeframe: 4h
feature_groups: [momentum, volatility]
target: {horizon: 3, threshold: {float: [0.004, 0.02], log: true}}
position: {size: 0.05, hold_max: 6}
training:
  train_ratio: 0.75
  min_samples: 300
  early_stopping_rounds: 10
  cv: {type: walk_forward, folds: 2, mode: expanding}
model: {n_estimators: 40, max_depth: 3}
backtest: {entry_threshold: 0.4}
data: {start: 2022-01-01}
sweep: {objective: sharpe, sampler: random, seed: 3}
"""


def test_a_walk_forward_trial_predicts_with_a_model_of_its_whole_search_part(
    workdir: Path, clean_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "space.yaml").write_text(WF_SPACE)
    res = run_cli("run", "space.yaml", "--trials", "2", "--jobs", "1", "--no-progress", cwd=workdir)
    assert res.returncode == 0, res.stderr
    counted = (
        "SELECT count(DISTINCT experiment_id) FROM experiments e JOIN model_results r "
        "USING (experiment_id) WHERE e.study_name = 'wfp' AND r.status = 'ok' AND NOT r.holdout "
        "AND NOT r.refit"
    )
    tried = _registry(clean_db, counted)
    stats = _registry(clean_db, "SELECT stats FROM sweep_studies WHERE study_name = 'wfp'")

    got = _predict(capsys, "wfp-t0001", "--last", "4")
    assert got["model"]["source"] == "refit (search part)" and got["model"]["registered_now"]
    # the search part ends where the sealed holdout begins, and the refit never saw it
    assert got["model"]["train_to"] < got["model"]["predicts_from"]
    assert got["walk_from"] == got["model"]["predicts_from"]
    again = _predict(capsys, "wfp-t0001", "--last", "4")
    assert again["model"]["path"] == got["model"]["path"] and not again["model"]["registered_now"]
    # the study's counts and statistics are untouched by the refit
    assert _registry(clean_db, counted) == tried
    res = run_cli("studies", "--format", "json", cwd=workdir)
    assert json.loads(res.stdout)[0]["n_complete"] == 2
    assert _registry(clean_db, "SELECT stats FROM sweep_studies WHERE study_name = 'wfp'") == stats
    assert _registry(clean_db, "SELECT count(*) FROM holdout_looks") == [(0,)]

    # once the trial is looked at on its holdout, that run's model is the one: fitted on the
    # same rows with the same seed, it gives the refit's probabilities bit for bit
    res = run_cli("holdout", "wfp", "--trial", "1", cwd=workdir)
    assert res.returncode == 0, res.stderr
    after = _predict(capsys, "wfp-t0001", "--last", "4")
    assert after["model"]["source"] == "holdout"
    assert after["model"]["path"] != got["model"]["path"]
    assert [r["probability"] for r in after["signals"]] == [
        r["probability"] for r in got["signals"]
    ]
    assert [r["signal"] for r in after["signals"]] == [r["signal"] for r in got["signals"]]


def test_predict_as_a_user_runs_it_in_a_shell(workdir: Path, tmp_path: Path) -> None:
    shutil.copy(
        Path(__file__).resolve().parents[2] / "experiments" / "btc-xgb-4h-momentum.yaml",
        workdir / "exp.yaml",
    )
    assert run_cli("run", "exp.yaml", cwd=workdir).returncode in (0, 1)
    res = run_cli("predict", "btc-xgb-4h-momentum", "--last", "5", cwd=workdir)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("model: ") and "(run, result id 1, fitted on 2017-" in lines[0]
    table = lines[lines.index(next(x for x in lines if x.startswith("time (UTC)"))) :]
    assert len(table) == 2 + 5
    assert all(row.split()[3] in ("enter", "hold", "none") for row in table[2:])
    csv = run_cli("predict", "btc-xgb-4h-momentum", "--last", "5", "--format", "csv", cwd=workdir)
    assert csv.stdout.splitlines()[0] == "time,probability,signal,exit_time,exit"
    assert len(csv.stdout.splitlines()) == 6 and csv.stderr.startswith("model: ")
    typo = run_cli("predict", "btc-xgb-4h-momentun", cwd=workdir)
    assert typo.returncode == 2 and typo.stdout == ""
    (line,) = typo.stderr.strip().splitlines()
    assert line.startswith("error: EXPERIMENT_ID: no registered experiment (got 'btc-xgb-4h-")
    assert "did you mean 'btc-xgb-4h-momentum'? " in line


def test_the_rule_line_says_the_exit_bar_in_english() -> None:
    from sweep.cli.predict import _ordinal

    got = [_ordinal(n) for n in (1, 2, 3, 4, 6, 11, 12, 13, 21, 22, 23, 101, 111, 112, 1002)]
    assert got == [
        "1st", "2nd", "3rd", "4th", "6th", "11th", "12th", "13th",
        "21st", "22nd", "23rd", "101st", "111th", "112th", "1002nd",
    ]  # fmt: skip


def test_the_rule_line_rounds_a_searched_threshold() -> None:
    # a study's trial carries its sampled threshold to 17 digits; the rule line reads as a rule
    from sweep.cli.predict import _rule_line
    from sweep.core.config import ExperimentConfig

    cfg = ExperimentConfig.model_validate(
        seed_with("backtest.entry_threshold", 0.32995614469153306)
    )
    line = _rule_line(cfg)
    assert "probability > 0.329956 while flat" in line, line
