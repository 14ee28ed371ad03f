"""A run's price history: one symbol's OHLCV bars as numpy columns, oldest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ibtrader.core.indicators.frames import HistoryBar

COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)
class BarSeries:
    """Bars of one symbol; `time` is each bar's start in epoch seconds (UTC), strictly
    increasing. Loaders check the data (see csv_bars); this class trusts it."""

    symbol: str
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def from_frame(cls, symbol: str, frame: pd.DataFrame) -> BarSeries:
        """From a frame with OHLCV columns and a `time` column of epoch seconds, or a
        DatetimeIndex."""
        if "time" in frame.columns:
            times = frame["time"].to_numpy(dtype=float)
        else:
            times = epoch_seconds(pd.DatetimeIndex(frame.index))
        return cls(symbol, times, *(frame[c].to_numpy(dtype=float) for c in COLUMNS))

    def between(self, start: float | None = None, end: float | None = None) -> BarSeries:
        """The bars starting in [start, end); None leaves that side open."""
        lo = 0 if start is None else int(np.searchsorted(self.time, start, side="left"))
        hi = len(self) if end is None else int(np.searchsorted(self.time, end, side="left"))
        return BarSeries(self.symbol, *(a[lo:hi] for a in self._arrays()))

    def frame(self) -> pd.DataFrame:
        """Columns time and OHLCV on a RangeIndex (what `compute_batch` wants)."""
        return pd.DataFrame(dict(zip(("time", *COLUMNS), self._arrays(), strict=True)),
                            copy=False)

    def rows_at(self, index: np.ndarray) -> list[HistoryBar]:
        """The bars numbered in `index`, gathered at once (a bar read column by column with
        `ndarray.item` costs about four times as much)."""
        columns = [a[index].tolist() for a in self._arrays()]
        make = tuple.__new__  # each zip row is a whole HistoryBar already
        return [make(HistoryBar, row) for row in zip(*columns, strict=True)]

    def bar_seconds(self) -> float:
        """The usual spacing of the bars (the median), 0 for fewer than two bars."""
        return float(np.median(np.diff(self.time))) if len(self) > 1 else 0.0

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.time, self.open, self.high, self.low, self.close, self.volume)


def epoch_seconds(index: pd.DatetimeIndex) -> np.ndarray:
    """Epoch seconds of a DatetimeIndex; naive stamps are taken as UTC."""
    stamps = index if index.tz is not None else index.tz_localize("UTC")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(float)


def iso_time(seconds: float) -> str:
    """Epoch seconds as ISO 8601 in UTC, e.g. 2024-01-02T14:30:00Z."""
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    text = stamp.isoformat(timespec="seconds" if stamp.microsecond == 0 else "milliseconds")
    return text.replace("+00:00", "Z")
