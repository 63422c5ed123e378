"""Bars per year measured from the data: 24/7 crypto snaps to nominal, markets that close do not.

The markets that close (XAU/USD and USD/JPY 1h, from OANDA) are read from ``data/`` when they ship
there, else from ``$SWEEP_TEST_DATA_DIR``; each test works on a copy in its own folder.
"""

from __future__ import annotations

import math
import os
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
import yaml
from conftest import DATA_DIR, SEED_YAML, run_cli, seed_with

from sweep.core.annualisation import measure_bars_per_year, resolve_bars_per_year
from sweep.core.data import MarketData, load_market_data
from sweep.core.errors import ConfigError
from sweep.core.experiment import validate_experiment
from sweep.core.metrics import sharpe
from sweep.core.pipeline import run_pipeline
from sweep.core.returns import daily_returns
from sweep.core.stats import sharpe_stats
from sweep.study.runner import load_dataset

ROOT = Path(__file__).resolve().parents[2]
CLOSING = ("XAU_USD-1h.csv.gz", "USD_JPY-1h.csv.gz")


def closing_markets(tmp_path: Path) -> Path:
    """A folder holding copies of the markets that close."""
    out = tmp_path / "closing"
    out.mkdir()
    for name in CLOSING:
        here = DATA_DIR / name
        src = here if here.is_file() else Path(os.environ.get("SWEEP_TEST_DATA_DIR", "")) / name
        assert src.is_file(), f"{name}: not in data/ and SWEEP_TEST_DATA_DIR does not hold it"
        shutil.copy(src, out / name)
    return out


def complete_year_counts(path: Path) -> list[int]:
    """Bars per calendar year over the years strictly inside the file's span (independently of
    sweep.core.annualisation: a year the file neither starts nor ends in is complete)."""
    stamps = pd.to_datetime(pd.read_csv(path, usecols=["timestamp"])["timestamp"], utc=True)
    years = stamps.dt.year
    inner = range(int(years.min()) + 1, int(years.max()))
    return [int((years == y).sum()) for y in inner]


def market(folder: Path, symbol: str, timeframe: str, **cut: datetime) -> MarketData:
    return load_market_data(symbol, timeframe, folder, cut.get("start"), cut.get("end"))


# --- 24/7 crypto keeps the nominal figure ------------------------------------------------------


@pytest.mark.parametrize(("timeframe", "nominal"), [("1h", 8760.0), ("4h", 2190.0)])
def test_crypto_snaps_to_the_nominal_figure(timeframe: str, nominal: float) -> None:
    got = resolve_bars_per_year(None, market(DATA_DIR, "BTC/USDT", timeframe), 365.0)
    assert got.value == nominal  # exactly: today's metrics are unchanged
    assert got.source == "nominal"
    assert got.measured is not None and abs(got.measured / nominal - 1) <= 0.02
    # Binance's file starts in 2017-08 and ends in 2025-09: 2018..2024 are complete.
    assert got.years == 7


def test_seed_metrics_are_annualised_with_the_nominal_figure() -> None:
    cfg = validate_experiment(yaml.safe_load(SEED_YAML.read_text()))
    result = run_pipeline(cfg, load_dataset(cfg))
    assert result.bars_per_year == result.metrics["bars_per_year"] == 2190.0
    assert result.metrics["sharpe"] == sharpe(result.test_returns, 2190.0)


# --- markets that close are measured ----------------------------------------------------------


@pytest.mark.parametrize("name", CLOSING)
def test_markets_that_close_are_measured(tmp_path: Path, name: str) -> None:
    folder = closing_markets(tmp_path)
    symbol = name.split("-")[0].replace("_", "/")
    got = resolve_bars_per_year(None, market(folder, symbol, "1h"), 365.0)
    assert got.source == "measured"
    assert got.value == float(np.median(complete_year_counts(folder / name)))
    # About 5 days x 24 h x 52 weeks = 6,240 less the daily break and holidays: far from 8,760.
    assert 5_500 < got.value < 6_300
    assert got.nominal == 8760.0


def test_resampled_bars_are_counted_as_they_are(tmp_path: Path) -> None:
    # XAU/USD closes an hour each day, so one 4h bin a day is incomplete and dropped: the 4h
    # figure is the 4h bars there are, not the 1h figure / 4.
    folder = closing_markets(tmp_path)
    got = resolve_bars_per_year(None, market(folder, "XAU/USD", "4h"), 365.0)
    hourly = resolve_bars_per_year(None, market(folder, "XAU/USD", "1h"), 365.0)
    assert got.source == "measured"
    assert got.value < hourly.value / 4
    index = market(folder, "XAU/USD", "4h").frame.index
    inner = [y for y in range(index.year.min() + 1, index.year.max())]
    assert got.value == float(np.median([(index.year == y).sum() for y in inner]))


def test_annualised_sharpe_agrees_with_the_calendar_daily_one(tmp_path: Path) -> None:
    # The study statistics compound returns to calendar days (a closed day is a 0 day) and
    # annualise per calendar day (x sqrt(365)); a run annualises per bar with bars_per_year.
    # The measured figure makes the two agree; the 24-hour figure inflates the run's.
    folder = closing_markets(tmp_path)
    for timeframe in ("1h", "4h"):
        data = market(folder, "XAU/USD", timeframe)
        per_year = resolve_bars_per_year(None, data, 365.0).value
        close = data.frame["close"].to_numpy()
        r = np.r_[0.0, close[1:] / close[:-1] - 1.0]
        daily = daily_returns(pd.DatetimeIndex(data.frame.index), r)
        calendar = sharpe_stats(daily.values).sr * math.sqrt(365.0)
        assert sharpe(r, per_year) == pytest.approx(calendar, rel=0.05)
        assert sharpe(r, 24 / int(timeframe[0]) * 365.0) > 1.15 * calendar


# --- the rules at the edges -------------------------------------------------------------------


def test_a_year_counts_only_when_the_data_covers_its_first_and_last_week() -> None:
    hours = pd.date_range("2019-06-01", "2022-01-01", freq="1h", inclusive="left", tz="UTC")
    measured, years = measure_bars_per_year(pd.DatetimeIndex(hours))
    assert years == 2  # 2020 and 2021; 2019 starts in June
    assert measured == (8784 + 8760) / 2  # a leap year and a common one
    # Starting on 2 January (a market closed on New Year's Day) still counts the year.
    late = hours[hours >= pd.Timestamp("2020-01-02", tz="UTC")]
    assert measure_bars_per_year(pd.DatetimeIndex(late))[1] == 2


def test_short_data_is_measured_over_its_span_or_not_at_all(tmp_path: Path) -> None:
    folder = closing_markets(tmp_path)
    whole = resolve_bars_per_year(None, market(folder, "XAU/USD", "1h"), 365.0)
    quarter = market(folder, "XAU/USD", "1h", start=datetime(2023, 2, 6), end=datetime(2023, 5, 8))
    got = resolve_bars_per_year(None, quarter, 365.0)
    assert got.source == "measured" and got.years == 0  # over its span: 13 whole weeks
    assert got.value == pytest.approx(whole.value, rel=0.05)
    fortnight = market(
        folder, "XAU/USD", "1h", start=datetime(2023, 2, 6), end=datetime(2023, 2, 20)
    )
    tiny = resolve_bars_per_year(None, fortnight, 365.0)
    assert (tiny.source, tiny.value, tiny.measured) == ("nominal", 8760.0, None)


# --- a configured figure ----------------------------------------------------------------------


def test_a_configured_figure_close_to_the_data_is_used(tmp_path: Path) -> None:
    folder = closing_markets(tmp_path)
    xau = market(folder, "XAU/USD", "1h")
    got = resolve_bars_per_year(252 * 24.0, xau, 365.0)  # 6,048: 2.5% above the data's
    assert (got.source, got.value) == ("configured", 6048.0)
    assert resolve_bars_per_year(8766.0, market(DATA_DIR, "BTC/USDT", "1h"), 365.0).value == 8766


@pytest.mark.parametrize(
    ("symbol", "timeframe", "configured"),
    [("XAU/USD", "1h", 8760.0), ("XAU/USD", "4h", 2190.0), ("BTC/USDT", "4h", 1500.0)],
)
def test_a_configured_figure_the_data_contradicts_is_refused(
    tmp_path: Path, symbol: str, timeframe: str, configured: float
) -> None:
    folder = closing_markets(tmp_path) if symbol == "XAU/USD" else DATA_DIR
    with pytest.raises(ConfigError) as e:
        resolve_bars_per_year(configured, market(folder, symbol, timeframe), 365.0)
    line = e.value.one_line()
    assert "\n" not in line
    assert line.startswith("backtest.bars_per_year: disagrees with the data by more than 10%")
    assert f"{symbol.replace('/', '_')}-1h.csv.gz has " in line
    assert f" {timeframe} bars a year (the median of " in line
    assert f"(got {configured!r})" in line
    assert line.endswith("leave it out (null) to use the measured figure")


def test_sweep_run_refuses_it_naming_the_file_and_writes_nothing(
    tmp_path: Path, workdir: Path
) -> None:
    folder = closing_markets(tmp_path)
    for name in CLOSING:
        shutil.copy(folder / name, workdir / "data" / name)
    data = seed_with("symbol", "XAU/USD")
    data["backtest"] = {"bars_per_year": 2190}
    (workdir / "xau.yaml").write_text(yaml.safe_dump(data))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    res = run_cli("run", "xau.yaml", cwd=workdir, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and res.stdout == ""
    assert lines[0].startswith("error: xau.yaml: backtest.bars_per_year: disagrees with the data")
    assert "(got 2190.0)" in lines[0]
    with psycopg.connect(os.environ["SWEEP_DATABASE_URL"], autocommit=True) as c:
        exists = c.execute("SELECT to_regclass('experiments') IS NOT NULL").fetchone()
        if exists and exists[0]:
            row = c.execute("SELECT count(*) FROM experiments").fetchone()
            assert row is not None and row[0] == 0
    assert not (workdir / ".sweep" / "models").exists()
