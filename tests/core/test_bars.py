"""The bar aggregator: periods in exchange time, forming bars, closing, 5-s bars, seeding."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from ibtrader.core.bars import BarAggregator, SessionClock, bench_aggregator
from ibtrader.core.market import Bar, Quote

NY = "America/New_York"
UTC = dt.UTC
OPEN = dt.time(9, 30)


def at(text: str) -> float:
    """Epoch seconds of an ISO time with its offset, e.g. "2026-03-06T09:47:10-05:00"."""
    return dt.datetime.fromisoformat(text).timestamp()


def day(text: str) -> float:
    """Midnight UTC of a date: how daily bars are labelled."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Recorder:
    def __init__(self, agg: BarAggregator) -> None:
        self.closed: list[tuple[str, Bar]] = []
        self.forming_updates = 0
        agg.bar_closed += lambda _symbol, size, bar: self.closed.append((size, bar))
        agg.forming_updated += self._formed

    def _formed(self, _agg: BarAggregator) -> None:
        self.forming_updates += 1

    def sizes(self) -> list[str]:
        return [size for size, _ in self.closed]


def quote(last: float, volume: float, t: float, last_size: float = 100.0) -> Quote:
    return Quote("AAPL", last - 0.01, last + 0.01, last, 5.0, 5.0, last_size, volume, t)


# ----- periods ----------------------------------------------------------------------------

def test_intraday_bars_start_on_the_new_york_clock_and_the_first_hour_at_the_open():
    agg = BarAggregator("AAPL", time_zone=NY, session_open=OPEN)
    agg.on_trade(190.0, 100, at("2026-03-06T09:47:10-05:00"))
    assert agg.forming("1 min").time == at("2026-03-06T09:47:00-05:00")
    assert agg.forming("5 mins").time == at("2026-03-06T09:45:00-05:00")
    assert agg.forming("15 mins").time == at("2026-03-06T09:45:00-05:00")
    # The hour bar holding the 09:30 open starts at the open, as IB's RTH hour bars do.
    assert agg.forming("1 hour").time == at("2026-03-06T09:30:00-05:00")
    assert agg.forming("1 day").time == day("2026-03-06")
    # It ends at 10:00 and the next one starts on the hour.
    agg.on_trade(190.5, 100, at("2026-03-06T10:00:00-05:00"))
    assert agg.forming("1 hour").time == at("2026-03-06T10:00:00-05:00")
    assert agg.closed("1 hour")[-1].time == at("2026-03-06T09:30:00-05:00")


def test_without_a_session_open_hour_bars_start_on_the_hour():
    agg = BarAggregator("ES", time_zone="America/Chicago")
    agg.on_trade(5000.0, 1, at("2026-03-06T09:47:10-06:00"))
    assert agg.forming("1 hour").time == at("2026-03-06T09:00:00-06:00")


def test_pre_market_hour_bar_ends_at_the_open():
    agg = BarAggregator("AAPL", ["1 hour"], time_zone=NY, session_open=OPEN)
    agg.on_trade(190.0, 100, at("2026-03-06T09:10:00-05:00"))
    agg.on_trade(190.2, 100, at("2026-03-06T09:30:00-05:00"))
    assert [b.time for b in agg.closed("1 hour")] == [at("2026-03-06T09:00:00-05:00")]
    assert agg.forming("1 hour").time == at("2026-03-06T09:30:00-05:00")


def test_dst_start_day_is_23_hours_and_the_open_moves_an_hour_in_utc():
    agg = BarAggregator("AAPL", ["1 hour", "1 day"], time_zone=NY, session_open=OPEN)
    rec = Recorder(agg)
    # Sunday 8 March 2026: clocks jump from 02:00 EST to 03:00 EDT.
    agg.on_trade(100.0, 1, at("2026-03-08T00:30:00-05:00"))
    agg.on_trade(101.0, 1, at("2026-03-08T23:59:59-04:00"))  # still the 8th, local time
    assert agg.forming("1 day").time == day("2026-03-08")
    assert rec.sizes().count("1 day") == 0
    agg.on_trade(102.0, 1, at("2026-03-09T00:00:00-04:00"))
    closed_day = agg.closed("1 day")[-1]
    assert (closed_day.time, closed_day.open, closed_day.close) == (day("2026-03-08"), 100, 101)
    assert agg.forming("1 day").time == day("2026-03-09")
    # Monday's open: 09:30 EDT is 13:30 UTC (it was 14:30 UTC the Friday before).
    agg.on_trade(103.0, 1, at("2026-03-09T09:31:00-04:00"))
    assert agg.forming("1 hour").time == dt.datetime(2026, 3, 9, 13, 30, tzinfo=UTC).timestamp()


def test_dst_end_day_is_25_hours():
    clock = SessionClock(NY)
    label, start, end = clock.period(at("2026-11-01T12:00:00-05:00"), 86_400)
    assert label == day("2026-11-01")
    assert end - start == 25 * 3600


def test_bad_inputs_get_specific_errors():
    with pytest.raises(ValueError, match="unsupported bar size '2 hours'"):
        BarAggregator("AAPL", ["2 hours"])
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        BarAggregator("AAPL", time_zone="Mars/Olympus")
    agg = BarAggregator("AAPL", ["1 min"])
    with pytest.raises(ValueError, match="no '5 mins' bars here"):
        agg.forming("5 mins")
    bars = [Bar(120.0, 1, 1, 1, 1, 1), Bar(60.0, 1, 1, 1, 1, 1)]
    with pytest.raises(ValueError, match="not in time order at 60"):
        agg.seed("1 min", bars, as_of=200.0)


# ----- forming and closing ----------------------------------------------------------------

def test_forming_bar_tracks_ohlcv_on_every_tick_and_closes_on_the_next_period():
    agg = BarAggregator("AAPL", ["1 min", "5 mins"], time_zone=NY)
    rec = Recorder(agg)
    t0 = at("2026-03-06T10:00:00-05:00")
    for i, (price, size) in enumerate([(10.0, 100), (10.5, 50), (9.8, 25), (10.1, 10)]):
        agg.on_trade(price, size, t0 + i)
        assert rec.forming_updates == i + 1
    assert agg.forming("1 min") == Bar(t0, 10.0, 10.5, 9.8, 10.1, 185, count=4)
    assert rec.closed == []
    agg.on_trade(10.2, 5, t0 + 60)  # next minute: the first bar is final
    assert rec.closed == [("1 min", Bar(t0, 10.0, 10.5, 9.8, 10.1, 185, count=4))]
    assert agg.forming("1 min") == Bar(t0 + 60, 10.2, 10.2, 10.2, 10.2, 5, count=1)
    assert agg.forming("5 mins") == Bar(t0, 10.0, 10.5, 9.8, 10.2, 190, count=5)


def test_a_quiet_period_makes_no_bar():
    agg = BarAggregator("AAPL", ["1 min"])
    agg.on_trade(10.0, 1, 600.0)
    agg.on_trade(11.0, 1, 600.0 + 3 * 60 + 5)
    assert [b.time for b in agg.closed("1 min")] == [600.0]
    assert agg.forming("1 min").time == 780.0


def test_timer_closes_a_quiet_symbols_bar_once():
    agg = BarAggregator("AAPL", ["1 min", "1 hour"])
    rec = Recorder(agg)
    agg.on_trade(10.0, 1, 3_600.0 + 30)
    assert agg.close_due(3_600.0 + 59.9) == 0
    assert agg.close_due(3_600.0 + 60) == 1
    assert rec.closed == [("1 min", Bar(3_600.0, 10, 10, 10, 10, 1, count=1))]
    assert agg.forming("1 min") is None
    assert agg.close_due(3_600.0 + 120) == 0  # nothing forming, nothing closes twice
    # A late 5-second bar of the closed minute is dropped; the hour bar still takes it.
    agg.on_realtime_bar(Bar(3_600.0 + 55, 10, 12, 9, 11, 7))
    assert agg.forming("1 min") is None and agg.late_bars == 1
    assert agg.forming("1 hour").high == 12
    agg.on_trade(10.5, 2, 3_600.0 + 61)
    assert agg.forming("1 min").time == 3_660.0
    assert rec.sizes() == ["1 min"]


# ----- quotes -----------------------------------------------------------------------------

def test_trade_size_comes_from_the_cumulative_volume():
    agg = BarAggregator("AAPL", ["1 min"])
    t = 6_000.0
    assert agg.on_quote(quote(10.0, 1_000, t)) is True  # sets the baseline: the price counts
    assert agg.forming("1 min").volume == 0
    # Three trades behind one snapshot: last_size says 100, the volume grew by 300.
    assert agg.on_quote(quote(10.2, 1_300, t + 1, last_size=100)) is True
    assert agg.forming("1 min").volume == 300
    # A re-sent quote (only the bid moved) is not a trade.
    assert agg.on_quote(quote(10.2, 1_300, t + 2)) is False
    # The last price moved before its volume arrived: a price update now, volume next.
    assert agg.on_quote(quote(10.3, 1_300, t + 3)) is True
    assert agg.on_quote(quote(10.3, 1_350, t + 4)) is True
    bar = agg.forming("1 min")
    assert (bar.high, bar.close, bar.volume) == (10.3, 10.3, 350)
    # A new day restarts the count: all of the new value is new volume.
    agg.on_quote(quote(10.4, 40, t + 5))
    assert agg.forming("1 min").volume == 390


def test_currencies_use_the_midpoint():
    agg = BarAggregator("EURUSD", ["1 min"], price_from_mid=True)
    fx = Quote("EURUSD", 1.1000, 1.1002, math.nan, 1e6, 1e6, math.nan, math.nan, 6_000.0)
    assert agg.on_quote(fx) is True
    assert agg.forming("1 min").close == pytest.approx(1.1001)


# ----- 5-second bars ----------------------------------------------------------------------

def test_five_second_bars_merge_with_ticks_without_counting_volume_twice():
    agg = BarAggregator("AAPL", ["1 min"], volume_from_bars=True)
    t0 = 6_000.0
    agg.on_trade(10.0, 100, t0 + 1)
    agg.on_trade(10.4, 100, t0 + 3)
    agg.on_realtime_bar(Bar(t0, 10.0, 10.5, 9.9, 10.4, 200, count=2))  # covers both ticks
    agg.on_trade(10.3, 50, t0 + 6)
    agg.on_realtime_bar(Bar(t0 + 5, 10.4, 10.4, 10.2, 10.3, 50, count=1))
    bar = agg.forming("1 min")
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (10.0, 10.5, 9.9, 10.3, 250)
    # A tick newer than the 5-s bar keeps its close; the bar's older close does not win.
    agg.on_trade(10.6, 10, t0 + 11)
    agg.on_realtime_bar(Bar(t0 + 5, 10.4, 10.4, 10.2, 10.3, 0))
    assert agg.forming("1 min").close == 10.6


def test_five_second_bars_alone_build_and_close_minute_bars():
    agg = BarAggregator("AAPL", ["1 min"], volume_from_bars=True)
    rec = Recorder(agg)
    for i in range(13):
        agg.on_realtime_bar(Bar(6_000.0 + 5 * i, 10 + i, 10.5 + i, 9.5 + i, 10.2 + i, 10))
    assert rec.closed == [("1 min", Bar(6_000.0, 10, 21.5, 9.5, 21.2, 120, count=0))]
    assert agg.forming("1 min").time == 6_060.0


# ----- seeding ----------------------------------------------------------------------------

def test_seeded_history_is_continued_without_a_gap_or_a_duplicate():
    agg = BarAggregator("AAPL", ["1 min"], volume_from_bars=True)
    rec = Recorder(agg)
    history = [Bar(6_000.0 + 60 * i, 10, 11, 9, 10.5, 100) for i in range(3)]
    partial = Bar(6_180.0, 10.5, 10.8, 10.4, 10.7, 40, count=3)  # fetched at 6_200
    agg.seed("1 min", [*history, partial], as_of=6_200.0)
    assert agg.closed("1 min") == history
    assert agg.forming("1 min") == partial
    # A 5-s bar the history already holds is skipped; the next one continues the bar.
    agg.on_realtime_bar(Bar(6_190.0, 10.7, 10.9, 10.7, 10.9, 999))
    agg.on_realtime_bar(Bar(6_200.0, 10.7, 11.2, 10.6, 11.0, 20))
    assert agg.forming("1 min") == Bar(6_180.0, 10.5, 11.2, 10.4, 11.0, 60, count=3)
    agg.on_trade(11.1, 0, 6_241.0)
    assert [b.time for b in agg.closed("1 min")] == [6_000.0, 6_060.0, 6_120.0, 6_180.0]
    assert rec.closed == [("1 min", Bar(6_180.0, 10.5, 11.2, 10.4, 11.0, 60, count=3))]


def test_seeded_history_whose_last_bar_is_complete_starts_fresh():
    agg = BarAggregator("AAPL", ["1 day"], time_zone=NY)
    days = [Bar(day("2026-03-04"), 1, 1, 1, 1, 1), Bar(day("2026-03-05"), 2, 2, 2, 2, 2)]
    agg.seed("1 day", days, as_of=at("2026-03-06T08:00:00-05:00"))
    assert agg.closed("1 day") == days and agg.forming("1 day") is None
    agg.on_trade(3.0, 1, at("2026-03-06T09:30:00-05:00"))
    assert agg.forming("1 day").time == day("2026-03-06")
    assert agg.closed("1 day") == days


def test_benchmark_reports_nanoseconds_per_tick():
    ns = bench_aggregator(20_000)
    assert 0 < ns < 20_000  # the target is below 2,000 ns; this guards against a collapse
