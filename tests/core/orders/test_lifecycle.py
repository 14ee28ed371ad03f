"""The order lifecycle: IB's reports move an order through its states, never backwards,
never twice, and every change leaves an event for the journal."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ibtrader.core.broker import (
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    OrderTicket,
)
from ibtrader.core.market import Instrument
from ibtrader.core.orders import lifecycle as lc
from ibtrader.core.orders.lifecycle import OrderState as S
from ibtrader.core.orders.request import OrderRequest

KEY = "ibt-018f00000000abcdef01234567"
AAPL = Instrument("AAPL", "STK", "SMART", "USD", con_id=265598)


def order(quantity: float = 100) -> lc.Order:
    request = OrderRequest("AAPL", "buy", quantity, KEY, order_type="lmt", limit=190.0)
    return lc.new_order(request, now=1.0)[0]


def status(text: str, filled: float = 0, remaining: float = 100, avg: float = math.nan,
           time: float = 2.0, ref: str = KEY) -> BrokerOrderStatus:
    return BrokerOrderStatus(ref, 7, 9007, text, filled, remaining, avg, time)


def fill(exec_id: str, qty: float, price: float = 190.0,
         commission: float = math.nan) -> BrokerFill:
    return BrokerFill(exec_id, KEY, 7, 9007, "AAPL", "BUY", qty, price, 3.0, commission)


def working() -> lc.Order:
    o, _ = lc.mark_sent(order(), 7, 1.5)
    return lc.apply_status(o, status("Submitted"))[0]


def test_transition_table_is_complete_and_final_states_are_dead_ends() -> None:
    assert set(lc.TRANSITIONS) == set(S)
    assert {S.FILLED, S.CANCELLED, S.REJECTED} == lc.FINAL
    assert all(after <= set(S) for after in lc.TRANSITIONS.values())
    assert S.NEW not in lc.OPEN and S.WORKING in lc.OPEN


def test_new_order_is_journalled_before_it_is_sent() -> None:
    request = OrderRequest("AAPL", "buy", 100, KEY, order_type="lmt", limit=190.0,
                           decision_id="dec-1")
    o, [event] = lc.new_order(request, now=1.0)
    assert (o.state, o.filled, o.remaining, o.adopted) == (S.NEW, 0, 100, False)
    assert (event.kind, event.state_before, event.state_after) == ("created", S.NEW, S.NEW)
    assert event.detail["decision_id"] == "dec-1" and event.detail["limit"] == 190.0


def test_the_happy_path_sent_acknowledged_partly_then_fully_filled() -> None:
    o, [sent] = lc.mark_sent(order(), broker_id=7, now=1.5)
    assert (o.state, o.broker_id, sent.kind) == (S.SENT, 7, "sent")
    o, _ = lc.apply_status(o, status("PendingSubmit"))
    assert o.state == S.SENT
    o, [ack] = lc.apply_status(o, status("Submitted"))
    assert (o.state, o.perm_id, ack.state_before, ack.state_after) == (
        S.WORKING, 9007, S.SENT, S.WORKING)
    o, [ev] = lc.apply_fill(o, fill("e1", 40, 190.0))
    assert (o.state, o.filled, o.remaining, ev.kind) == (S.PARTIALLY_FILLED, 40, 60, "fill")
    o, _ = lc.apply_status(o, status("Submitted", 40, 60, 190.0))
    assert o.state == S.PARTIALLY_FILLED
    o, _ = lc.apply_fill(o, fill("e2", 60, 189.9))
    assert (o.state, o.filled) == (S.FILLED, 100)
    assert o.avg_price == pytest.approx((40 * 190.0 + 60 * 189.9) / 100)
    o, [ev] = lc.apply_status(o, status("Filled", 100, 0, 189.94))
    assert (o.state, ev.state_before, ev.state_after) == (S.FILLED, S.FILLED, S.FILLED)
    assert o.is_final and not o.is_open


def test_a_repeated_report_changes_nothing_and_makes_no_event() -> None:
    o = working()
    again, events = lc.apply_status(o, status("Submitted", time=99.0))  # only the time differs
    assert again is o and events == []
    filled, _ = lc.apply_status(o, status("Filled", 100, 0, 190.0))
    assert lc.apply_status(filled, status("Filled", 100, 0, 190.0, time=5.0)) == (filled, [])


def test_status_texts_map_to_states() -> None:
    assert lc.state_for_status("PreSubmitted", 0, 100) == S.WORKING
    assert lc.state_for_status("Submitted", 10, 90) == S.PARTIALLY_FILLED
    assert lc.state_for_status("ApiCancelled", 0, 100) == S.CANCELLED
    assert lc.state_for_status("PendingCancel", 0, 100) == S.CANCEL_REQUESTED
    assert lc.state_for_status("Inactive", 0, 100) == S.INACTIVE
    with pytest.raises(lc.UnknownStatus, match="unknown broker order status 'Parked'"):
        lc.state_for_status("Parked", 0, 100)


def test_next_state_is_the_table_applied_to_a_report() -> None:
    assert lc.next_state(S.SENT, "Submitted", 0, 100) == S.WORKING
    assert lc.next_state(S.WORKING, "Submitted", 5, 95) == S.PARTIALLY_FILLED
    assert lc.next_state(S.CANCEL_REQUESTED, "Submitted", 5, 95) == S.CANCEL_REQUESTED
    assert lc.next_state(S.REJECTED, "Inactive", 0, 100) == S.REJECTED
    with pytest.raises(lc.IllegalTransition, match="partially_filled -> working"):
        lc.next_state(S.PARTIALLY_FILLED, "PreSubmitted", 0, 100, key="k")
    with pytest.raises(lc.IllegalTransition, match="filled -> cancelled"):
        lc.next_state(S.FILLED, "Cancelled", 100, 0)


def test_an_impossible_transition_is_an_error_not_an_overwrite() -> None:
    cancelled, _ = lc.apply_status(working(), status("Cancelled"))
    with pytest.raises(lc.IllegalTransition) as err:
        lc.apply_status(cancelled, status("Submitted"))
    assert str(err.value) == (f"order {KEY}: cancelled -> working is not allowed "
                              "(broker status Submitted)")
    assert (err.value.current, err.value.target) == (S.CANCELLED, S.WORKING)
    partly, _ = lc.apply_fill(working(), fill("e1", 10))
    with pytest.raises(lc.StaleReport, match="broker reports 0 filled after reporting 10"):
        lc.apply_status(lc.apply_status(partly, status("Submitted", 10, 90))[0],
                        status("Submitted", 0, 100))
    with pytest.raises(lc.IllegalTransition, match=r"sent -> sent is not allowed \(sent twice\)"):
        lc.mark_sent(lc.mark_sent(order(), 7, 1.0)[0], 7, 2.0)


def test_reports_for_another_order_are_refused() -> None:
    with pytest.raises(lc.WrongOrder, match=f"status for ibt-other applied to order {KEY}"):
        lc.apply_status(working(), status("Submitted", ref="ibt-other"))
    with pytest.raises(lc.WrongOrder, match="fill x1 for ibt-other"):
        lc.apply_fill(working(), BrokerFill("x1", "ibt-other", 7, 9, "AAPL", "BUY", 1, 1.0, 1.0))


def test_a_fill_is_counted_once_and_its_commission_arrives_later() -> None:
    o, _ = lc.apply_fill(working(), fill("e1", 40))
    same, events = lc.apply_fill(o, fill("e1", 40))
    assert same is o and events == [] and o.filled == 40 and o.commission == 0
    o, [ev] = lc.apply_fill(o, fill("e1", 40, commission=1.25))
    assert (ev.kind, o.filled, o.commission) == ("commission", 40, 1.25)
    assert lc.apply_fill(o, fill("e1", 40, commission=1.25)) == (o, [])


def test_overfill_is_an_error() -> None:
    o, _ = lc.apply_fill(working(), fill("e1", 80))
    with pytest.raises(lc.Overfill, match="execution e2 of 30 makes 110 filled of 100"):
        lc.apply_fill(o, fill("e2", 30))


def test_cancel_paths() -> None:
    o, [ev] = lc.request_cancel(working(), now=4.0)
    assert (o.state, ev.kind) == (S.CANCEL_REQUESTED, "cancel_requested")
    assert lc.request_cancel(o, now=5.0) == (o, [])  # asking twice is harmless
    # A working report that crossed our cancel keeps the cancel pending.
    o, _ = lc.apply_status(o, status("Submitted", 10, 90, 190.0))
    assert (o.state, o.filled) == (S.CANCEL_REQUESTED, 10)
    o, _ = lc.apply_status(o, status("Cancelled", 10, 0, 190.0))
    assert (o.state, o.filled, o.remaining) == (S.CANCELLED, 10, 90)
    # A late execution of a cancelled order is recorded, and the order stays cancelled.
    o, [ev] = lc.apply_fill(o, fill("late", 10))
    assert (o.state, o.filled, ev.kind) == (S.CANCELLED, 10, "fill")
    # Never sent: cancelled at once.
    assert lc.request_cancel(order(), 2.0)[0].state == S.CANCELLED
    with pytest.raises(lc.IllegalTransition, match="filled -> cancel_requested"):
        lc.request_cancel(lc.apply_status(working(), status("Filled", 100, 0, 190.0))[0], 3.0)


def test_a_status_sent_before_our_executions_arrived_is_not_a_step_back() -> None:
    o, _ = lc.apply_fill(working(), fill("e1", 40))
    o, [ev] = lc.apply_status(o, status("PreSubmitted", time=3.5))  # says 0 filled
    assert (o.state, o.filled, ev.detail["filled"]) == (S.PARTIALLY_FILLED, 40, 0)
    o, _ = lc.apply_fill(o, fill("e2", 60))
    o, _ = lc.apply_status(o, status("Submitted", 40, 60, 190.0))
    assert (o.state, o.filled) == (S.FILLED, 100)


def test_a_fill_racing_the_cancel_wins() -> None:
    o, _ = lc.request_cancel(working(), now=4.0)
    o, _ = lc.apply_fill(o, fill("e1", 100))
    assert o.state == S.FILLED


def test_broker_errors() -> None:
    sent, _ = lc.mark_sent(order(), 7, 1.0)
    rejected, [ev] = lc.apply_error(sent, BrokerError(201, "Order rejected - margin", 7), 2.0)
    assert (rejected.state, ev.detail["code"]) == (S.REJECTED, 201)
    assert rejected.last_error == "broker error 201: Order rejected - margin"
    # A warning about a working order changes nothing but is recorded.
    o, [ev] = lc.apply_error(working(), BrokerError(2109, "outside RTH ignored", 7,
                                                    is_warning=True), 2.0)
    assert (o.state, ev.kind) == (S.WORKING, "error")
    # A refused cancel puts the order back to work.
    pending, _ = lc.request_cancel(working(), 3.0)
    o, _ = lc.apply_error(pending, BrokerError(161, "Cancel attempted when order is not in a "
                                               "cancellable state", 7), 4.0)
    assert o.state == S.WORKING
    o, _ = lc.apply_error(working(), BrokerError(202, "Order Canceled - reason:", 7), 5.0)
    assert o.state == S.CANCELLED


@pytest.mark.parametrize("error_first", [True, False])
def test_a_rejection_told_twice_ends_rejected(error_first: bool) -> None:
    """IB rejects with error 201 and status Inactive, in either order."""
    sent, _ = lc.mark_sent(order(), 7, 1.0)
    error = BrokerError(201, "Order rejected - reason: insufficient buying power", 7)
    inactive = status("Inactive")
    if error_first:
        o, _ = lc.apply_error(sent, error, 2.0)
        o, [echo] = lc.apply_status(o, inactive)
        assert (echo.kind, echo.detail["status"]) == ("status", "Inactive")
    else:
        o, _ = lc.apply_status(sent, inactive)
        assert o.state == S.INACTIVE
        o, _ = lc.apply_error(o, error, 2.0)
    assert o.state == S.REJECTED and "insufficient buying power" in o.last_error


def test_a_cancel_told_twice_ends_cancelled() -> None:
    o, _ = lc.request_cancel(working(), 3.0)
    o, _ = lc.apply_status(o, status("Cancelled"))
    o, [ev] = lc.apply_error(o, BrokerError(202, "Order Canceled - reason:", 7), 4.0)
    assert (o.state, ev.state_after) == (S.CANCELLED, S.CANCELLED)
    o, _ = lc.apply_status(o, status("Inactive"))
    assert o.state == S.CANCELLED


def test_a_status_claiming_more_than_the_quantity_is_an_error() -> None:
    with pytest.raises(lc.Overfill, match="broker reports 120 filled of 100"):
        lc.apply_status(working(), status("Filled", 120, 0))


def test_modify_records_before_and_after() -> None:
    o, [ev] = lc.request_modify(working(), 4.0, limit=190.05, reason="reprice")
    assert o.request.limit == 190.05 and o.state == S.WORKING
    assert ev.detail == {"reason": "reprice", "before": {"limit": 190.0},
                         "after": {"limit": 190.05}}
    partly, _ = lc.apply_fill(working(), fill("e1", 60))
    with pytest.raises(lc.OrderLifecycleError, match="new quantity 50 must be above the 60 "
                                                     "already filled"):
        lc.request_modify(partly, 4.0, quantity=50)
    with pytest.raises(lc.OrderLifecycleError, match="cannot be modified while new"):
        lc.request_modify(order(), 4.0, limit=191.0)


def test_a_crash_before_recording_sent_is_repaired_by_the_broker_report() -> None:
    o, _ = lc.apply_status(order(), status("Submitted", 20, 80, 190.0))
    assert (o.state, o.filled, o.broker_id) == (S.PARTIALLY_FILLED, 20, 7)


def test_orders_placed_elsewhere_are_adopted() -> None:
    ticket = OrderTicket("", AAPL, "SELL", 50, "STP LMT", limit_price=180.0, stop_price=181.0,
                         tif="GTC")
    report = BrokerOrderStatus("", 11, 4242, "PreSubmitted", 0, 50, math.nan, 9.0)
    o, events = lc.adopt(BrokerOrder(ticket, report, placed_by_us=False), now=9.0)
    assert (o.client_key, o.adopted, o.state, o.perm_id) == ("ext-4242", True, S.WORKING, 4242)
    assert (o.request.side, o.request.order_type, o.request.tif) == ("sell", "stp-lmt", "gtc")
    assert [e.kind for e in events] == ["adopted", "status"]
    assert events[0].detail["placed_by_us"] is False
    odd = OrderTicket("x", AAPL, "BUY", 1, "MOC")
    with pytest.raises(lc.UnsupportedOrder, match="has type MOC, side BUY and TIF DAY"):
        lc.adopt(BrokerOrder(odd, report, placed_by_us=False), now=9.0)
    short_sale = OrderTicket("y", AAPL, "SSHORT", 1, "LMT", limit_price=1.0)
    with pytest.raises(lc.UnsupportedOrder, match="side SSHORT"):
        lc.adopt(BrokerOrder(short_sale, report, placed_by_us=False), now=9.0)


# --- properties --------------------------------------------------------------------------------

STATUS_TEXTS = ["PendingSubmit", "PreSubmitted", "Submitted", "Filled", "PendingCancel",
                "Cancelled", "ApiCancelled", "Inactive"]
reports = st.lists(st.tuples(st.sampled_from(STATUS_TEXTS), st.integers(0, 100)), max_size=30)
fills_st = st.lists(st.tuples(st.integers(0, 12), st.integers(1, 30)), max_size=30)


def _step(o: lc.Order, fn, *args):  # type: ignore[no-untyped-def]
    try:
        return fn(o, *args)[0]
    except lc.OrderLifecycleError:
        return o  # the caller logs it; the order stays as it was


@settings(max_examples=300, deadline=None)
@given(reports=reports)
def test_a_final_state_is_never_left(reports: list[tuple[str, int]]) -> None:
    o = order()
    final_seen: S | None = None
    for text, filled in reports:
        filled = max(filled, int(o.reported_filled))
        before = o
        o = _step(o, lc.apply_status, status(text, filled, 100 - filled))
        if o.state != before.state:
            assert o.state in lc.TRANSITIONS[before.state]
        if final_seen is not None:
            assert o.state == final_seen
        elif o.state in lc.FINAL:
            final_seen = o.state
        assert o.state in lc.TRANSITIONS


@settings(max_examples=300, deadline=None)
@given(executions=fills_st)
def test_fills_never_double_count(executions: list[tuple[int, int]]) -> None:
    o = working()
    unique: dict[str, int] = {}
    for n, qty in executions:
        exec_id = f"e{n}"
        before = o
        o = _step(o, lc.apply_fill, fill(exec_id, qty, commission=0.5))
        if o is not before and exec_id not in unique:
            unique[exec_id] = qty
        assert o.fill_quantity == sum(unique.values()) <= o.quantity
        assert len({f.exec_id for f in o.fills}) == len(o.fills)
    assert o.commission == pytest.approx(0.5 * len(unique))
    assert (o.state == S.FILLED) == (o.filled == o.quantity)


ERRORS = [BrokerError(201, "rejected", 7), BrokerError(202, "cancelled", 7),
          BrokerError(161, "not cancellable", 7), BrokerError(2109, "ignored", 7, is_warning=True)]
actions = st.lists(st.one_of(
    st.tuples(st.just("status"), st.integers(0, len(STATUS_TEXTS) - 1), st.integers(0, 100)),
    st.tuples(st.just("fill"), st.integers(0, 8), st.integers(1, 40)),
    st.tuples(st.just("error"), st.integers(0, len(ERRORS) - 1), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0), st.just(0)),
    st.tuples(st.just("sent"), st.just(0), st.just(0)),
), max_size=40)


@settings(max_examples=400, deadline=None)
@given(steps=actions)
def test_any_mix_of_reports_follows_the_table(steps: list[tuple[str, int, int]]) -> None:
    o = order()
    for kind, a, b in steps:
        before = o
        if kind == "status":
            filled = max(b, int(o.reported_filled))
            o = _step(o, lc.apply_status, status(STATUS_TEXTS[a], filled, 100 - filled))
        elif kind == "fill":
            o = _step(o, lc.apply_fill, fill(f"e{a}", b))
        elif kind == "error":
            o = _step(o, lc.apply_error, ERRORS[a], 5.0)
        elif kind == "cancel":
            o = _step(o, lc.request_cancel, 5.0)
        else:
            o = _step(o, lc.mark_sent, 7, 5.0)
        if before.is_final:
            assert o.state == before.state
        if o.state != before.state:
            assert o.state in lc.TRANSITIONS[before.state]
        assert o.fill_quantity <= o.quantity and o.filled >= before.filled
