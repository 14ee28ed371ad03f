"""The order ticket with the orders and positions panels, against the real engine and the
simulated gateway: typed and clicked as a trader would, checked on the screen too."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QWidget

from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.gui.trading.account_panel import AccountPanel
from ibtrader.gui.trading.orders_panel import OrdersPanel
from ibtrader.gui.trading.positions_panel import PositionsPanel
from ibtrader.gui.trading.ticket import OrderTicket
from tests.gui.trading.conftest import drive, settings_for
from tests.gui.trading.shots import colours, count_near, grab

ERROR_RED = QColor("#d64541")


def desk(qtbot, engine, settings):
    """A ticket beside the orders, positions and account panels, shown on screen."""
    window = QWidget()
    row = QHBoxLayout(window)
    ticket = OrderTicket.for_engine(engine, settings)
    orders = OrdersPanel(engine.orders)
    positions = PositionsPanel(engine.orders, engine.broker.market_data.quotes_updated)
    account = AccountPanel(engine.broker.account, engine.orders, every_ms=200)
    for panel in (ticket, orders, positions, account):
        row.addWidget(panel)
    qtbot.addWidget(window)
    window.resize(1600, 520)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window, ticket, orders, positions, account


def type_symbol(qtbot, ticket, symbol="AAPL"):
    qtbot.keyClicks(ticket.symbol, symbol)
    qtbot.waitUntil(lambda: "bid" in ticket.quote_line.text(), timeout=20_000)


def test_a_limit_order_typed_and_clicked_works_then_a_marketable_one_fills(qtbot, engine_for,
                                                                          tmp_path):
    settings = settings_for(tmp_path)
    engine = engine_for(settings)
    window, ticket, orders, positions, account = desk(qtbot, engine, settings)
    type_symbol(qtbot, ticket)
    quote = engine.orders.quote("AAPL")
    resting = round(quote.bid * 0.98, 2)  # 2% under: works, inside the 5% price band

    qtbot.keyClicks(ticket.quantity, "10")
    qtbot.keyClicks(ticket.limit, f"{resting:.2f}")
    qtbot.waitUntil(lambda: ticket.last_check is not None and ticket.last_check.ok)
    assert "value ≈ " + f"{10 * resting:,.2f}" in ticket.preview.text()
    assert "commission ≈ 0.35" in ticket.preview.text()  # IB's minimum for 10 shares
    qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: orders.working.rowCount() == 1, timeout=10_000)
    [working] = orders.working.rows()
    key = working.client_key
    assert orders.working.text(key, "Limit") == f"{resting:,.4f}"
    qtbot.waitUntil(lambda: orders.working.text(key, "State") == "working", timeout=10_000)
    assert orders.tabs.tabText(0) == "Working (1)"

    # a marketable limit, typed and sent with the keyboard (Ctrl+S sells)
    quote = engine.orders.quote("AAPL")
    ticket.limit.clear()
    ticket.quantity.clear()
    qtbot.keyClicks(ticket.quantity, "7")
    qtbot.keyClicks(ticket.limit, f"{round(quote.bid * 0.995, 2):.2f}")
    ticket.limit.setFocus()
    qtbot.keyClick(ticket.limit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: orders.completed.rowCount() == 1, timeout=10_000)
    [done] = orders.completed.rows()
    assert done.request.side == "sell" and done.state is OrderState.FILLED
    assert orders.completed.text(done.client_key, "Filled") == "7"
    qtbot.waitUntil(lambda: positions.model.find("AAPL") >= 0, timeout=10_000)
    assert positions.model.text("AAPL", "Qty") == "-7"
    assert positions.model.text("AAPL", "Avg cost") != "—"
    # the account: a short's market value is negative, so cash is above net liquidation
    qtbot.waitUntil(lambda: account.values["realized"] != 0 or account.values["unrealized"]
                    != 0, timeout=5_000)
    values = account.values
    assert values["cash"] > values["net_liquidation"] > 0
    assert account.labels["net_liquidation"].text() == f"{values['net_liquidation']:,.2f}"

    # the working order is cancelled from the panel
    orders.select(key)
    qtbot.mouseClick(orders.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: orders.working.rowCount() == 0, timeout=10_000)
    assert orders.completed.text(key, "State") == "cancelled"
    assert orders.tabs.tabText(1) == "Completed (2)"

    image = grab(window, tmp_path / "ticket_orders_positions.png")
    assert len(colours(image)) > 20  # text, tables, buttons: not a blank window


def test_an_invalid_quantity_shows_the_error_and_nothing_is_sent(qtbot, engine_for, tmp_path):
    settings = settings_for(tmp_path)
    engine = engine_for(settings)
    window, ticket, orders, _positions, _account = desk(qtbot, engine, settings)
    type_symbol(qtbot, ticket)
    refusals = []
    ticket.refused.connect(refusals.append)
    quote = engine.orders.quote("AAPL")

    qtbot.keyClicks(ticket.quantity, "-5")
    qtbot.keyClicks(ticket.limit, f"{quote.bid:.2f}")
    assert "quantity: must be above 0" in ticket.errors.text()
    assert ticket.quantity.property("invalid") is True
    qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)
    # the window binds Ctrl+B too (the main window opens backtests with it): in the
    # ticket the ticket's key wins, elsewhere the window's
    window_keys = []
    other = QAction("backtest", window)
    other.setShortcut(QKeySequence("Ctrl+B"))
    other.triggered.connect(lambda: window_keys.append("Ctrl+B"))
    window.addAction(other)
    ticket.quantity.setFocus()
    qtbot.keyClick(ticket.quantity, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window_keys == []
    orders.working_view.setFocus()
    qtbot.keyClick(orders.working_view, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window_keys == ["Ctrl+B"]
    ticket.quantity.clear()
    qtbot.keyClicks(ticket.quantity, "2.5")  # whole shares only: validation says so
    assert "AAPL trades in whole shares" in ticket.errors.text()
    qtbot.mouseClick(ticket.sell, Qt.MouseButton.LeftButton)

    assert len(refusals) == 3 and "not sent" in ticket.status.text()
    qtbot.wait(300)  # anything sent would have reached the manager by now
    assert engine.orders.orders() == [] and orders.working.rowCount() == 0
    open_at_broker = drive(qtbot, engine.broker.orders.open_orders())
    assert open_at_broker == []
    image = grab(ticket, tmp_path / "ticket_invalid.png")
    assert count_near(image, ERROR_RED, tolerance=50) > 30  # the error is on screen, in red


def test_risk_says_no_in_the_preview_and_nothing_is_sent(qtbot, engine_for, tmp_path):
    settings = settings_for(tmp_path, max_order_value=1_000.0)
    engine = engine_for(settings)
    _window, ticket, orders, _positions, _account = desk(qtbot, engine, settings)
    type_symbol(qtbot, ticket)
    refused_at_manager = []
    engine.orders.refused += lambda request, problems: refused_at_manager.append(problems)
    quote = engine.orders.quote("AAPL")
    qtbot.keyClicks(ticket.quantity, "3")
    qtbot.keyClicks(ticket.limit, f"{quote.bid:.2f}")
    assert ticket.last_check.ok and "risk check: passes" in ticket.preview.text()
    qtbot.keyClicks(ticket.quantity, "00")  # 300 shares: over the 1,000 per order
    assert not ticket.last_check.ok
    assert "RISK SAYS NO: order value" in ticket.preview.text()
    assert "above the 1,000.00 allowed per order" in ticket.preview.text()
    qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)
    assert "not sent" in ticket.status.text()
    assert "above the 1,000.00 allowed per order" in ticket.status.text()
    qtbot.wait(200)
    assert engine.orders.orders() == [] and orders.working.rowCount() == 0
    assert refused_at_manager == []  # refused before it reached the order manager


def test_a_price_policy_limit_is_previewed_then_priced_by_the_manager(qtbot, engine_for,
                                                                      tmp_path):
    settings = settings_for(tmp_path)
    engine = engine_for(settings)
    _window, ticket, orders, _positions, _account = desk(qtbot, engine, settings)
    type_symbol(qtbot, ticket)
    qtbot.keyClicks(ticket.quantity, "3")
    ticket.policy.setCurrentText("join")
    assert "limit by policy join:" in ticket.preview.text()
    assert ticket.last_check.ok and ticket.last_check.request.limit is None
    with qtbot.waitSignal(ticket.order_sent, timeout=10_000) as sent:
        qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)
    order = sent.args[0]
    quote = engine.orders.quote("AAPL")
    # join: a buy at the bid, priced from the quote when it was sent
    assert order.request.limit is not None and order.request.price_policy is not None
    assert abs(order.request.limit - quote.bid) < quote.bid * 0.01
    qtbot.waitUntil(lambda: orders.working.find(order.client_key) >= 0
                    or orders.completed.find(order.client_key) >= 0, timeout=10_000)
