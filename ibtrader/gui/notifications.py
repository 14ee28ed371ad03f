"""Notifications for what a trader must not miss: fills, rejections, risk events.

Each one goes to the `NotificationsPanel` (a list, newest first, kept for the session) and
pops up: as a desktop notification through the system tray when the platform has one, else
as an in-window toast. Bursts are coalesced: one pop-up per ~quarter second at most, naming
the newest and how many more came with it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QListWidget,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.gui.coalesce import Coalescer

if TYPE_CHECKING:
    from ibtrader.core.broker import BrokerFill
    from ibtrader.core.orders.lifecycle import Order
    from ibtrader.core.orders.request import OrderRequest
    from ibtrader.services.order_manager import OrderManager

log = logging.getLogger(__name__)

TOAST_MS = 5000
MAX_KEPT = 500


class NotificationsPanel(QListWidget):
    """Every notification of the session, newest on top."""

    def add(self, title: str, text: str) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.insertItem(0, f"{stamp}  {title}: {text}")
        while self.count() > MAX_KEPT:
            self.takeItem(self.count() - 1)


class Toast(QFrame):
    """A small box in the window's bottom-right corner that hides itself after a while."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("toast")
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: bold")
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def pop(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.setFixedWidth(320)
        self.adjustSize()
        parent = self.parentWidget()
        if parent is not None:
            self.move(parent.width() - self.width() - 16, parent.height() - self.height() - 40)
        self.raise_()
        self.show()
        self._timer.start(TOAST_MS)


class Notifier:
    """Turns order-manager events into notifications (`notify` takes any others)."""

    def __init__(self, window: QWidget, panel: NotificationsPanel,
                 use_tray: bool | None = None) -> None:
        self.panel = panel
        self.toast = Toast(window)
        self.tray: QSystemTrayIcon | None = None
        if QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray:
            icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
            self.tray = QSystemTrayIcon(QIcon(icon), window)
            self.tray.setToolTip("ibtrader")
            self.tray.show()
        self._seq = itertools.count()
        # parented to the window: a Qt object owned by Python in a reference cycle could be
        # collected on another thread (the simulator's), which Qt does not survive
        self._pending: Coalescer[int, tuple[str, str]] = Coalescer(self._pop, hz=4,
                                                                   parent=window)
        self._seen_fills: set[str] = set()
        self._rejected: set[str] = set()
        self._orders: OrderManager | None = None
        self.shown = 0  # notifications recorded: what tests count

    def attach(self, orders: OrderManager | None) -> None:
        self._orders = orders
        if orders is None:
            return
        orders.fill_received += self.on_fill
        orders.refused += self.on_refused
        orders.risk_event += self.on_risk
        orders.order_changed += self.on_order

    def detach(self) -> None:
        orders, self._orders = self._orders, None
        if orders is not None:
            orders.fill_received -= self.on_fill
            orders.refused -= self.on_refused
            orders.risk_event -= self.on_risk
            orders.order_changed -= self.on_order

    # ----- sources ------------------------------------------------------------------------
    def on_fill(self, fill: BrokerFill) -> None:
        if fill.exec_id in self._seen_fills:  # the same execution again, with commission
            return
        self._seen_fills.add(fill.exec_id)
        self.notify("Fill", f"{fill.side} {fill.quantity:g} {fill.symbol} @ {fill.price:g}")

    def on_refused(self, request: OrderRequest, problems: list) -> None:
        why = "; ".join(p[1] if isinstance(p, tuple) else str(p) for p in problems)
        self.notify("Order refused",
                    f"{request.side} {request.quantity:g} {request.symbol}: {why}")

    def on_risk(self, text: str) -> None:
        self.notify("Risk", text)

    def on_order(self, order: Order) -> None:
        if order.state == OrderState.REJECTED and order.client_key not in self._rejected:
            self._rejected.add(order.client_key)  # a later re-report says nothing new
            r = order.request
            self.notify("Order rejected", f"{r.side} {r.quantity:g} {r.symbol}: "
                                          f"{order.last_error or 'by the broker'}")

    # ----- presentation -------------------------------------------------------------------
    def notify(self, title: str, text: str) -> None:
        self.panel.add(title, text)
        self.shown += 1
        log.info("notification: %s: %s", title, text)
        self._pending.put(next(self._seq), (title, text))

    def _pop(self, batch: dict[int, tuple[str, str]]) -> None:
        title, text = batch[max(batch)]
        if len(batch) > 1:
            text += f"  (+{len(batch) - 1} more)"
        if self.tray is not None:
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information,
                                  TOAST_MS)
        else:
            self.toast.pop(title, text)
