"""The report's plots: Optuna's own (``optuna.visualization``) and the chosen run's.

Every figure is SVG-rendered plotly (no WebGL trace types), so it draws in any browser,
headless ones with software rendering included.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import optuna
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from optuna.importance import PedAnovaImportanceEvaluator, get_param_importances
from plotly.subplots import make_subplots

from sweep.core.stats import PBOResult
from sweep.report.replay import Replay

FloatArray = npt.NDArray[np.float64]
MAX_POINTS = 4000  # a curve longer than this is drawn per chunk of bars (last equity, worst dd)
PARALLEL_TRIALS = 300  # parallel coordinates show at most this many trials, the best

COLORS = {
    "strategy": "#1f4e79",
    "bh": "#9aa5b1",
    "matched": "#d08c19",
    "loss": "#b42318",
    "gain": "#1e7b34",
    "line": "#6c3fb5",
}


@dataclass(frozen=True)
class Figure:
    """A plot for the page, or why it is not there."""

    key: str
    title: str
    figure: go.Figure | None
    note: str = ""


@contextlib.contextmanager
def plotly_white() -> Iterator[None]:
    """Figures made inside take plotly's white template as they are built (setting it on each
    figure afterwards deep-copies the template every time), and the default is restored after:
    a notebook that builds a report keeps its own plotly default."""
    before = pio.templates.default
    pio.templates.default = "plotly_white"
    try:
        yield
    finally:
        pio.templates.default = before


def _layout(fig: go.Figure, height: int = 420, **extra: Any) -> go.Figure:
    """The page's look: height, margins (``extra`` may replace them), font."""
    settings: dict[str, Any] = {
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    }
    fig.update_layout(**{**settings, **extra})
    return fig


class _SharedTrials(optuna.storages.InMemoryStorage):
    """An in-memory study whose trials are handed out without a copy: Optuna's plots read the
    trial list many times, and deep copies of 1,000 trials cost seconds each time."""

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[optuna.trial.TrialState] | None = None,
    ) -> list[optuna.trial.FrozenTrial]:
        return super().get_all_trials(study_id, deepcopy=False, states=states)


def single_objective_view(
    trials: Sequence[optuna.trial.FrozenTrial], objective: int, direction: str, name: str
) -> optuna.Study:
    """An in-memory copy of the study with one objective (the ``objective``-th of a
    multi-objective study), named for Optuna's plots. Every trial is copied, in order, so each
    keeps its number (the dashboard's "Trial N"); only completed ones carry a value."""
    study = optuna.create_study(
        storage=_SharedTrials(),
        direction="maximize" if direction == "maximize" else "minimize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )
    with warnings.catch_warnings():  # experimental in Optuna; used on purpose
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([name])
    state = optuna.trial.TrialState
    copies = []
    for t in sorted(trials, key=lambda t: t.number):
        value = t.values[objective] if t.state == state.COMPLETE and t.values else None
        done = value is not None and math.isfinite(value)
        keep = t.state if t.state in (state.COMPLETE, state.PRUNED) else state.FAIL
        copies.append(
            optuna.trial.create_trial(
                state=keep if done or keep != state.COMPLETE else state.FAIL,
                params=t.params,
                distributions=t.distributions,
                value=value if done else None,
                intermediate_values=dict(t.intermediate_values),
                user_attrs={"experiment_id": t.user_attrs.get("experiment_id")},
                # constraint values: Optuna's plots mark the trials that miss them
                system_attrs={k: v for k, v in t.system_attrs.items() if k == "constraints"},
            )
        )
    study.add_trials(copies)
    return study


def pareto_figure(
    trials: Sequence[optuna.trial.FrozenTrial], directions: list[str], names: list[str]
) -> Figure:
    """Optuna's Pareto front of a multi-objective study's completed trials."""
    study = optuna.create_study(
        storage=_SharedTrials(),
        directions=["maximize" if d == "maximize" else "minimize" for d in directions],
    )
    done = [
        t
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE
        and t.values
        and all(math.isfinite(v) for v in t.values)
    ]
    study.add_trials(
        [
            optuna.trial.create_trial(
                params=t.params, distributions=t.distributions, values=t.values
            )
            for t in done
        ]
    )
    if not done:
        return Figure("pareto", "Pareto front", None, "needs completed trials")
    fig = optuna.visualization.plot_pareto_front(study, target_names=names)
    fig.update_layout(width=None, autosize=True, title_text="Pareto front")
    return Figure("pareto", "Pareto front", _layout(fig, height=460))


def best_trials_view(study: optuna.Study, limit: int) -> optuna.Study:
    """A copy of ``study`` with its ``limit`` best completed trials only (the rest left out)."""
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    best = sorted(done, key=lambda t: (sign * float(t.values[0]), t.number))[:limit]
    view = optuna.create_study(
        storage=_SharedTrials(), direction=study.direction, sampler=study.sampler
    )
    view.add_trials(sorted(best, key=lambda t: t.number))
    return view


def optuna_figures(study: optuna.Study, metric: str) -> list[Figure]:
    """History, PED-ANOVA importances, parallel coordinates, slice, and the contour of the two
    most important parameters, labelled with the metric's name."""
    complete = (optuna.trial.TrialState.COMPLETE,)
    n = len(study.get_trials(deepcopy=False, states=complete))
    out: list[Figure] = []

    def add(key: str, title: str, make: Callable[[], go.Figure], need: int = 1) -> None:
        if n < need:
            out.append(
                Figure(key, title, None, f"needs {need} completed trial{'s' if need > 1 else ''}")
            )
            return
        try:
            fig = make()
        except (ValueError, RuntimeError, ZeroDivisionError) as e:
            out.append(Figure(key, title, None, f"Optuna could not draw it: {e}"))
            return
        # Optuna sizes some plots itself (the slice is 300 px wide per parameter): the page
        # gives every plot its width and a fixed height instead
        fig.update_layout(width=None, autosize=True, title_text=title)
        out.append(Figure(key, title, _layout(fig, height=480 if key == "slice" else 460)))

    vis = optuna.visualization
    add(
        "history",
        "Optimization history",
        lambda: vis.plot_optimization_history(study, target_name=metric),
    )
    importances: dict[str, float] = {}
    done = study.get_trials(deepcopy=False, states=complete)
    # (not study.best_trial: it raises when no trial meets the constraints)
    if n >= 2 and any(t.params for t in done):
        try:
            importances = get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
        except (ValueError, RuntimeError) as e:
            out.append(Figure("importance", "Parameter importances", None, str(e)))
    if n < 2:
        out.append(Figure("importance", "Parameter importances", None, "needs 2 completed trials"))
    if importances:
        add(
            "importance",
            "Parameter importances (PED-ANOVA)",
            lambda: vis.plot_param_importances(
                study, evaluator=PedAnovaImportanceEvaluator(), target_name=metric
            ),
            need=2,
        )
    # 1,000 lines are a tangle (and Optuna draws each as a plot trace of its own): the best
    # PARALLEL_TRIALS show where the good configurations lie
    lines = study if n <= PARALLEL_TRIALS else best_trials_view(study, PARALLEL_TRIALS)
    add(
        "parallel",
        "Parallel coordinates"
        + (f" (the best {PARALLEL_TRIALS} of {n} trials)" if n > PARALLEL_TRIALS else ""),
        lambda: vis.plot_parallel_coordinate(lines, target_name=metric),
        need=2,
    )
    add("slice", "Slice", lambda: vis.plot_slice(study, target_name=metric))
    top = list(importances)[:2]
    if len(top) == 2:
        add(
            "contour",
            f"Contour: {top[0]} x {top[1]} (the two most important parameters)",
            lambda: vis.plot_contour(study, params=top, target_name=metric),
            need=2,
        )
    else:
        out.append(Figure("contour", "Contour", None, "needs two parameters with importances"))
    return out


def _thin(index: Any, values: FloatArray, how: str) -> tuple[Any, FloatArray]:
    """At most :data:`MAX_POINTS` points: the last value of each chunk of bars (``last``) or
    its largest (``max``, so a drawdown's trough is kept). Times as ISO text in UTC (one
    vectorised conversion instead of plotly's per-value one)."""
    n = len(values)
    stamps = np.datetime_as_string(pd.DatetimeIndex(index).tz_convert(None).to_numpy(), unit="m")
    if n <= MAX_POINTS:
        return stamps, values
    step = math.ceil(n / MAX_POINTS)
    edges = np.arange(0, n, step)
    if how == "max":
        vals = np.maximum.reduceat(values, edges)
    else:
        vals = values[np.minimum(edges + step - 1, n - 1)]
    return stamps[np.minimum(edges + step - 1, n - 1)], vals


def equity_figure(r: Replay, title: str) -> go.Figure:
    """Equity against the exposure-matched buy and hold (top left axis) and buy and hold (top
    right axis: fully invested, it moves tens of times more than a strategy that commits a few
    percent of equity, and would flatten the others on a shared axis), and the drawdown (bottom
    axis); walk-forward folds are marked."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.68, 0.32],
        vertical_spacing=0.05,
        specs=[[{"secondary_y": True}], [{"secondary_y": False}]],
    )
    curves = [
        ("bh", "buy and hold (right axis)", r.bh_equity, 1.2, True),
        (
            "matched",
            f"buy and hold x {r.matched_fraction:.4g} (exposure-matched)",
            r.matched_equity,
            1.6,
            False,
        ),
        ("strategy", "strategy", r.equity, 2.2, False),
    ]
    for key, name, values, width, right in curves:
        x, y = _thin(r.index, values, "last")
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=name,
                mode="lines",
                line={"color": COLORS[key], "width": width},
                hovertemplate="%{x} UTC<br>%{y:.4f}<extra>" + name + "</extra>",
            ),
            row=1,
            col=1,
            secondary_y=right,
        )
    x, dd = _thin(r.index, r.drawdown, "max")
    fig.add_trace(
        go.Scatter(
            x=x,
            y=-dd * 100.0,
            name="strategy drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": COLORS["loss"], "width": 1},
            hovertemplate="%{x} UTC<br>%{y:.2f}%<extra>drawdown</extra>",
        ),
        row=2,
        col=1,
    )
    if len(r.folds) > 1:
        for f in r.folds[1:]:
            for row in (1, 2):
                fig.add_vline(
                    x=pd.Timestamp(f["from"]).tz_convert(None).isoformat(timespec="minutes"),
                    line={"color": "#c0c6cc", "width": 1, "dash": "dot"},
                    row=row,
                    col=1,
                )
    fig.update_yaxes(title_text="equity (start = 1)", row=1, col=1, secondary_y=False)
    fig.update_yaxes(
        title_text="buy and hold",
        row=1,
        col=1,
        secondary_y=True,
        showgrid=False,
        tickfont={"color": COLORS["bh"]},
        title_font={"color": COLORS["bh"]},
    )
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    fig.update_xaxes(title_text="UTC", row=2, col=1)
    return _layout(
        fig,
        height=580,
        title={"text": title, "x": 0.01, "y": 0.98, "yanchor": "top"},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0},
        margin={"l": 60, "r": 60, "t": 80, "b": 50},
        hovermode="x unified",
    )


def folds_figure(r: Replay) -> go.Figure:
    """Each fold's Sharpe ratio and total return, side by side."""
    labels = [f"fold {f['fold']}" for f in r.folds]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Sharpe (annualised)", "total return %"))
    sharpe = [f.get("sharpe") or 0.0 for f in r.folds]
    total = [100.0 * (f.get("total_return") or 0.0) for f in r.folds]
    for col, values in ((1, sharpe), (2, total)):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                marker_color=[COLORS["gain"] if v >= 0 else COLORS["loss"] for v in values],
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    return _layout(fig, height=320, title={"text": "Per fold", "x": 0.01})


def trades_figure(net_returns: FloatArray) -> go.Figure:
    """Histogram of the trades' net returns (%), with their mean."""
    pct = np.asarray(net_returns, dtype=np.float64) * 100.0
    fig = go.Figure(
        go.Histogram(
            x=pct,
            nbinsx=min(80, max(10, int(math.sqrt(max(1, len(pct)))) * 2)),
            marker_color=COLORS["strategy"],
            name="trades",
        )
    )
    if len(pct):
        mean = float(pct.mean())
        fig.add_vline(
            x=mean,
            line={"color": COLORS["matched"], "width": 2},
            annotation_text=f"mean {mean:+.2f}%",
        )
        fig.add_vline(x=0.0, line={"color": "#555", "width": 1, "dash": "dot"})
    fig.update_xaxes(title_text="net return per trade % (fees and slippage included)")
    fig.update_yaxes(title_text="trades")
    return _layout(fig, height=360, title={"text": f"Trade returns ({len(pct)} trades)", "x": 0.01})


def sharpe_figure(
    sharpes: FloatArray, expected_max: float | None, chosen: float | None, n_flat: int
) -> go.Figure:
    """The distribution of the trials' Sharpe ratios (annualised, from their daily returns),
    with the expected maximum of N trials and the chosen trial's."""
    fig = go.Figure(
        go.Histogram(x=sharpes, nbinsx=min(60, max(10, len(sharpes) // 4)), marker_color="#8fa8c8")
    )
    # each line's label at its own height, so two lines close together stay readable
    for value, label, color, dash, y in (
        (expected_max, "E[max] of N trials", COLORS["matched"], "dash", 1.0),
        (chosen, "chosen", COLORS["strategy"], "solid", 0.88),
    ):
        if value is None:
            continue
        fig.add_vline(x=value, line={"color": color, "width": 2, "dash": dash})
        fig.add_annotation(
            x=value,
            y=y,
            yref="paper",
            text=f"{label} {value:.2f}",
            showarrow=False,
            xanchor="left",
            bgcolor="rgba(255,255,255,0.8)",
            font={"color": color},
        )
    extra = (
        f"; {n_flat} trial{' that' if n_flat == 1 else 's that'} never traded left out"
        if n_flat
        else ""
    )
    fig.update_xaxes(title_text="Sharpe ratio of daily returns, annualised (x sqrt(365))")
    fig.update_yaxes(title_text="trials")
    return _layout(
        fig,
        height=360,
        title={"text": f"Trial Sharpe ratios ({len(sharpes)} trials{extra})", "x": 0.01},
    )


def pbo_figure(res: PBOResult) -> go.Figure:
    """Histogram of CSCV's logits: left of 0, the in-sample winner fell below the
    out-of-sample median (PBO is that share)."""
    logits = np.asarray(res.logits, dtype=np.float64)
    logits = logits[np.isfinite(logits)]
    fig = go.Figure(go.Histogram(x=logits, nbinsx=50, marker_color="#8fa8c8"))
    fig.add_vline(
        x=0.0,
        line={"color": COLORS["loss"], "width": 2},
        annotation_text=f"PBO {res.pbo:.2f} (share at or left of 0)",
        annotation_position="top left",
    )
    fig.update_xaxes(title_text="logit of the IS winner's OOS rank, ln(w / (1 - w))")
    fig.update_yaxes(title_text="combinations")
    return _layout(
        fig,
        height=340,
        title={
            "text": f"PBO: {res.n_combinations} CSCV combinations, {res.n_partitions} partitions",
            "x": 0.01,
        },
    )
