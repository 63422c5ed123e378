"""`sweep data list`, `sweep data check`, bad data at `sweep run`, the XGBoost install check and
a fast `sweep --help`, as a user meets them."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
import yaml
from conftest import SEED_YAML, run_cli

from sweep.cli.main import main
from sweep.core.data import clear_cache, load_market_data
from sweep.core.errors import InstallError
from sweep.core.install import XGBOOST_DISTRIBUTIONS, check_xgboost, find_xgboost

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data"
SHIPPED = sorted(p.name for p in DATA_DIR.glob("*.csv.gz"))
HEADER = "timestamp,open,high,low,close,volume\n"


def sweep(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``sweep ARGS`` in this process (cheap), returning exit code, stdout, stderr."""
    clear_cache()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2, out + err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def freqtrade_copy(tmp_path: Path) -> Path:
    """The shipped BTC bars in a freqtrade exchange folder: spot feather, futures json.gz."""
    frame = load_market_data("BTC/USDT", "1h", DATA_DIR).frame
    data = frame.reset_index().rename(columns={"timestamp": "date"})
    exchange = tmp_path / "user_data" / "data" / "binance"
    (exchange / "futures").mkdir(parents=True)
    data.to_feather(exchange / "BTC_USDT-1h.feather", compression_level=9, compression="lz4")
    as_ms = data.assign(date=data["date"].dt.as_unit("ms").astype("int64"))
    as_ms.to_json(
        exchange / "futures" / "BTC_USDT_USDT-1h-futures.json.gz",
        orient="values",
        compression="gzip",
    )
    return exchange


# --- sweep data list ----------------------------------------------------------------------------


def test_data_list_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = sweep(capsys, "data", "list", str(DATA_DIR), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["file"] for r in rows] == SHIPPED
    for row in rows:
        fp = load_market_data(row["symbol"], row["timeframe"], DATA_DIR).fingerprint
        assert row["status"] == "ok" and row["format"] == "csv.gz"
        assert (row["rows"], row["gaps"]) == (fp.rows, fp.gaps)
        assert (row["first_bar"], row["last_bar"]) == (fp.first_bar, fp.last_bar)
    code, out, _ = sweep(capsys, "data", "list", str(DATA_DIR))
    assert code == 0
    assert out.splitlines()[0].split() == [
        "symbol", "timeframe", "format", "first_bar", "last_bar", "rows", "gaps", "missing",
        "bars_per_year", "file", "status",
    ]  # fmt: skip
    assert len(out.splitlines()) == 2 + len(SHIPPED)


def test_data_list_freqtrade_folder_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exchange = freqtrade_copy(tmp_path)
    code, out, _ = sweep(capsys, "data", "list", str(exchange), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["symbol"], r["format"], r["file"]) for r in rows] == [
        ("BTC/USDT", "feather", "BTC_USDT-1h.feather"),
        ("BTC/USDT:USDT", "json.gz", "futures/BTC_USDT_USDT-1h-futures.json.gz"),
    ]
    fp = load_market_data("BTC/USDT", "1h", DATA_DIR).fingerprint
    assert all(r["rows"] == str(fp.rows) and r["status"] == "ok" for r in rows)
    # pointed one level too high: nothing listed, and told where the files are
    code, out, _ = sweep(capsys, "data", "list", str(exchange.parent))
    assert code == 0
    assert out.strip() == f"(no OHLCV files in {exchange.parent}; its folders binance hold some)"


def test_data_list_shows_why_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(DATA_DIR / "BTC_USDT-1h.csv.gz", tmp_path)
    (tmp_path / "ETH_USDT-1h.csv").write_text(HEADER + "2024-01-01T00:00:00Z,1,inf,1,1,1\n")
    whole = gzip.compress(gzip.decompress((DATA_DIR / "BTC_USDT-1h.csv.gz").read_bytes()))
    (tmp_path / "SOL_USDT-1h.csv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "ADA_USDT-3m.feather").write_bytes(b"")
    code, out, _ = sweep(capsys, "data", "list", str(tmp_path), "--format", "json")
    assert code == 1  # a file sweep would refuse
    status = {r["file"]: r["status"] for r in json.loads(out)}
    assert status["BTC_USDT-1h.csv.gz"] == "ok"
    assert status["ETH_USDT-1h.csv"].startswith("high: not a finite number at row 1")
    assert status["SOL_USDT-1h.csv.gz"].startswith("truncated or corrupt gzip data")
    assert status["ADA_USDT-3m.feather"] == "timeframe 3m is not one sweep reads"


def test_data_list_bad_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line(*sweep(capsys, "data", "list", str(tmp_path / "nope")))
    assert f"DIR: no such directory (got '{tmp_path / 'nope'}')" in line


# --- sweep data check ---------------------------------------------------------------------------


def test_data_check_gold_measures_its_bars_per_year(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = sweep(
        capsys, "data", "check", "XAU/USD", "4h", "--data", str(DATA_DIR), "--format", "json"
    )
    assert code == 0
    report = json.loads(out)
    assert report["ok"] and report["source_timeframe"] == "1h" and report["timeframe"] == "4h"
    hourly, four_hourly = report["coverage"], report["resampled"]
    assert hourly["bars"] == report["rows"]
    assert 0.6 * 8760 < hourly["bars_per_year"] < 0.75 * 8760
    assert four_hourly["bars"] == load_market_data("XAU/USD", "4h", DATA_DIR).fingerprint.rows
    assert four_hourly["bars_per_year_24_7"] == 2190


def test_data_check_table_and_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    exchange = freqtrade_copy(tmp_path)
    code, out, _ = sweep(capsys, "data", "check", "BTC/USDT:USDT", "1h", "--data", str(exchange))
    assert code == 0
    assert re.search(r"^verdict\s+ok\s+sweep reads this file", out, re.M)
    assert re.search(r"^non-finite values \(inf\)\s+0\s*$", out, re.M)
    code, out, _ = sweep(
        capsys, "data", "check", "BTC/USDT", "1h", "--data", str(exchange), "--format", "csv"
    )
    rows = {r["check"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["file"]["detail"].startswith("feather, ")
    zero = load_market_data("BTC/USDT", "1h", DATA_DIR).frame["volume"].eq(0).sum()
    assert rows["zero-volume bars"]["result"] == str(zero)


def test_data_check_counts_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bars = [f"2024-01-01T{h:02d}:00:00Z,100,101,99,100.5,10\n" for h in range(10)]
    bars[2] = "2024-01-01T02:00:00Z,100,inf,99,100.5,10\n"
    bars[6] = "2024-01-01T06:00:00Z,100,101,99,100.5,-4\n"
    bars[8] = bars[7]
    (tmp_path / "BTC_USDT-1h.csv").write_text(HEADER + "".join(bars))
    code, out, _ = sweep(
        capsys, "data", "check", "BTC/USDT", "4h", "--data", str(tmp_path), "--format", "json"
    )
    assert code == 1
    report = json.loads(out)
    found = {f["check"]: (f["count"], f["first_row"]) for f in report["findings"] if f["count"]}
    assert found == {
        "non-finite values (inf)": (1, 3),
        "negative volume": (1, 7),
        "duplicate timestamps": (1, 9),
    }
    assert report["resampled"] is None
    assert report["notes"] == ["no 4h bars resampled from 1h: fix the file first"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["btcusdt", "1h"], "SYMBOL: must look like BASE/QUOTE"),
        (["BTC/USDT", "3h"], "timeframe: unknown timeframe (got '3h')"),
        (["DOGE/USDT", "1h"], "no OHLCV file for DOGE/USDT 1h"),
        (["BTC/USDT:USDT", "1h"], "did you mean BTC/USDT?"),
    ],
)
def test_data_check_bad_input(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    line = one_error_line(*sweep(capsys, "data", "check", *args, "--data", str(DATA_DIR)))
    assert fragment in line


def test_data_check_missing_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error_line(
        *sweep(capsys, "data", "check", "BTC/USDT", "1h", "--data", str(tmp_path / "nope"))
    )
    assert f"in {tmp_path / 'nope'} (no such directory)" in line


def test_data_check_unreadable_file_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "BTC_USDT-1h.json.gz").write_bytes(b"\x1f\x8b garbage")
    line = one_error_line(
        *sweep(capsys, "data", "check", "BTC/USDT", "1h", "--data", str(tmp_path))
    )
    assert line.startswith("error: BTC_USDT-1h.json.gz: truncated or corrupt gzip data")


# --- sweep run on freqtrade data, and on data it must refuse -------------------------------------


def registry_counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as c:
        e = c.execute("SELECT count(*) FROM experiments").fetchone()
        r = c.execute("SELECT count(*) FROM model_results").fetchone()
    assert e is not None and r is not None
    return int(e[0]), int(r[0])


def cli(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return run_cli(*args, cwd=workdir, env={"PYTHONPATH": pythonpath, **(env or {})})


def seed_on(workdir: Path, data_dir: Path, name: str, **changes: Any) -> str:
    config: dict[str, Any] = yaml.safe_load(SEED_YAML.read_text())
    config.update(experiment_id=name, data={"dir": str(data_dir)}, **changes)
    (workdir / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return f"{name}.yaml"


def test_run_on_freqtrade_futures_data_matches_the_csv(workdir: Path) -> None:
    exchange = freqtrade_copy(workdir)
    file = seed_on(workdir, exchange, "btc-futures", symbol="BTC/USDT:USDT")
    res = cli(workdir, "run", file, "--json")
    assert res.returncode == 0, res.stderr  # registered, whatever the gate says
    result = json.loads(res.stdout)
    assert result["status"] == "ok", result
    url = os.environ["SWEEP_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(
            "SELECT e.symbol, r.data_fingerprint FROM experiments e JOIN model_results r "
            "USING (experiment_id) WHERE experiment_id = 'btc-futures'"
        ).fetchone()
    assert row is not None
    symbol, fingerprint = row
    assert symbol == "BTC/USDT:USDT"
    assert fingerprint["file"] == "BTC_USDT_USDT-1h-futures.json.gz"
    assert fingerprint["sha256"] == load_market_data("BTC/USDT", "4h", DATA_DIR).fingerprint.sha256


def test_run_refuses_a_bar_with_inf_high_and_writes_nothing(workdir: Path) -> None:
    bad = workdir / "bad"
    bad.mkdir()
    frame = pd.read_csv(DATA_DIR / "BTC_USDT-1h.csv.gz", dtype={"timestamp": str})
    frame.loc[5000, "high"] = float("inf")
    frame.to_csv(bad / "BTC_USDT-1h.csv.gz", index=False)
    res = cli(workdir, "run", seed_on(workdir, bad, "inf-high"))
    assert res.returncode == 2 and res.stdout == "", res.stderr
    assert res.stderr.splitlines() == [
        "error: BTC_USDT-1h.csv.gz: high: not a finite number at row 5001 (line 5002 of the file) "
        "(got inf); every bar needs all five numbers; drop the bar (a gap) rather than guess it"
    ]
    assert registry_counts(os.environ["SWEEP_DATABASE_URL"]) == (0, 0)
    assert not (workdir / ".sweep" / "models").exists()


# --- one XGBoost build --------------------------------------------------------------------------


def fake_install(site: Path, name: str, version: str = "9.9.9") -> None:
    """What pip leaves for an installed distribution: its ``.dist-info`` folder."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def test_exactly_one_xgboost_build_is_installed_here() -> None:
    found = find_xgboost()
    assert len(found) == 1 and set(found) <= set(XGBOOST_DISTRIBUTIONS)
    name, version = next(iter(found.items()))
    assert check_xgboost() == f"{name} {version}"


def test_two_xgboost_builds_are_refused(tmp_path: Path) -> None:
    fake_install(tmp_path, "xgboost-cu12")
    with pytest.raises(InstallError) as info:
        check_xgboost([str(tmp_path), *sys.path])
    line = info.value.one_line()
    assert "xgboost-cu12 9.9.9" in line and " are installed at once" in line
    assert (
        "pip uninstall -y" in line
        and "pip install xgboost-cpu (CPU only) or xgboost (CUDA)" in line
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InstallError, match="XGBoost is not installed"):
        check_xgboost([str(empty)])


def test_run_with_two_xgboost_builds_exits_2_before_anything(workdir: Path) -> None:
    site = workdir / "site"
    fake_install(site, "xgboost-cu12")
    pythonpath = os.pathsep.join([str(ROOT), str(site)])
    res = cli(workdir, "run", seed_on(workdir, workdir / "data", "two-builds"),
              env={"PYTHONPATH": pythonpath})  # fmt: skip
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and "xgboost-cu12 9.9.9 are installed at once" in lines[0]
    assert registry_counts(os.environ["SWEEP_DATABASE_URL"]) == (0, 0)


# --- start-up -----------------------------------------------------------------------------------

HEAVY = {"pandas", "numpy", "xgboost", "optuna", "talib", "pyarrow", "scipy", "sqlalchemy"}


def imported_packages(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages ``python -m sweep.cli ARGS`` imports (from ``-X importtime``)."""
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sweep.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
        check=False,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", res.stderr, re.M)
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize("args", [["--help"], ["data", "--help"], ["run", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    loaded = imported_packages(*args)
    assert "sweep" in loaded
    assert not loaded & (HEAVY | {"psycopg", "pydantic"})


def test_the_results_metric_names_are_the_backtests() -> None:
    import dataclasses

    from sweep.core.metric_names import BACKTEST_METRICS
    from sweep.core.metrics import Metrics

    assert tuple(f.name for f in dataclasses.fields(Metrics)) == BACKTEST_METRICS


def test_results_reads_the_registry_without_numpy_pandas_or_models(workdir: Path) -> None:
    loaded = imported_packages(
        "results", env={"SWEEP_DATABASE_URL": os.environ["SWEEP_DATABASE_URL"]}
    )
    assert "psycopg" in loaded
    assert not loaded & HEAVY
