"""Orders: the working ones (cancel, modify, cancel all) and the completed ones.

The panel shows the order manager's orders, kept current by its `order_changed` event,
coalesced (a chased order may be repriced many times a second): each order's row is
repainted at most `hz` times a second with its newest state.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.orders.lifecycle import FINAL, Order, OrderState
from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.order_modify import ModifyDialog
from ibtrader.gui.trading.table import Column, RowsModel, table_view
from ibtrader.gui.trading.tasks import spawn
from ibtrader.gui.trading.wiring import Subscriptions


def _price(value: float | None) -> str:
    return fmt.DASH if value is None else fmt.price(value, 4)


def _type(order: Order) -> str:
    r = order.request
    text = r.order_type
    if r.trail_percent is not None:
        text += f" {r.trail_percent:g}%"
    elif r.trail_amount is not None:
        text += f" {r.trail_amount:g}"
    if order.parent_key:
        text += " (bracket leg)"
    return text


COLUMNS: list[Column[Order]] = [
    Column("Time", lambda o: fmt.clock(o.created)),
    Column("Symbol", lambda o: o.request.symbol),
    Column("Side", lambda o: o.request.side.upper()),
    Column("Qty", lambda o: fmt.quantity(o.quantity), right=True),
    Column("Type", _type),
    Column("Limit", lambda o: _price(o.request.limit), right=True),
    Column("Stop", lambda o: _price(o.request.stop), right=True),
    Column("TIF", lambda o: o.request.tif.upper()),
    Column("State", lambda o: o.state.value.replace("_", " ")),
    Column("Filled", lambda o: fmt.quantity(o.filled), right=True),
    Column("Avg price", lambda o: fmt.price(o.avg_price, 4), right=True),
    Column("Source", lambda o: o.request.source),
    Column("Note", lambda o: o.last_error),
    Column("Key", lambda o: o.client_key),
]


def is_working(order: Order) -> bool:
    return order.state not in FINAL


class OrdersPanel(QWidget):
    """`problem(str)` tells what the manager refused (a cancel or modify not sent)."""

    problem = Signal(str)

    def __init__(self, orders: Any, parent: QWidget | None = None, hz: float = 10.0) -> None:
        super().__init__(parent)
        self._orders = orders  # the OrderManager
        self.working = RowsModel(COLUMNS, key=lambda o: o.client_key, parent=self)
        self.completed = RowsModel(COLUMNS, key=lambda o: o.client_key, parent=self)
        self.working_view = table_view(self.working)
        self.completed_view = table_view(self.completed)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.working_view, "Working")
        self.tabs.addTab(self.completed_view, "Completed")
        self.cancel_button = QPushButton("Cancel")
        self.modify_button = QPushButton("Modify…")
        self.cancel_all_button = QPushButton("Cancel all")
        self.status = QLabel(wordWrap=True)
        buttons = QHBoxLayout()
        for button in (self.cancel_button, self.modify_button, self.cancel_all_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.modify_button.clicked.connect(self.modify_selected)
        self.cancel_all_button.clicked.connect(self._confirm_cancel_all)
        self.working_view.doubleClicked.connect(lambda _i: self.modify_selected())

        self._changes: Coalescer[str, Order] = Coalescer(self._show, hz=hz, parent=self)
        self.subscriptions = Subscriptions()
        self.subscriptions.on(orders.order_changed, self.on_order_changed)
        self._show({o.client_key: o for o in orders.orders()})

    def detach(self) -> None:
        self.subscriptions.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    def on_order_changed(self, order: Order) -> None:
        """The engine's event: kept until the next flush (newest wins), never drawn here."""
        self._changes.put(order.client_key, order)

    def _show(self, changed: dict[str, Order]) -> None:
        for key, order in sorted(changed.items(), key=lambda kv: kv[1].created):
            if is_working(order):
                self.completed.remove(key)
                self.working.upsert(order)
            else:
                self.working.remove(key)
                self.completed.upsert(order)
        self._update_tab_titles()

    def _update_tab_titles(self) -> None:
        self.tabs.setTabText(0, f"Working ({self.working.rowCount()})")
        self.tabs.setTabText(1, f"Completed ({self.completed.rowCount()})")

    def selected(self) -> Order | None:
        rows = self.working_view.selectionModel().selectedRows()
        return self.working.row(rows[0].row()) if rows else None

    def select(self, key: str) -> None:
        i = self.working.find(key)
        if i >= 0:
            self.working_view.selectRow(i)

    # --- commands -------------------------------------------------------------------------
    def cancel_selected(self) -> None:
        order = self.selected()
        if order is None:
            self._say("select a working order to cancel")
            return
        self._say(f"cancelling {order.client_key}…")
        spawn(self._orders.cancel(order.client_key),
              done=lambda o: self._say(f"cancel of {o.client_key}: {o.state.value}"),
              failed=self._failed, name=f"cancel {order.client_key}")

    def modify_selected(self) -> ModifyDialog | None:
        order = self.selected()
        if order is None:
            self._say("select a working order to modify")
            return None
        if order.state is OrderState.CANCEL_REQUESTED:
            self._say("a cancel is pending for that order: it cannot be modified")
            return None
        dialog = ModifyDialog(order, self)
        dialog.finished.connect(lambda result: self._modify(dialog, result))
        dialog.open()
        return dialog

    def _modify(self, dialog: ModifyDialog, result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            return
        changes = dialog.changes()
        key = dialog.order.client_key
        self._say(f"modifying {key}…")
        spawn(self._orders.modify(key, quantity=changes.quantity, limit=changes.limit,
                                  stop=changes.stop),
              done=lambda o: self._say(f"modified {o.client_key}: {o.state.value}"),
              failed=self._failed, name=f"modify {key}")

    def _confirm_cancel_all(self) -> None:
        answer = QMessageBox.question(self, "Cancel all orders",
                                      "Cancel every open order of the account?")
        if answer == QMessageBox.StandardButton.Yes:
            self.cancel_all()

    def cancel_all(self) -> None:
        self._say("cancelling every open order…")
        spawn(self._orders.cancel_all(),
              done=lambda changed: self._say(f"cancel requested for {len(changed)} orders"),
              failed=self._failed, name="cancel all")

    def _failed(self, exc: BaseException) -> None:
        problems = getattr(exc, "problems", None)
        text = "; ".join(m for _, m in problems) if problems else (str(exc) or repr(exc))
        self._say(f"refused: {text}")
        self.problem.emit(text)

    def _say(self, text: str) -> None:
        self.status.setText(text)

