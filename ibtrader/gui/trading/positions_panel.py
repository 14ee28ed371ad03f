"""Positions: quantity, average cost, last, unrealized, realized and daily P&L per symbol,
and a close-position action (a market order for the whole position, the other way).

Values come from the order manager's portfolio (built from the journal's executions,
marked at the latest quotes). Fills and quotes only mark the panel dirty; it redraws at
most `hz` times a second, and only the cells whose text changed.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.portfolio import QTY_EPS, Position
from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.table import Column, RowsModel, table_view
from ibtrader.gui.trading.tasks import spawn
from ibtrader.gui.trading.wiring import Subscriptions

COLUMNS: list[Column[Position]] = [
    Column("Symbol", lambda p: p.symbol),
    Column("Qty", lambda p: fmt.quantity(p.quantity), right=True),
    Column("Avg cost", lambda p: fmt.price(p.avg_cost, 4) if p.quantity else fmt.DASH,
           right=True),
    Column("Last", lambda p: fmt.price(p.mark, 4), right=True),
    Column("Market value", lambda p: fmt.money(p.market_value), right=True),
    Column("Unrealized", lambda p: fmt.money(p.unrealized_pnl, signed=True),
           tone=lambda p: fmt.pnl_sign(p.unrealized_pnl), right=True),
    Column("Realized", lambda p: fmt.money(p.realized_pnl, signed=True),
           tone=lambda p: fmt.pnl_sign(p.realized_pnl), right=True),
    Column("Daily P&L", lambda p: fmt.money(p.daily_pnl, signed=True),
           tone=lambda p: fmt.pnl_sign(p.daily_pnl), right=True),
]


def closing_request(position: Position, now: float) -> OrderRequest:
    """A market order that takes the position to zero."""
    if abs(position.quantity) <= QTY_EPS:
        raise ValueError(f"{position.symbol}: no position to close")
    side = "sell" if position.quantity > 0 else "buy"
    return OrderRequest(symbol=position.symbol, side=side, quantity=abs(position.quantity),
                        client_key=new_client_key(now), order_type="mkt", tif="day",
                        source="ticket", created=now)


class PositionsPanel(QWidget):
    closing_sent = Signal(object)  # the closing Order
    problem = Signal(str)  # a closing order the manager refused

    def __init__(self, orders: Any, quotes_updated: Any, parent: QWidget | None = None,
                 hz: float = 4.0) -> None:
        super().__init__(parent)
        self._orders = orders  # the OrderManager (its portfolio holds the positions)
        self.model = RowsModel(COLUMNS, key=lambda p: p.symbol, parent=self)
        self.view = table_view(self.model)
        self.close_button = QPushButton("Close position")
        self.status = QLabel(wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.close_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.close_button.clicked.connect(self._confirm_close)
        self._dirty: Coalescer[str, bool] = Coalescer(lambda _b: self.refresh(), hz=hz,
                                                      parent=self)
        self.subscriptions = Subscriptions()
        self.subscriptions.on(orders.fill_received, lambda _f: self._dirty.put("fill", True))
        self.subscriptions.on(quotes_updated, self._on_quotes)
        self.refresh()

    def detach(self) -> None:
        self.subscriptions.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    def _on_quotes(self, quotes: list[Quote]) -> None:
        held = self.model.find
        if any(held(q.symbol) >= 0 for q in quotes):  # a mark moved: P&L changes
            self._dirty.put("quote", True)

    def refresh(self) -> None:
        self.model.replace_all(self._orders.portfolio.positions(include_flat=True))

    def selected(self) -> Position | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def _confirm_close(self) -> None:
        position = self.selected()
        if position is None:
            self.status.setText("select a position to close")
            return
        side = "sell" if position.quantity > 0 else "buy"
        answer = QMessageBox.question(
            self, "Close position",
            f"{side.capitalize()} {abs(position.quantity):g} {position.symbol} at market?")
        if answer == QMessageBox.StandardButton.Yes:
            self.close_position(position.symbol)

    def close_position(self, symbol: str) -> bool:
        """Send the market order closing `symbol`'s position; False when there is none."""
        position = self._orders.portfolio.position(symbol)
        try:
            request = closing_request(position, time.time())
        except ValueError as exc:
            self.status.setText(str(exc))
            return False
        self.status.setText(f"closing {symbol}: {request.side} {request.quantity:g} at market…")
        spawn(self._orders.place(request), done=self._closed, failed=self._failed,
              name=f"close {symbol}")
        return True

    def _closed(self, order: Order) -> None:
        self.status.setText(f"closing order for {order.request.symbol}: {order.state.value}")
        self.closing_sent.emit(order)

    def _failed(self, exc: BaseException) -> None:
        problems = getattr(exc, "problems", None)
        text = "; ".join(m for _, m in problems) if problems else str(exc)
        self.status.setText(f"not closed: {text}")
        self.problem.emit(text)
