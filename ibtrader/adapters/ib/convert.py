"""ib_async's bar objects as core `Bar`s (epoch-second times, UTC)."""

from __future__ import annotations

import datetime as dt

from ib_async import BarData, RealTimeBar

from ibtrader.core.market import Bar


def epoch(value: dt.date | dt.datetime) -> float:
    """A bar time as epoch seconds; a date (daily bars) is midnight UTC of that date."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # only with formatDate=1, which the adapter never asks for
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()


def bar_from(data: BarData) -> Bar:
    return Bar(epoch(data.date), data.open, data.high, data.low, data.close, float(data.volume),
               data.average, data.barCount)


def realtime_bar_from(data: RealTimeBar) -> Bar:
    return Bar(data.time.timestamp(), data.open_, data.high, data.low, data.close,
               float(data.volume), data.wap, data.count)


def ib_end_time(end: float | None) -> str:
    """`endDateTime` as IB wants it: "" for now, else UTC text."""
    if end is None:
        return ""
    return dt.datetime.fromtimestamp(end, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")
