"""The public API in ``sweep/__init__.py``: what notebooks import, and the README's example."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SEED_YAML, seed_with

import sweep
from sweep.core.config import ExperimentConfig
from sweep.core.features import resolve_features


@pytest.fixture(scope="module")
def cfg() -> ExperimentConfig:
    return sweep.load_config(SEED_YAML)


@pytest.fixture(scope="module")
def bars(cfg: ExperimentConfig) -> pd.DataFrame:
    return sweep.load_bars(cfg)


def test_load_config_takes_a_path_a_str_or_a_mapping() -> None:
    a = sweep.load_config(SEED_YAML)
    b = sweep.load_config(str(SEED_YAML))
    c = sweep.load_config(seed_with("seed", 42))
    assert a == b == c
    assert a.experiment_id == "btc-xgb-4h-momentum"


def test_load_config_raises_the_clis_one_line_error() -> None:
    with pytest.raises(sweep.ConfigError) as info:
        sweep.load_config(seed_with("position.hold_maxx", 3))
    text = str(info.value)
    assert "\n" not in text
    assert "position.hold_maxx" in text and "did you mean 'hold_max'" in text


def test_load_bars_is_the_validated_utc_frame_at_the_timeframe(
    cfg: ExperimentConfig, bars: pd.DataFrame
) -> None:
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert str(bars.index.tz) == "UTC"
    assert bars.index.is_monotonic_increasing and bars.index.is_unique
    assert (bars.index.to_series().diff().dropna() >= pd.Timedelta("4h")).all()
    mine = sweep.load_bars(cfg)
    mine.iloc[0, 0] = -1.0  # a copy: the pipeline's cached frame is untouched
    assert sweep.load_bars(cfg).iloc[0, 0] == bars.iloc[0, 0] > 0


def test_features_are_the_configs_columns_and_causal(
    cfg: ExperimentConfig, bars: pd.DataFrame
) -> None:
    x = sweep.features(cfg, bars)
    assert list(x.columns) == resolve_features(cfg.feature_groups)
    assert x.index.equals(bars.index)
    cut = 5000
    early = sweep.features(cfg, bars.iloc[:cut])
    pd.testing.assert_frame_equal(early, x.iloc[:cut])


def test_labels_are_aligned_with_nan_where_unknown(
    cfg: ExperimentConfig, bars: pd.DataFrame
) -> None:
    y = sweep.labels(cfg, bars)
    assert y.index.equals(bars.index)
    h = cfg.target.horizon
    assert y.iloc[-h:].isna().all() and y.iloc[:-h].notna().all()
    assert set(np.unique(y.dropna())) == {0.0, 1.0}
    fwd = bars["close"].shift(-h) / bars["close"] - 1 > cfg.target.threshold
    assert (y.iloc[:-h] == fwd.iloc[:-h].astype(float)).all()


def test_backtest_returns_metrics_and_one_row_per_trade(
    cfg: ExperimentConfig, bars: pd.DataFrame
) -> None:
    y = sweep.labels(cfg, bars)
    bt = sweep.backtest(cfg, bars, y)
    assert bt.metrics["n_trades"] == len(bt.trades) > 100
    assert {"entry_time", "exit_time", "net_return"} <= set(bt.trades.columns)
    assert (bt.trades["exit_time"] > bt.trades["entry_time"]).all()
    # Trading on the label the seed defines wins most trades: an oracle on its own target.
    assert bt.metrics["win_rate"] > 0.75
    assert bt.equity.index.equals(bars.index)
    # A Series is aligned by index, an array by position: the same trades either way.
    shuffled = y.sample(frac=1.0, random_state=0)
    again = sweep.backtest(cfg, bars, shuffled)
    assert again.metrics == bt.metrics


def test_backtest_refuses_probabilities_of_another_length(
    cfg: ExperimentConfig, bars: pd.DataFrame
) -> None:
    with pytest.raises(sweep.ConfigError, match="one value per bar"):
        sweep.backtest(cfg, bars, np.zeros(len(bars) - 1))


def test_run_load_model_and_predict_reproduce_the_registered_run(
    workdir: Path, cfg: ExperimentConfig
) -> None:
    outcome = sweep.run(cfg)
    assert outcome.status == "ok" and outcome.model_path is not None
    bars = sweep.load_bars(cfg)
    by_id = sweep.load_model(outcome.experiment_id)
    by_str = sweep.load_model(outcome.model_path)
    by_path = sweep.load_model(Path(outcome.model_path))
    assert by_id.path == by_str.path == by_path.path
    assert by_id.feature_names == resolve_features(cfg.feature_groups)
    with pytest.raises(sweep.ConfigError, match=f"did you mean '{cfg.experiment_id}'"):
        sweep.load_model(cfg.experiment_id[:-1] + "x")  # misspelt
    # printed in a notebook: one short line naming what it is, not kilobytes of config
    shown = repr(by_id)
    assert "\n" not in shown and len(shown) < 400, shown
    assert shown.startswith(f"LoadedModel('{cfg.experiment_id}': xgboost on BTC/USDT 4h, ")
    assert f"{len(by_id.feature_names)} features, trained 20" in shown
    proba = sweep.predict(by_id, bars)
    assert proba.index.equals(bars.index)
    assert np.isnan(proba.iloc[0])  # the features' warm-up
    # The probabilities of the test period, put through the backtest, give the registered
    # metrics exactly: the same model, the same features, the same trades.
    result = outcome.result
    assert result is not None
    test = bars.index.isin(result.test_index)
    bt = sweep.backtest(cfg, bars[test], proba[test])
    for key in ("sharpe", "win_rate", "n_trades", "total_return", "max_drawdown", "alpha"):
        assert bt.metrics[key] == outcome.metrics[key], key


def test_load_model_of_an_unknown_id_is_one_line(workdir: Path) -> None:
    with pytest.raises(sweep.ConfigError, match="no registered model") as e:
        sweep.load_model("no-such-experiment")
    assert "did you mean" not in e.value.one_line()  # nothing registered is like it


@pytest.mark.parametrize("ref", ["models/gone.ubj", "gone.ubj", "gone.json", "a/b"])
def test_a_missing_file_is_named_as_a_file_not_an_experiment(ref: str) -> None:
    # a string with a path separator or a model suffix was meant as a file: no registry lookup
    with pytest.raises(sweep.ConfigError, match="no such model file") as e:
        sweep.load_model(ref)
    assert ref in e.value.one_line()


def test_the_readme_example_runs_as_written(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    (workdir / "experiments").mkdir()
    (workdir / "experiments" / SEED_YAML.name).write_text(SEED_YAML.read_text())
    exec(compile(code.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "net_return" in out


ORACLE_TARGETS = [
    ({"type": "trade", "threshold": 0.002}, "long"),
    ({"type": "trade", "threshold": 0.002}, "short"),
    ({"type": "triple_barrier", "take_profit": 0.03, "stop_loss": 0.015}, "long"),
    ({"type": "triple_barrier", "take_profit": 0.03, "stop_loss": 0.015}, "short"),
    (
        {"type": "triple_barrier", "take_profit": 2.0, "stop_loss": 1.0, "atr_multiple": True},
        "long",
    ),
]


@pytest.mark.parametrize(("target", "side"), ORACLE_TARGETS)
def test_the_oracle_contract_through_the_public_api(target: dict[str, object], side: str) -> None:
    """With probability = label, every trade the backtest enters is the trade the label named:
    `trade` nets more than its threshold, `triple_barrier` (take-profit above costs) wins."""
    data = seed_with("target", target)
    data["position"]["side"] = side
    cfg = sweep.load_config(data)
    bars = sweep.load_bars(cfg)
    y = sweep.labels(cfg, bars)
    bt = sweep.backtest(cfg, bars, y)
    assert len(bt.trades) > 50, "the oracle trades"
    floor = float(target.get("threshold", 0.0))  # type: ignore[arg-type]
    assert (bt.trades["net_return"] > floor).all(), bt.trades.sort_values("net_return").head()


def test_sweep_stats_stays_where_users_import_it() -> None:
    import sweep.core.stats as core
    import sweep.stats as public

    for name in public.__all__:
        assert getattr(public, name) is getattr(core, name), name
    sr = public.probabilistic_sharpe_ratio(0.1, 250, 0.0, 3.0)
    assert 0.9 < sr < 1.0


def test_the_readme_live_signals_example_runs_as_written(
    workdir: Path, cfg: ExperimentConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """The three lines under "Live signals": a registered experiment's model, its bars, its
    probabilities; the same probabilities the registered run's backtest used."""
    outcome = sweep.run(cfg)
    assert outcome.status == "ok"
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Live signals", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    assert 'sweep.load_model("btc-xgb-4h-momentum")' in code.group(1)
    scope: dict[str, object] = {}
    exec(compile(code.group(1), "README.md", "exec"), scope)
    out = capsys.readouterr().out
    bars = sweep.load_bars(cfg)
    expected = sweep.predict(sweep.load_model(outcome.experiment_id), bars)
    assert str(bars.index[-1].strftime("%Y-%m-%d %H:%M:%S")) in out
    assert f"{expected.iloc[-1]:.6f}" in out
    assert scope["m"].path == Path(str(outcome.model_path))  # type: ignore[attr-defined]
