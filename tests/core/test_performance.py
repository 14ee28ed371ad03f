"""The day's numbers from hand-made fills and equity samples (core.performance)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ibtrader.core.broker import BrokerFill
from ibtrader.core.performance import (
    EquitySample,
    daily_performance,
    day_bounds,
    equity_curve,
    max_drawdown,
    next_close,
    parse_session_close,
    session_date,
    session_zone,
    trade_stats,
)

NY = session_zone("America/New_York")
DAY = dt.date(2026, 11, 27)  # a Friday, New York on EST (UTC-5)


def at(day: dt.date, hhmm: str) -> float:
    """Epoch seconds of a New York wall-clock time."""
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), NY).timestamp()


def fill(exec_id: str, symbol: str, side: str, qty: float, price: float, t: float,
         commission: float = 1.0) -> BrokerFill:
    return BrokerFill(exec_id, "ref", 1, 1, symbol, side, qty, price, t, commission)


YESTERDAY = DAY - dt.timedelta(days=1)
FILLS = [
    fill("y1", "AAPL", "BUY", 10, 100.0, at(YESTERDAY, "15:00")),  # cost 100.1 with commission
    fill("t1", "AAPL", "SELL", 10, 105.0, at(DAY, "10:00")),  # (105-100.1)*10 - 1 = +48
    fill("t2", "MSFT", "BUY", 5, 200.0, at(DAY, "11:00")),  # cost 200.2
    fill("t3", "MSFT", "SELL", 5, 190.0, at(DAY, "12:00"), math.nan),  # commission later
    fill("t3", "MSFT", "SELL", 5, 190.0, at(DAY, "12:00"), 1.0),  # (190-200.2)*5 - 1 = -52
    fill("t4", "TSLA", "BUY", 3, 50.0, at(DAY, "13:00")),  # still open at the close
    fill("n1", "TSLA", "SELL", 3, 60.0, at(DAY + dt.timedelta(days=1), "10:00")),  # tomorrow
]
CURVE = [100_000.0, 100_050.0, 99_990.0, 100_020.0, 99_950.0, 100_010.0]
SAMPLES = [EquitySample(at(YESTERDAY, "15:30"), 101_000.0, 0.0, 0.0)] + [
    EquitySample(at(DAY, f"{10 + i}:00"), equity, -4.0, 7.5 + i)
    for i, equity in enumerate(CURVE)]


def test_a_win_a_loss_and_an_open_position_make_the_days_row():
    row = daily_performance("DU1", DAY, NY, FILLS, SAMPLES, {}, now=123.0)
    assert row.id == "DU1:2026-11-27"
    assert row.trades == 2 and row.win_rate == 0.5  # AAPL closed +48, MSFT closed -52
    # realized by today's fills: AAPL's close realizes against yesterday's cost
    assert row.realized_pnl == pytest.approx(48.0 - 52.0)
    assert row.equity == 100_010.0 and row.unrealized_pnl == 12.5  # the last sample's
    assert row.max_drawdown == pytest.approx(100.0)  # 100,050 down to 99,950
    assert row.computed == 123.0
    assert row.values() == {
        "session_date": "2026-11-27", "account": "DU1", "equity": 100_010.0,
        "realized_pnl": row.realized_pnl, "unrealized_pnl": 12.5, "trades": 2,
        "win_rate": 0.5, "max_drawdown": row.max_drawdown, "computed": 123.0}


def test_the_next_day_sees_only_its_own_close():
    row = daily_performance("DU1", DAY + dt.timedelta(days=1), NY, FILLS, SAMPLES, {}, 0.0)
    # TSLA bought today at cost 50+1/3, sold tomorrow at 60 less 1 commission
    assert row.trades == 1 and row.win_rate == 1.0
    assert row.realized_pnl == pytest.approx((60.0 - (150.0 + 1.0) / 3) * 3 - 1.0)
    assert (row.equity, row.unrealized_pnl, row.max_drawdown) == (None, None, 0.0)


def test_the_session_date_is_new_yorks_not_utcs():
    late = at(DAY, "20:30")  # 01:30 UTC on the 28th
    fills = [fill("a", "X", "BUY", 1, 10.0, at(DAY, "19:00"), 0.0),
             fill("b", "X", "SELL", 1, 12.0, late, 0.0)]
    assert session_date(late, NY) == DAY
    row = daily_performance("DU1", DAY, NY, fills, [], {}, 0.0)
    assert (row.trades, row.realized_pnl) == (1, 2.0)
    assert daily_performance("DU1", DAY + dt.timedelta(days=1), NY, fills, [], {}, 0.0
                             ).trades == 0


def test_a_multiplier_scales_a_futures_round_trip():
    fills = [fill("a", "ES", "BUY", 1, 5000.0, at(DAY, "10:00"), 2.0),
             fill("b", "ES", "SELL", 1, 4990.0, at(DAY, "11:00"), 2.0)]
    row = daily_performance("DU1", DAY, NY, fills, [], {"ES": 50.0}, 0.0)
    assert row.realized_pnl == pytest.approx(-10 * 50 - 4.0)
    assert (row.trades, row.win_rate) == (1, 0.0)


def test_drawdown_of_a_known_curve():
    assert max_drawdown([100, 120, 90, 130, 125, 80, 140]) == 50.0  # 130 -> 80
    assert max_drawdown([100, 101, 102]) == 0.0
    assert max_drawdown([]) == 0.0
    assert max_drawdown([math.nan, 100, math.nan, 70]) == 30.0  # unknown points skipped


def test_the_curve_is_the_days_samples_in_time_order():
    shuffled = list(reversed(SAMPLES))
    assert equity_curve(shuffled, DAY, NY) == [(s.time, s.equity) for s in SAMPLES[1:]]


def test_trade_stats_count_flat_to_flat_with_cumulative_drawdown():
    stats = trade_stats(FILLS[:6], {})
    assert stats["closed_trades"] == 2 and stats["win_rate"] == 0.5
    assert stats["average_win"] == pytest.approx(48.0)
    assert stats["average_loss"] == pytest.approx(-52.0)
    assert stats["max_drawdown"] == pytest.approx(52.0)  # +48 then down to -4


def test_day_bounds_follow_the_clock_change():
    start, end = day_bounds(dt.date(2026, 11, 1), NY)  # DST ends: a 25-hour day
    assert end - start == 25 * 3600
    assert day_bounds(DAY, NY) == (at(DAY, "00:00"), at(DAY + dt.timedelta(days=1), "00:00"))


def test_the_next_close_is_today_before_it_and_tomorrow_after():
    assert next_close(at(DAY, "15:59"), "16:00", NY) == (DAY, at(DAY, "16:00"))
    tomorrow = DAY + dt.timedelta(days=1)
    assert next_close(at(DAY, "16:00"), "16:00", NY) == (tomorrow, at(tomorrow, "16:00"))


def test_bad_session_settings_say_what_is_wrong():
    assert parse_session_close(" 09:30 ") == "09:30"
    with pytest.raises(ValueError, match="HH:MM"):
        parse_session_close("4pm")
    with pytest.raises(ValueError, match="IANA time zone"):
        session_zone("Mars/Olympus")
