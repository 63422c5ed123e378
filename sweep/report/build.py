"""Building a report page for a study or for one experiment, from what the registry recorded."""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sweep._version import __version__
from sweep.core.config import dump_yaml
from sweep.core.install import find_xgboost
from sweep.core.metric_names import FRACTION_METRICS
from sweep.core.stats import sharpe_stats
from sweep.report import figures as figs
from sweep.report.gather import ExperimentFacts, StudyFacts
from sweep.report.html import Page, esc, kv, num, pct, table, when
from sweep.report.replay import FOLD_COLUMNS, NotReplayed, Replay, replay
from sweep.report.robustness import robustness_section
from sweep.study.study_stats import DAYS_PER_YEAR, study_pbo
from sweep.study.summary import is_feasible, passed_own_gate, study_thresholds
from sweep.study.verdict import reasons_text

log = logging.getLogger(__name__)

MAIN_METRICS = (
    "sharpe",
    "sortino",
    "total_return",
    "annual_return",
    "bh_return",
    "alpha",
    "max_drawdown",
    "n_trades",
    "win_rate",
    "avg_trade_return",
    "profit_factor",
    "exposure",
    "auc",
    "cv_folds",
    "cv_sharpe_min",
    "cv_sharpe_std",
)
VERDICT_TEXT = {"edge": "edge", "no_edge": "no edge", "undecided": "undecided"}
MAX_TRADE_ROWS = 500


def metric_cell(key: str, v: Any) -> str:
    if key in FRACTION_METRICS:
        return pct(v, signed=key in ("alpha", "total_return", "annual_return", "bh_return"))
    return num(v, 3) if isinstance(v, float) else num(v)


def versions() -> list[tuple[str, str]]:
    """This report's software, as installed where it was built. XGBoost is named as the model's
    metadata names it (``3.2.0 (xgboost-cpu)``): sweep installs the ``xgboost-cpu``
    distribution, which has no ``xgboost`` metadata of its own."""
    out = [("sweep", __version__), ("python", platform.python_version())]
    for pkg in ("optuna", "plotly", "xgboost", "ta-lib", "numpy", "pandas", "psycopg"):
        if pkg == "xgboost":
            found = find_xgboost()
            builds = [v if name == "xgboost" else f"{v} ({name})" for name, v in found.items()]
            out.append((pkg, ", ".join(builds) or "not installed"))
            continue
        try:
            out.append((pkg, version(pkg)))
        except PackageNotFoundError:
            out.append((pkg, "not installed"))
    return out


def _model_versions(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The package versions saved with the run's model (its metadata file), if it is here."""
    for r in runs:
        path = r.get("model_path")
        if path and not r.get("holdout"):
            meta = Path(path).with_suffix(".json")
            try:
                return dict(json.loads(meta.read_text()).get("versions") or {})
            except (OSError, ValueError):
                return {}
    return {}


def _fingerprint_rows(fps: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            name,
            fp.get("file"),
            fp.get("first_bar"),
            fp.get("last_bar"),
            num(fp.get("rows")),
            fp.get("gaps"),
            str(fp.get("sha256", ""))[:16],
        ]
        for name, fp in fps.items()
        if isinstance(fp, dict)
    ]


_FP_HEAD = ["dataset", "file", "first bar (UTC)", "last bar (UTC)", "rows", "gaps", "sha256"]


# --- pieces shared by both pages ------------------------------------------------------------


def _metrics_table(metrics: dict[str, Any]) -> str:
    """The main metrics as a wrapping grid of name and value."""
    keys = [k for k in MAIN_METRICS if k in metrics]
    cells = "".join(
        f'<div class="metric"><div class="label">{esc(k)}</div>'
        f"<div>{esc(metric_cell(k, metrics.get(k)))}</div></div>"
        for k in keys
    )
    return f'<div class="metrics">{cells}</div>'


def _param_value(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _monthly_table(r: Replay) -> str:
    m = r.monthly
    if m.empty:
        return '<p class="note">no scored bars</p>'
    vals = m.drop(columns=["year"]).to_numpy(dtype=np.float64)
    scale = float(np.nanmax(np.abs(vals))) if np.isfinite(vals).any() else 0.0
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    rows = []
    for year, row in m.iterrows():
        cells = [f"<th>{esc(year)}</th>"]
        for month in range(1, 13):
            v = row[month]
            if v is None or not math.isfinite(float(v)):
                cells.append("<td></td>")
                continue
            alpha = 0.12 + 0.6 * (abs(float(v)) / scale if scale else 0.0)
            color = f"rgba(30,123,52,{alpha:.2f})" if v >= 0 else f"rgba(180,35,24,{alpha:.2f})"
            cells.append(f'<td style="background:{color}">{pct(v, signed=True)}</td>')
        cells.append(f"<td><b>{pct(row['year'], signed=True)}</b></td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ["", *months, "year"])
    return (
        f'<div class="scroll"><table class="monthly"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        "<p class='note'>Strategy returns compounded per calendar month (UTC) over the "
        "scored bars; empty: no scored bar that month.</p>"
    )


def _folds_table(r: Replay) -> str:
    head = ["fold", "from (UTC)", "to (UTC)", "bars", *FOLD_COLUMNS]
    rows = [
        [
            f["fold"],
            when(f["from"]),
            when(f["to"]),
            num(f["bars"]),
            *[metric_cell(c, f.get(c)) for c in FOLD_COLUMNS],
        ]
        for f in r.folds
    ]
    return table(head, rows)


def _trades_table(r: Replay) -> str:
    t = r.trades
    if t.empty:
        return '<p class="note">no trade</p>'
    shown = t.head(MAX_TRADE_ROWS)
    rows = [
        [
            str(x.fold),
            when(x.entry_time),
            when(x.exit_time),
            f"{x.entry_price:.2f}",
            f"{x.exit_price:.2f}",
            pct(x.net_return, signed=True, digits=2),
            "yes" if x.forced_exit else "",
        ]
        for x in shown.itertuples()
    ]
    more = (
        f'<p class="note">the first {MAX_TRADE_ROWS} of {len(t)} trades</p>'
        if len(t) > MAX_TRADE_ROWS
        else ""
    )
    head = ["fold", "entry (UTC)", "exit (UTC)", "entry price", "exit price", "net return"]
    return table([*head, "forced exit"], rows) + more


def _replay_body(page: Page, r: Replay | NotReplayed, what: str, with_trades: bool) -> str:
    """Equity and drawdown, folds, monthly returns and trades of a recomputed run."""
    if isinstance(r, NotReplayed):
        return f'<div class="warn">{esc(what)} was not recomputed: {esc(r.reason)}</div>'
    parts = []
    if r.mismatches:
        items = "".join(f"<li>{esc(m)}</li>" for m in r.mismatches[:12])
        parts.append(
            '<div class="warn">Recomputed here, the run differs from the registered one '
            f"(other data files, or another sweep version?):<ul>{items}</ul></div>"
        )
    cv = r.config.training.cv
    scope = (
        f"its {len(r.folds)} walk-forward folds' evaluated blocks, in order"
        if cv is not None
        else "its test period"
    )
    parts.append(
        f'<p class="note">Recomputed in-process from the stored config (the pipeline is '
        f"deterministic); the curve covers {scope}, {num(len(r.index))} bars, "
        f"{when(r.index[0])} to {when(r.index[-1])}. Buy and hold: fully invested, no costs, "
        "on the right-hand axis (it moves far more than a strategy committing a fraction of "
        "equity). Exposure-matched: buy and hold scaled to the run's average committed "
        f"fraction, exposure x position.size = {r.matched_fraction:.4g}. Click a legend entry "
        "to hide or show a curve.</p>"
    )
    parts.append(
        page.figure(
            figs.Figure("equity", "Equity", figs.equity_figure(r, f"Equity and drawdown: {what}"))
        )
    )
    end = [
        ("strategy", r.equity[-1] - 1.0),
        ("buy and hold", r.bh_equity[-1] - 1.0),
        ("exposure-matched buy and hold", r.matched_equity[-1] - 1.0),
    ]
    parts.append(
        table(
            ["", "total return", "max drawdown"],
            [
                [n, pct(v, signed=True), pct(_max_dd(c))]
                for (n, v), c in zip(end, (r.equity, r.bh_equity, r.matched_equity), strict=True)
            ],
        )
    )
    if len(r.folds) > 1:
        parts.append("<h3>Per fold</h3>" + _folds_table(r))
        parts.append(page.figure(figs.Figure("folds", "Per fold", figs.folds_figure(r))))
    parts.append("<h3>Monthly returns</h3>" + _monthly_table(r))
    net = r.trades["net_return"].to_numpy() if not r.trades.empty else np.zeros(0)
    parts.append(page.figure(figs.Figure("trades", "Trades", figs.trades_figure(net))))
    if with_trades:
        parts.append("<h3>Trades</h3>" + _trades_table(r))
    return "".join(parts)


def _max_dd(equity: np.ndarray) -> float:
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    return float(np.max(1.0 - equity / peak)) if len(equity) else 0.0


def _subtitle(kind: str, extra: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{esc(kind)} · {extra} · built {esc(now)} by sweep {esc(__version__)}"


# --- the study page --------------------------------------------------------------------------


def _why_chosen(meta: dict[str, Any], chosen: dict[str, Any]) -> str:
    """The pool the chosen trial came from (``sweep.study.summary.pick_best``'s order)."""
    thresholds = study_thresholds(meta)
    passed = passed_own_gate(chosen)
    if not thresholds:
        return (
            "best by the objective among trials that passed the gate"
            if passed
            else ("best by the objective; no trial passed the gate")
        )
    met = is_feasible(chosen, thresholds)
    if met and passed:
        return "best among trials that met the constraints and passed the gate"
    if met:
        return "best among trials that met the constraints (none of those passed the gate)"
    if passed:
        return "best among trials that passed the gate (none met the constraints)"
    return "closest to the constraints (no trial met them or passed the gate)"


def looks_text(looks: list[dict[str, Any]]) -> str:
    """``2 by this study; 3 on these bars by any study`` (as ``sweep holdout`` counts them)."""
    if not looks:
        return "none taken"
    on_bars = max(int(lk.get("looks_on_bars") or 0) for lk in looks)
    text = f"{len(looks)} by this study"
    return text + (f"; {on_bars} on these bars by any study" if on_bars > len(looks) else "")


def _verdict_panel(
    meta: dict[str, Any], st: dict[str, Any], looks: list[dict[str, Any]], walk_forward: bool
) -> str:
    """The study's verdict (sweep.study.verdict) with its reasons, and the figures it reads:
    DSR, PBO, timing p; and the holdout looks already taken."""

    def card(label: str, value: str, detail: str = "", cls: str = "") -> str:
        return (
            f'<div class="card {cls}"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}</div><div class="detail">{detail}</div></div>'
        )

    running = meta.get("status") == "running"
    verdict = None if running else st.get("verdict")
    reasons = [] if running else list(st.get("verdict_reasons") or [])
    if verdict:
        detail = esc(reasons_text(reasons))
    elif running:
        detail = "not judged yet: the study has not ended"
    else:
        detail = "this study's statistics hold no verdict"
    cards = [
        card(
            "verdict",
            VERDICT_TEXT.get(str(verdict), str(verdict)) if verdict else "not judged",
            detail,
            f"verdict-{verdict}" if verdict in VERDICT_TEXT else "verdict-none",
        )
    ]
    n_note = st.get("n_trials_note") or (f"N = {st['n_trials']}" if st.get("n_trials") else "")
    thresholds = dict(st.get("verdict_gate") or {})

    def limit(key: str, op: str) -> str:
        v = thresholds.get(key)
        return f" (threshold {op} {num(v)})" if v is not None else " (check off)"

    emax = st.get("expected_max_sharpe_daily")
    ann = math.sqrt(DAYS_PER_YEAR)
    if st.get("dsr") is not None:
        detail = f"{esc(n_note)}; chosen Sharpe {num(st.get('best_sharpe'))}"
        if emax is not None:
            detail += f" against E[max of N] {num(float(emax) * ann)} (annualised)"
        cards.append(
            card("deflated Sharpe ratio", num(st.get("dsr")), detail + limit("min_dsr", ">="))
        )
    else:
        cards.append(card("deflated Sharpe ratio", "not computed", esc(n_note)))
    if st.get("pbo") is not None:
        cards.append(
            card(
                "PBO",
                num(st.get("pbo")),
                f"P(OOS loss) {num(st.get('prob_oos_loss'))}; {esc(st.get('pbo_partitions'))} "
                f"partitions over {esc(st.get('pbo_days'))} days" + limit("max_pbo", "<="),
            )
        )
    else:
        cards.append(card("PBO", "not computed"))
    timing = st.get("timing_p")
    cards.append(
        card(
            "timing p",
            num(timing, 3) if timing is not None else "not computed",
            "random entries with the same trades and exits do as well, corrected for choosing "
            "the best trial" + limit("max_timing_p", "<="),
        )
    )
    cards.append(
        card(
            "holdout looks",
            str(len(looks)) if walk_forward else "no holdout",
            (
                f"{esc(looks_text(looks))}; `sweep holdout` takes one (counted), this report "
                "never does"
            )
            if walk_forward
            else "without walk-forward folds every trial was scored on the test period",
        )
    )
    return f'<div class="cards">{"".join(cards)}</div>'


def _trial_sharpes(facts: StudyFacts) -> tuple[np.ndarray, int]:
    """Each trial's Sharpe ratio of its daily returns, annualised; trials that never traded
    (a flat series: no Sharpe ratio) are counted apart, as the DSR's spread leaves them out."""
    out, flat = [], 0
    for s in facts.returns.values():
        v = s.values
        if v.size < 2 or v.max() == v.min():
            flat += 1
            continue
        out.append(sharpe_stats(v).sr * math.sqrt(DAYS_PER_YEAR))
    return np.array(out, dtype=np.float64), flat


def study_page(facts: StudyFacts) -> Page:
    t0 = time.perf_counter()
    meta, st = facts.meta, dict(facts.meta.get("stats") or {})
    offset = int(meta.get("trial_id_offset", 0))
    objectives, directions = list(meta["objectives"]), list(meta["directions"])
    counts = {k: sum(1 for r in facts.rows if r["status"] == k) for k in ("ok", "pruned", "failed")}
    sub = (
        f"status {esc(meta['status'])} · {len(facts.rows)} trials registered "
        f"({counts['ok']} ok, {counts['pruned']} pruned, {counts['failed']} failed; budget "
        f"{esc(meta['n_trials_target'])}) · {esc(', '.join(objectives))} "
        f"({esc(', '.join(directions))})"
    )
    page = Page(f"Study {facts.name}", _subtitle("study report", sub))
    cfg = facts.chosen_config
    # Studies score on walk-forward folds (sweep.study.space sets them when the file does not),
    # so their test part is a sealed holdout; the chosen trial's config says so too.
    walk_forward = cfg.training.cv is not None if cfg is not None else True
    page.add("verdict", "Verdict", _verdict_panel(meta, st, facts.looks, walk_forward))

    # the chosen trial
    chosen = facts.chosen
    if chosen is None or cfg is None:
        page.add("chosen", "Chosen trial", '<p class="note">no trial completed</p>')
        rep: Replay | NotReplayed | None = None
    else:
        number = int(chosen["trial_number"])
        trial = next((t for t in facts.trials if t.number == number), None)
        run = next((r for r in facts.chosen_runs if not r["holdout"]), None)
        rep = replay(cfg, chosen.get("metrics"), (run or {}).get("data_fingerprint"))
        log.debug("replayed the chosen trial in %.2f s", time.perf_counter() - t0)
        params = trial.params if trial is not None else {}
        info = kv(
            [
                ("experiment", chosen["experiment_id"]),
                (
                    "trial",
                    f"{number + offset} (Optuna's trial {number}, the dashboard's "
                    f"\u201cTrial {number}\u201d)",
                ),
                ("why this one", _why_chosen(meta, chosen)),
                (
                    "objectives",
                    ", ".join(
                        f"{o} ({d}) {metric_cell(o, (chosen.get('metrics') or {}).get(o))}"
                        for o, d in zip(objectives, directions, strict=True)
                    ),
                ),
                (
                    "gate",
                    "passed"
                    if not chosen.get("gate_failures")
                    else "failed: " + ", ".join(chosen["gate_failures"]),
                ),
                (
                    "scored on",
                    f"walk-forward folds ({cfg.training.cv.folds}, {cfg.training.cv.mode}) inside "
                    "the training part; the test part is a sealed holdout"
                    if cfg.training.cv is not None
                    else "the test period",
                ),
                ("export", f"sweep export {facts.name} --trial {number + offset} -o FILE"),
            ]
        )
        ptable = table(
            ["parameter", "value"], [[k, _param_value(v)] for k, v in sorted(params.items())]
        )
        body = (
            f'<div class="grid2"><div>{info}</div><div><h3>Parameters</h3>{ptable}</div></div>'
            f"<h3>Registered metrics</h3>{_metrics_table(chosen.get('metrics') or {})}"
            + _replay_body(page, rep, f"{chosen['experiment_id']}", with_trades=False)
        )
        page.add("chosen", "Chosen trial", body)

    # Optuna's plots
    t1 = time.perf_counter()
    view = figs.single_objective_view(facts.trials, 0, directions[0], objectives[0])
    note = (
        f'<p class="note">Optuna\'s plots of the {counts["ok"]} completed trials, objective '
        f"{esc(objectives[0])}"
        + (" (the first of the study's objectives)" if len(objectives) > 1 else "")
        + "; pruned and failed trials are left out. Importances: PED-ANOVA.</p>"
    )
    plots = "".join(page.figure(f) for f in figs.optuna_figures(view, objectives[0]))
    if len(objectives) > 1:
        plots += page.figure(figs.pareto_figure(facts.trials, directions, objectives))
    page.add("search", "Search", note + plots)
    log.debug("Optuna's plots in %.2f s", time.perf_counter() - t1)

    # selection bias
    sharpes, flat = _trial_sharpes(facts)
    emax = st.get("expected_max_sharpe_daily")
    parts = [
        '<p class="note">Choosing the best of N trials inflates its Sharpe ratio. The trials\' '
        "Sharpe ratios come from their stored daily returns (the DSR's inputs); the dashed "
        "line is the Sharpe ratio the best of N trials would reach by luck alone.</p>"
    ]
    if len(sharpes):
        parts.append(
            page.figure(
                figs.Figure(
                    "sharpes",
                    "Trial Sharpe ratios",
                    figs.sharpe_figure(
                        sharpes,
                        float(emax) * math.sqrt(DAYS_PER_YEAR) if emax is not None else None,
                        st.get("best_sharpe"),
                        flat,
                    ),
                )
            )
        )
    else:
        parts.append('<p class="note">no trial traded: no Sharpe ratios to show</p>')
    res, days = study_pbo(facts.returns)
    if res is not None:
        parts.append(page.figure(figs.Figure("pbo", "PBO", figs.pbo_figure(res))))
    else:
        parts.append(
            f'<p class="note">PBO not computed: needs two trials and 8 common days '
            f"({len(facts.returns)} trials, {days} common days)</p>"
        )
    page.add("bias", "Selection bias", "".join(parts))
    page.add("robustness", "Robustness", robustness_section(facts.name, facts.robustness))

    # the holdout
    if not walk_forward:
        body = (
            '<p class="note">This study has no sealed holdout: without walk-forward folds every '
            "trial was scored on the test period.</p>"
        )
    elif not facts.looks:
        body = (
            f'<p class="note">No look taken yet. <code>sweep holdout {esc(facts.name)}</code> '
            "takes one (counted); this report never does.</p>"
        )
    else:
        rows = []
        for lk in facts.looks:
            m = lk.get("metrics") or {}
            rows.append(
                [
                    f"{lk['look_number']} ({lk['bar_look_number']} of {lk['looks_on_bars']} "
                    "on these bars)",
                    lk["experiment_id"],
                    when(lk["looked_at"]),
                    f"{when(lk['test_from'])} to {when(lk['test_to'])}",
                    num(m.get("sharpe")),
                    pct(m.get("win_rate")),
                    pct(m.get("alpha"), signed=True),
                    num(m.get("n_trades")),
                    "passed" if lk["gate_passed"] else ", ".join(lk["gate_failures"] or []),
                ]
            )
        body = (
            f'<p class="note">Looks at this study\'s sealed holdout, as recorded: '
            f"{esc(looks_text(facts.looks))}. Each look is counted on the bars as "
            "<code>sweep holdout</code> counts it (any study's holdout on the same symbol, "
            "timeframe and overlapping window); this report takes none.</p>"
            + table(
                [
                    "look",
                    "trial",
                    "when",
                    "holdout window",
                    "Sharpe",
                    "WR",
                    "vs B&H",
                    "trades",
                    "gate",
                ],
                rows,
            )
        )
    page.add("holdout", "Sealed holdout", body)

    # config and provenance
    conf = []
    if cfg is not None:
        conf.append(
            f"<h3>Chosen trial's config ({esc(cfg.experiment_id)})</h3>"
            f"<pre>{esc(dump_yaml(cfg.to_json_dict()))}</pre>"
        )
    conf.append(
        "<h3>Search space (as the study was started)</h3>"
        f"<pre>{esc(yaml.safe_dump(meta['space'], sort_keys=False))}</pre>"
    )
    page.add("config", "Config", "".join(conf))
    prov = [
        "<h3>Data</h3>",
        table(_FP_HEAD, _fingerprint_rows(dict(meta.get("data_fingerprint") or {}))),
        "<h3>Study</h3>",
        kv(
            [
                ("started", when(meta.get("started_at"))),
                ("ended", when(meta.get("ended_at"))),
                ("sampler", f"{meta['sampler']} (seed {meta.get('seed')})"),
                ("pruner", meta["pruner"]),
                ("constraints", json.dumps(meta.get("constraints") or {})),
                ("sweep version that started it", meta.get("code_version")),
                ("PostgreSQL", facts.server_version),
            ]
        ),
        "<h3>Package versions</h3>",
        _versions_table(_model_versions(facts.chosen_runs)),
    ]
    page.add("provenance", "Provenance", "".join(prov))
    return page


def _versions_table(recorded: dict[str, Any]) -> str:
    rows = [[name, v, recorded.get(name, "")] for name, v in versions()]
    return table(["package", "building this report", "saved with the model"], rows) + (
        '<p class="note">The model\'s metadata file is not on this machine.</p>'
        if not recorded
        else ""
    )


# --- the experiment page ---------------------------------------------------------------------


def experiment_page(facts: ExperimentFacts) -> Page:
    exp, cfg = facts.experiment, facts.config
    runs = [r for r in facts.runs if not r["holdout"]]
    latest = runs[0] if runs else None
    trial = ""
    if exp.get("study_name"):
        trial = f" · trial {esc(exp.get('trial_number'))} of study {esc(exp['study_name'])}"
    sub = (
        f"{esc(cfg.symbol)} {esc(cfg.timeframe)} · {len(runs)} run(s) · registered "
        f"{esc(when(exp['created_at']))}{trial}"
    )
    page = Page(f"Experiment {exp['experiment_id']}", _subtitle("experiment report", sub))
    if latest is None:
        page.add("run", "Run", '<p class="note">no run registered</p>')
    else:
        failures = latest.get("gate_failures") or []
        fp = latest.get("data_fingerprint") or {}
        info = kv(
            [
                ("result id", latest["id"]),
                ("status", latest["status"] + (f": {latest['error']}" if latest["error"] else "")),
                ("gate", "passed" if latest["gate_passed"] else "failed: " + ", ".join(failures)),
                ("trained", when(latest["trained_at"])),
                ("training window", f"{when(latest['train_from'])} to {when(latest['train_to'])}"),
                (
                    "scored window",
                    f"{when(latest['test_from'])} to {when(latest['test_to'])}"
                    + (" (walk-forward folds)" if cfg.training.cv is not None else " (test)"),
                ),
                ("data", f"{fp.get('file')} (sha256 {str(fp.get('sha256', ''))[:16]})"),
                ("wall / CPU seconds", f"{num(latest['duration_s'])} / {num(latest['cpu_s'])}"),
                ("model", latest.get("model_path") or "none"),
                ("sweep version", latest.get("code_version")),
            ]
        )
        body = info + "<h3>Metrics</h3>" + _metrics_table(latest.get("metrics") or {})
        if latest["status"] == "ok":
            rep = replay(cfg, latest.get("metrics"), fp)
            body += _replay_body(page, rep, exp["experiment_id"], with_trades=True)
        page.add("run", "Run", body)
    rows = [
        [
            r["id"],
            when(r["trained_at"]),
            r["status"],
            "yes" if r["holdout"] else "",
            num((r.get("metrics") or {}).get("sharpe")),
            pct((r.get("metrics") or {}).get("win_rate")),
            pct((r.get("metrics") or {}).get("alpha"), signed=True),
            num((r.get("metrics") or {}).get("n_trades")),
            "passed" if r["gate_passed"] else ", ".join(r["gate_failures"] or []),
        ]
        for r in facts.runs
    ]
    page.add(
        "runs",
        "Runs",
        table(
            ["id", "trained", "status", "holdout", "Sharpe", "WR", "vs B&H", "trades", "gate"],
            rows,
        ),
    )
    page.add("config", "Config", f"<pre>{esc(dump_yaml(cfg.to_json_dict()))}</pre>")
    fp = (latest or {}).get("data_fingerprint") or {}
    page.add(
        "provenance",
        "Provenance",
        "<h3>Data</h3>"
        + table(_FP_HEAD, _fingerprint_rows({f"{cfg.symbol} {cfg.timeframe}": fp}))
        + "<h3>Package versions</h3>"
        + _versions_table(_model_versions(facts.runs))
        + kv([("PostgreSQL", facts.server_version)]),
    )
    return page
