"""Notifications from the journal's writes and the engine's events, as the outbox queues
them for n8n: which writes are events, under which ids (once per fact: a filled order saved
again, or a decision moved on, notifies no second time), and the one-line messages."""

from __future__ import annotations

import logging

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.core.broker import BrokerError, ConnectionState
from ibtrader.core.decisions import DecisionState
from ibtrader.core.events import Event
from ibtrader.core.orders.lifecycle import (
    apply_error,
    apply_fill,
    apply_status,
    mark_sent,
    new_order,
)
from ibtrader.services.notifier import ConnectionNotifier, NotificationMirror, message
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.adapters.test_journal_orders import fill, request, status


@pytest.fixture
def notified(tmp_path):
    journal = SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[NotificationMirror()])
    outbox = SqliteOutbox(journal.path)
    yield journal, outbox
    outbox.close()
    journal.close()


def events(outbox: SqliteOutbox) -> dict[str, dict]:
    return {r.record_id: {"kind": r.kind, **r.payload["data"]} for r in outbox.records("n8n")}


def test_a_signal_and_a_new_decision_notify_once_and_later_states_do_not(notified):
    journal, outbox = notified
    signal = a_signal()
    decision = a_decision(signal)
    assert decision.state is DecisionState.PENDING
    with journal.atomic():
        journal.record_signal(signal)
        journal.record_decision(decision)
    accepted = decision.moved(DecisionState.ACCEPTED, NOW + 5, "accepted by the trader")
    journal.update_decision(accepted)
    journal.update_decision(accepted.moved(DecisionState.SUBMITTED, NOW + 6))
    found = events(outbox)
    assert set(found) == {f"signal:{signal.id}", f"decision:{decision.id}"}
    assert found[f"signal:{signal.id}"]["reason"] == "SuperTrend turned bullish"
    assert found[f"decision:{decision.id}"]["state"] == "pending"
    [record] = [r for r in outbox.records("n8n") if r.kind == "decision"]
    assert record.rev == 0  # never queued again


def test_a_decision_refused_by_a_risk_rule_is_a_risk_limit_event(notified):
    journal, outbox = notified
    signal = a_signal()
    pending = a_decision(signal)
    with journal.atomic():
        journal.record_signal(signal)
        journal.record_decision(pending)
    accepted = pending.moved(DecisionState.ACCEPTED, NOW + 1)
    journal.update_decision(accepted)
    journal.update_decision(accepted.moved(DecisionState.REFUSED, NOW + 2,
                                           "buying power 0", "no_buying_power"))
    found = events(outbox)[f"risk_limit:{pending.id}"]
    assert found["refusal_code"] == "no_buying_power" and found["symbol"] == "AAPL"
    assert message("risk_limit", found) == ("ibtrader: Risk limit no_buying_power on AAPL: "
                                            "buying power 0")
    # the order side's failure is no second risk event: `refused` reports the rule itself
    other = a_decision(signal, NOW + 10)
    journal.record_decision(other)
    other = other.moved(DecisionState.ACCEPTED, NOW + 11)
    journal.update_decision(other)
    journal.update_decision(other.moved(DecisionState.REFUSED, NOW + 12,
                                        "order submission failed: ...", "submission_failed"))
    assert f"risk_limit:{other.id}" not in events(outbox)


def test_a_fill_and_a_rejection_notify_once_per_order(notified):
    journal, outbox = notified
    order, changes = new_order(request("ibt-7"), 1000.0)
    journal.save_order(order, changes)
    order, changes = mark_sent(order, 7, 1000.1)
    journal.save_order(order, changes)
    order, changes = apply_fill(order, fill("ibt-7", "e1", 100, 1000.3))
    journal.save_order(order, changes)
    order, changes = apply_status(order, status("ibt-7", "Filled", 100, 1000.4))
    journal.save_order(order, changes)  # saved again once filled: no second event
    rejected, changes = new_order(request("ibt-8"), 1001.0)
    journal.save_order(rejected, changes)
    rejected, changes = mark_sent(rejected, 8, 1001.1)
    journal.save_order(rejected, changes)
    rejected, changes = apply_error(rejected, BrokerError(201, "Order rejected - no margin", 8),
                                    1001.2)
    journal.save_order(rejected, changes)
    journal.save_order(rejected)  # saved again: no second event
    found = events(outbox)
    assert set(found) == {"order_filled:ibt-7", "order_rejected:ibt-8"}
    assert message("order_rejected", found["order_rejected:ibt-8"]) == (
        "ibtrader: Rejected buy 100 AAPL: broker error 201: Order rejected - no margin")
    filled = found["order_filled:ibt-7"]
    assert (filled["symbol"], filled["side"], filled["filled"]) == ("AAPL", "buy", 100)
    assert message("order_filled", filled) == "ibtrader: Filled buy 100 AAPL at 190.4"


def test_engine_events_are_queued_and_logged(notified, caplog):
    journal, outbox = notified
    notifier = ConnectionNotifier(journal, clock=lambda: NOW)
    state_changed: Event = Event("state_changed")
    disabled: Event = Event("auto_trade_disabled")
    risk_event: Event = Event("risk_event")
    refused: Event = Event("refused")
    notifier.attach(state_changed=state_changed, auto_trade_disabled=disabled,
                    risk_event=risk_event, refused=refused)
    with caplog.at_level(logging.INFO, logger="ibtrader.notify"):
        state_changed.emit(ConnectionState.LOST, "1100")
        state_changed.emit(ConnectionState.RECONNECTING, "still lost")  # the same outage
        state_changed.emit(ConnectionState.CONNECTED, "1102")
        state_changed.emit(ConnectionState.CONNECTED, "again")  # nothing was lost
        disabled.emit("kill switch engaged")
        risk_event.emit("AAPL buy 10: price outside the band")  # an order refusal: below
        risk_event.emit("kill switch released: new entries allowed again")
        refused.emit(request("ibt-9", quantity=200_000),
                     [("max_order_quantity", "quantity 200000 is above the 100000 allowed")])
        refused.emit(request("ibt-10"), [("no_price", "no quote")])  # no risk rule
    kinds = sorted(e["kind"] for e in events(outbox).values())
    assert kinds == ["connection_lost", "connection_restored", "kill_switch", "kill_switch",
                     "risk_limit"]
    assert events(outbox)["risk_limit:ibt-9"]["refusal_code"] == "max_order_quantity"
    logged = [r.getMessage() for r in caplog.records]
    assert "ibtrader: Kill switch ENGAGED: kill switch engaged" in logged
    assert "ibtrader: Connection to the broker lost: 1100" in logged


def test_without_a_sink_events_are_only_logged(tmp_path, caplog):
    with SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[NotificationMirror(None)]) as j, \
            caplog.at_level(logging.INFO, logger="ibtrader.notify"):
        j.record_signal(a_signal())
        ConnectionNotifier(j, None).on_kill_switch("kill switch engaged")
        box = SqliteOutbox(j.path)
        try:
            assert box.records("n8n") == []
        finally:
            box.close()
    assert [r.getMessage().split(":")[1].strip().split()[0] for r in caplog.records] == [
        "Signal", "Kill"]
