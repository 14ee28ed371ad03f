"""The shortcuts on the tick-to-signal path give exactly what the plain code gives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from ibtrader.core.bars import BarAggregator, SessionClock, make_bar
from ibtrader.core.decisions import new_id
from ibtrader.core.market import Bar

# Days around DST changes (New York, London; Lord Howe moves by half an hour) and a plain
# stretch, crossed at irregular steps so every cached day is entered and left mid-bar.
ZONES = [("America/New_York", dt.time(9, 30)), ("Europe/London", None),
         ("Australia/Lord_Howe", dt.time(10, 0)), ("Asia/Kolkata", dt.time(9, 15)),
         ("UTC", None)]
SPANS = [(dt.datetime(2026, 3, 6, tzinfo=dt.UTC), 5),
         (dt.datetime(2026, 10, 23, tzinfo=dt.UTC), 12),
         (dt.datetime(2026, 4, 1, tzinfo=dt.UTC), 3)]
SIZES = (60, 300, 900, 3600, 86_400)


@pytest.mark.parametrize(("zone", "session_open"), ZONES)
def test_cached_session_day_gives_the_periods_of_a_fresh_clock(zone, session_open):
    clock = SessionClock(zone, session_open)
    rng = random.Random(zone)
    checked = 0
    for start, days in SPANS:
        t = start.timestamp()
        end = t + days * 86_400
        while t < end:
            for seconds in SIZES:
                fresh = SessionClock(zone, session_open).period(t, seconds)
                assert clock.period(t, seconds) == fresh, (zone, t, seconds)
            t += rng.choice((0.25, 59.75, 61.0, 899.0, 3_599.0, 5 * 3_600.0))
            checked += 1
    assert checked > 300


def test_a_new_york_hour_bar_after_the_spring_change_starts_on_the_local_hour():
    """Across the DST switch the cached offset must not survive: 10:00 EDT is 14:00 UTC."""
    clock = SessionClock("America/New_York")
    before = dt.datetime(2026, 3, 7, 15, 10, tzinfo=dt.UTC).timestamp()  # 10:10 EST
    after = dt.datetime(2026, 3, 9, 14, 10, tzinfo=dt.UTC).timestamp()  # 10:10 EDT
    assert clock.period(before, 3600)[0] == dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC).timestamp()
    assert clock.period(after, 3600)[0] == dt.datetime(2026, 3, 9, 14, tzinfo=dt.UTC).timestamp()


def test_fast_bar_is_the_same_frozen_bar():
    built = make_bar(60.0, 1.0, 2.0, 0.5, 1.5, 300.0, 7)
    plain = Bar(60.0, 1.0, 2.0, 0.5, 1.5, 300.0, count=7)
    assert type(built) is Bar
    assert dataclasses.astuple(built)[:6] == dataclasses.astuple(plain)[:6]
    assert built.count == 7 and built.wap != built.wap  # wap: NaN, as Bar's default
    assert built == plain  # the same NaN object as Bar's default: equal as dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.close = 3.0  # type: ignore[misc]


def test_closed_bars_from_the_aggregator_hold_every_field():
    agg = BarAggregator("AAPL", ("1 min",), time_zone="America/New_York")
    closed: list[Bar] = []
    agg.bar_closed += lambda _s, _size, bar: closed.append(bar)
    t0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC).timestamp()
    for i, price in enumerate((10.0, 11.0, 9.5, 10.5)):
        agg.on_trade(price, 100.0, t0 + i * 15)
    agg.on_trade(12.0, 100.0, t0 + 60)
    assert closed == [Bar(t0, 10.0, 11.0, 9.5, 10.5, 400.0, count=4)]


def test_ids_are_unique_and_sort_by_creation_time():
    ids = [new_id(1_700_000_000.0 + i / 1000) for i in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 26 and int(i, 16) >= 0 for i in ids)
    assert ids[::1000] == sorted(ids[::1000])


def test_a_forked_process_draws_other_ids():
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.apply(new_id, (1_700_000_000.0,))
    assert child[12:] != new_id(1_700_000_000.0)[12:]


def test_a_moved_decision_keeps_every_other_field():
    """moved() spells the fields out for speed: a field added to Decision must be carried."""
    from ibtrader.core.decisions import Decision, DecisionState

    changed = {"state", "updated", "reason", "refusal_code", "expires"}
    names = [f.name for f in dataclasses.fields(Decision)]
    values = {name: f"v-{name}" for name in names}  # a distinct value in every field
    values["state"] = DecisionState.PENDING
    pending = Decision(**values)
    accepted = pending.moved(DecisionState.ACCEPTED, 5.0)
    for name in names:
        if name not in changed:
            assert getattr(accepted, name) == getattr(pending, name), name
    assert accepted.state is DecisionState.ACCEPTED and accepted.updated == 5.0
    assert accepted.reason == "v-reason" and accepted.expires is None
