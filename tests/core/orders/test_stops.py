"""Stop management: break-even after +1R and the ATR trail, for longs and shorts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibtrader.core.orders.pricing import add_ticks, round_to_tick
from ibtrader.core.orders.stops import StopRules, breakeven_level, next_stop

NAN = math.nan
BE_ONLY = StopRules(breakeven_r=1.0)


def long_stop(current: float, high: float, last: float, atr: float = NAN,
              rules: StopRules = BE_ONLY, entry: float = 100.0,
              initial: float = 98.0) -> float | None:
    return next_stop("long", entry, initial, current, high, NAN, last, atr, rules, 0.01)


def short_stop(current: float, low: float, last: float, atr: float = NAN,
               rules: StopRules = BE_ONLY, entry: float = 100.0,
               initial: float = 102.0) -> float | None:
    return next_stop("short", entry, initial, current, NAN, low, last, atr, rules, 0.01)


def test_long_moves_to_break_even_only_once_price_has_gone_one_r() -> None:
    assert long_stop(98.0, high=101.99, last=101.5) is None
    assert long_stop(98.0, high=102.00, last=101.8) == 100.00
    # already there: nothing to do
    assert long_stop(100.0, high=103.0, last=102.5) is None


def test_break_even_buffer_and_off_grid_entries_never_lock_in_a_loss() -> None:
    rules = StopRules(breakeven_r=1.0, breakeven_buffer_ticks=2)
    assert long_stop(98.0, high=102.0, last=102.0, rules=rules) == 100.02
    assert short_stop(102.0, low=98.0, last=98.0, rules=rules) == 99.98
    # an average fill of 100.005: break-even rounds toward profit
    assert breakeven_level("long", 100.005, 0, 0.01) == 100.01
    assert breakeven_level("short", 100.005, 0, 0.01) == 100.00
    assert long_stop(98.0, high=103, last=103, entry=100.005, initial=98.0) == 100.01


def test_break_even_trigger_is_configurable_in_r() -> None:
    rules = StopRules(breakeven_r=1.5)
    assert long_stop(98.0, high=102.99, last=102.9, rules=rules) is None
    assert long_stop(98.0, high=103.00, last=102.9, rules=rules) == 100.0


def test_atr_trail_follows_the_high_and_never_moves_back() -> None:
    rules = StopRules(breakeven_r=1.0, trail_atr_multiple=2.0)
    stop = long_stop(98.0, high=105.0, last=104.8, atr=1.0, rules=rules)
    assert stop == 103.0  # above break-even: the trail wins
    assert long_stop(103.0, high=104.0, last=103.9, atr=1.0, rules=rules) is None
    assert long_stop(103.0, high=106.0, last=105.9, atr=1.5, rules=rules) is None  # 103 again
    assert long_stop(103.0, high=106.0, last=105.9, atr=1.25, rules=rules) == 103.5


def test_trail_is_rounded_away_from_the_market() -> None:
    rules = StopRules(breakeven_r=0, trail_atr_multiple=2.0)
    assert long_stop(98.0, high=105.003, last=105.0, atr=1.0, rules=rules) == 103.00
    assert short_stop(102.0, low=94.997, last=95.0, atr=1.0, rules=rules) == 97.00


def test_short_mirrors_long() -> None:
    rules = StopRules(breakeven_r=1.0, trail_atr_multiple=2.0)
    assert short_stop(102.0, low=98.01, last=98.5, rules=rules) is None
    assert short_stop(102.0, low=98.0, last=98.5, rules=rules) == 100.0
    assert short_stop(100.0, low=95.0, last=95.2, atr=1.0, rules=rules) == 97.0
    assert short_stop(97.0, low=96.0, last=96.5, atr=1.0, rules=rules) is None


def test_the_stop_stays_inside_the_market() -> None:
    rules = StopRules(breakeven_r=1.0, trail_atr_multiple=2.0)
    # the bar reached 110 but price is back at 107.5: 108 would fire at once
    assert long_stop(100.0, high=110.0, last=107.5, atr=1.0, rules=rules) == 107.49
    assert short_stop(100.0, low=90.0, last=92.5, atr=1.0, rules=rules) == 92.51
    # +1R hit but price is back below the entry: as close to break-even as the market allows
    assert long_stop(98.0, high=102.0, last=99.0) == 98.99
    assert long_stop(98.99, high=102.0, last=98.5) is None


def test_trail_after_break_even_waits_for_one_r() -> None:
    rules = StopRules(breakeven_r=1.0, trail_atr_multiple=1.0, trail_after_breakeven=True)
    assert long_stop(98.0, high=101.5, last=101.5, atr=0.5, rules=rules) is None
    assert long_stop(98.0, high=102.5, last=102.5, atr=0.5, rules=rules) == 102.0
    # once at break-even, the trail works without a new +1R
    assert long_stop(100.0, high=101.8, last=101.7, atr=0.5, rules=rules) == 101.3


def test_no_atr_yet_means_no_trail_but_break_even_still_works() -> None:
    rules = StopRules(breakeven_r=1.0, trail_atr_multiple=2.0)
    assert long_stop(98.0, high=105.0, last=105.0, atr=NAN, rules=rules) == 100.0


def test_futures_ticks() -> None:
    rules = StopRules(breakeven_r=1.0, breakeven_buffer_ticks=1, trail_atr_multiple=1.5)
    stop = next_stop("BUY", 5000.0, 4990.0, 4990.0, 5012.0, NAN, 5011.0, 3.3, rules, 0.25)
    assert stop == 5007.0  # 5012 - 4.95 = 5007.05, down to the quarter


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"side": "flat"}, "position side must be long or short"),
    ({"initial_stop": 101.0}, "must be below the entry 100.0 for a long"),
    ({"side": "short"}, "must be above the entry 100.0 for a short"),
    ({"atr": -1.0}, "ATR cannot be negative"),
    ({"entry": NAN}, "entry must be a positive price"),
    ({"current_stop": 0.0}, "current stop must be a positive price"),
    ({"tick": 0.0}, "tick size must be a positive number"),
])
def test_bad_input_gets_a_specific_error(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"side": "long", "entry": 100.0, "initial_stop": 98.0,
                               "current_stop": 98.0, "high": 101.0, "low": 99.0,
                               "last": 100.0, "atr": 1.0, "rules": BE_ONLY, "tick": 0.01}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        next_stop(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"breakeven_r": -1}, "break-even trigger must be 0 or more R"),
    ({"breakeven_buffer_ticks": 1.5}, "whole number of ticks"),
    ({"trail_atr_multiple": NAN}, "ATR trail multiple must be 0 or more"),
])
def test_bad_rules_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StopRules(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from(["long", "short"]),
       walk=st.lists(st.integers(-30, 30), min_size=1, max_size=80),
       atr_ticks=st.integers(1, 200), multiple=st.sampled_from([0.0, 1.0, 2.5]),
       buffer=st.integers(0, 5))
def test_stop_only_tightens_stays_on_grid_and_inside_the_market(
        side: str, walk: list[int], atr_ticks: int, multiple: float, buffer: int) -> None:
    sign = 1 if side == "long" else -1
    tick = 0.01
    entry = 100.0
    initial = add_ticks(entry, -sign * 200, tick)
    rules = StopRules(breakeven_r=1.0, breakeven_buffer_ticks=buffer,
                      trail_atr_multiple=multiple)
    stop, last = initial, entry
    for move in walk:
        prev = last
        last = max(add_ticks(last, move, tick), 1.0)
        high, low = max(prev, last), min(prev, last)
        new = next_stop(side, entry, initial, stop, high, low, last, atr_ticks * tick,
                        rules, tick)
        if new is None:
            continue
        assert sign * (new - stop) > 0  # only in the position's favour
        assert sign * (last - new) > 0  # on the right side of the market
        assert new == round_to_tick(new, tick)
        stop = new
