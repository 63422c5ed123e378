"""Study-level DSR and PBO from stored daily returns."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from sweep.core.returns import DailyReturns, align
from sweep.core.stats import (
    StatsError,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_stats,
    trial_sharpe_variance,
)
from sweep.study.study_stats import compute_study_stats
from sweep.study.verdict import decide


def noise_study(n_trials: int, n_days: int = 400, seed: int = 1) -> dict[str, DailyReturns]:
    rng = np.random.default_rng(seed)
    return {
        f"t{i:03d}": DailyReturns(date(2022, 1, 1), rng.normal(0, 0.01, n_days))
        for i in range(n_trials)
    }


def best_of(series: dict[str, DailyReturns]) -> str:
    return max(series, key=lambda k: sharpe_stats(series[k].values).sr)


def test_dsr_matches_sweep_stats_on_the_same_inputs() -> None:
    series = noise_study(20)
    chosen = best_of(series)
    got = compute_study_stats(series, chosen)
    assert got is not None
    s = sharpe_stats(series[chosen].values)
    v = trial_sharpe_variance([sharpe_stats(x.values).sr for x in series.values()])
    assert got.dsr == pytest.approx(deflated_sharpe_ratio(s.sr, s.n_obs, s.skew, s.kurtosis, 20, v))
    assert got.n_trials == 20 and got.n_days == 400 and got.pbo_partitions == 16
    assert got.best_sharpe == pytest.approx(s.sr * np.sqrt(365))


def test_best_of_pure_noise_is_not_significant_and_overfits() -> None:
    series = noise_study(40)
    got = compute_study_stats(series, best_of(series))
    assert got is not None and got.dsr is not None and got.pbo is not None
    assert got.dsr < 0.9  # the best of 40 noise strategies is not a discovery
    assert got.pbo > 0.2


def test_a_truly_better_trial_has_high_dsr_and_low_pbo() -> None:
    series = noise_study(30)
    rng = np.random.default_rng(7)
    series["edge"] = DailyReturns(date(2022, 1, 1), rng.normal(0.004, 0.01, 400))
    got = compute_study_stats(series, "edge")
    assert got is not None and got.dsr is not None and got.pbo is not None
    assert got.dsr > 0.95
    assert got.pbo < 0.1


def test_never_traded_trials_are_left_out_of_n_the_spread_and_pbo() -> None:
    series = noise_study(5)
    traded = dict(series)
    for i in range(5):  # half the study never traded
        series[f"flat{i}"] = DailyReturns(date(2022, 1, 1), np.zeros(400))
    chosen = best_of(traded)
    got = compute_study_stats(series, chosen)
    want = compute_study_stats(traded, chosen)
    assert got is not None and want is not None
    # One set: every statistic is what the study would give had they not been tried.
    assert got.n_trials == 5 and got.n_never_traded == 5 and got.n_pruned == 0
    assert (got.dsr, got.var_sharpe_daily, got.pbo) == (want.dsr, want.var_sharpe_daily, want.pbo)
    srs = [sharpe_stats(x.values).sr for x in traded.values()]
    assert got.var_sharpe_daily == pytest.approx(trial_sharpe_variance(srs))
    # Zeros in the spread would have shrunk it and made the chosen trial look better.
    s = sharpe_stats(series[chosen].values)
    with_zeros = trial_sharpe_variance([*srs, *[0.0] * 5])
    assert with_zeros < trial_sharpe_variance(srs)
    assert got.dsr is not None
    assert got.dsr < deflated_sharpe_ratio(s.sr, s.n_obs, s.skew, s.kurtosis, 10, with_zeros)
    # Doing nothing is no discovery: a chosen trial that never traded has no DSR.
    flat = compute_study_stats(series, "flat0")
    assert flat is not None and flat.dsr is None and flat.best_sharpe == 0.0
    assert flat.pbo == got.pbo  # PBO is the study's, whoever is chosen
    # One trial traded among many: no spread to deflate by, so no DSR (not an undeflated one).
    lone = {k: v for k, v in series.items() if k.startswith("flat")} | {chosen: series[chosen]}
    alone = compute_study_stats(lone, chosen, n_tried=8)  # and 2 pruned
    assert alone is not None and alone.n_trials == 3 and alone.dsr is None and alone.pbo is None
    single = compute_study_stats({chosen: series[chosen]}, chosen)
    assert single is not None and single.n_trials == 1 and single.dsr is not None


def test_pbo_with_constant_columns_flatters_the_study() -> None:
    # Why never-trading trials stay out of PBO's matrix: on noise, constant columns rank in the
    # middle of every out-of-sample ranking and pull the PBO of the search down.
    series = noise_study(12, seed=5)
    flats = {f"flat{i}": DailyReturns(date(2022, 1, 1), np.zeros(400)) for i in range(12)}
    _, with_flat = align([*series.values(), *flats.values()])
    kept = probability_of_backtest_overfitting(with_flat).pbo
    got = compute_study_stats(series | flats, best_of(series))
    assert got is not None and got.pbo is not None
    assert kept < got.pbo


def test_pruned_trials_count_in_n_only() -> None:
    series = noise_study(10)
    chosen = best_of(series)
    plain = compute_study_stats(series, chosen)
    pruned = compute_study_stats(series, chosen, n_tried=25)
    assert plain is not None and pruned is not None
    assert (plain.n_trials, pruned.n_trials, pruned.n_pruned) == (10, 25, 15)
    assert pruned.var_sharpe_daily == plain.var_sharpe_daily and pruned.pbo == plain.pbo
    assert pruned.dsr is not None and plain.dsr is not None and pruned.dsr < plain.dsr


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_series_with_nan_is_an_error_not_a_zero_sharpe(bad: float) -> None:
    series = noise_study(4)
    values = series["t001"].values.copy()
    values[17] = bad
    series["t001"] = DailyReturns(date(2022, 1, 1), values)
    with pytest.raises(StatsError, match="returns of t001"):
        compute_study_stats(series, "t000")


def test_unknown_choice_gives_none_and_the_verdict_words_failures() -> None:
    series = noise_study(10)
    assert compute_study_stats(series, "missing") is None
    got = compute_study_stats(series, best_of(series))
    assert got is not None and got.dsr is not None and got.pbo is not None
    values = {"min_dsr": got.dsr, "max_pbo": got.pbo, "max_timing_p": None}
    v = decide(25, values, {"min_dsr": 0.99, "max_pbo": 0.0, "max_timing_p": None})
    assert v.verdict == "no_edge"
    assert v.reasons[0].startswith("DSR ") and v.reasons[0].endswith(" < 0.99")
    assert v.reasons[1].startswith("PBO ") and v.reasons[1].endswith(" > 0.00")
    off = decide(25, values, {"min_dsr": None, "max_pbo": None, "max_timing_p": None})
    assert off.verdict == "edge"
