"""Indicator values per bar for a backtest: computed in batch over the whole history where
an indicator has a batch twin (ta, via `compute_batch`), fed bar by bar where it has none.

A strategy sees exactly what a live engine would give it: `None` while an indicator
warms up, then a float or the indicator's own value tuple (MACDValue, ...).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ibtrader.core.indicators import (
    BollingerValue,
    IndicatorBase,
    MACDValue,
    StochValue,
    SuperTrendValue,
    compute_batch,
)
from ibtrader.core.indicators.batch import BATCH_FUNCTIONS

from .bars import BarSeries

# the value tuple of each indicator with several outputs, in the batch frame's column order
VALUE_TYPES: dict[str, type[NamedTuple]] = {
    "macd": MACDValue, "bbands": BollingerValue, "stoch": StochValue,
    "supertrend": SuperTrendValue,
}
INT_FIELDS = {"supertrend": ("direction",)}  # incremental values hold ints there
# per indicator: name, values on some bars, values on the bar before each
Gathered = list[tuple[str, list[Any], list[Any]]]


class IndicatorFeed:
    """Indicator values by bar: `values_pair(i)` is what `ctx.values` and `ctx.prev`
    hold on bar i; `gather` reads them for many bars at once.

    Batch results stay numpy columns (`arrays`, NaN while warming up) for indicators of
    one value, read bar by bar only where the runner stops; indicators of several values
    are kept as lists of their value tuples (`tuples`). `live` holds the indicators with
    no batch twin, which the runner must update on every bar, in order.
    """

    def __init__(self, indicators: dict[str, Any], bars: BarSeries,
                 incremental: bool = False) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.warm: dict[str, int] = {}  # bars before the first value
        self.tuples: dict[str, list[Any]] = {}
        self.live: dict[str, Any] = {}
        frame = bars.frame() if not incremental else None
        for name, indicator in indicators.items():
            found = None if frame is None else batch_values(indicator, frame)
            if found is None:
                indicator.reset()
                self.live[name] = indicator
            elif isinstance(found[0], np.ndarray):
                self.arrays[name], self.warm[name] = found
            else:
                self.tuples[name] = found[0]
        # (name, column, warm-up) read together: values_pair runs on every visited bar
        self._columns = [(name, array, self.warm[name]) for name, array in self.arrays.items()]

    @property
    def vectorised(self) -> bool:
        """True when nothing needs feeding bar by bar (so bars may be skipped)."""
        return not self.live

    def gather(self, bars: np.ndarray) -> Gathered:
        """Per indicator: its values on the sorted bar numbers `bars` and on the bar before
        each, as `values_pair` gives them, gathered at once for the bars a run will visit."""
        found: Gathered = []
        for name, array, warm in self._columns:
            values, prev = array[bars].tolist(), array[bars - 1].tolist()
            cold = int(np.searchsorted(bars, warm))  # bars before the first value
            values[:cold] = [None] * cold
            cold = int(np.searchsorted(bars, warm + 1))  # ...whose bar before has none
            prev[:cold] = [None] * cold
            found.append((name, values, prev))
        for name, column in self.tuples.items():
            found.append((name, [column[i] for i in bars.tolist()],
                          [column[i - 1] if i >= 1 else None for i in bars.tolist()]))
        return found

    def values_pair(self, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The batch indicators' values on bar i and on bar i - 1 (None before an
        indicator's first value): what `ctx.values` and `ctx.prev` hold on bar i."""
        values: dict[str, Any] = {}
        prev: dict[str, Any] = {}
        before = i - 1
        for name, array, warm in self._columns:
            if before >= warm:
                values[name] = array.item(i)
                prev[name] = array.item(before)
            else:
                values[name] = array.item(i) if i >= warm else None
                prev[name] = None
        if self.tuples:
            for name, column in self.tuples.items():
                values[name] = column[i] if i >= 0 else None
                prev[name] = column[before] if before >= 0 else None
        return values, prev


def batch_values(indicator: Any,
                 frame: pd.DataFrame) -> tuple[np.ndarray | list[Any], int] | None:
    """The indicator's values on every bar from its batch twin - a float column with
    NaN in the warm-up, or a list of value tuples with None there - and the number of
    warm-up bars; None if the indicator has no batch twin."""
    if isinstance(indicator, IndicatorBase) and indicator.name in BATCH_FUNCTIONS:
        result = compute_batch(indicator.name, frame, **indicator.params())
    elif callable(getattr(indicator, "batch", None)):
        result = indicator.batch(frame)
    else:
        return None
    warm = max(int(getattr(indicator, "warmup", 1)) - 1, 0)
    name = getattr(indicator, "name", "")
    inner = getattr(getattr(indicator, "inner", None), "name", name)
    if isinstance(result, pd.Series):
        array = result.to_numpy(dtype=float, copy=True)
        array[:warm] = np.nan
        return array, warm
    kind = VALUE_TYPES.get(inner) or VALUE_TYPES.get(name)
    if kind is None:
        raise TypeError(f"{name}: no value type known for a batch of several columns")
    columns = []
    for field in kind._fields:
        column = result[field].to_numpy(dtype=float)
        if field in INT_FIELDS.get(inner, ()):
            column = np.nan_to_num(column).astype(int)
        columns.append(column.tolist())
    values: list[Any] = [kind(*row) for row in zip(*columns, strict=True)]
    values[:warm] = [None] * min(warm, len(values))
    return values, warm
