"""The timing test: trade tables against the backtest, random schedules, scores and p-values."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import yaml
from conftest import SEED_YAML
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.core.backtest import run_backtest
from sweep.core.experiment import validate_experiment
from sweep.core.metrics import bh_return, compute_metrics, max_drawdown, sharpe, sortino
from sweep.core.pipeline import run_pipeline
from sweep.core.timing import (
    SCORED_OBJECTIVES,
    TIMING_DRAWS,
    ScoredPeriod,
    TimingScores,
    TradeTable,
    decode_scores,
    draw_schedules,
    encode_scores,
    long_only_trade_table,
    schedule_equity,
    study_timing_p,
    timing_objective,
    timing_p,
    timing_scores,
)
from sweep.study.runner import load_dataset

FloatArray = npt.NDArray[np.float64]

# The 10-bar period of tests/test_backtest.py.
OPEN = np.array([100, 100, 100, 95, 120, 125, 100, 90, 100, 100], dtype=np.float64)
CLOSE = np.array([100, 100, 95, 120, 125, 100, 90, 100, 100, 105], dtype=np.float64)


def random_walk(n: int, seed: int, drift: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """Open and close of a fat-tailed random walk (open = previous close)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + drift + 0.01 * rng.standard_t(4, n) / math.sqrt(2.0))
    return np.r_[100.0, close[:-1]], close


def period_of(
    open_: FloatArray,
    close: FloatArray,
    proba: FloatArray,
    *,
    hold: int = 3,
    size: float = 0.5,
    fee: float = 0.001,
    slippage: float = 0.0005,
    threshold: float = 0.6,
) -> tuple[ScoredPeriod, object]:
    bt = run_backtest(
        open_,
        close,
        proba,
        entry_threshold=threshold,
        size=size,
        hold_max=hold,
        fee=fee,
        slippage=slippage,
    )
    table = long_only_trade_table(open_, close, hold_max=hold, fee=fee, slippage=slippage)
    period = ScoredPeriod(
        close=close,
        table=table,
        signals=bt.trades.entry_bar - 1,
        size=size,
        bh_return=bh_return(open_, close),
        bars_per_year=2190.0,
    )
    metrics = compute_metrics(bt, open_, close, bars_per_year=2190.0, size=size)
    return period, (bt, metrics)


# --- the trade table is the backtest's -----------------------------------------------------------


def test_trade_table_golden_on_the_ten_bar_period() -> None:
    # hold 3, fee 1%, slippage 1%: a signal at bar 1 enters at 100 * 1.01 = 101 at the open of
    # bar 2 and exits at the close of bar 4, 125 * 0.99 = 123.75 (see test_backtest).
    table = long_only_trade_table(OPEN, CLOSE, hold_max=3, fee=0.01, slippage=0.01)
    assert table.exit_index.tolist() == [3, 4, 5, 6, 7, 8, 9, 9, 9, -1]
    assert table.net_return[1] == pytest.approx(123.75 * 0.99 / (101 * 1.01) - 1, rel=1e-12)
    assert table.mark_slope[1] == pytest.approx(1 / (101 * 1.01), rel=1e-12)
    assert np.isnan(table.net_return[9])  # the last bar has no next open


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(1.0, 1000.0), min_size=2, max_size=60),
    st.lists(st.floats(0.0, 1.0), min_size=60, max_size=60),
    st.integers(1, 8),
    st.sampled_from([0.0, 0.001, 0.01]),
    st.floats(0.01, 1.0),
)
def test_actual_schedule_reproduces_run_backtest_exactly(
    closes: list[float], probas: list[float], hold: int, cost: float, size: float
) -> None:
    close = np.array(closes)
    open_ = np.r_[close[0], close[:-1]] * 1.001
    proba = np.array(probas[: len(close)])
    period, (bt, _) = period_of(  # type: ignore[misc]
        open_, close, proba, hold=hold, size=size, fee=cost, slippage=cost / 2, threshold=0.5
    )
    sig = period.signals
    np.testing.assert_array_equal(period.table.exit_index[sig], bt.trades.exit_bar)
    np.testing.assert_array_equal(period.table.net_return[sig], bt.trades.net_return)
    np.testing.assert_array_equal(schedule_equity(period, sig), bt.equity)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(1, 8),
    st.floats(0.3, 0.95),
    st.floats(0.05, 1.0),
)
def test_actual_score_equals_the_runs_metric_for_every_objective(
    seed: int, hold: int, threshold: float, size: float
) -> None:
    open_, close = random_walk(300, seed)
    proba = np.random.default_rng(seed + 1).random(300)
    period, (_, m) = period_of(open_, close, proba, hold=hold, size=size, threshold=threshold)
    for objective in sorted(SCORED_OBJECTIVES):
        got = timing_scores([period], objective, seed=1, draws=3).actual
        want = getattr(m, objective)
        if want is None:  # profit factor without a losing trade
            assert got == math.inf
        else:
            assert got == pytest.approx(want, rel=1e-9, abs=1e-12), objective


def test_random_draw_scores_match_their_own_equity_curves() -> None:
    # The vectorised scores of random schedules against sweep.core.metrics on each schedule's full
    # mark-to-market equity (schedule_equity), draw by draw.
    open_, close = random_walk(500, 3)
    proba = np.random.default_rng(4).random(500)
    period, _ = period_of(open_, close, proba, hold=5, size=0.3)
    m = len(period.signals)
    schedules = draw_schedules(period.table, m, seed=9, draws=20)
    scores = {o: timing_scores([period], o, seed=9, draws=20).draws for o in SCORED_OBJECTIVES}
    for k in range(20):
        equity = schedule_equity(period, schedules[k])
        returns = equity / np.r_[1.0, equity[:-1]] - 1.0
        assert scores["sharpe"][k] == pytest.approx(sharpe(returns, 2190.0), rel=1e-9)
        assert scores["sortino"][k] == pytest.approx(sortino(returns, 2190.0), rel=1e-9)
        assert scores["max_drawdown"][k] == pytest.approx(max_drawdown(equity), rel=1e-9)
        assert scores["total_return"][k] == pytest.approx(equity[-1] - 1.0, rel=1e-9)


# --- random schedules ----------------------------------------------------------------------------


def assert_valid(table: TradeTable, schedules: npt.NDArray[np.int64]) -> None:
    for row in schedules:
        placed = row[row >= 0]
        assert np.all(table.exit_index[placed] >= 0)
        # In order, and each signal at or after the previous trade's exit bar.
        assert np.all(placed[1:] >= table.exit_index[placed[:-1]])


def test_fixed_hold_schedules_keep_the_trade_count_without_overlap() -> None:
    open_, close = random_walk(400, 1)
    table = long_only_trade_table(open_, close, hold_max=6, fee=0.001, slippage=0.0)
    for m in (1, 2, 30, 66):  # 66 trades of 6 bars nearly fill 399 signal bars
        s = draw_schedules(table, m, seed=5, draws=500)
        assert s.shape == (500, m) and s.min() >= 0
        assert_valid(table, s)
    # Completely full: the only schedule is back to back, its last trade forced out at the end
    # (entered at bar 9's open, exited at its close).
    table = long_only_trade_table(OPEN, CLOSE, hold_max=4, fee=0, slippage=0)
    assert np.all(draw_schedules(table, 3, seed=1) == [0, 4, 8])
    table = long_only_trade_table(OPEN, CLOSE, hold_max=3, fee=0, slippage=0)
    with pytest.raises(ValueError, match="do not fit"):
        draw_schedules(table, 4, seed=1)


def test_fixed_hold_entries_are_spread_over_the_whole_period() -> None:
    # A uniform split of the free bars: entry j sits on average at F (j + 1) / (m + 1) + j h,
    # with F the free room, so neither end of the period is favoured.
    n, hold, m, draws = 1000, 5, 40, 20_000
    table = long_only_trade_table(np.ones(n), np.ones(n), hold_max=hold, fee=0, slippage=0)
    s = draw_schedules(table, m, seed=11, draws=draws)
    free = (n - 2) - (m - 1) * hold
    expected = free * np.arange(1, m + 1) / (m + 1) + np.arange(m) * hold
    # Standard error of a mean position: at most F / sqrt(4 draws) = 3.3 bars here.
    np.testing.assert_allclose(s.mean(axis=0), expected, atol=5 * free / math.sqrt(4 * draws))
    # Every bar can be held: the held share of the first and the last tenth are alike.
    held = np.zeros(n)
    for j in range(m):
        np.add.at(held, s[:, j], 1)
    first, last = held[: n // 10].sum(), held[-n // 10 :].sum()
    assert abs(first - last) / (first + last) < 0.05


def variable_table(n: int, seed: int, longest: int = 8) -> TradeTable:
    """An exit rule with durations 1..longest (as take-profit / stop-loss exits would give)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    exit_ = np.minimum(t + rng.integers(1, longest + 1, n), n - 1)
    exit_[-1] = -1
    net = rng.normal(0.0, 0.02, n)
    return TradeTable(exit_, net, np.zeros(n), np.full(n, 1.0))


def test_variable_exits_are_placed_one_after_another() -> None:
    table = variable_table(600, 2)
    s = draw_schedules(table, 60, seed=3, draws=2000)
    assert_valid(table, s)
    assert np.mean(s >= 0) > 0.99  # almost every draw places every trade
    # Spread over the period: on average the entries' mean position is near the middle.
    placed = s[(s >= 0).all(axis=1)]
    assert abs(placed.mean() / 600 - 0.5) < 0.05


def test_variable_exits_that_cannot_fit_leave_short_draws_counted() -> None:
    table = variable_table(200, 4, longest=12)
    # 40 trades of up to 12 bars in 199 signal bars: many draws run out of room.
    close = np.linspace(100, 110, 200)
    period = ScoredPeriod(close, table, np.arange(0, 200, 5)[:40], 0.5, 0.1, 2190.0)
    scores = timing_scores([period], "total_return", seed=1, draws=300)
    s = draw_schedules(table, 40, seed=1, period=0, draws=300)
    assert_valid(table, s)
    assert scores.short_draws == int((s < 0).any(axis=1).sum()) > 0


def test_draws_are_deterministic_for_a_seed() -> None:
    table = variable_table(300, 7)
    a = draw_schedules(table, 20, seed=42, draws=100)
    np.testing.assert_array_equal(a, draw_schedules(table, 20, seed=42, draws=100))
    assert not np.array_equal(a, draw_schedules(table, 20, seed=43, draws=100))
    assert not np.array_equal(a, draw_schedules(table, 20, seed=42, period=1, draws=100))
    open_, close = random_walk(300, 8)
    period, _ = period_of(open_, close, np.random.default_rng(9).random(300))
    x = timing_scores([period], "sharpe", seed=42)
    y = timing_scores([period], "sharpe", seed=42)
    assert x.draws.shape == (TIMING_DRAWS,)
    np.testing.assert_array_equal(x.draws, y.draws)
    assert timing_p(x) == timing_p(y)


# --- p-values ------------------------------------------------------------------------------------


def test_p_value_formula_and_range() -> None:
    s = TimingScores("sharpe", 1.0, np.array([0.5, 1.0, 2.0, -1.0]))
    assert timing_p(s, "maximize") == (1 + 2) / 5  # 1.0 and 2.0 are at least as good
    assert timing_p(s, "minimize") == (1 + 3) / 5
    with pytest.raises(ValueError, match="direction"):
        timing_p(s, "up")  # type: ignore[arg-type]


def test_no_trades_gives_p_one() -> None:
    open_, close = random_walk(200, 1)
    period, _ = period_of(open_, close, np.zeros(200))
    s = timing_scores([period], "sharpe", seed=1)
    assert s.actual == 0.0 and np.all(s.draws == 0.0)
    assert timing_p(s) == 1.0


def test_p_is_small_for_a_schedule_built_to_be_good() -> None:
    # The signal knows the future: it fires just before the 30 largest 3-bar rises.
    open_, close = random_walk(2000, 5)
    gain = np.r_[close[3:] / open_[1:-2], np.zeros(3)]
    proba = np.zeros(2000)
    proba[np.argsort(gain)[-30:]] = 0.9
    period, _ = period_of(open_, close, proba, hold=3)
    for objective in ("sharpe", "total_return", "win_rate", "profit_factor", "alpha_exposure"):
        assert timing_p(timing_scores([period], objective, seed=3)) == 1 / (1 + TIMING_DRAWS)
    # ... and worst when it fires before the largest falls.
    proba[:] = 0.0
    proba[np.argsort(gain)[:30]] = 0.9
    period, _ = period_of(open_, close, proba, hold=3)
    assert timing_p(timing_scores([period], "sharpe", seed=3)) > 0.99
    assert timing_p(timing_scores([period], "max_drawdown", seed=3), "minimize") > 0.99


def test_p_is_roughly_uniform_on_noise() -> None:
    # 300 noise paths with a drift (long exposure pays), each with a signal independent of the
    # prices: the p-values must not pile up near 0 (exposure is not timing).
    ps = []
    for seed in range(300):
        open_, close = random_walk(400, seed, drift=0.002)
        proba = np.random.default_rng(10_000 + seed).random(400)
        period, _ = period_of(open_, close, proba, hold=4, threshold=0.8)
        ps.append(timing_p(timing_scores([period], "sharpe", seed=seed, draws=200)))
    p = np.array(ps)
    # Uniform: mean 0.5 (sd 0.017 over 300), 5% below 0.05 (sd 1.3%), deciles near 30 each.
    assert abs(p.mean() - 0.5) < 0.06
    assert np.mean(p <= 0.05) < 0.10
    counts = np.histogram(p, bins=10, range=(0, 1))[0]
    assert counts.min() > 12 and counts.max() < 50


def test_folds_combine_like_the_runs_metrics() -> None:
    # Three "folds": the sharpe is the mean of the folds', the win rate pools their trades.
    periods, metrics = [], []
    for f in range(3):
        open_, close = random_walk(300, 100 + f)
        proba = np.random.default_rng(200 + f).random(300)
        period, (_, m) = period_of(open_, close, proba, hold=2 + f, threshold=0.7)
        periods.append(period)
        metrics.append(m)
    s = timing_scores(periods, "sharpe", seed=1, draws=50)
    assert s.actual == pytest.approx(np.mean([m.sharpe for m in metrics]), rel=1e-9)
    w = timing_scores(periods, "win_rate", seed=1, draws=50)
    wins = sum(m.win_rate * m.n_trades for m in metrics)
    assert w.actual == pytest.approx(wins / sum(m.n_trades for m in metrics), rel=1e-12)


def test_objectives_a_schedule_does_not_change_are_scored_by_sharpe() -> None:
    for objective in ("auc", "n_trades", "exposure"):
        assert timing_objective(objective) == "sharpe"
    for objective in SCORED_OBJECTIVES:
        assert timing_objective(objective) == objective


# --- a study: White's Reality Check ---------------------------------------------------------------


def noise_trials(n_trials: int, seed: int) -> list[TimingScores]:
    open_, close = random_walk(600, seed)
    trials = []
    for i in range(n_trials):
        proba = np.random.default_rng(seed * 1000 + i).random(600)
        period, _ = period_of(open_, close, proba, hold=1 + i % 6, threshold=0.85)
        trials.append(timing_scores([period], "sharpe", seed=42, draws=300))
    return trials


def test_study_p_corrects_the_best_trials_selection() -> None:
    low_run, low_study = 0, 0
    for seed in range(12):
        trials = noise_trials(30, seed)
        best = max(trials, key=lambda t: t.actual)
        run_p, study_p = timing_p(best), study_timing_p(best, trials)
        # The best random score over all trials is at least the chosen trial's own.
        assert study_p >= run_p
        low_run += run_p <= 0.05
        low_study += study_p <= 0.05
    # The best of 30 noise trials usually looks significant alone; corrected, it rarely does.
    assert low_run >= 5
    assert low_study <= 2


def test_study_p_of_one_trial_is_its_own_p_and_duplicates_do_not_count() -> None:
    trials = noise_trials(3, 77)
    only = trials[0]
    assert study_timing_p(only, [only]) == timing_p(only)
    # The same trial twice shares its draws (same seed): the study p does not move.
    assert study_timing_p(only, [only, only]) == study_timing_p(only, [only])
    with pytest.raises(ValueError, match="at least one"):
        study_timing_p(only, [])
    other = TimingScores("sortino", 0.0, np.zeros(300))
    with pytest.raises(ValueError, match="different objectives"):
        study_timing_p(only, [only, other])


def test_scores_round_trip_through_their_compact_encoding() -> None:
    s = noise_trials(1, 5)[0]
    blob = encode_scores(s)
    assert len(blob) < 4 * (300 + 1) + 64  # float32, barely compressible
    back = decode_scores("sharpe", 300, "zlib-f32le-timing", blob)
    assert back.actual == pytest.approx(s.actual, rel=1e-6)
    np.testing.assert_allclose(back.draws, s.draws, rtol=1e-6)
    # Stored precision is compared at stored precision: the p does not move.
    assert study_timing_p(back, [back]) == study_timing_p(s, [s])
    with pytest.raises(ValueError, match="encoding"):
        decode_scores("sharpe", 300, "zlib-f64", blob)
    with pytest.raises(ValueError, match="draws"):
        decode_scores("sharpe", 299, "zlib-f32le-timing", blob)


# --- in the pipeline -----------------------------------------------------------------------------


@pytest.mark.parametrize("cv", [None, {"folds": 3}])
def test_every_run_carries_timing_p_on_its_scored_bars(cv: dict[str, int] | None) -> None:
    data = yaml.safe_load(SEED_YAML.read_text())
    data["target"]["threshold"] = 0.004  # trades enough for every objective to be defined
    data["training"]["cv"] = cv
    cfg = validate_experiment(data)
    result = run_pipeline(cfg, load_dataset(cfg))
    m = result.metrics
    assert len(result.scored_periods) == (3 if cv else 1)
    assert sum(p.n_bars for p in result.scored_periods) == len(result.test_returns)
    assert result.timing.actual == pytest.approx(m["sharpe"], rel=1e-9)
    assert m["timing_p"] == timing_p(result.timing)
    assert 0.0 < m["timing_p"] <= 1.0
    assert m["n_trades"] >= 30
    # Any other objective, from what the run kept, matches the run's own metric.
    for objective in ("sortino", "win_rate", "avg_trade_return", "max_drawdown", "alpha_exposure"):
        got = timing_scores(result.scored_periods, objective, seed=cfg.seed, draws=10).actual
        assert got == pytest.approx(m[objective], rel=1e-9), objective
    again = run_pipeline(cfg, load_dataset(cfg), nthread=2)
    assert again.metrics["timing_p"] == m["timing_p"]  # whatever the threads
    np.testing.assert_array_equal(again.timing.draws, result.timing.draws)
