"""The journal's order side: orders round-trip with their history, executions are kept once
per exec id, refusals are kept with their reasons, and a write costs tens of microseconds."""

from __future__ import annotations

import math
import sqlite3
import statistics
import time
from dataclasses import replace

import pytest

from ibtrader.adapters.journal import SqliteJournal, SqliteOrderJournal
from ibtrader.core.broker import BrokerFill, BrokerOrderStatus
from ibtrader.core.orders.lifecycle import (
    OrderState,
    apply_fill,
    apply_status,
    mark_sent,
    new_order,
)
from ibtrader.core.orders.pricing import parse_chase, parse_policy
from ibtrader.core.orders.request import OrderRequest

S = OrderState


def request(key: str = "ibt-1", **fields) -> OrderRequest:
    base = dict(symbol="AAPL", side="buy", quantity=100, client_key=key, order_type="lmt",
                limit=190.5, tif="gtc", price_policy=parse_policy("marketable:2"),
                chase=parse_chase("5:1:10:market"), take_profit=195.0, stop_loss=188.25,
                decision_id="d1", source="decision", created=1000.0)
    return OrderRequest(**{**base, **fields})


def status(key: str, text: str, filled: float, t: float) -> BrokerOrderStatus:
    return BrokerOrderStatus(key, 7, 900, text, filled, 100 - filled, 190.4 if filled else
                             math.nan, t)


def fill(key: str, exec_id: str, qty: float, t: float, commission: float = math.nan
         ) -> BrokerFill:
    return BrokerFill(exec_id, key, 7, 900, "AAPL", "BUY", qty, 190.4, t, commission)


def test_an_order_round_trips_with_every_event_in_order(tmp_path) -> None:
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    order, events = new_order(request(), 1000.0)
    journal.save_order(order, events)
    steps = [lambda o: mark_sent(o, 7, 1000.1),
             lambda o: apply_status(o, status("ibt-1", "Submitted", 0, 1000.2)),
             lambda o: apply_fill(o, fill("ibt-1", "e1", 40, 1000.3)),
             lambda o: apply_status(o, status("ibt-1", "Submitted", 40, 1000.4))]
    for step in steps:
        order, events = step(order)
        journal.save_order(order, events)
    journal.record_execution(fill("ibt-1", "e1", 40, 1000.3), "ibt-1")
    journal.close()

    again = SqliteOrderJournal(tmp_path / "j.sqlite")  # as after a restart
    loaded = again.order("ibt-1")
    assert loaded.request == order.request  # policy and chase included
    assert (loaded.state, loaded.broker_id, loaded.perm_id, loaded.filled) == (
        S.PARTIALLY_FILLED, 7, 900, 40)
    assert [f.exec_id for f in loaded.fills] == ["e1"] and loaded.avg_price == 190.4
    kinds = [e.kind for e in again.order_events("ibt-1")]
    assert kinds == ["created", "sent", "status", "fill", "status"]
    assert [o.client_key for o in again.load_orders(open_only=True)] == ["ibt-1"]
    assert again.schema_version >= 2


def test_an_execution_is_kept_once_and_gains_its_commission(tmp_path) -> None:
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    journal.record_execution(fill("", "e9", 10, 50.0), "")  # not yet matched to an order
    journal.record_execution(fill("ibt-2", "e9", 10, 50.0, commission=1.25), "ibt-2")
    journal.record_execution(fill("ibt-2", "e9", 10, 50.0), "ibt-2")  # repeated, no news
    [kept] = journal.executions()
    assert (kept.order_ref, kept.commission) == ("ibt-2", 1.25)
    assert journal.last_execution_time() == 50.0
    assert journal.executions(since=50.5) == []


def test_refusals_are_kept_with_every_reason(tmp_path) -> None:
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    problems = [("max_order_value", "order value 19,050.00 is above the 10,000.00 allowed"),
                ("price_band", "limit price 190.5 is 6.0% from the last price")]
    journal.record_refusal(request("ibt-3"), problems, 77.0)
    [record] = journal.refusals()
    assert (record.client_key, record.symbol, record.problems) == ("ibt-3", "AAPL", problems)
    assert record.request["limit"] == 190.5


def test_a_failed_write_leaves_neither_the_row_nor_its_events(tmp_path) -> None:
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    order, events = new_order(request("ibt-4"), 1.0)
    bad = replace(events[0], client_key="not-an-order")  # violates the foreign key
    with pytest.raises(sqlite3.IntegrityError):
        journal.save_order(order, [*events, bad])
    assert journal.order("ibt-4") is None and journal.order_events("ibt-4") == []


def test_a_version_1_journal_is_upgraded_in_place(tmp_path) -> None:
    path = tmp_path / "j.sqlite"
    SqliteJournal(path).close()  # the engine's tables only... then version 2 is added
    journal = SqliteOrderJournal(path)
    assert journal.schema_version >= 2 and journal.load_orders() == []


def test_an_order_write_costs_tens_of_microseconds(tmp_path) -> None:
    """Journal writes run on the engine's loop: each one must stay far below a millisecond."""
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    order, events = new_order(request("ibt-5"), 1.0)
    journal.save_order(order, events)
    costs = []
    for i in range(300):
        order, events = apply_status(order, status("ibt-5", "Submitted", 0, 2.0 + i)) \
            if i == 0 else (replace(order, updated=2.0 + i), events)
        start = time.perf_counter()
        journal.save_order(order, events)
        costs.append(time.perf_counter() - start)
    p50 = statistics.median(costs)
    p99 = statistics.quantiles(costs, n=100)[98]
    print(f"order save (row + 1 event, committed): p50 {p50 * 1e6:.0f} us, "
          f"p99 {p99 * 1e6:.0f} us")
    assert p50 < 1e-3
