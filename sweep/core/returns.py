"""Trial return series on a common calendar, stored compactly.

Trials of one study may run on different timeframes and test windows, so their per-bar returns are
compounded to UTC calendar days (``prod(1 + r) - 1`` over the bars of each day; a day without bars
is 0) before anything compares them. A series is stored as little-endian float32, zlib-compressed:
most days of a sparse strategy are exactly 0 and compress to almost nothing. float32 keeps about
7 significant digits, far below the noise of any statistic computed from it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas where a series is used: `sweep results` reads without them
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    FloatArray = npt.NDArray[np.float64]

ENCODING = "zlib-f32le-daily"
_EPOCH_DAY = date(1970, 1, 1)


@dataclass(frozen=True)
class DailyReturns:
    """Daily compounded returns from ``first_day``, one per calendar day."""

    first_day: date
    values: FloatArray

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=len(self.values) - 1)


def daily_returns(index: pd.DatetimeIndex, bar_returns: FloatArray) -> DailyReturns:
    """Compound per-bar returns to UTC calendar days (gaps become 0-return days)."""
    if len(index) != len(bar_returns) or len(index) == 0:
        raise ValueError("index and returns must have the same non-zero length")
    import numpy as np
    import pandas as pd

    # Whole days since the epoch; the index is sorted, so each day is one run of equal values.
    epoch, one_day = pd.Timestamp(0, tz="UTC"), pd.Timedelta(days=1)
    day = np.asarray((index - epoch) // one_day, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])
    growth = np.add.reduceat(np.log1p(np.asarray(bar_returns, dtype=np.float64)), starts)
    values = np.zeros(int(day[-1] - day[0]) + 1)
    values[day[starts] - day[0]] = np.expm1(growth)
    return DailyReturns(_EPOCH_DAY + timedelta(days=int(day[0])), values)


def encode(series: DailyReturns) -> bytes:
    return zlib.compress(series.values.astype("<f4").tobytes(), level=6)


def decode(first_day: date, n_days: int, encoding: str, data: bytes) -> DailyReturns:
    if encoding != ENCODING:
        raise ValueError(f"unknown return encoding {encoding!r}")
    import numpy as np

    values = np.frombuffer(zlib.decompress(data), dtype="<f4").astype(np.float64)
    if len(values) != n_days:
        raise ValueError(f"stored series has {len(values)} days, expected {n_days}")
    return DailyReturns(first_day, values)


def align(series: list[DailyReturns]) -> tuple[date, FloatArray]:
    """The days every series covers (the intersection), as a days x series matrix."""
    import numpy as np

    if not series:
        raise ValueError("no series to align")
    start = max(s.first_day for s in series)
    end = min(s.last_day for s in series)
    n = (end - start).days + 1
    if n <= 0:
        return start, np.empty((0, len(series)))
    cols = [s.values[(start - s.first_day).days : (start - s.first_day).days + n] for s in series]
    return start, np.column_stack(cols)
