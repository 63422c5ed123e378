"""Feature registry: named groups of causal, scale-free features computed with TA-Lib.

A feature is one decorated function of the bars; its docstring is its documented definition.
Every feature is **causal** (its value at bar t reads bars up to and including t, nothing after)
and **scale-free** (a ratio, a percentage or an oscillator, never a raw price), because train and
test are years apart at very different price levels. Warm-up rows are NaN; a zero denominator
(e.g. a run of zero-volume bars) gives NaN, never inf.

To add a feature, write::

    @_feature("momentum")
    def rsi_21(b: Bars) -> FloatArray:
        \"\"\"RSI(21) of close, 0..100.\"\"\"
        return talib.RSI(b.close, timeperiod=21)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import talib

from sweep.core.data import COLUMNS, TIMEFRAMES
from sweep.core.errors import ConfigError, DataError

FloatArray = npt.NDArray[np.float64]
_T = TypeVar("_T")


@dataclass
class Bars:
    """The OHLCV columns as contiguous float64 arrays, plus a memo so features that share work
    (MACD's signal and hist) compute it once per :func:`compute_features` call."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    bars_per_day: int
    _memo: dict[str, Any] = field(default_factory=dict)

    def shared(self, key: str, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per Bars; later calls with the same key return the same value."""
        if key not in self._memo:
            self._memo[key] = compute()
        result: _T = self._memo[key]
        return result


@dataclass(frozen=True)
class FeatureDef:
    """One registered feature: its name, group, documented definition and function."""

    name: str
    group: str
    doc: str
    compute: Callable[[Bars], FloatArray]


_REGISTRY: dict[str, FeatureDef] = {}


def _feature(group: str) -> Callable[[Callable[[Bars], FloatArray]], Callable[[Bars], FloatArray]]:
    """Register the decorated function as feature ``<function name>`` in ``group``."""

    def register(func: Callable[[Bars], FloatArray]) -> Callable[[Bars], FloatArray]:
        name = func.__name__
        if name in _REGISTRY:
            raise RuntimeError(f"feature {name!r} registered twice")
        doc = " ".join((func.__doc__ or "").split())
        _REGISTRY[name] = FeatureDef(name=name, group=group, doc=doc, compute=func)
        return func

    return register


# --- helpers: rolling windows that include the current bar and nothing after it ---------------


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den`` with NaN wherever ``den`` is 0 or not finite (zero-volume runs)."""
    out = np.full(num.shape, np.nan)
    ok = np.isfinite(den) & (den != 0)
    np.divide(num, den, out=out, where=ok)
    return out


def _windows(x: FloatArray, window: int) -> FloatArray:
    """Trailing windows ``x[t-window+1 .. t]``, one row per t >= window-1 (a view, no copy).

    Summed exactly per window rather than by a running sum, so a window of zero volumes is
    exactly 0 (then NaN through :func:`_ratio`), not a rounding residue that divides into 1e12.
    """
    return np.lib.stride_tricks.sliding_window_view(x, window)


def _rolling(x: FloatArray, window: int, reduce: Callable[[FloatArray], FloatArray]) -> FloatArray:
    out = np.full(x.shape, np.nan)
    if len(x) >= window:
        out[window - 1 :] = reduce(_windows(x, window))
    return out


def _rolling_sum(x: FloatArray, window: int) -> FloatArray:
    return _rolling(x, window, lambda w: w.sum(axis=1))


def _rolling_mean(x: FloatArray, window: int) -> FloatArray:
    return _rolling(x, window, lambda w: w.mean(axis=1))


def _rolling_std(x: FloatArray, window: int) -> FloatArray:
    return _rolling(x, window, lambda w: w.std(axis=1))  # population std (ddof=0)


def _rolling_max(x: FloatArray, window: int) -> FloatArray:
    # TA-Lib's MAX/MIN are O(n) but refuse window 1 (daily range on 1d bars).
    return x.copy() if window == 1 else np.asarray(talib.MAX(x, timeperiod=window))


def _rolling_min(x: FloatArray, window: int) -> FloatArray:
    return x.copy() if window == 1 else np.asarray(talib.MIN(x, timeperiod=window))


def _macd(b: Bars) -> tuple[FloatArray, FloatArray, FloatArray]:
    return b.shared(
        "macd", lambda: talib.MACD(b.close, fastperiod=12, slowperiod=26, signalperiod=9)
    )


# --- momentum -----------------------------------------------------------------------------------


@_feature("momentum")
def rsi_14(b: Bars) -> FloatArray:
    """RSI(14) of close (Wilder smoothing), 0..100."""
    return np.asarray(talib.RSI(b.close, timeperiod=14))


@_feature("momentum")
def rsi_7(b: Bars) -> FloatArray:
    """RSI(7) of close (Wilder smoothing), 0..100."""
    return np.asarray(talib.RSI(b.close, timeperiod=7))


@_feature("momentum")
def macd_signal(b: Bars) -> FloatArray:
    """MACD(12, 26, 9) signal line (EMA9 of EMA12 - EMA26) divided by close."""
    return _ratio(_macd(b)[1], b.close)


@_feature("momentum")
def macd_hist(b: Bars) -> FloatArray:
    """MACD(12, 26, 9) histogram (MACD line - signal line) divided by close."""
    return _ratio(_macd(b)[2], b.close)


@_feature("momentum")
def roc_10(b: Bars) -> FloatArray:
    """Rate of change over 10 bars as a fraction: close[t] / close[t-10] - 1."""
    return np.asarray(talib.ROCP(b.close, timeperiod=10))


# --- volume -------------------------------------------------------------------------------------


@_feature("volume")
def obv_ratio(b: Bars) -> FloatArray:
    """(OBV - SMA(OBV, 20)) / SMA(volume, 20): OBV's recent drift in units of typical volume
    (the difference cancels OBV's arbitrary starting level)."""
    obv = np.asarray(talib.OBV(b.close, b.volume))
    return _ratio(obv - _rolling_mean(obv, 20), _rolling_mean(b.volume, 20))


@_feature("volume")
def vwap_deviation(b: Bars) -> FloatArray:
    """close / VWAP20 - 1, VWAP20 = sum(typical price * volume) / sum(volume) over the last 20
    bars, typical price = (high + low + close) / 3."""
    typical = (b.high + b.low + b.close) / 3.0
    vwap = _ratio(_rolling_sum(typical * b.volume, 20), _rolling_sum(b.volume, 20))
    return _ratio(b.close, vwap) - 1.0


@_feature("volume")
def volume_zscore(b: Bars) -> FloatArray:
    """(volume - mean20) / std20 over the last 20 bars including this one (population std)."""
    return _ratio(b.volume - _rolling_mean(b.volume, 20), _rolling_std(b.volume, 20))


# --- volatility ---------------------------------------------------------------------------------


@_feature("volatility")
def atr_pct(b: Bars) -> FloatArray:
    """ATR(14) (Wilder) divided by close."""
    return _ratio(np.asarray(talib.ATR(b.high, b.low, b.close, timeperiod=14)), b.close)


@_feature("volatility")
def bb_width(b: Bars) -> FloatArray:
    """Bollinger band width (upper - lower) / middle for BBANDS(close, 20, 2, 2), SMA middle."""
    upper, middle, lower = talib.BBANDS(
        b.close,
        timeperiod=20,
        nbdevup=2,
        nbdevdn=2,  # default matype: SMA middle band
    )
    return _ratio(np.asarray(upper) - np.asarray(lower), np.asarray(middle))


@_feature("volatility")
def daily_range_pct(b: Bars) -> FloatArray:
    """(max high - min low) over the last day of bars (bars per day from the timeframe, at
    least 1), divided by close."""
    n = b.bars_per_day
    return _ratio(_rolling_max(b.high, n) - _rolling_min(b.low, n), b.close)


# --- trend --------------------------------------------------------------------------------------


@_feature("trend")
def ema_cross_9_21(b: Bars) -> FloatArray:
    """EMA(close, 9) / EMA(close, 21) - 1 (TA-Lib EMAs, seeded with an SMA)."""
    return _ratio(np.asarray(talib.EMA(b.close, 9)), np.asarray(talib.EMA(b.close, 21))) - 1.0


@_feature("trend")
def ema_cross_21_55(b: Bars) -> FloatArray:
    """EMA(close, 21) / EMA(close, 55) - 1 (TA-Lib EMAs, seeded with an SMA)."""
    return _ratio(np.asarray(talib.EMA(b.close, 21)), np.asarray(talib.EMA(b.close, 55))) - 1.0


@_feature("trend")
def adx_14(b: Bars) -> FloatArray:
    """ADX(14) (Wilder), trend strength 0..100 regardless of direction."""
    return np.asarray(talib.ADX(b.high, b.low, b.close, timeperiod=14))


# --- returns (extra group) ----------------------------------------------------------------------


def _log_return(b: Bars, k: int) -> FloatArray:
    out = np.full(b.close.shape, np.nan)
    out[k:] = np.log(b.close[k:] / b.close[:-k])  # prices are validated > 0
    return out


@_feature("returns")
def log_return_1(b: Bars) -> FloatArray:
    """log(close[t] / close[t-1])."""
    return _log_return(b, 1)


@_feature("returns")
def log_return_4(b: Bars) -> FloatArray:
    """log(close[t] / close[t-4])."""
    return _log_return(b, 4)


@_feature("returns")
def log_return_24(b: Bars) -> FloatArray:
    """log(close[t] / close[t-24])."""
    return _log_return(b, 24)


# --- public surface -----------------------------------------------------------------------------

FEATURES: Mapping[str, FeatureDef] = MappingProxyType(_REGISTRY)
"""Every registered feature by name, in registration order."""


def _group_map() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for definition in _REGISTRY.values():
        groups.setdefault(definition.group, []).append(definition.name)
    return {group: tuple(names) for group, names in groups.items()}


FEATURE_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(_group_map())
"""Group name -> its feature names, in registry order."""


def known_groups() -> list[str]:
    """The registered feature group names, in registry order."""
    return list(FEATURE_GROUPS)


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def resolve_features(groups: Sequence[str]) -> list[str]:
    """Feature names for ``groups``: groups in the order given, each group's names in registry
    order, duplicates dropped. Save the result with the model: it, not the group names, is what
    the model reads. Raises ConfigError (key ``feature_groups``) for an unknown group."""
    names: list[str] = []
    for group in groups:
        if group not in FEATURE_GROUPS:
            raise ConfigError(
                "unknown feature group",
                key="feature_groups",
                value=group,
                hint=f"known groups: {', '.join(FEATURE_GROUPS)}"
                + _did_you_mean(group, known_groups()),
            )
        names.extend(n for n in FEATURE_GROUPS[group] if n not in names)
    return names


def compute_features(
    frame: pd.DataFrame, timeframe: str, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Compute features ``names`` (all registered when None) from an OHLCV frame.

    Returns float64 columns in the order of ``names`` on ``frame``'s index; warm-up rows are
    NaN. ``timeframe`` sets the bars per day (for ``daily_range_pct``). Values depend on where
    ``frame`` starts (EMA/Wilder seeds), so compute on the whole loaded frame, then split.
    """
    wanted = list(FEATURES) if names is None else list(dict.fromkeys(names))
    for name in wanted:
        if name not in FEATURES:
            raise ConfigError(
                "unknown feature",
                key="features",
                value=name,
                hint="see sweep.core.features.FEATURES" + _did_you_mean(name, list(FEATURES)),
            )
    if timeframe not in TIMEFRAMES:
        raise ConfigError(
            "unknown timeframe",
            key="timeframe",
            value=timeframe,
            hint=f"valid timeframes: {', '.join(TIMEFRAMES)}",
        )
    missing = [col for col in COLUMNS if col not in frame.columns]
    if missing:
        raise DataError("OHLCV column missing", key=missing[0], hint="pass a MarketData.frame")

    def column(col: str) -> FloatArray:
        return np.ascontiguousarray(frame[col].to_numpy(), dtype=np.float64)

    bars = Bars(
        open=column("open"),
        high=column("high"),
        low=column("low"),
        close=column("close"),
        volume=column("volume"),
        bars_per_day=max(1, int(pd.Timedelta("1D") // TIMEFRAMES[timeframe])),
    )
    columns: dict[str, FloatArray] = {}
    for name in wanted:
        values = np.asarray(FEATURES[name].compute(bars), dtype=np.float64)
        # Last line of defence: a model must never see inf; NaN is treated as missing.
        columns[name] = np.where(np.isinf(values), np.nan, values)
    return pd.DataFrame(columns, index=frame.index, columns=wanted, dtype=np.float64)
