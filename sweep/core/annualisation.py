"""Bars per year, the annualisation of every per-bar statistic, measured from the data.

``backtest.bars_per_year`` (default null) is, when null, **measured**: the median number of bars
over the complete calendar years of the data (after resampling and the ``data.start``/``end``
cut; a year is complete when the data has bars in both its first and its last 7 days). A market
that trades around the clock has ``days_per_year * bars per day``; one that closes at night, at
weekends and on holidays has far fewer (XAU/USD 1h: about 5,900 bars a year, not 8,760), and
annualising its bars as if it traded 24 hours inflates its Sharpe ratio by the square root of
the ratio. The measured figure is **snapped** to the nominal ``days_per_year * bars per day``
when within 2%, so 24/7 data with a few missing hours (and leap years) keeps the nominal figure
exactly. Data without a complete calendar year is measured over its whole span (at least 28
days, so that weekends weigh as they should); shorter data uses the nominal figure.

A configured value is used as given, unless it disagrees with the measured one by more than 10%:
that is refused (:class:`~sweep.core.errors.ConfigError`), because a Sharpe ratio annualised with it
would be off by more than 5%.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sweep.core.data import DataFingerprint, MarketData, bars_per_year
from sweep.core.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["BarsPerYear", "measure_bars_per_year", "resolve_bars_per_year"]

SNAP_TOLERANCE = 0.02
"""A measured figure within 2% of the nominal one is the nominal one."""
REFUSE_TOLERANCE = 0.10
"""A configured figure more than 10% away from the measured one is refused."""
MIN_SPAN_DAYS = 28
"""Shortest span measured when the data holds no complete calendar year (whole weeks)."""
_EDGE = pd.Timedelta(days=7)
_YEAR_DAYS = 365.2425  # the Gregorian year, for a rate over a span shorter than a year


@dataclass(frozen=True)
class BarsPerYear:
    """The figure used and where it came from.

    ``source``: ``measured`` (the data's own figure), ``nominal`` (``days_per_year`` x bars per
    day: the data agreed within 2%, or was too short to tell) or ``configured``.
    ``measured`` is None when the data is too short; ``years`` counts the complete calendar
    years it was measured over (0: over the whole span)."""

    value: float
    source: Literal["measured", "nominal", "configured"]
    nominal: float
    measured: float | None
    years: int


def measure_bars_per_year(index: pd.DatetimeIndex) -> tuple[float | None, int]:
    """The median bar count over the complete calendar years of ``index`` (bar-open times, UTC),
    and how many years that is; without one, the rate over the whole span (years = 0); None when
    the span is shorter than 28 days."""
    if len(index) == 0:
        return None, 0
    stamps = pd.DatetimeIndex(index)
    years = stamps.year.to_numpy()
    counts = []
    for year in np.unique(years):
        in_year = stamps[years == year]
        start = pd.Timestamp(year=int(year), month=1, day=1, tz=stamps.tz)
        end = pd.Timestamp(year=int(year) + 1, month=1, day=1, tz=stamps.tz)
        if in_year[0] < start + _EDGE and in_year[-1] >= end - _EDGE:
            counts.append(len(in_year))
    if counts:
        return float(np.median(counts)), len(counts)
    if len(stamps) < 2:
        return None, 0
    step = pd.Series(stamps).diff().median()
    span = stamps[-1] - stamps[0] + step
    if span < pd.Timedelta(days=MIN_SPAN_DAYS):
        return None, 0
    return float(len(stamps) * (pd.Timedelta(days=_YEAR_DAYS) / span)), 0


_MEASURED: dict[tuple[str, str], tuple[float | None, int]] = {}


def resolve_bars_per_year(
    configured: float | None, market: MarketData, days_per_year: float
) -> BarsPerYear:
    """The bars per year a run on ``market`` annualises with (module docstring).

    Raises:
        ConfigError: ``configured`` is more than 10% away from the measured figure.
    """
    key = (market.fingerprint.sha256, market.timeframe)
    if key not in _MEASURED:  # data is immutable per fingerprint: measure it once per process
        _MEASURED[key] = measure_bars_per_year(pd.DatetimeIndex(market.frame.index))
    return _resolve(configured, market, days_per_year, *_MEASURED[key])


_UNNAMED = DataFingerprint("the given bars", "", "", "", "", 0, "", 0, 0)


def bars_per_year_of(
    configured: float | None, bars: pd.DataFrame, timeframe: str, days_per_year: float
) -> float:
    """:func:`resolve_bars_per_year` for a frame of bars that did not come from a data file (the
    notebook API): measured on the frame's own index, with the same snapping and refusal."""
    measured, years = measure_bars_per_year(pd.DatetimeIndex(bars.index))
    market = MarketData("bars", timeframe, bars, _UNNAMED)
    return _resolve(configured, market, days_per_year, measured, years).value


def _resolve(
    configured: float | None,
    market: MarketData,
    days_per_year: float,
    measured: float | None,
    years: int,
) -> BarsPerYear:
    nominal = bars_per_year(market.timeframe, days_per_year)
    if configured is not None:
        if measured is not None and abs(configured / measured - 1.0) > REFUSE_TOLERANCE:
            over = f"the median of {years} complete calendar years" if years else "its span"
            raise ConfigError(
                f"disagrees with the data by more than {REFUSE_TOLERANCE:.0%}: "
                f"{market.fingerprint.file} has {measured:,.0f} {market.timeframe} bars a year "
                f"({over})",
                key="backtest.bars_per_year",
                value=configured,
                hint="leave it out (null) to use the measured figure",
            )
        return BarsPerYear(configured, "configured", nominal, measured, years)
    if measured is None:
        log.info("%s: too short to measure bars per year; using %g", market.symbol, nominal)
        return BarsPerYear(nominal, "nominal", nominal, None, 0)
    if abs(measured / nominal - 1.0) <= SNAP_TOLERANCE:
        return BarsPerYear(nominal, "nominal", nominal, measured, years)
    return BarsPerYear(measured, "measured", nominal, measured, years)
