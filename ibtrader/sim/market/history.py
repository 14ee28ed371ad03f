"""Historical data the way IB answers it: bar sizes, durations, end times and bar dates.

Errors carry the text a client sees after "Historical Market Data Service error
message:", roughly as IB words them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.prices import DAY, MONTH, SERIES, TRADE_SERIES, WEEK, Bar, PriceModel

MAX_BARS = 100_000
MAX_ONE_SECOND_SPAN = 2_000  # seconds of 1-second bars in one request
_UNITS = {"sec": 1, "min": 60, "hour": 3600, "day": DAY, "week": WEEK, "month": MONTH}
_LEGAL_COUNTS = {"sec": (1, 5, 10, 15, 30), "min": (1, 2, 3, 5, 10, 15, 20, 30),
                 "hour": (1, 2, 3, 4, 8), "day": (1,), "week": (1,), "month": (1,)}
LEGAL_BAR_SIZES = ", ".join(
    f"{n} {unit}{'s' if unit == 'sec' or n > 1 else ''}"
    for unit, counts in _LEGAL_COUNTS.items() for n in counts
)
_DURATION_UNITS = {"S": 1, "D": DAY, "W": WEEK, "M": 30 * DAY, "Y": 365 * DAY}
_SEC_TYPE_NAMES = {"CASH": "Forex", "STK": "Stock", "FUT": "Future", "IND": "Index"}


class HistoryRequestError(ValueError):
    """A historical data request IB would refuse; the message is what the client sees."""


def parse_bar_size(text: str) -> int:
    """Seconds per bar for IB's bar size strings ("1 secs", "5 mins", "1 hour", "1 day")."""
    match = re.fullmatch(r"(\d+)\s+(sec|min|hour|day|week|month)s?", text.strip().lower())
    if match is not None:
        count, unit = int(match.group(1)), match.group(2)
        if count in _LEGAL_COUNTS[unit]:
            return count * _UNITS[unit]
    raise HistoryRequestError(
        f"Error validating request.-'bP' : cause - Historical data bar size setting "
        f"{text!r} is invalid. Legal ones are: {LEGAL_BAR_SIZES}")


def parse_duration(text: str) -> int:
    """Seconds covered by IB's duration strings: "N S", "N D", "N W", "N M" (30 days),
    "N Y" (365 days)."""
    match = re.fullmatch(r"(\d+)\s*([SDWMY])", text.strip().upper())
    if match is None or int(match.group(1)) <= 0:
        raise HistoryRequestError(
            f"Error validating request.-'bQ' : cause - Historical data duration {text!r} is "
            f"invalid. Use an integer and a unit: S, D, W, M or Y, as in '3600 S' or '1 Y'")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_end_date_time(text: str, now: float, default_tz: str = "UTC") -> float:
    """Epoch seconds of a request's end: "" is now; "YYYYMMDD HH:MM:SS" with an optional
    zone ("UTC", "US/Eastern", any IANA name; `default_tz` without one, the simulated TWS's
    own zone); "YYYYMMDD-HH:MM:SS" in UTC; "YYYYMMDD" alone means the end of that day."""
    text = text.strip()
    if not text:
        return now
    day_only = re.fullmatch(r"(\d{8})", text)
    dashed = re.fullmatch(r"(\d{8})-(\d{2}:\d{2}:\d{2})", text)
    spaced = re.fullmatch(r"(\d{8})\s+(\d{2}:\d{2}:\d{2})(?:\s+(\S+))?", text)
    if day_only is not None:
        return _epoch(day_only.group(1), "00:00:00", default_tz, text) + DAY
    if dashed is not None:
        return _epoch(dashed.group(1), dashed.group(2), "UTC", text)
    if spaced is not None:
        return _epoch(spaced.group(1), spaced.group(2), spaced.group(3) or default_tz, text)
    raise HistoryRequestError(
        f"Error validating request.-'bB' : cause - End date/time {text!r} is invalid. "
        f"Use 'yyyymmdd hh:mm:ss [time zone]' or 'yyyymmdd-hh:mm:ss' (UTC)")


def _epoch(date_text: str, time_text: str, zone: str, original: str) -> float:
    try:
        tz = ZoneInfo(zone)
        wall = dt.datetime.strptime(f"{date_text} {time_text}", "%Y%m%d %H:%M:%S")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HistoryRequestError(
            f"Error validating request.-'bB' : cause - End date/time {original!r} is "
            f"invalid: {exc}") from None
    return wall.replace(tzinfo=tz).timestamp()


def historical_bars(model: PriceModel, calendar: TradingCalendar, *, end: float,
                    duration: int, bar_seconds: int, use_rth: bool,
                    what_to_show: str) -> list[Bar]:
    """Bars starting in [end - duration, end) over the open sessions; the last one may
    still be forming, and its close is then the price at `end` (the live price)."""
    what = what_to_show.upper()
    _check_series(model, what, bar_seconds)
    _check_size(duration, bar_seconds)
    start = end - duration
    stop = math.ceil(end)  # a fractional end includes its second in progress
    # intraday: whole bars only; daily: sessions that start in the window
    first = math.ceil(start / bar_seconds) * bar_seconds if bar_seconds < DAY else \
        math.ceil(start)
    return model.bars(first, stop, bar_seconds, rth=use_rth and not calendar.around_the_clock,
                      what=what)


def _check_series(model: PriceModel, what: str, bar_seconds: int) -> None:
    inst = model.instrument
    if what not in SERIES:
        raise HistoryRequestError(
            f"Error validating request.-'bS' : cause - whatToShow {what!r} is not supported; "
            f"use one of {', '.join(SERIES)}")
    if inst.sec_type == "CASH" and what in TRADE_SERIES:
        kind = _SEC_TYPE_NAMES.get(inst.sec_type, inst.sec_type)
        raise HistoryRequestError(
            f"No data of type {what} is available for the exchange '{inst.exchange}' and "
            f"the security type '{kind}' and '{bar_seconds} s' bars. Use MIDPOINT, BID or "
            f"ASK")


def _check_size(duration: int, bar_seconds: int) -> None:
    if duration <= 0 or bar_seconds <= 0:
        raise HistoryRequestError("Error validating request: duration and bar size must be "
                                  "positive")
    if bar_seconds == 1 and duration > MAX_ONE_SECOND_SPAN:
        raise HistoryRequestError(
            f"Historical data request too long: 1 secs bars cover at most "
            f"{MAX_ONE_SECOND_SPAN} S, ask for a shorter duration or a bigger bar size")
    if duration / bar_seconds > MAX_BARS:
        raise HistoryRequestError(
            f"Historical data request too long: it would return over {MAX_BARS} bars, "
            f"ask for a shorter duration or a bigger bar size")


def format_bar_time(bar_time: int, bar_seconds: int, format_date: int, tz: str) -> str:
    """IB's bar date text. Daily and longer bars are always "YYYYMMDD", the session's date:
    sessions that open the evening before (FX, CME) are labelled by the date 12 hours
    after their start. Intraday: formatDate 1 gives "YYYYMMDD HH:MM:SS <zone>", formatDate 2
    epoch seconds."""
    zone = ZoneInfo(tz)
    if bar_seconds >= DAY:
        return dt.datetime.fromtimestamp(bar_time + DAY // 2, zone).strftime("%Y%m%d")
    if format_date == 2:
        return str(int(bar_time))
    return f"{dt.datetime.fromtimestamp(bar_time, zone):%Y%m%d %H:%M:%S} {tz}"


def head_timestamp(model: PriceModel, calendar: TradingCalendar, use_rth: bool = False
                   ) -> int:
    """The first second with data: the first open second on or after the model's start."""
    first = model.first_time()
    day = calendar.session_day(first)
    for _ in range(14):
        for start, end in calendar.sessions(day, use_rth):
            if end > first:
                return max(start, first)
        day += dt.timedelta(days=1)
    return first
