"""`sweep predict`: live signals of a registered experiment on the newest bars.

Heavy modules (pandas, XGBoost, the registry) are imported inside the functions, so
``sweep --help`` stays light.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweep.cli import args as cli_args
from sweep.cli.tables import EXIT_OK, format_table

if TYPE_CHECKING:
    import pandas as pd

    from sweep.core.config import ExperimentConfig
    from sweep.core.data import MarketData
    from sweep.study.live import LiveModel

DEFAULT_LAST = 10


def add_predict_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``sweep predict EXPERIMENT_ID [--data DIR] [--last N] [--format F] [--refit]``."""
    p = sub.add_parser(
        "predict",
        parents=[common],
        help="live signals of a registered experiment on the newest bars",
    )
    p.add_argument("experiment_id", metavar="EXPERIMENT_ID", help="as `sweep results` lists it")
    p.add_argument(
        "--data",
        dest="data_dir",
        metavar="DIR",
        help="data directory (default: the experiment's data.dir); may hold newer bars",
    )
    p.add_argument(
        "--last",
        type=cli_args.last_bars,
        default=DEFAULT_LAST,
        help=f"the newest N bars to show (default {DEFAULT_LAST})",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--refit",
        action="store_true",
        help="fit on all data up to the last bar and register that model first",
    )


def predict(args: argparse.Namespace) -> int:
    from sweep.core.data import load_market_data, resolve_data_dir
    from sweep.core.pipeline import prepare_dataset
    from sweep.core.signals import live_signals
    from sweep.store.db import database_url
    from sweep.store.registry import open_registry
    from sweep.study.live import experiment_config, live_model
    from sweep.study.models import predict as predict_proba

    conn = open_registry(database_url())
    try:
        cfg = experiment_config(conn, args.experiment_id)
        data_dir = resolve_data_dir(args.data_dir or cfg.data.dir)
        # Live: every bar the file holds from data.start on (data.end, which fixed the registered
        # experiment's window, is not applied).
        market = load_market_data(cfg.symbol, cfg.timeframe, data_dir, cfg.data.start, None)
        refit = prepare_dataset(market) if args.refit else None
        live = live_model(conn, cfg, refit_all=refit, nthread=os.cpu_count() or 1)
    finally:
        conn.close()
    model_cfg = live.loaded.config
    bars = market.frame
    first_shown = bars.index[max(len(bars) - args.last, 0)]
    walk_from = live.predicts_from
    if walk_from is None or walk_from > first_shown:
        walk_from = first_shown
    walk_from = max(walk_from, bars.index[0])
    proba = predict_proba(live.loaded, bars)
    signals = live_signals(model_cfg, bars, proba, walk_from).iloc[-args.last :]
    notes = _notes(live, model_cfg, market, signals, walk_from)
    if args.format == "json":
        print(json.dumps(_json(args.experiment_id, live, market, walk_from, signals), indent=2))
    elif args.format == "csv":
        for line in notes:
            print(line, file=sys.stderr)
        print(_csv(signals), end="")
    else:
        print("\n".join(notes))
        print(_table(signals))
    return EXIT_OK


def _time(stamp: Any) -> str | None:
    import pandas as pd

    if stamp is None or pd.isna(stamp):
        return None
    return str(pd.Timestamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _rows(signals: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for time, r in signals.iterrows():
        p = float(r["probability"])
        out.append(
            {
                "time": _time(time),
                "probability": None if math.isnan(p) else p,
                "signal": str(r["signal"]),
                "exit_time": _time(r["exit_time"]),
                "exit": None if r["exit"] is None else str(r["exit"]),
            }
        )
    return out


def _model_line(live: LiveModel) -> str:
    fitted = (
        f"fitted on {_day(live.train_from)}..{_day(live.train_to)}"
        if live.train_from is not None and live.train_to is not None
        else "fit period unknown"
    )
    now = ", registered now" if live.refitted_now else ""
    where = _shown_path(live.loaded.path)
    return f"model: {where} ({live.source}, result id {live.result_id}{now}, {fitted})"


def _shown_path(path: Path) -> str:
    """The path relative to the working directory when it lies under it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _day(stamp: pd.Timestamp | None) -> str:
    return "?" if stamp is None else str(stamp.strftime("%Y-%m-%d %H:%M"))


def _rule_line(cfg: ExperimentConfig) -> str:
    from sweep.core.target import backtest_rule

    rule = backtest_rule(cfg, 1.0)  # the per-year figure only prices a short's borrow
    unit = " x ATR(14)" if rule.atr_multiple else ""
    exits = [
        f"{name} {value}{unit}"
        for name, value in (("take-profit", rule.take_profit), ("stop-loss", rule.stop_loss))
        if value is not None
    ]
    exits.append(f"the close of the {_ordinal(rule.hold_max)} bar held")
    exit_at = exits[0] if len(exits) == 1 else f"the first of: {', '.join(exits)}"
    return (
        f"rule: enter {rule.side} at the next open when probability > "
        f"{cfg.backtest.entry_threshold:.6g} while flat; exit at {exit_at}"
    )


def _ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th`` ... ``11th``, ``12th``, ``13th`` ... ``21st``."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _notes(
    live: LiveModel,
    cfg: ExperimentConfig,
    market: MarketData,
    signals: pd.DataFrame,
    walk_from: pd.Timestamp,
) -> list[str]:
    fp = market.fingerprint
    lines = [
        _model_line(live),
        f"data: {fp.file}, {fp.timeframe} bars {_day(market.frame.index[0])}.."
        f"{_day(market.frame.index[-1])} UTC; positions walked from {_day(walk_from)}"
        + _walk_note(live, walk_from),
        _rule_line(cfg),
    ]
    if live.train_to is not None and len(signals) and signals.index[0] <= live.train_to:
        lines.append(
            f"note: probabilities up to {_day(live.train_to)} are in-sample (the model was "
            "fitted on those bars)"
        )
    sealed_to = (live.loaded.metadata.get("data_fingerprint") or {}).get("last_bar")
    if (
        live.source == "refit (search part)"
        and live.predicts_from is not None
        and sealed_to is not None
        and len(signals)
        and signals.index[0] <= _ts(sealed_to)
        and signals.index[-1] >= live.predicts_from
    ):
        lines.append(
            f"note: bars {_day(live.predicts_from)}..{_day(_ts(sealed_to))} are the study's "
            "sealed holdout; judging the trial on them spends it (`sweep holdout` counts looks)"
        )
    lines.append("time is each bar's open (UTC); its signal is read at the bar's close")
    return lines


def _walk_note(live: LiveModel, walk_from: pd.Timestamp) -> str:
    if walk_from != live.predicts_from:
        return " (flat before: the first bar shown)"
    if live.source.startswith("refit"):
        return " (the first bar after its training data)"
    return " (where its backtest started)"


def _ts(text: str) -> pd.Timestamp:
    import pandas as pd

    return pd.Timestamp(text)


def _table(signals: pd.DataFrame) -> str:
    rows = _rows(signals)
    for r in rows:
        for k in ("time", "exit_time"):
            r[k] = r[k].replace("T", " ")[:16] if r[k] else None
    return format_table(
        rows,
        ["time", "probability", "signal", "exit_time", "exit"],
        {"time": "time (UTC)", "exit_time": "exit bar (UTC)"},
    )


def _csv(signals: pd.DataFrame) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(
        buf, fieldnames=["time", "probability", "signal", "exit_time", "exit"], lineterminator="\n"
    )
    w.writeheader()
    for r in _rows(signals):
        w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()


def _json(
    experiment_id: str,
    live: LiveModel,
    market: MarketData,
    walk_from: pd.Timestamp,
    signals: pd.DataFrame,
) -> dict[str, Any]:
    cfg = live.loaded.config
    return {
        "experiment_id": experiment_id,
        "model": {
            "path": str(live.loaded.path),
            "result_id": live.result_id,
            "source": live.source,
            "registered_now": live.refitted_now,
            "train_from": _time(live.train_from),
            "train_to": _time(live.train_to),
            "predicts_from": _time(live.predicts_from),
        },
        "data": {"file": market.fingerprint.file, "last_bar": market.fingerprint.last_bar},
        "entry_threshold": cfg.backtest.entry_threshold,
        "hold_max": cfg.position.hold_max,
        "walk_from": _time(walk_from),
        "signals": _rows(signals),
    }
