"""The orders and positions panels' actions against the real engine: modify and cancel
all working orders, close a position, a ticket sized by risk with a bracket, and a
symbol the broker does not know."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from ibtrader.gui.trading.orders_panel import OrdersPanel
from ibtrader.gui.trading.positions_panel import PositionsPanel
from ibtrader.gui.trading.ticket import OrderTicket
from tests.gui.trading.conftest import drive, limit_request, quote_of, resting_buy, settings_for


def broker_limit(qtbot, engine, key):
    [held] = [o for o in drive(qtbot, engine.broker.orders.open_orders())
              if o.ticket.order_ref == key]
    return held.ticket.limit_price, held.ticket.quantity


def test_modify_then_cancel_all_from_the_orders_panel(qtbot, engine_for, tmp_path, monkeypatch):
    engine = engine_for()
    first = resting_buy(qtbot, engine)
    panel = OrdersPanel(engine.orders)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.working.text(first.client_key, "State") == "working",
                    timeout=10_000)

    panel.select(first.client_key)
    dialog = panel.modify_selected()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.quantity.setText("0")
    assert not ok.isEnabled() and "quantity" in dialog.error.text()
    new_limit = round(first.request.limit - 0.10, 2)
    dialog.quantity.setText("8")
    dialog.limit.setText(f"{new_limit:.2f}")
    assert ok.isEnabled()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.working.text(first.client_key, "Qty") == "8", timeout=10_000)
    assert panel.working.text(first.client_key, "Limit") == f"{new_limit:,.4f}"
    qtbot.waitUntil(lambda: broker_limit(qtbot, engine, first.client_key) == (new_limit, 8),
                    timeout=10_000)

    second = resting_buy(qtbot, engine, 3)
    qtbot.waitUntil(lambda: panel.working.rowCount() == 2, timeout=10_000)
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)  # the trader: yes
    qtbot.mouseClick(panel.cancel_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.working.rowCount() == 0, timeout=10_000)
    assert {panel.completed.text(k, "State") for k in (first.client_key, second.client_key)} \
        == {"cancelled"}
    assert drive(qtbot, engine.broker.orders.open_orders()) == []


def test_close_position_sends_the_opposite_market_order(qtbot, engine_for, tmp_path,
                                                        monkeypatch):
    engine = engine_for()
    quote = quote_of(qtbot, engine)
    bought = drive(qtbot, engine.orders.place(
        limit_request("AAPL", "buy", 12, round(quote.ask * 1.002, 2))))
    drive(qtbot, engine.orders.wait_final(bought.client_key, 10.0))
    panel = PositionsPanel(engine.orders, engine.broker.market_data.quotes_updated)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.model.find("AAPL") >= 0, timeout=5_000)
    assert panel.model.text("AAPL", "Qty") == "12"

    panel.view.selectRow(panel.model.find("AAPL"))
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text:
                        asked.append(text) or QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(panel.closing_sent, timeout=10_000) as sent:
        qtbot.mouseClick(panel.close_button, Qt.MouseButton.LeftButton)
    assert asked == ["Sell 12 AAPL at market?"]
    closing = sent.args[0].request
    assert (closing.side, closing.quantity, closing.order_type) == ("sell", 12, "mkt")
    qtbot.waitUntil(lambda: panel.model.text("AAPL", "Qty") == "0", timeout=10_000)
    assert panel.model.text("AAPL", "Realized") != "+0.00"  # the round trip cost something
    assert panel.close_position("AAPL") is False and "no position" in panel.status.text()


def test_a_risk_sized_bracket_and_an_unknown_symbol_in_the_ticket(qtbot, engine_for, tmp_path):
    settings = settings_for(tmp_path)
    engine = engine_for(settings)
    ticket = OrderTicket.for_engine(engine, settings)
    qtbot.addWidget(ticket)
    ticket.show()
    assert ticket.errors.text() == ""  # a fresh ticket is not shouted at
    assert "NOT READY" not in ticket.preview.text()
    qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)  # what is missing, in words
    assert "symbol: enter one" in ticket.errors.text()
    assert "quantity: enter one" in ticket.errors.text()
    assert engine.orders.orders() == []

    qtbot.keyClicks(ticket.symbol, "NOSUCH")
    qtbot.waitUntil(lambda: "NOSUCH" in ticket.errors.text(), timeout=10_000)
    assert ticket.symbol.property("invalid") is True

    ticket.symbol.clear()
    qtbot.keyClicks(ticket.symbol, "AAPL")
    qtbot.waitUntil(lambda: "bid" in ticket.quote_line.text(), timeout=20_000)
    quote = engine.orders.quote("AAPL")
    entry = round(quote.bid * 0.99, 2)
    qtbot.keyClicks(ticket.limit, f"{entry:.2f}")
    qtbot.keyClicks(ticket.stop_loss, f"{entry - 2:.2f}")
    qtbot.keyClicks(ticket.take_profit, f"{entry + 4:.2f}")
    box = ticket.risk_sized  # clicked on its indicator, at the left
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(6, box.height() // 2))
    # 0.5% of the simulator's 1,000,000 = 5,000 over 2.00 a share = 2,500 shares, capped by
    # max_position_value 25,000 at the entry price
    expected = int(25_000 // entry)
    qtbot.waitUntil(lambda: ticket.quantity.text() == str(expected), timeout=5_000)
    with qtbot.waitSignal(ticket.order_sent, timeout=10_000) as sent:
        qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)
    order = sent.args[0]
    assert order.request.quantity == expected and order.request.is_bracket
    legs = [o for o in engine.orders.orders() if o.parent_key == order.client_key]
    assert sorted(o.request.order_type for o in legs) == ["lmt", "stp"]
