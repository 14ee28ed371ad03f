"""The price path: reproducible, on the tick grid, and bars that aggregate it exactly."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import numpy as np
import pytest

from tests.sim.market.conftest import AAPL, ES, EUR, NOW, SATURDAY_NOON_NY, UNIVERSE, model

T0 = int(NOW)


def test_same_seed_same_seconds_whatever_the_query_order():
    first, second = model(), model(cache_days=1)
    spans = [(T0 - 3 * 86400, T0 - 3 * 86400 + 500), (T0 - 200, T0 + 100),
             (T0 - 86400 - 50, T0 - 86400 + 50)]
    forward = [first.seconds(a, b) for a, b in spans]
    backward = [second.seconds(a, b) for a, b in reversed(spans)][::-1]
    for (p1, v1), (p2, v2) in zip(forward, backward, strict=True):
        assert np.array_equal(p1, p2) and np.array_equal(v1, v2)
    assert first.last_at(NOW) == second.last_at(NOW) == first.last_at(T0 + 0.99)


def test_different_seeds_and_symbols_differ():
    a, b = model(seed=1).seconds(T0, T0 + 600)[0], model(seed=2).seconds(T0, T0 + 600)[0]
    assert np.mean(a != b) > 0.9
    msft = model(UNIVERSE.by_symbol("MSFT")[0], seed=1).seconds(T0, T0 + 600)[0]
    assert np.corrcoef(np.diff(a), np.diff(msft))[0, 1] < 0.2


@pytest.mark.parametrize(("instrument", "ticks_per_unit"), [(AAPL, 100), (EUR, 20000),
                                                            (ES, 4)])
def test_prices_are_positive_and_on_the_tick_grid(instrument, ticks_per_unit):
    prices, volumes = model(instrument).seconds(T0 - 86400, T0 + 3600)
    assert len(prices) == 86400 + 3600
    assert (prices > 0).all() and (volumes >= 1).all()
    units = prices * ticks_per_unit
    assert np.allclose(units, np.round(units), atol=1e-6)
    assert all(instrument.round_to_tick(p) == p for p in prices[:: 997].tolist())


def test_the_path_is_continuous_across_days():
    m = model()
    start = m.calendar.day_start(m.calendar.session_day(NOW))
    prices, _ = m.seconds(start - 5, start + 5)
    assert np.max(np.abs(np.diff(np.log(prices)))) < 0.002


def test_bars_are_exact_aggregations_of_the_seconds():
    m = model()
    start, end = T0 - T0 % 3600 - 3 * 3600, T0 - T0 % 3600
    prices, volumes = m.seconds(start, end)
    minutes = m.bars(start, end, 60)
    assert len(minutes) == 180
    for i, bar in enumerate(minutes[:30]):
        p, v = prices[i * 60:(i + 1) * 60], volumes[i * 60:(i + 1) * 60]
        assert bar.time == start + 60 * i
        assert (bar.open, bar.high, bar.low, bar.close) == (p[0], p.max(), p.min(), p[-1])
        assert bar.volume == v.sum()
        assert bar.wap == pytest.approx(float((p * v).sum() / v.sum()))
    for small, big in ((5, 60), (60, 3600), (300, 3600)):
        assert_rollup(m.bars(start, end, small), m.bars(start, end, big), big)


def assert_rollup(small: list, big: list, size: int) -> None:
    assert big and len(small) == len(big) * (size // (small[1].time - small[0].time))
    for bar in big:
        parts = [s for s in small if bar.time <= s.time < bar.time + size]
        assert bar.open == parts[0].open and bar.close == parts[-1].close
        assert bar.high == max(s.high for s in parts) and bar.low == min(s.low for s in parts)
        assert bar.volume == sum(s.volume for s in parts)
        assert bar.count == sum(s.count for s in parts)
        assert bar.wap == pytest.approx(sum(s.wap * s.volume for s in parts) / bar.volume)


def test_daily_bars_aggregate_the_sessions_hours():
    m = model()
    day = m.calendar.session_day(NOW - 86400)
    start, end = m.calendar.day_start(day), m.calendar.day_end(day)
    [daily] = m.bars(start, end, 86400)
    hours = m.bars(start, end, 3600)
    assert daily.time == start and len(hours) == 24
    assert daily.high == max(h.high for h in hours) and daily.low == min(h.low for h in hours)
    assert (daily.open, daily.close) == (hours[0].open, hours[-1].close)
    assert daily.volume == sum(h.volume for h in hours)


def test_the_forming_bar_ends_at_the_live_price():
    m = model()
    end = T0 + 1  # includes the second in progress, T0
    bars = m.bars(T0 - 3600, end, 300)
    last = bars[-1]
    assert last.time == T0 - T0 % 300
    assert last.close == m.last_at(NOW) == m.last_at(end - 1)
    assert last.volume == m.seconds(last.time, end)[1].sum()
    [today] = m.bars(m.calendar.day_start(m.calendar.session_day(NOW)), end, 86400)
    assert today.close == m.last_at(NOW)


def test_quotes_straddle_the_last_price_on_the_tick_grid():
    m = model()
    for k in range(300):
        q = m.quote_at(NOW + k * 0.1)
        assert 0 < q.bid < q.ask and q.bid <= q.last <= q.ask
        assert AAPL.round_to_tick(q.bid) == q.bid and AAPL.round_to_tick(q.ask) == q.ask
        assert round(q.ask - q.bid, 6) in (0.01, 0.02, 0.03)
        assert q.bid_size % 100 == 0 and q.ask_size % 100 == 0 and q.bid_size > 0
        assert q.last == m.last_at(q.time)


def test_quotes_change_within_a_second_and_are_reproducible():
    m, again = model(), model()
    within = [m.quote_at(T0 + k / 10) for k in range(10)]
    assert len({(q.bid, q.ask, q.bid_size, q.ask_size) for q in within}) >= 3
    assert {q.last for q in within} == {m.last_at(T0)}
    assert within == [again.quote_at(T0 + k / 10) for k in range(10)]


@pytest.mark.parametrize(("instrument", "lot"), [(EUR, 100_000), (ES, 1)])
def test_quote_sizes_in_lots(instrument, lot):
    q = model(instrument).quote_at(NOW)
    assert q.bid_size % lot == 0 and q.ask_size % lot == 0 and q.bid < q.ask
    assert instrument.round_to_tick(q.bid) == q.bid


def test_quote_day_figures_match_the_daily_bars():
    m = model()
    q = m.quote_at(NOW)
    day = m.calendar.session_day(NOW)
    start = m.calendar.day_start(day)
    yesterday, today = m.bars(start - 86400, T0 + 1, 86400)
    assert (q.day_open, q.day_high, q.day_low) == (today.open, today.high, today.low)
    assert q.day_volume == today.volume
    assert q.prev_close == yesterday.close


def test_real_hours_weekend_freezes_the_quote_and_has_no_bars():
    m = model(around_the_clock=False)
    q = m.quote_at(SATURDAY_NOON_NY)
    friday_close = SATURDAY_NOON_NY - 16 * 3600 - 1  # Friday 19:59:59 New York
    assert q.last == m.last_at(friday_close)
    later = m.quote_at(SATURDAY_NOON_NY + 3600.5)
    assert replace(later, time=q.time) == q
    assert m.bars(int(SATURDAY_NOON_NY) - 3600, int(SATURDAY_NOON_NY) + 3600, 60) == []
    week = m.bars(int(SATURDAY_NOON_NY) - 6 * 86400, int(SATURDAY_NOON_NY) + 86400, 86400)
    assert len(week) == 5


def test_regular_hours_bars_cover_only_the_regular_session():
    m = model(around_the_clock=False)
    day = m.calendar.session_day(NOW)
    start = m.calendar.day_start(day)
    hours = m.bars(start, start + 86400, 3600, rth=True)
    # 09:30 (a half hour) then 10:00 ... 15:00, New York
    assert [h.time - start for h in hours] == [34200] + [36000 + 3600 * i for i in range(6)]
    [daily] = m.bars(start, start + 86400, 86400, rth=True)
    assert daily.open == hours[0].open and daily.close == hours[-1].close
    assert daily.high == max(h.high for h in hours)
    assert daily.volume == sum(h.volume for h in hours)
    [extended] = m.bars(start, start + 86400, 86400)
    assert extended.volume > daily.volume


def test_midpoint_bid_and_ask_bars():
    m = model()
    start, end = T0 - 3600, T0
    mids, bids, asks = (m.bars(start, end, 300, what=w) for w in ("MIDPOINT", "BID", "ASK"))
    for mid, bid, ask in zip(mids, bids, asks, strict=True):
        assert bid.low < mid.low < ask.low and bid.high < mid.high < ask.high
        assert mid.volume == -1 and mid.count == -1
    both = m.bars(start, end, 300, what="BID_ASK")
    for pair, bid, ask in zip(both, bids, asks, strict=True):
        assert pair.low == bid.low and pair.high == ask.high
        assert bid.low <= pair.open <= bid.high and ask.low <= pair.close <= ask.high


def test_volume_follows_the_intraday_u_shape():
    m = model(around_the_clock=False)
    monday = m.calendar.session_day(NOW) - dt.timedelta(days=2)
    by_offset: dict[int, list[float]] = {}
    for k in range(5):
        start = m.calendar.day_start(monday + dt.timedelta(days=k))
        for bar in m.bars(start, start + 86400, 60):
            by_offset.setdefault(bar.time - start, []).append(bar.volume)

    def average(lo_hour: float, hi_hour: float) -> float:
        return float(np.mean([v for t, values in by_offset.items()
                              if lo_hour * 3600 <= t < hi_hour * 3600 for v in values]))

    opening, lunch, closing = average(9.5, 10), average(12, 13.5), average(15.5, 16)
    premarket = average(4, 9.5)
    assert opening > 1.5 * lunch and closing > 1.5 * lunch and lunch > 1.2 * premarket


def test_intraday_volatility_clusters():
    m = model()
    prices, _ = m.seconds(T0 - 5 * 86400, T0)
    minute_returns = np.diff(np.log(prices[::60]))
    size = np.abs(minute_returns)
    autocorrelation = np.corrcoef(size[:-1], size[1:])[0, 1]
    assert autocorrelation > 0.1


def test_generating_a_day_is_fast():
    m = model()
    m.last_at(NOW)  # the daily process, once per model
    began = time.perf_counter()
    m.last_at(NOW - 10 * 86400)
    assert time.perf_counter() - began < 0.05


def test_a_month_of_minute_bars_is_fast():
    m = model()
    began = time.perf_counter()
    bars = m.bars(T0 - 30 * 86400, T0 + 1, 60)
    assert len(bars) == 30 * 1440 + 1
    assert time.perf_counter() - began < 2.0  # typically ~0.15 s


def test_live_quotes_and_bid_ask_history_agree():
    m = model()
    bids = m.bars(T0 - 120, T0, 1, what="BID")
    asks = m.bars(T0 - 120, T0, 1, what="ASK")
    for bid, ask in zip(bids, asks, strict=True):
        q = m.quote_at(bid.time)
        assert (q.bid, q.ask) == (bid.close, ask.close)


def test_a_penny_stock_quotes_in_hundredths_of_a_cent():
    penny = replace(AAPL, con_id=1, symbol="PENNY", local_symbol="PENNY", start_price=0.05,
                    annual_vol=0.3)
    m = model(penny)
    prices, _ = m.seconds(T0 - 3600, T0)
    assert (prices >= 0.0001).all() and (prices < 1).all()
    units = prices * 10_000
    assert np.allclose(units, np.round(units), atol=1e-6)
    for k in range(50):
        q = m.quote_at(NOW + k * 0.1)
        assert 0 < q.bid < q.ask and penny.round_to_tick(q.bid) == q.bid
        assert round(q.ask - q.bid, 8) in (0.0001, 0.0002, 0.0003)
