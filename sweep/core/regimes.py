"""Market regimes of each bar, from trailing windows only, and a run's performance per regime.

Two splits of the bars, each read from bars strictly *before* the bar it labels, so a bar's
regime never reads its own move (which its return is made of), let alone a later one:

* **trend**: ``up`` when the previous close is above the median close of the trailing
  :data:`TREND_DAYS` days (the closes of bars ``t - W .. t - 1``), ``down`` otherwise;
* **volatility**: ``high`` when the standard deviation of log returns over the trailing
  :data:`VOL_DAYS` days (ending at the close of bar ``t - 1``) is above its own median over the
  trailing :data:`VOL_MEDIAN_DAYS` days, ``low`` otherwise.

Windows count bars (``days x bars per day`` of the timeframe), so a gap in the data shortens the
calendar span of a window rather than leaving holes in it. A bar whose windows are not full yet
has no regime and is left out of every regime row (it stays in ``all``).

:func:`regime_table` scores a run's per-bar returns on the bars of each regime (the two trends,
the two volatilities and their four combinations) with the per-bar formulas of
:mod:`sweep.core.metrics`: the returns of a regime's bars, in time order, as if the strategy had
traded only then. No model is fitted again: the regimes only split the bars a run already scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from sweep.core.data import TIMEFRAMES
from sweep.core.metrics import annual_return, max_drawdown, sharpe, sortino

__all__ = [
    "REGIMES",
    "REGIME_METRICS",
    "TREND_DAYS",
    "VOL_DAYS",
    "VOL_MEDIAN_DAYS",
    "BarRegimes",
    "bar_regimes",
    "regime_table",
]

FloatArray = npt.NDArray[np.float64]

TREND_DAYS = 30
VOL_DAYS = 7
VOL_MEDIAN_DAYS = 90

# Row names of a regime table, in display order; "all" is every scored bar.
REGIMES = (
    "all",
    "up",
    "down",
    "high_vol",
    "low_vol",
    "up_high_vol",
    "up_low_vol",
    "down_high_vol",
    "down_low_vol",
)
# Metrics a regime row can compute from per-bar returns alone (trade metrics need trades, which
# do not split cleanly at a regime's edges); any other objective is reported as n/a per regime.
REGIME_METRICS = ("sharpe", "sortino", "total_return", "annual_return", "max_drawdown")


@dataclass(frozen=True)
class BarRegimes:
    """Per bar: ``up`` 1.0 / 0.0 (down) and ``high_vol`` 1.0 / 0.0 (low), NaN before the
    trailing windows are full."""

    up: FloatArray
    high_vol: FloatArray


def _bars(days: int, timeframe: str) -> int:
    per_day = pd.Timedelta("1D") / TIMEFRAMES[timeframe]
    return max(2, round(days * per_day))


def bar_regimes(close: npt.ArrayLike, timeframe: str) -> BarRegimes:
    """The regime of every bar of a close series (oldest first) at ``timeframe``; see the module
    docstring for the rules. Causal: the labels of bars ``0 .. t`` are the same whether or not
    bars after ``t`` exist, and bar ``t``'s label does not read bar ``t``."""
    c = pd.Series(np.asarray(close, dtype=np.float64))
    w = _bars(TREND_DAYS, timeframe)
    median_close = c.rolling(w, min_periods=w).median()
    up = (c > median_close).astype(np.float64).where(median_close.notna())
    v = _bars(VOL_DAYS, timeframe)
    m = _bars(VOL_MEDIAN_DAYS, timeframe)
    vol = pd.Series(np.log(c.to_numpy())).diff().rolling(v, min_periods=v).std()
    median_vol = vol.rolling(m, min_periods=m).median()
    high = (vol > median_vol).astype(np.float64).where(median_vol.notna())
    # Each label so far reads bars up to and including its own; shifted by one bar, the label of
    # bar t reads bars up to t - 1 only.
    return BarRegimes(
        up=up.shift(1).to_numpy(dtype=np.float64),
        high_vol=high.shift(1).to_numpy(dtype=np.float64),
    )


def _masks(up: FloatArray, high: FloatArray) -> dict[str, npt.NDArray[np.bool_]]:
    is_up, is_down = up == 1.0, up == 0.0
    is_high, is_low = high == 1.0, high == 0.0
    return {
        "all": np.ones(up.shape[0], dtype=bool),
        "up": is_up,
        "down": is_down,
        "high_vol": is_high,
        "low_vol": is_low,
        "up_high_vol": is_up & is_high,
        "up_low_vol": is_up & is_low,
        "down_high_vol": is_down & is_high,
        "down_low_vol": is_down & is_low,
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def regime_table(
    returns: npt.ArrayLike, regimes: BarRegimes, bars_per_year: float
) -> dict[str, dict[str, float | int | None]]:
    """Per regime (:data:`REGIMES`): ``bars``, ``share`` of the scored bars, and
    :data:`REGIME_METRICS` over the returns of its bars (``returns[i]`` is bar ``i``'s return;
    ``regimes`` labels the same bars). ``sharpe``/``sortino`` are annualised with
    ``bars_per_year``; ``total_return`` compounds the regime's bars; ``annual_return`` and
    ``max_drawdown`` are those of that compounded series. A regime with fewer than 2 bars has no
    figures (None)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.shape != regimes.up.shape or r.shape != regimes.high_vol.shape:
        raise ValueError(
            f"regime_table: {r.shape[0]} returns but {regimes.up.shape[0]} labelled bars"
        )
    n_all = max(int(r.shape[0]), 1)
    out: dict[str, dict[str, float | int | None]] = {}
    for name, mask in _masks(regimes.up, regimes.high_vol).items():
        sub = r[mask]
        n = int(sub.shape[0])
        row: dict[str, float | int | None] = {"bars": n, "share": n / n_all}
        if n < 2:
            row.update(dict.fromkeys(REGIME_METRICS))
        else:
            equity = np.cumprod(1.0 + sub)
            total = float(equity[-1] - 1.0)
            row.update(
                sharpe=_finite(sharpe(sub, bars_per_year)),
                sortino=_finite(sortino(sub, bars_per_year)),
                total_return=_finite(total),
                annual_return=_finite(annual_return(total, n, bars_per_year)),
                max_drawdown=_finite(max_drawdown(equity)),
            )
        out[name] = row
    return out
