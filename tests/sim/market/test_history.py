"""IB's historical data request semantics on top of the price model."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ibtrader.sim.market.history import (
    HistoryRequestError,
    format_bar_time,
    head_timestamp,
    historical_bars,
    parse_bar_size,
    parse_duration,
    parse_end_date_time,
)
from ibtrader.sim.market.prices import PriceModel
from tests.sim.market.conftest import ES, EUR, NOW, model

NEW_YORK = ZoneInfo("US/Eastern")


def request(m: PriceModel, duration: str, bar_size: str, *, end: float = NOW,
            use_rth: bool = False, what: str = "TRADES"):
    return historical_bars(m, m.calendar, end=end, duration=parse_duration(duration),
                           bar_seconds=parse_bar_size(bar_size), use_rth=use_rth,
                           what_to_show=what)


@pytest.mark.parametrize(("text", "seconds"), [
    ("1 secs", 1), ("5 secs", 5), ("10 secs", 10), ("15 secs", 15), ("30 secs", 30),
    ("1 min", 60), ("2 mins", 120), ("3 mins", 180), ("5 mins", 300), ("10 mins", 600),
    ("15 mins", 900), ("20 mins", 1200), ("30 mins", 1800), ("1 hour", 3600),
    ("2 hours", 7200), ("3 hours", 10800), ("4 hours", 14400), ("8 hours", 28800),
    ("1 day", 86400), ("1 week", 7 * 86400), ("1 month", 30 * 86400), (" 1  MIN ", 60),
])
def test_bar_sizes(text, seconds):
    assert parse_bar_size(text) == seconds


@pytest.mark.parametrize("text", ["", "7 mins", "1 minute", "2 days", "5", "1 year", "0 secs"])
def test_bad_bar_sizes(text):
    with pytest.raises(HistoryRequestError, match="bar size"):
        parse_bar_size(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("3600 S", 3600), ("1 D", 86400), ("2 W", 14 * 86400), ("1 M", 30 * 86400),
    ("2 Y", 730 * 86400), ("10d", 10 * 86400),
])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0 D", "1 X", "D", "-1 D", "1.5 D", "1 D 2 H"])
def test_bad_durations(text):
    with pytest.raises(HistoryRequestError, match="duration"):
        parse_duration(text)


def utc(*fields: int) -> float:
    return dt.datetime(*fields, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("text", "expected"), [
    ("", NOW),
    ("20260603 14:00:00 UTC", utc(2026, 6, 3, 14)),
    ("20260603 10:00:00 US/Eastern", utc(2026, 6, 3, 14)),
    ("20260603 16:00:00 Europe/Amsterdam", utc(2026, 6, 3, 14)),
    ("20260603-14:00:00", utc(2026, 6, 3, 14)),
    ("20260603 14:00:00", utc(2026, 6, 3, 14)),  # no zone: the simulated TWS runs in UTC
    ("20260603", utc(2026, 6, 4)),  # a bare date means the end of that day
])
def test_end_date_times(text, expected):
    assert parse_end_date_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["2026-06-03", "20260603 14:00:00 Mars/Olympus",
                                  "20261341 00:00:00", "20260603 25:00:00", "yesterday"])
def test_bad_end_date_times(text):
    with pytest.raises(HistoryRequestError, match="End date/time"):
        parse_end_date_time(text, NOW)


def test_a_day_of_minutes_ends_with_the_live_price():
    m = model()
    bars = request(m, "1 D", "1 min")
    assert len(bars) == 1440
    assert bars[0].time >= NOW - 86400
    assert [b.time for b in bars] == sorted({b.time for b in bars})
    assert bars[-1].time == int(NOW) - int(NOW) % 60
    assert bars[-1].close == m.last_at(NOW)


def test_an_end_in_the_past_gives_only_complete_bars():
    m = model()
    end = parse_end_date_time("20260602 15:00:00 US/Eastern", NOW)
    bars = request(m, "3600 S", "5 mins", end=end)
    assert len(bars) == 12
    assert bars[-1].time == end - 300 and bars[-1].close == m.last_at(end - 1)


def test_regular_hours_only_when_asked_and_not_around_the_clock():
    m = model(around_the_clock=False)
    bars = request(m, "2 D", "30 mins", use_rth=True)
    for bar in bars:
        local = dt.datetime.fromtimestamp(bar.time, NEW_YORK)
        assert local.weekday() < 5 and dt.time(9, 30) <= local.time() < dt.time(16)
    assert len(bars) == 10 + 13 + 3  # Monday from 11:00, Tuesday, Wednesday to 10:37
    everything = request(model(), "2 D", "30 mins", use_rth=True)
    assert len(everything) == 96  # around the clock, regular hours are all hours


def test_a_year_of_daily_bars():
    m = model()
    bars = request(m, "1 Y", "1 day")
    assert len(bars) == 365
    today = m.calendar.session_day(NOW)
    assert bars[-1].time == m.calendar.day_start(today)
    assert bars[-1].close == m.last_at(NOW)
    weeks = request(m, "1 Y", "1 week")
    assert 52 <= len(weeks) <= 54
    assert sum(w.volume for w in weeks) == sum(b.volume for b in bars)


def test_fx_has_no_trades_but_midpoints():
    m = model(EUR)
    with pytest.raises(HistoryRequestError, match="No data of type TRADES"):
        request(m, "1 D", "1 hour")
    bars = request(m, "1 D", "1 hour", what="MIDPOINT")
    assert len(bars) == 24 and 0.5 < bars[-1].close < 2.0
    assert bars[-1].volume == -1


@pytest.mark.parametrize(("duration", "bar_size"), [("3600 S", "1 secs"), ("1 Y", "1 min"),
                                                    ("2 D", "1 secs")])
def test_requests_that_are_too_big(duration, bar_size):
    with pytest.raises(HistoryRequestError, match="too long"):
        request(model(), duration, bar_size)


def test_unknown_what_to_show():
    with pytest.raises(HistoryRequestError, match="whatToShow"):
        request(model(), "1 D", "1 hour", what="OPTION_IMPLIED_VOLATILITY")


def test_bar_time_texts():
    t = int(utc(2026, 6, 3, 14, 37))
    assert format_bar_time(t, 60, 1, "US/Eastern") == "20260603 10:37:00 US/Eastern"
    assert format_bar_time(t, 60, 2, "US/Eastern") == str(t)
    assert format_bar_time(model().calendar.day_start(dt.date(2026, 6, 3)), 86400, 1,
                           "US/Eastern") == "20260603"
    # an ES session opens at 17:00 Chicago the evening before; it's still the 3rd's bar
    es_start = model(ES).calendar.day_start(dt.date(2026, 6, 3))
    assert format_bar_time(es_start, 86400, 2, "US/Central") == "20260603"


def test_head_timestamp():
    m = model()
    assert head_timestamp(m, m.calendar) == m.first_time() == int(
        dt.datetime(2015, 1, 1, tzinfo=NEW_YORK).timestamp())
    real = model(around_the_clock=False)
    # 1 January 2015 was a Thursday (the simulator has no holidays)
    assert head_timestamp(real, real.calendar, use_rth=True) == int(
        dt.datetime(2015, 1, 1, 9, 30, tzinfo=NEW_YORK).timestamp())
