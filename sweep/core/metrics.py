"""Performance statistics of one backtest, as pure functions and one ``Metrics`` record.

Every statistic is its own public function whose docstring gives its formula, its annualisation
and how it differs from the usual reference (backtesting.py's ``_stats.py``). The main difference
throughout: backtesting.py resamples equity to *daily* returns and annualises with trading days;
we work on the *per-bar* returns of the test period (flat bars included, risk-free rate 0) and
annualise with ``bars_per_year`` (e.g. 2190 for 4h bars on a 24/7 market), so no calendar is
needed and any timeframe is handled the same way.

Zero trades is a defined result: ratios that need trades or variation fall back to 0.0, or to
None where no number would be honest (``profit_factor``, ``auc``). Metrics an Optuna study may use
as an objective (``sharpe``, ``sortino``, returns) are always floats. A return series holding a
NaN or an infinity is an error, never a Sharpe ratio of 0: it means something upstream broke.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from sweep.core.backtest import BacktestResult

__all__ = [
    "Metrics",
    "alpha",
    "alpha_exposure",
    "annual_return",
    "auc",
    "avg_trade_return",
    "bh_return",
    "compute_metrics",
    "max_drawdown",
    "profit_factor",
    "sharpe",
    "sortino",
    "total_return",
    "win_rate",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Metrics:
    """The statistics of one backtest; keys of :meth:`to_dict` are the field names.

    Fractions are plain fractions (0.534, not 53.4). ``n_bars`` is the number of test bars.
    """

    sharpe: float
    sortino: float
    win_rate: float
    total_return: float
    bh_return: float
    alpha: float
    alpha_exposure: float
    max_drawdown: float
    n_trades: int
    exposure: float
    profit_factor: float | None
    avg_trade_return: float
    auc: float | None
    n_bars: int
    annual_return: float

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-safe dict: plain Python numbers, NaN and infinities as None."""
        out: dict[str, float | int | None] = {}
        for key, value in asdict(self).items():
            if value is None or isinstance(value, int):
                out[key] = value
            else:
                f = float(value)
                out[key] = f if math.isfinite(f) else None
        return out


def compute_metrics(
    bt: BacktestResult,
    open_: npt.ArrayLike,
    close: npt.ArrayLike,
    *,
    bars_per_year: float,
    size: float,
    proba: npt.ArrayLike | None = None,
    labels: npt.ArrayLike | None = None,
) -> Metrics:
    """All statistics of ``bt``; ``open_``/``close`` are the same test bars it ran on and
    ``size`` the fraction of equity it committed per trade (``position.size``).

    ``proba`` and ``labels`` (both or neither) give the classifier's ROC AUC on the test bars;
    without them ``auc`` is None.

    Raises:
        ValueError: if the prices do not match the backtest's length, ``bars_per_year <= 0`` or
            ``size`` is not in (0, 1].
    """
    if not bars_per_year > 0:
        raise ValueError(f"compute_metrics: bars_per_year must be > 0, got {bars_per_year!r}")
    if not 0.0 < size <= 1.0:
        raise ValueError(f"compute_metrics: size must be in (0, 1], got {size!r}")
    open_a = np.asarray(open_, dtype=np.float64)
    close_a = np.asarray(close, dtype=np.float64)
    n = bt.equity.shape[0]
    if open_a.shape != (n,) or close_a.shape != (n,):
        raise ValueError(
            f"compute_metrics: open_ and close must be the {n} test bars the backtest ran on, "
            f"got shapes {open_a.shape} and {close_a.shape}"
        )
    net = bt.trades.net_return
    total = total_return(bt.equity)
    bh = bh_return(open_a, close_a)
    return Metrics(
        sharpe=sharpe(bt.returns, bars_per_year),
        sortino=sortino(bt.returns, bars_per_year),
        win_rate=win_rate(net),
        total_return=total,
        bh_return=bh,
        alpha=alpha(total, bh),
        alpha_exposure=alpha_exposure(total, bh, float(bt.exposure), size),
        max_drawdown=max_drawdown(bt.equity),
        n_trades=len(bt.trades),
        exposure=float(bt.exposure),
        profit_factor=profit_factor(net),
        avg_trade_return=avg_trade_return(net),
        auc=None if proba is None or labels is None else auc(proba, labels),
        n_bars=n,
        annual_return=annual_return(total, n, bars_per_year),
    )


def sharpe(returns: npt.ArrayLike, bars_per_year: float) -> float:
    """Annualised Sharpe ratio of per-bar returns, risk-free rate 0.

    ``mean(r) / std(r, ddof=1) * sqrt(bars_per_year)`` over every test bar, flat bars included.
    0.0 when there are fewer than 2 bars or the returns do not vary (e.g. no trades). A NaN or
    infinite return raises ValueError: its Sharpe ratio is undefined, not 0.

    backtesting.py instead divides the annualised *geometric* daily return by the annualised daily
    volatility (ddof=0) on daily-resampled equity; ours is the arithmetic per-bar form, which is
    what the deflated Sharpe ratio expects.
    """
    r = _finite_returns(returns, "sharpe")
    if r.shape[0] < 2:
        return 0.0
    sd = float(np.std(r, ddof=1))
    # A tolerance, not == 0: a constant series can leave a rounding-noise std.
    if not sd > 1e-15:
        return 0.0
    return float(np.mean(r)) / sd * math.sqrt(bars_per_year)


def sortino(returns: npt.ArrayLike, bars_per_year: float) -> float:
    """Annualised Sortino ratio of per-bar returns, target 0.

    ``mean(r) / sqrt(mean(min(r, 0)^2)) * sqrt(bars_per_year)``: the downside deviation averages
    the squared negative returns over *all* bars (zeros for the others), as Sortino & Price define
    it. 0.0 when there are fewer than 2 bars or no bar lost (downside deviation 0), so that it stays
    a float an optimiser can use; read it with ``n_trades``. A NaN or infinite return raises
    ValueError, as for :func:`sharpe`.

    backtesting.py uses the same downside deviation on daily returns but the annualised geometric
    return in the numerator.
    """
    r = _finite_returns(returns, "sortino")
    if r.shape[0] < 2:
        return 0.0
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if not downside > 1e-15:
        return 0.0
    return float(np.mean(r)) / downside * math.sqrt(bars_per_year)


def win_rate(net_returns: npt.ArrayLike) -> float:
    """Fraction of closed trades with ``net_return > 0`` (after fees); 0.0 with no trades.

    Forced exits at the end of the test period count as closed trades. A trade at exactly 0 is not
    a win. Same as backtesting.py's "Win Rate", except that it uses gross PnL there.
    """
    net = np.asarray(net_returns, dtype=np.float64)
    if net.shape[0] == 0:
        return 0.0
    return int(np.count_nonzero(net > 0)) / int(net.shape[0])


def total_return(equity: npt.ArrayLike) -> float:
    """``equity[-1] - 1``: the return of the whole test period on a starting equity of 1.0.

    Not annualised. Same as backtesting.py's "Return", as a fraction instead of percent.
    """
    eq = np.asarray(equity, dtype=np.float64)
    return float(eq[-1]) - 1.0


def bh_return(open_: npt.ArrayLike, close: npt.ArrayLike) -> float:
    """Buy and hold over the same test bars: ``close[-1] / open[0] - 1``, no fees or slippage.

    It buys at the first bar's open, the earliest moment the strategy could hold too.
    backtesting.py uses ``close[-1] / close[0] - 1`` instead.
    """
    o = np.asarray(open_, dtype=np.float64)
    c = np.asarray(close, dtype=np.float64)
    return float(c[-1]) / float(o[0]) - 1.0


def alpha(total: float, bh: float) -> float:
    """``total_return - bh_return``: excess return over buy and hold, not annualised.

    A simple difference, not the CAPM alpha that backtesting.py reports (which regresses on the
    market's returns and uses a beta).
    """
    return total - bh


def alpha_exposure(total: float, bh: float, exposure: float, size: float) -> float:
    """``total_return - exposure * size * bh_return``: excess return over buy and hold scaled to
    the strategy's average committed fraction, not annualised.

    ``exposure * size`` is the fraction of equity the strategy had committed, averaged over the
    test bars; the benchmark buys that fraction at the first bar's open and holds it (the rest in
    cash), which returns exactly ``exposure * size * bh_return``. :func:`alpha` compares with a
    fully invested buy and hold, so a long-only strategy trading 2% of equity in a rising market
    shows a large negative alpha whatever its timing; ``alpha_exposure`` asks whether its
    entries beat holding the same amount of market all along (0 with no trades). Not in
    backtesting.py.
    """
    return total - exposure * size * bh


def max_drawdown(equity: npt.ArrayLike) -> float:
    """Largest peak-to-trough loss, as a positive fraction in [0, 1].

    ``max_t (1 - equity[t] / max(1.0, equity[0..t]))``: the running peak includes the starting
    equity of 1.0, so a loss in the very first bars counts. Same as backtesting.py's "Max.
    Drawdown" but positive and as a fraction, on bar closes rather than intrabar lows.
    """
    eq = np.asarray(equity, dtype=np.float64)
    if eq.shape[0] == 0:
        return 0.0
    peak = np.maximum.accumulate(np.maximum(eq, 1.0))
    return max(0.0, float(np.max(1.0 - eq / peak)))


def profit_factor(net_returns: npt.ArrayLike) -> float | None:
    """``sum(positive net returns) / |sum(negative net returns)|`` over closed trades.

    None when there are no trades or no losing trade (the ratio would be undefined or infinite);
    0.0 when every trade lost. It sums per-trade *returns*, not cash PnL as backtesting.py does,
    so trades taken at different equity levels weigh the same.
    """
    net = np.asarray(net_returns, dtype=np.float64)
    losses = -float(np.sum(net[net < 0]))
    if net.shape[0] == 0 or losses == 0.0:
        return None
    return float(np.sum(net[net > 0])) / losses


def avg_trade_return(net_returns: npt.ArrayLike) -> float:
    """Arithmetic mean of the closed trades' net returns; 0.0 with no trades.

    backtesting.py's "Avg. Trade" is the geometric mean of gross trade returns instead.
    """
    net = np.asarray(net_returns, dtype=np.float64)
    if net.shape[0] == 0:
        return 0.0
    return float(np.mean(net))


def auc(proba: npt.ArrayLike, labels: npt.ArrayLike) -> float | None:
    """ROC AUC of ``proba`` against binary ``labels``, by the Mann-Whitney rank formula.

    ``(R_pos - n_pos (n_pos + 1) / 2) / (n_pos * n_neg)`` where ``R_pos`` is the sum of the
    (1-based, ties averaged) ranks of the positives' probabilities: the chance that a random
    positive scores above a random negative, ties counting one half. Bars where either value is
    NaN are dropped (the last ``horizon`` labels of a test period are unknown). None when either
    class is absent. Equal to scikit-learn's ``roc_auc_score``; backtesting.py has no equivalent.

    Raises:
        ValueError: if the lengths differ or a label is not 0 or 1.
    """
    p = np.asarray(proba, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(
            f"auc: proba and labels must be 1-D of one length, got {p.shape}, {y.shape}"
        )
    keep = ~(np.isnan(p) | np.isnan(y))
    p, y = p[keep], y[keep]
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"auc: labels must be 0 or 1, got {np.unique(y[(y != 0) & (y != 1)])}")
    positive = y == 1
    n_pos = int(np.count_nonzero(positive))
    n_neg = int(p.shape[0]) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(p)
    r_pos = float(np.sum(ranks[positive]))
    return (r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def annual_return(total: float, n_bars: int, bars_per_year: float) -> float:
    """Compound annual growth rate: ``(1 + total_return) ** (bars_per_year / n_bars) - 1``.

    Years are ``n_bars / bars_per_year`` (test bars, not calendar time, so gaps in the data do
    not count). -1.0 if the equity was wiped out; may be inf for a short, very profitable test
    period (``to_dict`` then gives None). backtesting.py compounds the geometric mean daily return.
    """
    if n_bars <= 0:
        return 0.0
    growth = 1.0 + total
    if growth <= 0.0:
        return -1.0
    try:
        return math.pow(growth, bars_per_year / n_bars) - 1.0
    except OverflowError:
        return math.inf


def _finite_returns(returns: npt.ArrayLike, name: str) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    bad = ~np.isfinite(r)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{name}: returns must be finite, got {r[i]!r} at bar {i} ({int(bad.sum())} in all); "
            "a broken series has no Sharpe ratio"
        )
    return r


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks of ``values``, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Start index of each run of equal values in sorted order.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], sorted_values.shape[0]]  # exclusive
    # Ranks start..end-1 (0-based) average to (start + end - 1) / 2, plus 1 for 1-based.
    run_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(values.shape[0], dtype=np.float64)
    ranks[order] = np.repeat(run_rank, ends - starts)
    return ranks
