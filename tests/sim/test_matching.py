from __future__ import annotations

import re

import pytest

from ibtrader.sim.commissions import IBTieredStyle
from ibtrader.sim.matching import (
    InvalidTransition,
    MatchingEngine,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderHeld,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    SimOrder,
    ends_order,
)
from tests.sim.fakes import FUTURE, INSTRUMENTS, STOCK, Bar, engine, order, quote

Q = quote(1.0, 99.99, 100.01)  # last 100.00, 100 on each side


def kinds(events) -> list[str]:
    return [type(e).__name__.removeprefix("Order") for e in events]


def fills(events) -> list[OrderFilled]:
    return [e for e in events if isinstance(e, OrderFilled)]


@pytest.fixture
def eng() -> MatchingEngine:
    return engine()


# ----- market and limit orders ----------------------------------------------------------
def test_market_buy_fills_at_the_ask_and_books_the_position(eng):
    o = order("BUY", 10)
    events = eng.place(o, Q, 5.0)
    assert kinds(events) == ["Accepted", "Filled"]
    assert events[0].order.status == "Submitted"  # each event has its own snapshot
    [filled] = fills(events)
    assert filled.order.status == "Filled" and filled.order.avg_fill_price == 100.01
    e = filled.execution
    assert (e.side, e.shares, e.price, e.cum_qty, e.liquidity, e.time) == (
        "BOT", 10, 100.01, 10, 2, 5.0)
    assert eng.account.positions[STOCK.con_id].quantity == 10
    assert eng.order(o.key).status == "Filled" and eng.open_orders() == []


def test_market_sell_without_a_quote_waits_for_one_then_fills_at_the_bid(eng):
    o = order("SELL", 10)
    assert kinds(eng.place(o, None, 0.0)) == ["Accepted"]
    [filled] = fills(eng.on_quote(STOCK.con_id, Q, 1.0))
    assert filled.execution.price == 99.99 and filled.execution.side == "SLD"


def test_orders_bigger_than_the_quote_fill_in_parts_across_quotes(eng):
    o = order("BUY", 250)
    [first] = fills(eng.place(o, Q, 1.0))
    assert first.execution.shares == 100 and first.order.status == "Submitted"
    assert eng.on_quote(STOCK.con_id, Q, 1.5) == []  # that quote's size is used up
    [second] = fills(eng.on_quote(STOCK.con_id, quote(2.0, 100.00, 100.03), 2.0))
    [third] = fills(eng.on_quote(STOCK.con_id, quote(3.0, 100.02, 100.05), 3.0))
    assert (second.execution.shares, third.execution.shares) == (100, 50)
    assert (second.execution.cum_qty, third.execution.cum_qty) == (200, 250)
    assert third.order.status == "Filled" and third.order.remaining == 0
    avg = (100 * 100.01 + 100 * 100.03 + 50 * 100.05) / 250
    assert third.execution.avg_price == pytest.approx(avg)
    assert third.order.last_fill_price == 100.05


def test_one_quote_size_is_shared_by_the_orders_that_take_it(eng):
    eng.place(order("BUY", 80), None, 0.0)
    eng.place(order("BUY", 80), None, 0.0)
    events = eng.on_quote(STOCK.con_id, Q, 1.0)
    assert [f.execution.shares for f in fills(events)] == [80, 20]  # time priority


def test_resting_buy_limit_fills_at_the_ask_when_it_comes_down(eng):
    o = order("BUY", 10, "LMT", lmt_price=99.50)
    assert kinds(eng.place(o, Q, 0.0)) == ["Accepted"]
    assert eng.on_quote(STOCK.con_id, quote(2.0, 99.49, 99.51), 2.0) == []
    [filled] = fills(eng.on_quote(STOCK.con_id, quote(3.0, 99.40, 99.45), 3.0))
    assert filled.execution.price == 99.45  # better than the limit
    assert filled.execution.liquidity == 1  # it was resting


def test_marketable_sell_limit_fills_at_placement_at_the_bid(eng):
    events = eng.place(order("SELL", 10, "LMT", lmt_price=99.00), Q, 0.0)
    assert kinds(events) == ["Accepted", "Filled"]
    assert fills(events)[0].execution.price == 99.99


# ----- stops and trails -----------------------------------------------------------------
def test_buy_stop_waits_presubmitted_then_triggers_and_fills_as_market(eng):
    o = order("BUY", 10, "STP", aux_price=101.00)
    events = eng.place(o, Q, 0.0)
    assert kinds(events) == ["Accepted"] and events[0].order.status == "PreSubmitted"
    assert eng.on_quote(STOCK.con_id, quote(2.0, 100.49, 100.51), 2.0) == []
    events = eng.on_quote(STOCK.con_id, quote(3.0, 101.00, 101.02, last=101.01), 3.0)
    assert kinds(events) == ["Triggered", "Filled"]
    assert events[0].order.status == "Submitted" and events[0].order.triggered
    assert events[1].execution.price == 101.02


def test_sell_stop_already_through_triggers_at_placement(eng):
    events = eng.place(order("SELL", 5, "STP", aux_price=100.50), Q, 0.0)
    assert kinds(events) == ["Accepted", "Triggered", "Filled"]
    assert events[-1].execution.price == 99.99


def test_stop_limit_triggers_then_works_as_a_limit(eng):
    o = order("BUY", 10, "STP LMT", aux_price=101.00, lmt_price=101.05)
    eng.place(o, Q, 0.0)
    events = eng.on_quote(STOCK.con_id, quote(2.0, 101.08, 101.10, last=101.09), 2.0)
    assert kinds(events) == ["Triggered"]  # triggered, but the ask is above the limit
    [filled] = fills(eng.on_quote(STOCK.con_id, quote(3.0, 101.02, 101.04), 3.0))
    assert filled.execution.price == 101.04


def test_trailing_sell_by_amount_ratchets_up_only_then_triggers(eng):
    o = order("SELL", 10, "TRAIL", aux_price=1.00)
    eng.place(o, quote(0.0, 99.99, 100.01), 0.0)
    assert eng.order(o.key).trail_stop_price == 99.00
    eng.on_quote(STOCK.con_id, quote(1.0, 101.99, 102.01), 1.0)
    assert eng.order(o.key).trail_stop_price == 101.00
    eng.on_quote(STOCK.con_id, quote(2.0, 101.49, 101.51), 2.0)
    assert eng.order(o.key).trail_stop_price == 101.00  # never down
    events = eng.on_quote(STOCK.con_id, quote(3.0, 100.98, 101.00, last=100.99), 3.0)
    assert kinds(events) == ["Triggered", "Filled"]
    assert events[-1].execution.price == 100.98


def test_trailing_sell_by_percent(eng):
    o = order("SELL", 10, "TRAIL", trailing_percent=5.0)
    eng.place(o, quote(0.0, 99.99, 100.01), 0.0)
    assert eng.order(o.key).trail_stop_price == 95.00
    eng.on_quote(STOCK.con_id, quote(1.0, 119.99, 120.01), 1.0)
    assert eng.order(o.key).trail_stop_price == 114.00
    assert eng.on_quote(STOCK.con_id, quote(2.0, 114.50, 114.52), 2.0) == []
    assert kinds(eng.on_quote(STOCK.con_id, quote(3.0, 113.9, 114.1), 3.0)) == [
        "Triggered", "Filled"]


def test_trailing_buy_starts_at_its_initial_stop_and_ratchets_down(eng):
    o = order("BUY", 10, "TRAIL", aux_price=2.00, trail_stop_price=103.00)
    eng.place(o, Q, 0.0)
    assert eng.order(o.key).trail_stop_price == 103.00
    # the given stop holds until the market moves in the order's favour
    eng.on_quote(STOCK.con_id, quote(1.0, 100.49, 100.51), 1.0)
    assert eng.order(o.key).trail_stop_price == 103.00
    eng.on_quote(STOCK.con_id, quote(2.0, 96.99, 97.01), 2.0)
    assert eng.order(o.key).trail_stop_price == 99.00
    events = eng.on_quote(STOCK.con_id, quote(3.0, 99.00, 99.02, last=99.01), 3.0)
    assert kinds(events) == ["Triggered", "Filled"] and events[-1].execution.price == 99.02


def test_trailing_limit_sets_its_limit_at_the_trigger(eng):
    o = order("SELL", 10, "TRAIL LIMIT", aux_price=1.00, lmt_price_offset=0.10)
    eng.place(o, Q, 0.0)
    events = eng.on_quote(STOCK.con_id, quote(1.0, 98.80, 98.84, last=98.82), 1.0)
    assert kinds(events) == ["Triggered"]  # limit 98.90: the bid is below it
    assert events[0].order.lmt_price == 98.90
    [filled] = fills(eng.on_quote(STOCK.con_id, quote(2.0, 98.95, 98.97), 2.0))
    assert filled.execution.price == 98.95


def test_trailing_limit_given_as_initial_stop_and_limit_keeps_their_distance(eng):
    o = order("SELL", 10, "TRAIL LIMIT", aux_price=1.00, trail_stop_price=99.50,
              lmt_price=99.30)
    eng.place(o, Q, 0.0)
    eng.on_quote(STOCK.con_id, quote(1.0, 101.99, 102.01), 1.0)  # stop 101.00
    events = eng.on_quote(STOCK.con_id, quote(2.0, 100.80, 100.82, last=100.81), 2.0)
    assert kinds(events) == ["Triggered", "Filled"]
    assert events[0].order.lmt_price == 100.80 and events[1].execution.price == 100.80


# ----- time in force --------------------------------------------------------------------
def test_ioc_fills_what_the_quote_allows_and_cancels_the_rest(eng):
    o = order("BUY", 250, "LMT", lmt_price=100.05, tif="IOC")
    events = eng.place(o, Q, 0.0)
    assert kinds(events) == ["Accepted", "Filled", "Cancelled"]
    assert events[-1].order.filled == 100 and events[-1].code == 202
    assert eng.open_orders() == []


def test_ioc_placed_without_a_quote_gets_the_first_one(eng):
    eng.place(order("BUY", 250, tif="IOC"), None, 0.0)
    events = eng.on_quote(STOCK.con_id, Q, 1.0)
    assert kinds(events) == ["Filled", "Cancelled"]


def test_day_orders_expire_at_the_end_of_the_day_and_gtc_stay(eng):
    day = order("BUY", 1, "LMT", lmt_price=90.0)
    gtc = order("BUY", 1, "LMT", lmt_price=90.0, tif="GTC")
    eng.place(day, Q, 0.0)
    eng.place(gtc, Q, 0.0)
    events = eng.end_of_day(10.0)
    assert [(type(e), e.order.order_id) for e in events] == [(OrderCancelled, day.order_id)]
    assert eng.open_orders() == [gtc]


# ----- modify and cancel ----------------------------------------------------------------
def test_modify_a_resting_limit_into_the_market(eng):
    o = order("BUY", 10, "LMT", lmt_price=95.00, order_id=500)
    eng.place(o, Q, 0.0)
    events = eng.place(order("BUY", 10, "LMT", lmt_price=100.50, order_id=500), Q, 1.0)
    assert kinds(events) == ["Modified", "Filled"]
    assert events[0].order.lmt_price == 100.50 and events[0].order.perm_id == o.perm_id
    assert fills(events)[0].execution.price == 100.01


def test_modify_quantity_keeps_what_has_filled(eng):
    o = order("BUY", 150, "LMT", lmt_price=100.01, order_id=501)
    eng.place(o, Q, 0.0)  # 100 fill, 50 left
    events = eng.place(order("BUY", 300, "LMT", lmt_price=100.01, order_id=501), None, 1.0)
    assert kinds(events) == ["Modified"]
    assert events[0].order.filled == 100 and events[0].order.remaining == 200
    too_small = eng.place(order("BUY", 100, "LMT", lmt_price=100.01, order_id=501), None, 2.0)
    assert kinds(too_small) == ["Rejected"] and too_small[0].code == 201
    assert eng.order(o.key).total_quantity == 300


def test_side_or_type_of_a_working_order_cannot_change(eng):
    eng.place(order("BUY", 10, "LMT", lmt_price=95.0, order_id=502), Q, 0.0)
    events = eng.place(order("SELL", 10, "LMT", lmt_price=95.0, order_id=502), Q, 1.0)
    assert kinds(events) == ["Rejected"] and events[0].code == 201
    assert not events[0].ends_order and events[0].order.status == "Submitted"
    events = eng.place(order("BUY", 10, "STP", aux_price=105.0, order_id=502), Q, 1.0)
    assert kinds(events) == ["Rejected"]
    assert eng.order((1, 502)).order_type == "LMT"


def test_a_filled_order_cannot_be_modified(eng):
    eng.place(order("BUY", 10, order_id=503), Q, 0.0)
    events = eng.place(order("BUY", 20, order_id=503), Q, 1.0)
    assert kinds(events) == ["Rejected"] and events[0].code == 104
    assert eng.order((1, 503)).total_quantity == 10


def test_cancel_unknown_done_and_working_orders(eng):
    o = order("BUY", 10, "LMT", lmt_price=90.0, order_id=504)
    eng.place(o, Q, 0.0)
    events = eng.cancel(o.key, 1.0)
    assert kinds(events) == ["Cancelled"]
    assert (events[0].code, events[0].reason, events[0].order.status) == (202, "", "Cancelled")
    again = eng.cancel(o.key, 2.0)
    assert kinds(again) == ["Rejected"] and again[0].code == 161
    unknown = eng.cancel((7, 99_999), 2.0)
    assert kinds(unknown) == ["Rejected"] and unknown[0].code == 135
    assert unknown[0].order.client_id == 7  # so the server can route the error
    reused = eng.place(order("BUY", 10, order_id=504), Q, 3.0)
    assert kinds(reused) == ["Rejected"] and reused[0].code == 103


def test_cancel_all_leaves_nothing_working(eng):
    for price in (90.0, 91.0, 92.0):
        eng.place(order("BUY", 1, "LMT", lmt_price=price), Q, 0.0)
    eng.place(order("BUY", 1, "LMT", lmt_price=93.0, transmit=False), Q, 0.0)
    events = eng.cancel_all(1.0)
    assert kinds(events) == ["Cancelled"] * 4
    assert eng.open_orders() == [] and eng.held_orders() == []


# ----- brackets, held groups and OCA ----------------------------------------------------
def bracket(parent_id: int, entry: float, take: float, stop: float,
            transmit_last_only: bool = True) -> tuple[SimOrder, SimOrder, SimOrder]:
    held = not transmit_last_only
    parent = order("BUY", 10, "LMT", lmt_price=entry, order_id=parent_id, transmit=held)
    take_profit = order("SELL", 10, "LMT", lmt_price=take, order_id=parent_id + 1,
                        parent_id=parent_id, transmit=held)
    stop_loss = order("SELL", 10, "STP", aux_price=stop, order_id=parent_id + 2,
                      parent_id=parent_id)
    return parent, take_profit, stop_loss


def test_bracket_is_held_until_the_last_child_then_children_wait_for_the_parent(eng):
    parent, take_profit, stop_loss = bracket(600, 99.00, 101.00, 97.00)
    assert kinds(eng.place(parent, Q, 0.0)) == ["Held"]
    assert kinds(eng.place(take_profit, Q, 0.0)) == ["Held"]
    assert eng.open_orders() == []
    events = eng.place(stop_loss, Q, 0.0)
    assert kinds(events) == ["Accepted"] * 3
    assert [e.order.status for e in events] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    # the parent fills: the take-profit goes live, the stop waits for its trigger
    events = eng.on_quote(STOCK.con_id, quote(1.0, 98.97, 98.99), 1.0)
    assert kinds(events) == ["Filled", "Accepted"]
    assert eng.order(take_profit.key).status == "Submitted"
    assert eng.order(stop_loss.key).status == "PreSubmitted"
    # take-profit fills and cancels the stop-loss
    events = eng.on_quote(STOCK.con_id, quote(2.0, 101.00, 101.02), 2.0)
    assert kinds(events) == ["Filled", "Cancelled"]
    assert events[1].order.key == stop_loss.key and events[1].reason == "OCA group"
    assert eng.account.positions[STOCK.con_id].quantity == 0


def test_marketable_bracket_fills_parent_and_take_profit_at_placement(eng):
    parent, take_profit, stop_loss = bracket(610, 100.10, 99.90, 80.00)
    eng.place(parent, Q, 0.0)
    eng.place(take_profit, Q, 0.0)
    events = eng.place(stop_loss, Q, 0.0)
    assert kinds(events) == ["Accepted"] * 3 + ["Filled", "Accepted", "Filled", "Cancelled"]
    assert eng.order(stop_loss.key).status == "Cancelled"


def test_bracket_partial_fill_of_a_child_reduces_its_sibling(eng):
    parent, take_profit, stop_loss = bracket(620, 100.10, 101.00, 97.00, False)
    for o in (parent, take_profit, stop_loss):
        eng.place(o, Q, 0.0)
    events = eng.on_quote(STOCK.con_id, quote(1.0, 101.00, 101.02, size=4), 1.0)
    assert kinds(events) == ["Filled", "Modified"]
    assert events[1].order.key == stop_loss.key and events[1].order.remaining == 6


def test_cancelling_a_parent_cancels_its_children(eng):
    parent, take_profit, stop_loss = bracket(630, 95.00, 101.00, 90.00)
    for o in (parent, take_profit, stop_loss):
        eng.place(o, Q, 0.0)
    events = eng.cancel(parent.key, 1.0)
    assert [(type(e), e.order.order_id) for e in events] == [
        (OrderCancelled, 630), (OrderCancelled, 631), (OrderCancelled, 632)]


def test_cancelling_a_partly_filled_parent_protects_the_filled_part(eng):
    parent, take_profit, stop_loss = bracket(640, 100.01, 105.00, 90.00)
    for o in (parent, take_profit, stop_loss):
        eng.place(o, quote(0.0, 99.99, 100.01, size=4), 0.0)
    events = eng.cancel(parent.key, 1.0)
    assert kinds(events) == ["Cancelled", "Modified", "Accepted"]  # stops first
    assert eng.order(take_profit.key).total_quantity == 4
    assert eng.order(stop_loss.key).total_quantity == 4
    assert eng.order(take_profit.key).status == "Submitted"


def test_oca_type_1_cancels_the_others_on_any_fill(eng):
    a = order("BUY", 200, "LMT", lmt_price=100.01, oca_group="g1", oca_type=1)
    b = order("BUY", 200, "LMT", lmt_price=95.00, oca_group="g1", oca_type=1)
    eng.place(b, None, 0.0)
    events = eng.place(a, Q, 0.0)  # fills 100 of 200
    assert kinds(events) == ["Accepted", "Filled", "Cancelled"]
    assert events[-1].order.key == b.key


def test_oca_type_2_reduces_the_others_then_cancels_them(eng):
    a = order("SELL", 100, "LMT", lmt_price=99.99, oca_group="g2", oca_type=2)
    b = order("SELL", 150, "STP", aux_price=90.0, oca_group="g2", oca_type=2)
    eng.place(b, Q, 0.0)
    eng.place(a, quote(0.0, 99.99, 100.01, size=60), 0.0)
    assert eng.order(b.key).remaining == 90
    events = eng.on_quote(STOCK.con_id, quote(1.0, 99.99, 100.01, size=200), 1.0)
    assert kinds(events) == ["Filled", "Modified"]
    assert eng.order(b.key).remaining == 50
    c = order("SELL", 30, "LMT", lmt_price=99.00, oca_group="g2", oca_type=2)
    events = eng.place(c, quote(2.0, 99.99, 100.01, size=200), 2.0)
    assert kinds(events) == ["Accepted", "Filled", "Modified"]
    d = order("SELL", 20, "LMT", lmt_price=99.00, oca_group="g2", oca_type=2)
    events = eng.place(d, quote(3.0, 99.99, 100.01, size=200), 3.0)
    assert kinds(events) == ["Accepted", "Filled", "Cancelled"]  # b had 20 left


# ----- checks and bookkeeping -----------------------------------------------------------
def test_order_beyond_buying_power_is_rejected_with_ibs_reason():
    eng = engine(cash=10_000.0)
    events = eng.place(order("BUY", 1_000, "MKT"), Q, 0.0)
    assert kinds(events) == ["Rejected"]
    rejected = events[0]
    assert rejected.code == 201 and rejected.ends_order and ends_order(rejected)
    assert rejected.order.status == "Inactive"
    assert "YOUR EQUITY WITH LOAN VALUE [10000.00 USD]" in rejected.reason
    assert "MUST EXCEED THE INITIAL MARGIN [25002.50 USD]" in rejected.reason


@pytest.mark.parametrize("bad", [
    dict(quantity=0), dict(action="HOLD"), dict(order_type="MOC"),
    dict(order_type="LMT"), dict(order_type="STP"), dict(order_type="TRAIL"),
    dict(order_type="LMT", lmt_price=100.005), dict(tif="FOK"),
    dict(order_type="TRAIL", trailing_percent=150.0),
])
def test_invalid_orders_are_rejected(eng, bad):
    events = eng.place(order(**bad), Q, 0.0)
    assert kinds(events) == ["Rejected"] and events[0].code == 201


def test_futures_prices_must_be_on_the_tick(eng):
    events = eng.place(order("BUY", 1, "LMT", con_id=FUTURE.con_id, lmt_price=5000.10), None, 0)
    assert events[0].reason.startswith("The price does not conform")


def test_commission_minimum_is_charged_once_per_order_across_partial_fills():
    eng = engine(commissions=IBTieredStyle())
    o = order("BUY", 250)
    eng.place(o, Q, 0.0)
    eng.on_quote(STOCK.con_id, quote(2.0, 99.99, 100.01), 2.0)
    events = eng.on_quote(STOCK.con_id, quote(3.0, 99.99, 100.01), 3.0)
    assert eng.order(o.key).commission == pytest.approx(0.875)  # 250 * 0.0035
    assert fills(events)[0].execution.commission == pytest.approx(0.875 - 0.70)


def test_executions_carry_realized_pnl_commission_and_unique_ids():
    eng = engine(commissions=IBTieredStyle())
    opened = fills(eng.place(order("BUY", 100), Q, 0.0))[0].execution
    closed = fills(eng.place(order("SELL", 100), quote(1.0, 101.01, 101.03), 1.0))[0].execution
    assert opened.realized_pnl == 0.0 and opened.commission == pytest.approx(0.35)
    assert closed.realized_pnl == pytest.approx(100 * (101.01 - 100.01) - 0.70)
    assert re.fullmatch(r"[0-9a-f]{8}\.[0-9a-f]{8}\.01\.01", opened.exec_id)
    assert opened.exec_id != closed.exec_id


def test_exec_ids_come_from_the_given_source():
    ids = iter(["a", "b"])
    eng = MatchingEngine(engine().account, INSTRUMENTS.__getitem__, IBTieredStyle(),
                         exec_ids=lambda: next(ids))
    assert fills(eng.place(order("BUY", 1), Q, 0.0))[0].execution.exec_id == "a"


def test_impossible_transitions_raise():
    o = order()
    o.move_to("Submitted")
    o.move_to("Filled")
    with pytest.raises(InvalidTransition):
        o.move_to("Cancelled")
    with pytest.raises(InvalidTransition):
        order().move_to("Filled")  # never worked


def test_restored_orders_keep_working(eng):
    o = order("SELL", 10, "TRAIL", aux_price=1.0, tif="GTC")
    eng.place(o, Q, 0.0)
    eng.on_quote(STOCK.con_id, quote(1.0, 104.99, 105.01), 1.0)
    saved = eng.order(o.key).snapshot()
    fresh = engine()
    fresh.account.apply_fill(STOCK, "BOT", 10, 100.0, 0.0)
    fresh.restore([saved])
    assert fresh.open_orders() == [saved]
    events = fresh.on_quote(STOCK.con_id, quote(2.0, 103.98, 104.00, last=103.99), 2.0)
    assert kinds(events) == ["Triggered", "Filled"]


# ----- bars (backtests) -----------------------------------------------------------------
def test_bar_market_order_fills_whole_at_the_open_and_marks_the_close(eng):
    eng.place(order("BUY", 1_000), None, 0.0)
    events = eng.on_bar(STOCK.con_id, Bar(60, 100.0, 102.0, 99.0, 101.0), 60.0)
    assert [(f.execution.price, f.execution.shares) for f in fills(events)] == [(100.0, 1_000)]
    assert eng.account.positions[STOCK.con_id].market_price == 101.0


def test_bar_only_trades_orders_placed_by_its_start(eng):
    eng.place(order("BUY", 1, created=61.0), None, 61.0)
    assert eng.on_bar(STOCK.con_id, Bar(60, 100.0, 102.0, 99.0, 101.0), 120.0) == []
    assert fills(eng.on_bar(STOCK.con_id, Bar(120, 101.0, 101.0, 101.0, 101.0), 180.0))


def test_bar_limits_fill_at_the_open_or_their_limit(eng):
    below = order("BUY", 1, "LMT", lmt_price=99.50)
    above = order("BUY", 1, "LMT", lmt_price=103.00)
    missed = order("SELL", 1, "LMT", lmt_price=102.50)
    for o in (below, above, missed):
        eng.place(o, None, 0.0)
    events = eng.on_bar(STOCK.con_id, Bar(60, 100.0, 102.0, 99.0, 101.0), 60.0)
    prices = {f.order.key: f.execution.price for f in fills(events)}
    assert prices == {below.key: 99.50, above.key: 100.0}


def test_bar_gap_through_a_stop_fills_at_the_open(eng):
    gap = order("SELL", 1, "STP", aux_price=95.0)
    touch = order("BUY", 1, "STP", aux_price=93.0)
    eng.place(gap, None, 0.0)
    eng.place(touch, None, 0.0)
    events = eng.on_bar(STOCK.con_id, Bar(60, 90.0, 94.0, 88.0, 92.0), 60.0)
    prices = {f.order.key: f.execution.price for f in fills(events)}
    assert prices == {gap.key: 90.0, touch.key: 93.0}


def test_bar_stop_limit_that_triggers_above_its_limit_waits(eng):
    o = order("BUY", 1, "STP LMT", aux_price=101.0, lmt_price=101.5)
    eng.place(o, None, 0.0)
    events = eng.on_bar(STOCK.con_id, Bar(60, 102.0, 103.0, 100.0, 102.5), 60.0)
    assert kinds(events) == ["Triggered"]
    [filled] = fills(eng.on_bar(STOCK.con_id, Bar(120, 102.0, 102.0, 101.0, 101.2), 120.0))
    assert filled.execution.price == 101.5


def test_bar_trail_follows_the_high_and_triggers_on_a_later_bar(eng):
    o = order("SELL", 1, "TRAIL", aux_price=2.0)
    eng.place(o, None, 0.0)
    assert eng.on_bar(STOCK.con_id, Bar(60, 100.0, 105.0, 99.0, 104.0), 60.0) == []
    assert eng.order(o.key).trail_stop_price == 103.0
    events = eng.on_bar(STOCK.con_id, Bar(120, 104.0, 104.5, 101.0, 101.5), 120.0)
    assert kinds(events) == ["Triggered", "Filled"] and events[-1].execution.price == 103.0


def test_bar_bracket_with_both_exits_in_range_assumes_the_stop_came_first(eng):
    parent, take_profit, stop_loss = bracket(700, 100.0, 104.0, 97.0, False)
    for o in (parent, take_profit, stop_loss):
        eng.place(o, None, 0.0)
    events = eng.on_bar(STOCK.con_id, Bar(60, 100.0, 105.0, 96.0, 101.0), 60.0)
    assert kinds(events) == ["Filled", "Accepted", "Triggered", "Filled", "Cancelled"]
    assert fills(events)[-1].order.key == stop_loss.key
    assert fills(events)[-1].execution.price == 97.0
    assert events[-1].order.key == take_profit.key


def test_every_event_type_is_exported():
    assert {OrderAccepted, OrderHeld, OrderModified, OrderRejected, OrderTriggered}
