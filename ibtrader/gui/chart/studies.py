"""`Study`: one indicator's values for every bar of a chart, batch for history, incremental
for live bars.

History goes through `compute_batch` (vectorised, `ta`); live closed bars through the
incremental indicator (O(1) per bar) and the forming bar through its `preview`, which
leaves the state alone. Both give the same numbers after warm-up (core's contract).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ibtrader.core.indicators import INDICATORS, Indicator, make_indicator, seed_from_history
from ibtrader.core.market import Bar

from .series import BarSeries
from .specs import StudySpec

# The incremental indicator is seeded from at most this many of the last bars. Windowed
# indicators need only their window; EMA-type ones forget the past geometrically (an EMA 200
# keeps (199/201)^5000 ~ 1e-9 of a 5,000-bar-old value), so the tail gives the same numbers
# as a replay of 100,000 bars at a fraction of its cost when a symbol loads.
SEED_BARS = 5_000


def history_frame(series: BarSeries) -> pd.DataFrame:
    return pd.DataFrame({
        "time": series.time, "open": series.open, "high": series.high, "low": series.low,
        "close": series.close, "volume": series.volume,
    })


class Study:
    """Values of `spec` per bar: `column(field)` is aligned with the series' bars."""

    def __init__(self, spec: StudySpec, series: BarSeries) -> None:
        self.spec = spec
        self.fields: tuple[str, ...] = INDICATORS[spec.name].outputs
        n = len(series)
        self._values = np.full((len(self.fields), max(16, n)), np.nan)
        self._n = n
        self._indicator: Indicator[Any] = make_indicator(spec.name, **spec.params)
        if n:
            frame = history_frame(series)
            batch = compute(spec, frame)
            self._values[:, :n] = batch
            seed_from_history(self._indicator, frame.iloc[-SEED_BARS:])

    def __len__(self) -> int:
        return self._n

    def column(self, field: str) -> np.ndarray:
        return self._values[self.fields.index(field), : self._n]

    def add_closed(self, bar: Bar) -> tuple[float, ...]:
        """Commit a closed bar (the series' next one) and store its value."""
        row = self._as_row(self._indicator.update(bar))
        if self._n == self._values.shape[1]:
            grown = np.full((len(self.fields), self._n * 2), np.nan)
            grown[:, : self._n] = self._values[:, : self._n]
            self._values = grown
        self._values[:, self._n] = row
        self._n += 1
        return row

    def preview(self, bar: Bar) -> tuple[float, ...]:
        """The values if the forming `bar` closed now; nothing is stored."""
        return self._as_row(self._indicator.preview(bar))

    def row(self, i: int) -> tuple[float, ...]:
        return tuple(self._values[:, i].tolist())

    def _as_row(self, value: Any) -> tuple[float, ...]:
        if value is None:
            return (np.nan,) * len(self.fields)
        if isinstance(value, tuple):
            return tuple(float(v) for v in value)
        return (float(value),)


def compute(spec: StudySpec, frame: pd.DataFrame) -> np.ndarray:
    """Batch values as an array (fields x bars), NaN in the warm-up."""
    from ibtrader.core.indicators import compute_batch

    result = compute_batch(spec.name, frame, **spec.params)
    if isinstance(result, pd.Series):
        return result.to_numpy(dtype=float)[np.newaxis, :]
    fields = INDICATORS[spec.name].outputs
    return result[list(fields)].to_numpy(dtype=float).T
