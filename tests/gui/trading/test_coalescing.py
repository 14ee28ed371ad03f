"""Live data reaches the panels coalesced: a storm of engine events costs microseconds
each and makes a handful of repaints, the newest values winning. Prints its numbers
(run with -s to see them)."""

from __future__ import annotations

import dataclasses
import time

from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.gui.trading.orders_panel import OrdersPanel
from ibtrader.gui.trading.positions_panel import PositionsPanel
from tests.gui.trading.conftest import drive, limit_request, quote_of, resting_buy

EVENTS = 20_000


def test_an_order_event_storm_repaints_a_few_times_with_the_newest_state(qtbot, engine_for):
    engine = engine_for()
    order = resting_buy(qtbot, engine)
    qtbot.waitUntil(lambda: engine.orders.order(order.client_key).state
                    is OrderState.WORKING, timeout=5_000)
    base = engine.orders.order(order.client_key)
    # the same order reported again and again, as a chase would
    storm = [dataclasses.replace(base, reported_filled=i % 5) for i in range(EVENTS)]
    panel = OrdersPanel(engine.orders, hz=10)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.working.find(order.client_key) >= 0, timeout=5_000)
    repaints = []
    panel.working.dataChanged.connect(lambda *_: repaints.append(1))
    flushes = panel._changes.flushes

    started = time.perf_counter()
    for changed in storm:  # what the panel's handler costs the engine's loop per event
        panel.on_order_changed(changed)
    per_event_us = (time.perf_counter() - started) / EVENTS * 1e6
    for changed in storm:  # and through the manager's real event, with its other handlers
        engine.orders.order_changed.emit(changed)
    last = dataclasses.replace(base, reported_filled=4.0, state=OrderState.PARTIALLY_FILLED)
    engine.orders.order_changed.emit(last)
    qtbot.waitUntil(lambda: panel._changes.pending == 0, timeout=2_000)
    qtbot.wait(150)

    print(f"\norders panel: {EVENTS:,} order events, {per_event_us:.2f} us each for the panel, "
          f"{panel._changes.flushes - flushes} flushes, {len(repaints)} row repaints")
    assert per_event_us < 5
    assert panel._changes.flushes - flushes <= 3 and len(repaints) <= 3
    assert panel.working.text(order.client_key, "State") == "partially filled"
    assert panel.working.text(order.client_key, "Filled") == "4"


def test_a_quote_storm_redraws_positions_at_most_hz_times_a_second(qtbot, engine_for):
    engine = engine_for()
    quote = quote_of(qtbot, engine)
    bought = drive(qtbot, engine.orders.place(
        limit_request("AAPL", "buy", 10, round(quote.ask * 1.002, 2))))
    drive(qtbot, engine.orders.wait_final(bought.client_key, 10.0))
    panel = PositionsPanel(engine.orders, engine.broker.market_data.quotes_updated, hz=4)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.model.find("AAPL") >= 0, timeout=5_000)
    flushes = panel._dirty.flushes
    quotes_event = engine.broker.market_data.quotes_updated

    started = time.perf_counter()
    sent = 0
    while time.perf_counter() - started < 1.0:  # one second of quote batches, Qt running
        for _ in range(200):
            q = quote._replace(last=quote.last + (sent % 7) * 0.01, time=time.time())
            quotes_event.emit([q])
            sent += 1
        qtbot.wait(1)
    elapsed = time.perf_counter() - started
    qtbot.wait(300)
    redraws = panel._dirty.flushes - flushes
    print(f"\npositions panel: {sent:,} quote batches in {elapsed:.2f} s, {redraws} redraws")
    assert sent > 5_000 and 1 <= redraws <= 4 * elapsed + 2
    assert isinstance(engine.orders.quote("AAPL"), Quote)
