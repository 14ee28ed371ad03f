"""Trading and liquid hours per instrument, and the session days prices and bars hang on.

A session day is labelled by the date it ends on: FX and CME futures trade from the
previous evening, so their day starts at 17:00 local on the day before. Hours are data
(`SCHEDULES`), in minutes from the session date's local midnight, negative for the evening
before. With `around_the_clock` (the default, so the simulator is usable at any hour) every
instrument is open all the time, regular hours included; session days keep their real
boundaries either way, so prices do not depend on the mode.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ibtrader.sim.market.instruments import Instrument

Span = tuple[int, int]  # [start, end) in epoch seconds
WEEKDAYS = frozenset(range(5))  # Monday..Friday session dates
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Schedule:
    roll: int  # the session day starts this many minutes after its date's local midnight
    trading: tuple[tuple[int, int], ...]
    liquid: tuple[tuple[int, int], ...]
    busy: tuple[int, int]  # the most active stretch; shapes the intraday activity profile
    weekdays: frozenset[int] = field(default=WEEKDAYS)


SCHEDULES: dict[str, Schedule] = {
    # 04:00-20:00, regular hours 09:30-16:00 New York
    "us_equity": Schedule(roll=0, trading=((240, 1200),), liquid=((570, 960),),
                          busy=(570, 960)),
    # Sunday 17:15 to Friday 17:00 New York, a short break each evening; busiest from the
    # London morning to the New York lunch
    "fx": Schedule(roll=-420, trading=((-405, 1020),), liquid=((-405, 1020),),
                   busy=(180, 720)),
    # Sunday to Friday 18:00-17:00 Chicago (the daily break 17:00-18:00), RTH 08:30-15:00
    "cme_equity": Schedule(roll=-420, trading=((-360, 1020),), liquid=((510, 900),),
                           busy=(510, 900)),
}


def schedule_for(instrument: Instrument) -> Schedule:
    if instrument.sec_type == "CASH":
        return SCHEDULES["fx"]
    if instrument.sec_type == "FUT":
        return SCHEDULES["cme_equity"]
    return SCHEDULES["us_equity"]


class TradingCalendar:
    """When one instrument trades, in its own time zone."""

    def __init__(self, instrument: Instrument, around_the_clock: bool = True,
                 schedule: Schedule | None = None) -> None:
        self.instrument = instrument
        self.around_the_clock = around_the_clock
        self.schedule = schedule or schedule_for(instrument)
        self.tz = ZoneInfo(instrument.time_zone_id)
        self._spans: dict[tuple[dt.date, str], tuple[Span, ...]] = {}

    # ----- session days ----------------------------------------------------------------
    def session_day(self, t: float) -> dt.date:
        local = dt.datetime.fromtimestamp(t, self.tz).replace(tzinfo=None)
        return (local - dt.timedelta(minutes=self.schedule.roll)).date()

    def day_start(self, day: dt.date) -> int:
        return self._epoch(day, self.schedule.roll)

    def day_end(self, day: dt.date) -> int:
        return self.day_start(day + dt.timedelta(days=1))

    # ----- hours -----------------------------------------------------------------------
    def sessions(self, day: dt.date, rth: bool) -> tuple[Span, ...]:
        """Open spans of a session day in this calendar's mode."""
        if self.around_the_clock:
            return ((self.day_start(day), self.day_end(day)),)
        return self.real_sessions(day, rth)

    def real_sessions(self, day: dt.date, rth: bool) -> tuple[Span, ...]:
        """Open spans by the real schedule, whatever the mode."""
        key = (day, "liquid" if rth else "trading")
        spans = self._spans.get(key)
        if spans is None:
            if len(self._spans) > _CACHE_LIMIT:
                self._spans.clear()
            windows = self.schedule.liquid if rth else self.schedule.trading
            spans = tuple((self._epoch(day, a), self._epoch(day, b)) for a, b in windows
                          ) if day.weekday() in self.schedule.weekdays else ()
            self._spans[key] = spans
        return spans

    def busy_span(self, day: dt.date) -> Span | None:
        """The day's most active stretch by the real schedule, None on a closed day."""
        if day.weekday() not in self.schedule.weekdays:
            return None
        start, end = self.schedule.busy
        return self._epoch(day, start), self._epoch(day, end)

    def is_open(self, t: float, rth: bool) -> bool:
        if self.around_the_clock:
            return True
        return any(a <= t < b for a, b in self.sessions(self.session_day(t), rth))

    def last_open_second(self, t: float, rth: bool = False, max_days: int = 10) -> int | None:
        """The latest second at or before `t` that is open, looking back a few days."""
        second = int(t)
        day = self.session_day(second)
        for _ in range(max_days):
            ends = [end for start, end in self.sessions(day, rth) if start <= second]
            if ends:
                return min(second, ends[-1] - 1)
            day -= dt.timedelta(days=1)
        return None

    def hours_text(self, now: float, days: int = 7) -> tuple[str, str]:
        """(tradingHours, liquidHours) in IB's format, from the current session day on."""
        first = self.session_day(now)
        dates = [first + dt.timedelta(days=i) for i in range(days)]
        return (";".join(self._day_text(d, rth=False) for d in dates),
                ";".join(self._day_text(d, rth=True) for d in dates))

    # ----- helpers ---------------------------------------------------------------------
    def _day_text(self, day: dt.date, rth: bool) -> str:
        spans = self.sessions(day, rth)
        if not spans:
            return f"{day:%Y%m%d}:CLOSED"
        return ";".join(f"{self._stamp(a)}-{self._stamp(b, end=True)}" for a, b in spans)

    def _stamp(self, t: int, end: bool = False) -> str:
        local = dt.datetime.fromtimestamp(t, self.tz)
        if end and local.hour == 0 and local.minute == 0:
            # a span ending at midnight is written as ending at 23:59 of its own date
            local -= dt.timedelta(minutes=1)
        return f"{local:%Y%m%d}:{local:%H%M}"

    def _epoch(self, day: dt.date, minutes: int) -> int:
        wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minutes)
        return int(wall.replace(tzinfo=self.tz).timestamp())
