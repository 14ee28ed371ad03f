"""Limit-price policies and the chase: the prices a trader's order would really carry."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibtrader.config import ConfigErrors, load_settings
from ibtrader.core.market import Quote
from ibtrader.core.orders.pricing import (
    ChaseAction,
    ChaseRule,
    ChaseState,
    CrossedQuote,
    MissingPrice,
    PolicyKind,
    PricePolicy,
    PricingError,
    add_ticks,
    chase_step,
    parse_chase,
    parse_policy,
    round_to_tick,
)

NAN = math.nan


def quote(bid: float = NAN, ask: float = NAN, last: float = NAN, symbol: str = "AAPL",
          time: float = 0.0) -> Quote:
    return Quote(symbol, bid, ask, last, 100, 100, 10, 1000, time)


# ----- the tick grid ---------------------------------------------------------------------------

def test_rounding_gives_the_decimal_price_and_respects_direction() -> None:
    assert round_to_tick(101.014, 0.01, "down") == 101.01
    assert round_to_tick(101.011, 0.01, "up") == 101.02
    assert round_to_tick(101.015, 0.01, "nearest") in (101.01, 101.02)
    # a price on the grid (within float noise) stays there whatever the direction
    assert round_to_tick(0.1 + 0.2, 0.1, "down") == 0.3
    assert round_to_tick(0.1 + 0.2, 0.1, "up") == 0.3
    assert round_to_tick(5001.3, 0.25, "down") == 5001.25
    assert round_to_tick(1.08437, 0.00005, "up") == 1.0844


def test_many_tick_steps_never_drift_off_the_grid() -> None:
    price = 100.0
    for _ in range(1000):
        price = add_ticks(price, 1, 0.01)
    assert price == 110.0
    assert add_ticks(1.0844, -3, 0.00005) == 1.08425


@pytest.mark.parametrize("tick", [0, -0.01, NAN, math.inf])
def test_a_bad_tick_size_is_refused(tick: float) -> None:
    with pytest.raises(ValueError, match="tick size must be a positive number"):
        PricePolicy(PolicyKind.JOIN).price("BUY", quote(100, 100.02), tick)


# ----- policies --------------------------------------------------------------------------------

def test_join_takes_our_side_of_the_book() -> None:
    q = quote(bid=100.00, ask=100.03)
    join = parse_policy("join")
    assert join.price("BUY", q, 0.01) == 100.00
    assert join.price("sell", q, 0.01) == 100.03


def test_mid_rounds_toward_the_passive_side() -> None:
    q = quote(bid=100.00, ask=100.03)  # mid 100.015
    mid = parse_policy("mid")
    assert mid.price("BUY", q, 0.01) == 100.01
    assert mid.price("SELL", q, 0.01) == 100.02
    even = quote(bid=100.00, ask=100.02)
    assert mid.price("BUY", even, 0.01) == mid.price("SELL", even, 0.01) == 100.01
    # a locked book is still a price
    assert mid.price("BUY", quote(bid=50.0, ask=50.0), 0.01) == 50.0


def test_marketable_crosses_the_spread_by_n_ticks() -> None:
    q = quote(bid=5000.00, ask=5000.25, symbol="ES")
    assert parse_policy("marketable:2").price("BUY", q, 0.25) == 5000.75
    assert parse_policy("marketable:2").price("SELL", q, 0.25) == 4999.50
    assert parse_policy("marketable").price("BUY", q, 0.25) == 5000.25


def test_last_plus_n_is_more_aggressive_for_either_side() -> None:
    q = quote(bid=99.98, ask=100.02, last=100.00)
    assert parse_policy("last:-1").price("BUY", q, 0.01) == 99.99
    assert parse_policy("last:-1").price("SELL", q, 0.01) == 100.01
    assert parse_policy("last+2").price("BUY", q, 0.01) == 100.02
    assert parse_policy("last").price("SELL", q, 0.01) == 100.00


def test_fx_prices_use_the_pair_tick() -> None:
    q = quote(bid=1.08430, ask=1.08445, symbol="EURUSD")
    assert parse_policy("mid").price("BUY", q, 0.00005) == 1.08435
    assert parse_policy("mid").price("SELL", q, 0.00005) == 1.0844
    assert parse_policy("marketable:1").price("BUY", q, 0.00005) == 1.0845


@pytest.mark.parametrize(("text", "side", "q", "needs"), [
    ("join", "BUY", quote(ask=100.0), "bid"),
    ("join", "SELL", quote(bid=100.0), "ask"),
    ("join", "BUY", quote(bid=0.0, ask=100.0), "bid"),  # 0 from a feed means none
    ("mid", "BUY", quote(bid=100.0), "ask"),
    ("marketable:1", "BUY", quote(bid=100.0), "ask"),
    ("marketable:1", "SELL", quote(ask=100.0), "bid"),
    ("last:0", "BUY", quote(bid=100.0, ask=100.01), "last"),
])
def test_a_missing_price_is_named(text: str, side: str, q: Quote, needs: str) -> None:
    with pytest.raises(MissingPrice, match=f"AAPL: no {needs}"):
        parse_policy(text).price(side, q, 0.01)


def test_a_one_sided_book_still_prices_the_side_it_has() -> None:
    assert parse_policy("join").price("BUY", quote(bid=100.0), 0.01) == 100.0
    assert parse_policy("marketable:1").price("BUY", quote(ask=100.0), 0.01) == 100.01


@pytest.mark.parametrize("text", ["join", "mid", "marketable:1"])
def test_a_crossed_book_is_refused(text: str) -> None:
    with pytest.raises(CrossedQuote, match=r"bid 100\.05 above ask 100\.0"):
        parse_policy(text).price("BUY", quote(bid=100.05, ask=100.00), 0.01)


def test_a_price_at_or_below_zero_is_refused() -> None:
    with pytest.raises(PricingError, match="not above zero"):
        parse_policy("marketable:5").price("SELL", quote(bid=0.03, ask=0.04), 0.01)


@pytest.mark.parametrize(("text", "message"), [
    ("best", "unknown price policy 'best'"),
    ("marketable:x", "'x' is not a whole number of ticks"),
    ("marketable:-1", "its ticks must be 0 or more"),
    ("join:2", "join takes no tick offset"),
    ("", "unknown price policy"),
])
def test_bad_policy_text_gets_a_specific_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(text)


@pytest.mark.parametrize("text", ["join", "mid", "marketable:3", "last:-2", "last:1"])
def test_policy_text_round_trips(text: str) -> None:
    assert str(parse_policy(text)) == text
    assert parse_policy(f" {text.upper()} ") == parse_policy(text)


@settings(max_examples=300, deadline=None)
@given(bid_ticks=st.integers(4, 100_000), spread=st.integers(0, 50),
       side=st.sampled_from(["BUY", "SELL"]), tick=st.sampled_from([0.01, 0.25, 0.00005]),
       text=st.sampled_from(["join", "mid", "marketable:0", "marketable:3"]))
def test_book_policies_stay_on_the_grid_and_on_the_right_side(
        bid_ticks: int, spread: int, side: str, tick: float, text: str) -> None:
    bid = add_ticks(0.0, bid_ticks, tick)
    ask = add_ticks(bid, spread, tick)
    price = parse_policy(text).price(side, quote(bid, ask), tick)
    assert price == round_to_tick(price, tick)
    if text in ("join", "mid"):  # passive: never crosses the spread
        assert bid <= price <= ask
    else:  # marketable: at least reaches the far side
        assert (price >= ask) if side == "BUY" else (price <= bid)


# ----- the chase -------------------------------------------------------------------------------

def run_chase(rule: ChaseRule, state: ChaseState, q: Quote, until: float,
              tick: float) -> list[tuple[float, ChaseAction, float]]:
    """Call the step function once a second, as a timer would; return what happened."""
    seen: list[tuple[float, ChaseAction, float]] = []
    now = state.placed_at
    while now <= until:
        step = chase_step(rule, state, q, now, tick)
        state = step.state
        if step.action is not ChaseAction.WAIT:
            seen.append((now, step.action, step.price))
            if step.action in (ChaseAction.CANCEL, ChaseAction.MARKET):
                break
        now += 1
    return seen


def test_chase_steps_toward_the_ask_until_the_bound_then_goes_to_market() -> None:
    rule = parse_chase("5:1:3:market")
    state = ChaseState.start("BUY", 100.00, now=1000.0)
    seen = run_chase(rule, state, quote(bid=100.00, ask=100.10), until=1100, tick=0.01)
    assert [(t, a.value) for t, a, _ in seen] == [
        (1005, "reprice"), (1010, "reprice"), (1015, "reprice"), (1020, "market")]
    assert [p for _, a, p in seen if a is ChaseAction.REPRICE] == [100.01, 100.02, 100.03]


def test_chase_for_a_sell_steps_down_and_cancels_at_the_bound() -> None:
    rule = ChaseRule(every_seconds=2, ticks=2, max_slippage=5, then="cancel")
    state = ChaseState.start("SELL", 5000.00, now=0.0)
    seen = run_chase(rule, state, quote(bid=4995.00, ask=5000.00, symbol="ES"), 100, 0.25)
    prices = [p for _, a, p in seen if a is ChaseAction.REPRICE]
    # 5 ticks of 0.25 below 5000: two steps of 2 ticks, then the last tick up to the bound
    assert prices == [4999.50, 4999.00, 4998.75]
    assert seen[-1][1] is ChaseAction.CANCEL


def test_chase_never_bids_above_the_ask() -> None:
    rule = ChaseRule(every_seconds=1, ticks=3, max_slippage=10)
    state = ChaseState.start("BUY", 100.00, now=0.0)
    q = quote(bid=100.00, ask=100.02)
    first = chase_step(rule, state, q, 1.0, 0.01)
    assert first.action is ChaseAction.REPRICE and first.price == 100.02
    second = chase_step(rule, first.state, q, 2.0, 0.01)
    assert second.action is ChaseAction.WAIT and "already at the ask" in second.reason
    # the ask moves away: the chase goes on from where it is
    third = chase_step(rule, second.state, q._replace(ask=100.20), 3.0, 0.01)
    assert third.action is ChaseAction.REPRICE and third.price == 100.05


def test_percent_bound_is_rounded_back_toward_the_placed_price() -> None:
    rule = parse_chase("1:1:0.015%:market")  # 0.015 % of 100 = 1.5 ticks -> 1 tick allowed
    assert rule.bound("BUY", 100.00, 0.01) == 100.01
    assert rule.bound("SELL", 100.00, 0.01) == 99.99
    state = ChaseState.start("BUY", 100.00, now=0.0)
    seen = run_chase(rule, state, quote(bid=99.0, ask=101.0), until=10, tick=0.01)
    assert [(a.value, p) for _, a, p in seen][:1] == [("reprice", 100.01)]
    assert seen[-1][1] is ChaseAction.MARKET


def test_zero_slippage_ends_at_the_first_due_step() -> None:
    rule = ChaseRule(every_seconds=10, ticks=1, max_slippage=0, then="cancel")
    state = ChaseState.start("BUY", 100.00, now=0.0)
    assert chase_step(rule, state, quote(99.0, 101.0), 9.9, 0.01).action is ChaseAction.WAIT
    assert chase_step(rule, state, quote(99.0, 101.0), 10, 0.01).action is ChaseAction.CANCEL


def test_not_due_says_when_to_ask_again() -> None:
    rule = ChaseRule(every_seconds=5, ticks=1, max_slippage=3)
    step = chase_step(rule, ChaseState.start("BUY", 100.0, 50.0), quote(99.9, 100.1), 52.0, 0.01)
    assert step.action is ChaseAction.WAIT and step.next_at == 55.0


@pytest.mark.parametrize("q", [quote(bid=100.05, ask=100.00), quote(bid=99.0)])
def test_a_broken_book_holds_the_order_where_it_is(q: Quote) -> None:
    rule = ChaseRule(every_seconds=1, ticks=1, max_slippage=3)
    state = ChaseState.start("BUY", 100.0, 0.0)
    step = chase_step(rule, state, q, 5.0, 0.01)
    assert step.action is ChaseAction.WAIT and step.state == state
    assert step.next_at == 6.0 and step.reason


@pytest.mark.parametrize(("text", "message"), [
    ("5:1", "write EVERY_SECONDS:TICKS:MAX_SLIPPAGE"),
    ("0:1:3", "interval must be above 0 s"),
    ("5:0:3", "whole number of ticks >= 1"),
    ("5:1.5:3", "invalid literal"),
    ("5:1:-2", "max slippage must be 0 or more"),
    ("5:1:3:limit", "must end in 'cancel' or 'market'"),
    ("5:1:150%", "is not a bound"),
])
def test_bad_chase_text_gets_a_specific_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_chase(text)


def test_chase_text_round_trips() -> None:
    for text in ("5:1:10:market", "2.5:2:0.5%:cancel"):
        assert str(parse_chase(text)) == text
    assert parse_chase("10:2:0.5%") == ChaseRule(10, 2, 0.5, "cancel", True)


@settings(max_examples=200, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), placed_ticks=st.integers(100, 100_000),
       step_ticks=st.integers(1, 5), max_ticks=st.integers(0, 30),
       moves=st.lists(st.integers(-3, 3), min_size=1, max_size=60),
       tick=st.sampled_from([0.01, 0.25]))
def test_chase_is_monotone_on_grid_and_bounded_whatever_the_market_does(
        side: str, placed_ticks: int, step_ticks: int, max_ticks: int, moves: list[int],
        tick: float) -> None:
    sign = 1 if side == "BUY" else -1
    placed = add_ticks(0.0, placed_ticks, tick)
    rule = ChaseRule(1, step_ticks, max_ticks, "market")
    bound = rule.bound(side, placed, tick)
    state = ChaseState.start(side, placed, 0.0)
    bid = add_ticks(placed, -1, tick)
    for i, move in enumerate(moves, start=1):
        bid = add_ticks(bid, move, tick)
        q = quote(bid=bid, ask=add_ticks(bid, 2, tick))
        step = chase_step(rule, state, q, float(i), tick)
        if step.action is ChaseAction.REPRICE:
            assert sign * (step.price - state.price) > 0  # only toward the far side
            assert sign * (step.price - bound) <= 1e-9  # never beyond the bound
            assert step.price == round_to_tick(step.price, tick)
            far = q.ask if sign > 0 else q.bid
            assert sign * (step.price - far) <= 1e-9  # never through the book
        if step.action is ChaseAction.MARKET:
            assert abs(state.price - bound) < 1e-9  # only once the bound is reached
            break
        state = step.state


def test_policy_and_chase_settings_are_checked_when_settings_load() -> None:
    loaded = load_settings(env={"IBTRADER_LIMIT_PRICE_POLICY": " Marketable:2 ",
                                "IBTRADER_LIMIT_CHASE": "5:1:10:MARKET"})
    assert parse_policy(loaded.limit_price_policy) == PricePolicy(PolicyKind.MARKETABLE, 2)
    assert parse_chase(loaded.limit_chase) == ChaseRule(5, 1, 10, "market")
    assert load_settings(env={}).limit_chase == ""  # no chase unless asked
    with pytest.raises(ConfigErrors, match=r"IBTRADER_LIMIT_CHASE=.*whole number of ticks"):
        load_settings(env={"IBTRADER_LIMIT_CHASE": "5:0:10"})
