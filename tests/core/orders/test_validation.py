"""Validation: each problem a trader can make, in the words the trader reads."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ibtrader.core.market import Instrument, Quote
from ibtrader.core.orders import validation as v
from ibtrader.core.orders.pricing import ChaseRule, PolicyKind, PricePolicy, round_to_tick
from ibtrader.core.orders.request import OrderRequest

AAPL = Instrument("AAPL", "STK", "SMART", "USD", con_id=265598, min_tick=0.01)
ES = Instrument("ESZ6", "FUT", "CME", "USD", con_id=1, min_tick=0.25, multiplier=50)
EURUSD = Instrument("EURUSD", "CASH", "IDEALPRO", "USD", con_id=2, min_tick=0.00005)
QUOTE = Quote("AAPL", 189.98, 190.02, 190.00, 300, 200, 10, 1e6, 0.0)


def req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {"symbol": "AAPL", "side": "buy", "quantity": 100,
                               "client_key": "ibt-1"}
    return OrderRequest(**(base | kw))  # type: ignore[arg-type]


def messages(request: OrderRequest, instrument: Instrument | None = AAPL,
             quote: Quote | None = QUOTE) -> list[str]:
    return [p.message for p in v.validate(request, instrument, quote)]


def codes(request: OrderRequest, instrument: Instrument | None = AAPL,
          quote: Quote | None = QUOTE) -> list[str]:
    return [p.code for p in v.validate(request, instrument, quote)]


@pytest.mark.parametrize("request_", [
    req(), req(order_type="lmt", limit=189.5), req(order_type="stp", stop=191.0),
    req(side="sell", order_type="stp", stop=189.0),
    req(order_type="stp-lmt", stop=191.0, limit=191.5),
    req(order_type="trail", trail_amount=0.5), req(order_type="trail", trail_percent=1.5),
    req(order_type="lmt", limit=190.0, take_profit=195.0, stop_loss=185.0, tif="gtc"),
    req(side="sell", order_type="lmt", limit=190.5, take_profit=185.0, stop_loss=195.0),
    req(take_profit=195.0, stop_loss=185.0),  # market entry at the ask 190.02
    req(order_type="lmt", limit=189.0, tif="ioc"),
])
def test_good_orders_pass(request_: OrderRequest) -> None:
    assert v.validate(request_, AAPL, QUOTE) == []


def test_unknown_or_unqualified_contract() -> None:
    assert messages(req(), None) == ["AAPL: no such contract at the broker (or not qualified "
                                     "yet)"]
    unqualified = Instrument("AAPL", "STK", "SMART", "USD")
    assert codes(req(), unqualified) == [v.UNKNOWN_CONTRACT]
    no_tick = Instrument("AAPL", "STK", "SMART", "USD", con_id=1, min_tick=0.0)
    assert messages(req(), no_tick) == ["AAPL: the broker gave no usable tick size (0); prices "
                                        "cannot be checked"]
    assert messages(req(symbol="MSFT"), AAPL) == ["MSFT: the contract given is AAPL, not this "
                                                  "symbol"]


def test_quantity_rules_per_instrument() -> None:
    assert messages(req(quantity=0)) == ["quantity must be above 0, got 0"]
    assert messages(req(quantity=-5)) == ["quantity must be above 0, got -5"]
    assert messages(req(quantity=math.nan)) == ["quantity must be above 0, got nan"]
    assert messages(req(quantity=10.5)) == ["AAPL trades in whole shares: 10.5 is not a whole "
                                            "number (use 10 or 11)"]
    es = req(symbol="ESZ6", quantity=1.5)
    assert messages(es, ES, None) == ["ESZ6 trades in whole contracts: 1.5 is not a whole "
                                      "number (use 1 or 2)"]
    fx = req(symbol="EURUSD", quantity=0.5)
    assert messages(fx, EURUSD, None) == ["EURUSD trades in whole units: 0.5 is not a whole "
                                          "number (the least is 1)"]
    assert messages(req(symbol="EURUSD", quantity=12_345), EURUSD, None) == []


def test_prices_required_and_refused_per_type() -> None:
    assert messages(req(order_type="lmt")) == ["a limit order needs a limit price"]
    assert messages(req(order_type="stp-lmt")) == ["a stop-limit order needs a limit price",
                                                   "a stop-limit order needs a stop price"]
    assert messages(req(limit=190.0)) == ["a market order takes no limit price (got 190)"]
    assert messages(req(order_type="lmt", limit=189.0, stop=191.0)) == [
        "a limit order takes no stop price (got 191)"]
    assert messages(req(order_type="lmt", limit=-1.0)) == ["limit price must be above 0, got -1"]
    assert messages(req(trail_amount=1.0)) == [
        "a market order takes no trail amount or percent (use type trail)"]


def test_off_tick_prices_name_the_nearest_valid_ones() -> None:
    assert messages(req(order_type="lmt", limit=189.503)) == [
        "limit price 189.503 is not on the 0.01 tick grid: nearest valid prices are 189.50 "
        "and 189.51"]
    es = req(symbol="ESZ6", quantity=1, order_type="lmt", limit=5012.1)
    assert messages(es, ES, None) == ["limit price 5012.1 is not on the 0.25 tick grid: nearest "
                                      "valid prices are 5012.00 and 5012.25"]
    fx = req(symbol="EURUSD", quantity=20_000, order_type="stp", stop=1.08512)
    assert messages(fx, EURUSD, None) == ["stop price 1.08512 is not on the 0.00005 tick grid: "
                                          "nearest valid prices are 1.08510 and 1.08515"]
    assert messages(req(order_type="lmt", limit=190.0, take_profit=195.005, stop_loss=185.0)) == [
        "take-profit price 195.005 is not on the 0.01 tick grid: nearest valid prices are "
        "195.00 and 195.01"]


def test_stops_on_the_wrong_side_of_the_market() -> None:
    assert messages(req(order_type="stp", stop=190.0)) == [
        "a buy stop must be above the ask 190.02: 190.00 would trigger at once"]
    assert messages(req(side="sell", order_type="stp", stop=190.0)) == [
        "a sell stop must be below the bid 189.98: 190.00 would trigger at once"]
    assert messages(req(order_type="trail", trail_amount=1.0, stop=189.0)) == [
        "a buy stop must be above the ask 190.02: 189.00 would trigger at once"]
    # Without a quote there is nothing to compare with: the broker will judge.
    assert messages(req(order_type="stp", stop=150.0), quote=None) == []


def test_stop_limit_consistency() -> None:
    assert messages(req(order_type="stp-lmt", stop=191.0, limit=190.5)) == [
        "a buy stop-limit's limit 190.50 is below its stop 191.00: once triggered it could "
        "not fill"]
    assert messages(req(side="sell", order_type="stp-lmt", stop=189.0, limit=189.5)) == [
        "a sell stop-limit's limit 189.50 is above its stop 189.00: once triggered it could "
        "not fill"]


def test_trail_amount_or_percent() -> None:
    assert messages(req(order_type="trail")) == [
        "a trailing stop needs a trail amount or a trail percent"]
    assert messages(req(order_type="trail", trail_amount=1.0, trail_percent=1.0)) == [
        "give a trail amount or a trail percent, not both"]
    assert messages(req(order_type="trail", trail_percent=0.0)) == [
        "trail percent must be between 0 and 100, got 0"]
    assert messages(req(order_type="trail", trail_amount=-0.5)) == [
        "trail amount must be above 0, got -0.5"]
    assert messages(req(order_type="trail", trail_amount=0.505)) == [
        "trail price 0.505 is not on the 0.01 tick grid: nearest valid prices are 0.50 and 0.51"]


def test_bracket_legs_must_straddle_the_entry() -> None:
    assert messages(req(order_type="lmt", limit=190.0, take_profit=189.0, stop_loss=185.0)) == [
        "a buy bracket needs stop-loss < entry < take-profit; got stop-loss 185.00, entry "
        "190.00, take-profit 189.00 (entry is not below take-profit)"]
    assert messages(req(side="sell", order_type="lmt", limit=190.0, take_profit=185.0,
                        stop_loss=189.0)) == [
        "a sell bracket needs take-profit < entry < stop-loss; got take-profit 185.00, entry "
        "190.00, stop-loss 189.00 (entry is not below stop-loss)"]
    # A market entry is judged at the ask, the price a buy pays.
    assert codes(req(take_profit=195.0, stop_loss=190.10)) == [v.BRACKET_INCONSISTENT]
    # Only the legs can be compared when a market entry has no quote.
    assert messages(req(take_profit=185.0, stop_loss=195.0), quote=None) == [
        "a buy bracket needs stop-loss < take-profit; got stop-loss 195.00, take-profit 185.00 "
        "(stop-loss is not below take-profit)"]


def test_ioc_combinations_ib_would_not_honour() -> None:
    assert messages(req(order_type="stp", stop=191.0, tif="ioc")) == [
        "IOC cannot be used with a stop order: it would be cancelled before it could trigger "
        "(use DAY or GTC)"]
    assert codes(req(order_type="trail", trail_percent=1.0, tif="ioc")) == [v.TIF_NOT_ALLOWED]
    assert messages(req(order_type="lmt", limit=190.0, take_profit=195.0, tif="ioc")) == [
        "IOC cannot be used with a bracket: the take-profit and stop-loss would be cancelled at "
        "once (use DAY or GTC)"]


def test_policies_and_chases_belong_to_limit_orders() -> None:
    chase = ChaseRule(5.0, 1, 10.0)
    assert messages(req(order_type="stp", stop=191.0, price_policy=PricePolicy(PolicyKind.MID),
                        chase=chase)) == [
        "a price policy sets a limit price: a stop order has none to set (use type lmt)",
        "only a limit order can be chased, not a stop order"]
    assert messages(req(order_type="lmt", limit=189.0, tif="ioc", chase=chase)) == [
        "an IOC order cannot be chased: it is cancelled before the first reprice (use DAY or "
        "GTC)"]
    assert messages(req(order_type="lmt", limit=189.0, chase=chase,
                        price_policy=PricePolicy(PolicyKind.JOIN))) == []


def test_every_problem_is_listed_at_once() -> None:
    bad = req(quantity=1.5, order_type="stp-lmt", stop=190.005, limit=189.0, tif="ioc")
    assert codes(bad) == [v.LOT_SIZE, v.OFF_TICK, v.TIF_NOT_ALLOWED, v.STOP_WRONG_SIDE,
                          v.STOP_LIMIT_INCONSISTENT]


def test_a_quote_of_another_symbol_is_ignored() -> None:
    msft = QUOTE._replace(symbol="MSFT", ask=500.0)
    assert messages(req(order_type="stp", stop=191.0), quote=msft) == []


def test_advisories_flag_marketable_limits_and_ignored_flags() -> None:
    notes = v.advisories(req(order_type="lmt", limit=190.5), AAPL, QUOTE)
    assert [n.message for n in notes] == [
        "buy limit 190.50 is at or above the ask 190.02: it fills at once, up to the limit"]
    notes = v.advisories(req(side="sell", order_type="lmt", limit=189.0), AAPL, QUOTE)
    assert [n.code for n in notes] == [v.MARKETABLE_LIMIT]
    assert v.advisories(req(order_type="lmt", limit=189.0), AAPL, QUOTE) == []
    notes = v.advisories(req(outside_rth=True), AAPL, QUOTE)
    assert [n.code for n in notes] == [v.OUTSIDE_RTH_IGNORED]
    # A marketable limit is still a valid order.
    assert v.validate(req(order_type="lmt", limit=190.5), AAPL, QUOTE) == []


TICKS = st.sampled_from([0.01, 0.05, 0.25, 0.5, 1.0, 0.00005, 0.0001, 0.005])


@given(steps=st.integers(1, 10_000_000), tick=TICKS)
def test_every_grid_price_is_on_tick(steps: int, tick: float) -> None:
    price = round_to_tick(steps * tick, tick)
    assert v.on_tick(price, tick)
    assert round_to_tick(price, tick) == price


@given(price=st.floats(0.0001, 1e6), tick=TICKS)
def test_neighbours_bracket_the_price_one_tick_apart(price: float, tick: float) -> None:
    assume(not v.on_tick(price, tick))
    low, high = v.neighbours(price, tick)
    assert v.on_tick(low, tick) and v.on_tick(high, tick)
    assert low <= price + tick * 1e-6 and price < high + tick * 1e-6
    assert math.isclose(high - low, tick, rel_tol=1e-6, abs_tol=1e-9)
    nearest = round_to_tick(price, tick)
    assert v.on_tick(nearest, tick)
    assert abs(nearest - price) <= tick / 2 * (1 + 1e-6) + price * 1e-15


@given(steps=st.integers(1, 1_000_000), tick=TICKS)
def test_half_a_tick_off_is_refused_with_the_two_neighbours(steps: int, tick: float) -> None:
    price = (steps + 0.5) * tick
    [problem] = v.validate(req(order_type="lmt", limit=price), aapl_with(tick), None)
    low, high = v.neighbours(price, tick)
    assert problem.code == v.OFF_TICK
    assert problem.message.endswith(f"nearest valid prices are {v.fmt(low, tick)} and "
                                    f"{v.fmt(high, tick)}")
    assert v.on_tick(low, tick) and v.on_tick(high, tick) and low < price < high


def aapl_with(tick: float) -> Instrument:
    return Instrument("AAPL", "STK", "SMART", "USD", con_id=265598, min_tick=tick)
