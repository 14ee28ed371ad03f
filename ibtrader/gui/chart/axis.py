"""`TimeAxis`: an x axis of bar indices labelled with the bars' times.

x is the bar index, so nights, weekends and holidays take no room (gaps closed); the
labels look the times up. Ticks fall on whole bars only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import lru_cache

import pyqtgraph as pg

DAY = 86_400


@lru_cache(maxsize=4096)  # the axis relabels the same bars on every pan and live bar
def format_time(t: float, tz: dt.tzinfo | None, *, date: bool, clock: bool) -> str:
    """Epoch seconds as text in `tz` (None: the machine's local zone)."""
    when = dt.datetime.fromtimestamp(t, tz or dt.UTC)
    if tz is None:
        when = when.astimezone()
    if date and clock:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%Y-%m-%d" if date else "%H:%M")


class TimeAxis(pg.AxisItem):
    """Bottom axis; `time_of(i)` gives the start time of bar i (None outside the data)."""

    def __init__(self, time_of: Callable[[int], float | None], **kwargs: object) -> None:
        super().__init__(orientation="bottom", **kwargs)
        self._time_of = time_of
        self.bar_seconds = 60
        self.tz: dt.tzinfo | None = None

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        # Whole-bar ticks only (a label between two bars would name no bar), and one level:
        # minor labels would double the text layout, the axis' main cost when a live chart
        # scrolls by a bar.
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                return [(spacing, [v for v in values if float(v).is_integer()])]
        return []

    def tickStrings(self, values: list[float], scale: float,
                    spacing: float) -> list[str]:
        daily = self.bar_seconds >= DAY
        span_days = spacing * self.bar_seconds >= DAY
        labels = []
        for v in values:
            t = self._time_of(round(v))
            if t is None:
                labels.append("")
            elif daily:
                labels.append(format_time(t, self.tz, date=True, clock=False))
            else:
                labels.append(format_time(t, self.tz, date=span_days, clock=not span_days))
        return labels
