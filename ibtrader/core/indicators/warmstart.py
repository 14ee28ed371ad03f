"""Warm start: bring an incremental indicator to where a batch over history ends."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .base import Indicator
from .frames import iter_bars, require_columns
from .registry import INDICATORS


def seed_from_history(indicator: Indicator[Any], frame: pd.DataFrame) -> Any:
    """Reset `indicator`, then feed it every row of `frame` (oldest first) as a closed bar.

    Afterwards `indicator.value` equals the batch value of the last row and live
    `update()` calls continue exactly as the batch over the longer series would. The whole
    history is replayed, not only the last `warmup` rows: EMA-type state depends on all of
    it. Returns the indicator's value after the last row.
    """
    info = INDICATORS.get(indicator.name)
    inputs = info.inputs if info is not None else ("open", "high", "low", "close", "volume")
    require_columns(frame, inputs, indicator.name or type(indicator).__name__)
    indicator.reset()
    update = indicator.update
    for bar in iter_bars(frame, need_time="time" in inputs):
        update(bar)
    return indicator.value
