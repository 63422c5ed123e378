"""Selection-bias statistics for a sweep: PSR, DSR, MinTRL and PBO (CSCV).

Picking the best of N trials inflates its Sharpe ratio. These pure functions measure by how much.

Conventions (every function below follows them):

- Sharpe ratios are **per bar** (per observation), never annualised: ``mean / std`` with the
  sample standard deviation (``ddof=1``). Divide an annual figure by ``sqrt(bars per year)``.
- Skewness ``γ3`` is the population third standardised central moment (``ddof=0``).
- Kurtosis ``γ4`` is the population fourth standardised central moment, **not** excess
  (a normal distribution has ``γ4 = 3``).
- ``var_trials`` is the variance of the trials' per-bar Sharpe ratios with ``ddof=1``
  (:func:`trial_sharpe_variance`).
- In CSCV the relative rank is ``w = rank / (N + 1)`` with average ranks for ties, and the logit
  is ``λ = ln(w / (1 - w))``, as in Bailey, Borwein, López de Prado and Zhu (2017).

References:

- [SEF] Bailey, D. H. and López de Prado, M. (2012), "The Sharpe Ratio Efficient Frontier",
  Journal of Risk 15(2).
- [DSR] Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
  Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management 40(5).
- [PM] Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2014), "Pseudo-Mathematics
  and Financial Charlatanism", Notices of the AMS 61(5).
- [PBO] Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2017), "The Probability of
  Backtest Overfitting", Journal of Computational Finance 20(4).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sweep.core.errors import SweepError

__all__ = [
    "EULER_MASCHERONI",
    "PBOResult",
    "SharpeStats",
    "StatsError",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "min_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_interval",
    "sharpe_stats",
    "trial_sharpe_variance",
]

EULER_MASCHERONI = 0.5772156649015329
"""γ, the Euler–Mascheroni constant used by the expected-maximum approximation [PM]."""

_NORMAL = NormalDist()
# A variance term this close to zero is rounding noise around the two-point boundary, not an
# impossible set of moments.
_VARIANCE_TERM_TOLERANCE = 1e-12
# Cells (combinations x trials) per CSCV chunk: ~2 MB float64 buffers stay in cache; on
# 1,000 trials x 8,760 bars this ran faster than 1-2 M-cell chunks and used far less memory.
_CSCV_CELLS_PER_CHUNK = 250_000

Metric = Callable[[NDArray[np.float64]], ArrayLike]
"""Maps a (bars x trials) block of returns to one performance value per trial."""


class StatsError(SweepError, ValueError):
    """An argument to a :mod:`sweep.core.stats` function is out of its domain."""


class SharpeStats(NamedTuple):
    """Per-bar Sharpe ratio and the moments PSR needs, under the module's conventions."""

    sr: float
    skew: float
    kurtosis: float
    n_obs: int


@dataclass(frozen=True, eq=False)
class PBOResult:
    """Outcome of CSCV (:func:`probability_of_backtest_overfitting`); arrays are read-only.

    ``logits``, ``is_performance``, ``oos_performance`` and ``best_trials`` have one entry per
    combination, in :func:`itertools.combinations` order of the in-sample block indices.
    """

    pbo: float
    """Fraction of combinations with ``λ <= 0``: the IS winner ranked at or below the OOS median."""
    prob_oos_loss: float
    """Fraction of combinations where the IS winner's OOS performance is ``< 0``."""
    degradation_slope: float
    """OLS slope of OOS on IS performance of the IS winners (NaN if IS has no spread)."""
    degradation_intercept: float
    """OLS intercept of the same fit."""
    logits: NDArray[np.float64]
    is_performance: NDArray[np.float64]
    oos_performance: NDArray[np.float64]
    best_trials: NDArray[np.int64]
    n_combinations: int
    n_partitions: int


def _fail(key: str, must: str, got: object, hint: str | None = None) -> StatsError:
    return StatsError(f"must hold: {must}", key=key, value=got, hint=hint)


def _check_finite(key: str, value: float) -> float:
    if not math.isfinite(value):
        raise _fail(key, f"{key} is a finite number", value)
    return float(value)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _variance_term(sr: float, skew: float, kurtosis: float) -> float:
    """``1 - γ3 SR + (γ4 - 1)/4 SR²``: (n - 1) times the variance of the Sharpe estimator [SEF].

    Real distributions obey Pearson's inequality ``γ4 >= 1 + γ3²``, which makes the term
    ``>= (1 - γ3 SR / 2)² >= 0``; a negative value means the moments cannot belong to any
    distribution, so it is rejected. Zero (a two-point distribution) is returned as 0.0.
    """
    term = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if term < -_VARIANCE_TERM_TOLERANCE:
        raise _fail(
            "kurtosis",
            "1 - skew*sr + (kurtosis-1)/4*sr^2 >= 0",
            {"sr": sr, "skew": skew, "kurtosis": kurtosis, "term": term},
            hint="no distribution has these moments (Pearson: kurtosis >= 1 + skew^2); "
            "is kurtosis excess instead of raw?",
        )
    return max(term, 0.0)


def _check_moments(sr: float, skew: float, kurtosis: float) -> None:
    _check_finite("sr", sr)
    _check_finite("skew", skew)
    _check_finite("kurtosis", kurtosis)
    if kurtosis <= 0:
        raise _fail(
            "kurtosis", "kurtosis > 0 (raw, normal = 3)", kurtosis, hint="add 3 to excess kurtosis"
        )


def sharpe_stats(returns: ArrayLike) -> SharpeStats:
    """Per-bar Sharpe ratio, skewness, kurtosis and length of one return series.

    ``SR = mean / std(ddof=1)``; ``γ3 = m3 / m2^1.5`` and ``γ4 = m4 / m2²`` with the population
    central moments ``mk = mean((r - mean)^k)`` (kurtosis not excess: normal = 3). These are the
    inputs of PSR/DSR in [SEF] and [DSR], and match PerformanceAnalytics' ``SharpeRatio``,
    ``skewness`` and ``kurtosis(method="moment")``.
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise _fail("returns", "returns is one-dimensional", f"shape {r.shape}")
    if r.size < 2:
        raise _fail("returns", "at least 2 observations", r.size)
    if not np.all(np.isfinite(r)):
        raise _fail("returns", "every return is finite", f"{int(np.sum(~np.isfinite(r)))} NaN/inf")
    if r.max() == r.min():
        raise _fail("returns", "returns are not all equal (std > 0)", float(r[0]))
    mean = float(r.mean())
    centred = r - mean
    sq = centred * centred  # products, not **: pow is several times slower on long series
    m2 = float(sq.mean())
    n = r.size
    sr = mean / math.sqrt(m2 * n / (n - 1))
    skew = float(np.dot(sq, centred)) / n / m2**1.5
    kurtosis = float(np.dot(sq, sq)) / n / m2**2
    return SharpeStats(sr=sr, skew=skew, kurtosis=kurtosis, n_obs=int(n))


def trial_sharpe_variance(srs: ArrayLike) -> float:
    """Variance (``ddof=1``) of the trials' per-bar Sharpe ratios: the ``V`` of [DSR] eq. (2)."""
    x = np.asarray(srs, dtype=np.float64).ravel()
    if x.size < 2:
        raise _fail("srs", "at least 2 trial Sharpe ratios", x.size)
    if not np.all(np.isfinite(x)):
        raise _fail(
            "srs", "every Sharpe ratio is finite", f"{int(np.sum(~np.isfinite(x)))} NaN/inf"
        )
    return float(np.var(x, ddof=1))


def probabilistic_sharpe_ratio(
    sr: float, n_obs: float, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark`` [SEF eq. (11)], [DSR].

    ``PSR(SR*) = Φ( (SR - SR*) sqrt(n - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²) )``

    with per-bar ``SR`` and ``SR*``, ``n = n_obs`` bars, population skewness ``γ3`` and raw
    kurtosis ``γ4``. When the variance term is 0 (two-point returns), the estimator has no spread
    and PSR is 1, 0.5 or 0 as ``SR`` is above, at or below ``SR*``.
    """
    _check_moments(sr, skew, kurtosis)
    _check_finite("sr_benchmark", sr_benchmark)
    if not n_obs > 1:
        raise _fail("n_obs", "n_obs > 1 (a Sharpe ratio needs two returns)", n_obs)
    term = _variance_term(sr, skew, kurtosis)
    gap = sr - sr_benchmark
    if term == 0.0:
        return 1.0 if gap > 0 else 0.0 if gap < 0 else 0.5
    return _norm_cdf(gap * math.sqrt(n_obs - 1.0) / math.sqrt(term))


def sharpe_interval(stats: SharpeStats, z: float = 1.959964) -> tuple[float, float]:
    """A confidence interval for the per-bar Sharpe ratio, ``SR ± z sqrt(term / (n - 1))``, with
    the non-normal standard error of [SEF] (Mertens; ``term`` as in
    :func:`probabilistic_sharpe_ratio`). ``z = 1.96`` gives the two-sided 95% interval."""
    _check_moments(stats.sr, stats.skew, stats.kurtosis)
    if not stats.n_obs > 1:
        raise _fail("n_obs", "n_obs > 1 (a Sharpe ratio needs two returns)", stats.n_obs)
    half = z * math.sqrt(_variance_term(stats.sr, stats.skew, stats.kurtosis) / (stats.n_obs - 1))
    return stats.sr - half, stats.sr + half


def expected_max_sharpe(n_trials: int, var_trials: float) -> float:
    """Expected maximum of ``n_trials`` independent per-bar Sharpe ratios with true SR 0 [PM].

    ``E[max SR] ≈ sqrt(V) ((1 - γ) Z⁻¹(1 - 1/N) + γ Z⁻¹(1 - 1/(N e)))``

    with ``V = var_trials`` (ddof=1 across trials), ``Z⁻¹`` the standard normal quantile and
    ``γ`` the Euler–Mascheroni constant ([PM] Proposition 1; [DSR] eq. (2) uses it as ``SR0``).
    One trial has no selection, so ``N = 1`` gives 0.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)):
        raise _fail("n_trials", "n_trials is an integer", n_trials)
    if n_trials < 1:
        raise _fail("n_trials", "n_trials >= 1", n_trials)
    _check_finite("var_trials", var_trials)
    if var_trials < 0:
        raise _fail("var_trials", "var_trials >= 0", var_trials)
    if n_trials == 1:
        return 0.0
    n = float(n_trials)
    z = (1.0 - EULER_MASCHERONI) * _NORMAL.inv_cdf(1.0 - 1.0 / n)
    z += EULER_MASCHERONI * _NORMAL.inv_cdf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(var_trials) * z


def deflated_sharpe_ratio(
    sr: float, n_obs: float, skew: float, kurtosis: float, n_trials: int, var_trials: float
) -> float:
    """PSR of the selected trial against the Sharpe ratio expected from luck alone [DSR eq. (2)].

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, var_trials)``; ``sr``, ``skew``,
    ``kurtosis`` and ``n_obs`` describe the selected (best) trial, per bar.
    """
    sr0 = expected_max_sharpe(n_trials, var_trials)
    return probabilistic_sharpe_ratio(sr, n_obs, skew, kurtosis, sr_benchmark=sr0)


def min_track_record_length(
    sr: float, skew: float, kurtosis: float, sr_benchmark: float = 0.0, prob: float = 0.95
) -> float:
    """Bars needed for ``PSR(sr_benchmark) >= prob`` [SEF eq. (15)].

    ``MinTRL = 1 + (1 - γ3 SR + (γ4 - 1)/4 SR²) (Z_prob / (SR - SR*))²``

    in bars (observations), per-bar ``SR``. If ``SR <= SR*`` no track record suffices and the
    result is ``inf``. MinTRL falls as SR rises while ``γ3 (SR + SR*) < 2 + (γ4 - 1) SR* SR / 2``
    (always for ``γ3 <= 0``); a large positive skew with a large SR can reverse that.
    """
    _check_moments(sr, skew, kurtosis)
    _check_finite("sr_benchmark", sr_benchmark)
    if not 0.0 < prob < 1.0:
        raise _fail("prob", "0 < prob < 1", prob)
    term = _variance_term(sr, skew, kurtosis)
    if sr <= sr_benchmark:
        return math.inf
    return 1.0 + term * (_NORMAL.inv_cdf(prob) / (sr - sr_benchmark)) ** 2


def probability_of_backtest_overfitting(
    returns: ArrayLike, n_partitions: int = 16, *, metric: Metric | None = None
) -> PBOResult:
    """PBO by combinatorially symmetric cross-validation (CSCV) [PBO section 2].

    ``returns`` is a (bars x trials) matrix. Its rows are cut, in order, into ``S = n_partitions``
    blocks (sizes differ by at most one bar when S does not divide the bars). For each of the
    ``C(S, S/2)`` ways to choose S/2 blocks as in-sample (IS, the rest out-of-sample, OOS):

    1. ``n*`` = the trial with the best IS performance (first one on ties);
    2. ``w = rank_OOS(n*) / (N + 1)``, ranks 1..N ascending with average ranks for ties;
    3. ``λ = ln(w / (1 - w))``.

    ``PBO = #{λ <= 0} / C``: a winner exactly at the OOS median (``λ = 0``) counts as overfit, as
    in the paper's ``∫_{-∞}^{0} f(λ) dλ``. ``prob_oos_loss = #{OOS perf(n*) < 0} / C``;
    ``degradation_slope`` is the OLS slope of OOS on IS performance of the winners.

    Performance is the per-bar Sharpe ratio (``mean / std``, ddof=1; 0 for a flat trial) unless
    ``metric`` maps a (bars x trials) block to one value per trial. The default path sums bars
    once per block, so each combination costs O(S N) instead of O(T N).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise _fail("returns", "returns is a 2-D (bars x trials) array", f"shape {r.shape}")
    n_bars, n_trials = r.shape
    if n_trials < 2:
        raise _fail("returns", "at least 2 trials (columns)", n_trials)
    if not np.all(np.isfinite(r)):
        raise _fail("returns", "every return is finite", f"{int(np.sum(~np.isfinite(r)))} NaN/inf")
    s = n_partitions
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 2 or s % 2:
        raise _fail("n_partitions", "n_partitions is an even integer >= 2", n_partitions)
    if s > n_bars:
        raise _fail("n_partitions", f"n_partitions <= bars ({n_bars})", s, hint="use fewer blocks")
    if (s // 2) * (n_bars // s) < 2:
        raise _fail("returns", "each half holds >= 2 bars", n_bars, hint="use more bars")

    sizes = np.full(s, n_bars // s, dtype=np.int64)
    sizes[: n_bars % s] += 1
    bounds = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)])
    in_sample = np.zeros((math.comb(s, s // 2), s), dtype=bool)
    for row, blocks in enumerate(combinations(range(s), s // 2)):
        in_sample[row, list(blocks)] = True

    if metric is None:
        is_perf_all, oos_perf_all = _cscv_sharpe(r, bounds, in_sample)
    else:
        is_perf_all, oos_perf_all = _cscv_metric(r, bounds, in_sample, metric)
    return _summarise(is_perf_all, oos_perf_all, s)


def _cscv_sharpe(
    r: NDArray[np.float64], bounds: NDArray[np.int64], in_sample: NDArray[np.bool_]
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """IS and OOS Sharpe of every trial, per chunk of combinations, from per-block sums."""
    shift = r.mean(axis=0)  # variance is shift-invariant; centring avoids cancellation in S2
    centred = r - shift
    sums = np.add.reduceat(centred, bounds[:-1], axis=0)  # (S, N)
    squares = np.add.reduceat(centred * centred, bounds[:-1], axis=0)
    counts = np.diff(bounds).astype(np.float64)
    total_sum, total_sq, total_n = sums.sum(axis=0), squares.sum(axis=0), counts.sum()
    # Each combination's sums are built by elementwise adds of its blocks (not a BLAS matmul),
    # so identical trials get bit-identical Sharpe ratios and tie exactly in the ranking.
    blocks = np.nonzero(in_sample)[1].reshape(len(in_sample), -1)  # (C, S/2) block indices
    chunk = max(1, _CSCV_CELLS_PER_CHUNK // r.shape[1])
    is_out: list[NDArray[np.float64]] = []
    oos_out: list[NDArray[np.float64]] = []
    for start in range(0, len(blocks), chunk):
        b = blocks[start : start + chunk]
        is_n = counts[b].sum(axis=1)[:, None]
        is_sum, is_sq = sums[b[:, 0]], squares[b[:, 0]]
        for j in range(1, b.shape[1]):
            is_sum += sums[b[:, j]]
            is_sq += squares[b[:, j]]
        is_out.append(_sharpe_from_sums(is_sum, is_sq, is_n, shift))
        oos_out.append(
            _sharpe_from_sums(total_sum - is_sum, total_sq - is_sq, total_n - is_n, shift)
        )
    return is_out, oos_out


def _sharpe_from_sums(
    s1: NDArray[np.float64],
    s2: NDArray[np.float64],
    n: NDArray[np.float64],
    shift: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Sharpe from sums of centred returns; in place, as this is the hot loop of CSCV."""
    mean_c = s1 / n
    var = s2 - s1 * mean_c
    var /= n - 1.0
    np.maximum(var, 0.0, out=var)
    std = np.sqrt(var, out=var)
    mean_c += shift
    return _safe_sharpe(mean_c, std)


def _safe_sharpe(mean: NDArray[np.float64], std: NDArray[np.float64]) -> NDArray[np.float64]:
    """``mean / std``; a flat trial (std 0) scores 0, or ±inf if it moves by a constant."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / std
    if not np.all(std > 0.0):
        flat = std == 0.0
        m = mean[flat]
        out[flat] = np.where(m == 0.0, 0.0, np.copysign(np.inf, m))
    return out


def _cscv_metric(
    r: NDArray[np.float64],
    bounds: NDArray[np.int64],
    in_sample: NDArray[np.bool_],
    metric: Metric,
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """IS and OOS performance from a caller's metric, one combination at a time (slow path)."""
    block_rows = [np.arange(bounds[b], bounds[b + 1]) for b in range(len(bounds) - 1)]
    is_rows: list[NDArray[np.float64]] = []
    oos_rows: list[NDArray[np.float64]] = []
    for mask in in_sample:
        is_idx = np.concatenate([block_rows[b] for b in np.flatnonzero(mask)])
        oos_idx = np.concatenate([block_rows[b] for b in np.flatnonzero(~mask)])
        is_rows.append(_apply_metric(metric, r[is_idx], r.shape[1]))
        oos_rows.append(_apply_metric(metric, r[oos_idx], r.shape[1]))
    return [np.stack(is_rows)], [np.stack(oos_rows)]


def _apply_metric(metric: Metric, block: NDArray[np.float64], n_trials: int) -> NDArray[np.float64]:
    values = np.asarray(metric(block), dtype=np.float64)
    if values.shape != (n_trials,):
        raise _fail(
            "metric", f"metric returns one value per trial, shape ({n_trials},)", values.shape
        )
    if np.any(np.isnan(values)):
        raise _fail("metric", "metric returns no NaN", int(np.sum(np.isnan(values))))
    return values


def _summarise(
    is_chunks: list[NDArray[np.float64]], oos_chunks: list[NDArray[np.float64]], s: int
) -> PBOResult:
    """Pick each combination's IS winner, rank it OOS and reduce to the PBO statistics."""
    best_parts, is_best, oos_best, logit_parts = [], [], [], []
    for is_perf, oos_perf in zip(is_chunks, oos_chunks, strict=True):
        n_trials = is_perf.shape[1]
        best = np.argmax(is_perf, axis=1)
        rows = np.arange(len(best))
        chosen = oos_perf[rows, best][:, None]
        below = np.sum(oos_perf < chosen, axis=1)
        ties = np.sum(oos_perf == chosen, axis=1)  # includes the winner itself
        rank = below + (ties + 1) / 2.0
        w = rank / (n_trials + 1.0)
        logit_parts.append(np.log(w / (1.0 - w)))
        best_parts.append(best)
        is_best.append(is_perf[rows, best])
        oos_best.append(chosen[:, 0])
    logits = np.concatenate(logit_parts)
    is_p, oos_p = np.concatenate(is_best), np.concatenate(oos_best)
    slope, intercept = _ols(is_p, oos_p)
    arrays = [logits, is_p, oos_p, np.concatenate(best_parts).astype(np.int64)]
    for a in arrays:
        a.flags.writeable = False
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        prob_oos_loss=float(np.mean(oos_p < 0.0)),
        degradation_slope=slope,
        degradation_intercept=intercept,
        logits=arrays[0],
        is_performance=arrays[1],
        oos_performance=arrays[2],
        best_trials=arrays[3],
        n_combinations=len(logits),
        n_partitions=s,
    )


def _ols(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    """Slope and intercept of ``y ~ x`` over the finite pairs; NaN when x has no spread."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return math.nan, math.nan
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return math.nan, math.nan
    slope = float(dx @ (y - y.mean())) / sxx
    return slope, float(y.mean() - slope * x.mean())
