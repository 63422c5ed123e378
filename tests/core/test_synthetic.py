"""bench/synthetic.py: valid sweep data, noise without a signal, a planted signal that is learnt."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import yaml
from conftest import SEED_YAML

from sweep.core.data import load_market_data
from sweep.core.experiment import validate_experiment
from sweep.core.pipeline import run_pipeline
from sweep.study.runner import load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import synthetic

FloatArray = npt.NDArray[np.float64]
SMALL = 24_000  # hours: 6,000 4h bars, the least the seed experiment learns the signal from


def log_returns(frame: pd.DataFrame) -> FloatArray:
    close = frame["close"].to_numpy()
    return np.diff(np.log(close))


def reversal_t_stat(r: FloatArray, lookback: int = 48, ahead: int = 12) -> float:
    """t-statistic of the correlation between the past ``lookback`` hours' return and the next
    ``ahead`` hours' (non-overlapping samples)."""
    csum = np.r_[0.0, np.cumsum(r)]
    t = np.arange(lookback, len(r) - ahead, ahead)
    past = csum[t] - csum[t - lookback]
    future = csum[t + ahead] - csum[t]
    rho = float(np.corrcoef(past, future)[0, 1])
    return rho * math.sqrt(len(t) - 2) / math.sqrt(1 - rho * rho)


def test_files_are_valid_sweep_data_and_deterministic(tmp_path: Path) -> None:
    paths = synthetic.write_paths(tmp_path / "a", seed=3, n_bars=2_000)
    again = synthetic.write_paths(tmp_path / "b", seed=3, n_bars=2_000)
    other = synthetic.write_paths(tmp_path / "c", seed=4, n_bars=2_000)
    for kind, path in paths.items():
        assert path.name == synthetic.file_name(synthetic.SYMBOLS[kind])
        assert path.read_bytes() == again[kind].read_bytes()
        assert path.read_bytes() != other[kind].read_bytes()
        # sweep's loader validates order, grid, high/low against open/close, prices and volume.
        hourly = load_market_data(synthetic.SYMBOLS[kind], "1h", path.parent)
        assert hourly.fingerprint.rows == 2_000 and hourly.fingerprint.gaps == 0
        assert load_market_data(synthetic.SYMBOLS[kind], "4h", path.parent).fingerprint.rows == 500
    header = pd.read_csv(paths["noise"], nrows=1)
    assert list(header.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert header["timestamp"][0] == "2017-01-01T00:00:00Z"


def test_noise_is_fat_tailed_clustered_and_unpredictable() -> None:
    frame = synthetic.generate(synthetic.spec("noise", n_bars=SMALL), seed=1)
    r = log_returns(frame)
    z = (r - r.mean()) / r.std()
    assert np.mean(z**4) > 5  # a normal distribution has 3
    a = np.abs(z)
    assert np.corrcoef(a[:-1], a[1:])[0, 1] > 0.05  # volatility clusters
    # Signs of consecutive moves are independent (signs: fat tails do not blur the test).
    signs = np.sign(r)
    assert abs(np.mean(signs[:-1] * signs[1:])) < 3 / math.sqrt(len(r))
    assert abs(reversal_t_stat(r)) < 3
    # Wicks: the bar's range exceeds its body on average, as a Brownian bridge's does.
    body = (frame["close"] - frame["open"]).abs()
    assert (frame["high"] - frame["low"]).mean() > 1.5 * body.mean()


def test_drift_is_the_only_difference_from_its_driftless_twin() -> None:
    drift = synthetic.generate(synthetic.spec("drift", n_bars=SMALL), seed=2)
    flat = synthetic.generate(synthetic.spec("drift", n_bars=SMALL, drift_per_year=0.0), seed=2)
    years = SMALL / (365 * 24)
    # Same shocks: log(P_drift / P_flat) grows by the drift, less a second-order term.
    gap = math.log(drift["close"].iloc[-1] / flat["close"].iloc[-1])
    assert gap == pytest.approx(math.log(2.0) * years, rel=0.02)
    assert abs(reversal_t_stat(log_returns(drift))) < 3


def test_planted_reversal_is_in_the_prices() -> None:
    frame = synthetic.generate(synthetic.spec("planted", n_bars=SMALL), seed=1)
    assert reversal_t_stat(log_returns(frame)) < -5
    weaker = synthetic.spec("planted", n_bars=SMALL, strength=0.0)
    assert abs(reversal_t_stat(log_returns(synthetic.generate(weaker, seed=1)))) < 3


def seed_experiment_on(kind: synthetic.Kind, data_dir: Path) -> dict[str, float | int | None]:
    data = yaml.safe_load(SEED_YAML.read_text())
    data["symbol"] = synthetic.SYMBOLS[kind]
    data["data"] = {"dir": str(data_dir)}
    cfg = validate_experiment(data)
    return run_pipeline(cfg, load_dataset(cfg)).metrics


def test_the_seed_experiment_learns_the_planted_signal_and_not_noise(tmp_path: Path) -> None:
    synthetic.write_paths(tmp_path, seed=0, n_bars=SMALL, kinds=("noise", "planted"))
    planted = seed_experiment_on("planted", tmp_path)
    assert planted["sharpe"] is not None and planted["sharpe"] > 1.5
    assert planted["timing_p"] is not None and planted["timing_p"] <= 0.01
    assert planted["n_trades"] is not None and planted["n_trades"] >= 30
    noise = seed_experiment_on("noise", tmp_path)
    assert noise["sharpe"] is not None and noise["sharpe"] < 0.5
    assert noise["timing_p"] is not None and noise["timing_p"] > 0.05


def test_bad_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        synthetic.spec("trend")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tail_df"):
        synthetic.generate(synthetic.spec("noise", tail_df=2.0), seed=0)
    with pytest.raises(ValueError, match="n_bars"):
        synthetic.generate(synthetic.spec("noise", n_bars=1), seed=0)
