"""History frames (pandas) as indicators read them: columns, bar times, bars one by one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import pandas as pd

OHLCV = ("open", "high", "low", "close", "volume")


class HistoryBar(NamedTuple):
    """One row of a history frame, shaped like `core.market.Bar` for `update()`."""

    time: float
    open: float
    high: float
    low: float
    close: float
    volume: float


def require_columns(frame: pd.DataFrame, columns: Iterable[str], owner: str) -> None:
    missing = [c for c in columns if c != "time" and c not in frame.columns]
    if missing:
        raise ValueError(
            f"{owner}: the frame lacks column(s) {', '.join(missing)} "
            f"(has: {', '.join(map(str, frame.columns))})"
        )


def bar_times(frame: pd.DataFrame) -> np.ndarray | None:
    """Epoch seconds of each row, from a `time` column or else the index; None when
    neither carries times (a RangeIndex and no `time` column).

    Numbers are taken as epoch seconds; datetimes naive are taken as UTC, as pandas and
    `volume.epoch_seconds` do, so batch and incremental sessions agree.
    """
    if "time" in frame.columns:
        source: pd.Index | pd.Series = frame["time"]
    elif isinstance(frame.index, pd.RangeIndex):
        return None
    else:
        source = frame.index
    if pd.api.types.is_numeric_dtype(source.dtype):
        return np.asarray(source, dtype=float)
    stamps = pd.DatetimeIndex(pd.to_datetime(source, utc=True))
    seconds = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return np.asarray(seconds, dtype=float)


def iter_bars(frame: pd.DataFrame, need_time: bool = False) -> Iterator[HistoryBar]:
    """The frame's rows as bars, with plain Python floats (fast in the update paths).

    Columns that are absent read as NaN, so a close-only frame feeds close indicators.
    """
    n = len(frame)
    nan_column = [float("nan")] * n
    columns = [
        frame[c].astype(float).tolist() if c in frame.columns else nan_column for c in OHLCV
    ]
    times = bar_times(frame)
    if times is None:
        if need_time:
            raise ValueError(
                "this indicator needs bar times: give the frame a `time` column "
                "(epoch seconds or datetimes) or a DatetimeIndex"
            )
        time_list = nan_column
    else:
        time_list = times.tolist()
    for t, o, h, low, c, v in zip(time_list, *columns, strict=True):
        yield HistoryBar(t, o, h, low, c, v)
