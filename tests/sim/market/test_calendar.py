"""Trading hours, session days and IB's hours text."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.instruments import DEFAULT_UNIVERSE, Universe

UNIVERSE = Universe(DEFAULT_UNIVERSE, dt.date(2026, 11, 20))
AAPL, EUR, ES = (UNIVERSE.by_symbol(s)[0] for s in ("AAPL", "EUR", "ES"))
NEW_YORK, CHICAGO = ZoneInfo("US/Eastern"), ZoneInfo("US/Central")


def at(zone: ZoneInfo, *fields: int) -> float:
    return dt.datetime(*fields, tzinfo=zone).timestamp()


@pytest.mark.parametrize(("when", "eth", "rth"), [
    ((2026, 11, 24, 3, 59), False, False),
    ((2026, 11, 24, 4, 0), True, False),
    ((2026, 11, 24, 9, 29), True, False),
    ((2026, 11, 24, 9, 30), True, True),
    ((2026, 11, 24, 15, 59), True, True),
    ((2026, 11, 24, 16, 0), True, False),
    ((2026, 11, 24, 19, 59), True, False),
    ((2026, 11, 24, 20, 0), False, False),
    ((2026, 11, 28, 12, 0), False, False),  # a Saturday
    ((2026, 11, 29, 12, 0), False, False),  # a Sunday
])
def test_us_stock_hours(when, eth, rth):
    cal = TradingCalendar(AAPL, around_the_clock=False)
    t = at(NEW_YORK, *when)
    assert cal.is_open(t, rth=False) is eth
    assert cal.is_open(t, rth=True) is rth


@pytest.mark.parametrize("when", [(2026, 11, 28, 12, 0), (2026, 11, 24, 2, 0),
                                  (2026, 11, 29, 23, 59)])
def test_around_the_clock_is_always_open(when):
    cal = TradingCalendar(AAPL)
    assert cal.around_the_clock
    assert cal.is_open(at(NEW_YORK, *when), rth=False)
    assert cal.is_open(at(NEW_YORK, *when), rth=True)


def test_fx_trades_from_sunday_evening_to_friday_evening():
    cal = TradingCalendar(EUR, around_the_clock=False)
    assert not cal.is_open(at(NEW_YORK, 2026, 11, 29, 17, 0), rth=False)  # Sunday 17:00
    assert cal.is_open(at(NEW_YORK, 2026, 11, 29, 17, 15), rth=False)
    assert cal.is_open(at(NEW_YORK, 2026, 11, 25, 3, 0), rth=True)
    assert not cal.is_open(at(NEW_YORK, 2026, 11, 25, 17, 5), rth=False)  # daily break
    assert cal.is_open(at(NEW_YORK, 2026, 11, 27, 16, 59), rth=False)  # Friday
    assert not cal.is_open(at(NEW_YORK, 2026, 11, 27, 17, 0), rth=False)
    assert not cal.is_open(at(NEW_YORK, 2026, 11, 28, 12, 0), rth=False)


def test_es_has_a_daily_break_and_regular_hours_in_chicago():
    cal = TradingCalendar(ES, around_the_clock=False)
    assert cal.is_open(at(CHICAGO, 2026, 11, 24, 16, 59), rth=False)
    assert not cal.is_open(at(CHICAGO, 2026, 11, 24, 17, 30), rth=False)
    assert cal.is_open(at(CHICAGO, 2026, 11, 24, 18, 0), rth=False)
    assert not cal.is_open(at(CHICAGO, 2026, 11, 24, 18, 0), rth=True)
    assert cal.is_open(at(CHICAGO, 2026, 11, 24, 8, 30), rth=True)
    assert cal.is_open(at(CHICAGO, 2026, 11, 29, 18, 0), rth=False)  # Sunday evening


def test_session_days_of_evening_sessions_belong_to_the_next_date():
    es, eur = TradingCalendar(ES), TradingCalendar(EUR)
    assert es.session_day(at(CHICAGO, 2026, 11, 24, 18, 0)) == dt.date(2026, 11, 25)
    assert es.session_day(at(CHICAGO, 2026, 11, 24, 16, 59)) == dt.date(2026, 11, 24)
    assert eur.session_day(at(NEW_YORK, 2026, 11, 24, 17, 0)) == dt.date(2026, 11, 25)
    stock = TradingCalendar(AAPL)
    assert stock.session_day(at(NEW_YORK, 2026, 11, 24, 23, 59)) == dt.date(2026, 11, 24)
    assert stock.day_start(dt.date(2026, 11, 24)) == at(NEW_YORK, 2026, 11, 24, 0, 0)
    assert es.day_start(dt.date(2026, 11, 25)) == at(CHICAGO, 2026, 11, 24, 17, 0)


def test_day_lengths_follow_clock_changes():
    cal = TradingCalendar(AAPL)
    length = {d: cal.day_end(d) - cal.day_start(d)
              for d in (dt.date(2026, 3, 8), dt.date(2026, 3, 9), dt.date(2026, 11, 1))}
    assert length == {dt.date(2026, 3, 8): 23 * 3600, dt.date(2026, 3, 9): 86400,
                      dt.date(2026, 11, 1): 25 * 3600}


def test_hours_text_in_real_hours_mode():
    cal = TradingCalendar(AAPL, around_the_clock=False)
    trading, liquid = cal.hours_text(at(NEW_YORK, 2026, 11, 24, 10, 0))
    assert trading.split(";")[:2] == ["20261124:0400-20261124:2000",
                                      "20261125:0400-20261125:2000"]
    assert "20261128:CLOSED" in trading.split(";")
    assert liquid.split(";")[0] == "20261124:0930-20261124:1600"
    assert len(trading.split(";")) == 7


def test_hours_text_of_an_evening_session():
    cal = TradingCalendar(ES, around_the_clock=False)
    trading, liquid = cal.hours_text(at(CHICAGO, 2026, 11, 24, 10, 0), days=2)
    assert trading == "20261123:1800-20261124:1700;20261124:1800-20261125:1700"
    assert liquid == "20261124:0830-20261124:1500;20261125:0830-20261125:1500"


def test_hours_text_around_the_clock_covers_each_whole_day():
    cal = TradingCalendar(AAPL)
    trading, liquid = cal.hours_text(at(NEW_YORK, 2026, 11, 28, 10, 0), days=3)
    assert trading == liquid == ("20261128:0000-20261128:2359;20261129:0000-20261129:2359;"
                                 "20261130:0000-20261130:2359")
    pattern = re.compile(r"\d{8}:\d{4}-\d{8}:\d{4}")
    es_trading, _ = TradingCalendar(ES).hours_text(at(CHICAGO, 2026, 11, 28, 10, 0))
    assert all(pattern.fullmatch(part) for part in es_trading.split(";"))


def test_last_open_second_looks_back_over_the_weekend():
    cal = TradingCalendar(AAPL, around_the_clock=False)
    saturday = at(NEW_YORK, 2026, 11, 28, 12, 0)
    assert cal.last_open_second(saturday) == at(NEW_YORK, 2026, 11, 27, 20, 0) - 1
    assert cal.last_open_second(saturday, rth=True) == at(NEW_YORK, 2026, 11, 27, 16, 0) - 1
    tuesday = at(NEW_YORK, 2026, 11, 24, 12, 0, 0)
    assert cal.last_open_second(tuesday + 0.5) == tuesday
