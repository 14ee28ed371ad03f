"""The modify dialog of the orders panel: a working order's quantity, limit and stop.

Only the inputs the order's type uses are offered; each is parsed as typed (the same
parsers as the ticket) and OK stays disabled while one is wrong. The order manager
validates and risk-checks the change again before it sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QWidget

from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.request import OrderInputError, parse_price, parse_quantity
from ibtrader.gui.trading import fmt

PRICES = {"mkt": (), "lmt": ("limit",), "stp": ("stop",), "stp-lmt": ("stop", "limit"),
          "trail": ()}


@dataclass(frozen=True)
class Changes:
    quantity: float | None = None
    limit: float | None = None
    stop: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.quantity, self.limit, self.stop))


class ModifyDialog(QDialog):
    def __init__(self, order: Order, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.order = order
        request = order.request
        self.setWindowTitle(f"Modify {request.side} {request.quantity:g} {request.symbol}")
        self.quantity = QLineEdit(f"{request.quantity:g}")
        self.limit = QLineEdit("" if request.limit is None else f"{request.limit:g}")
        self.stop = QLineEdit("" if request.stop is None else f"{request.stop:g}")
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #d64541")
        form = QFormLayout(self)
        form.addRow("Quantity", self.quantity)
        uses = PRICES[request.order_type]
        if "limit" in uses:
            form.addRow("Limit", self.limit)
        if "stop" in uses:
            form.addRow("Stop", self.stop)
        form.addRow(QLabel(f"filled so far: {fmt.quantity(order.filled)}"))
        form.addRow(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.quantity, self.limit, self.stop):
            edit.textChanged.connect(self._check)
        self._check()

    def changes(self) -> Changes:
        """What differs from the order now; raises OrderInputError for bad input."""
        request = self.order.request
        uses = PRICES[request.order_type]
        quantity = parse_quantity(self.quantity.text())
        if quantity <= self.order.filled:
            raise OrderInputError("quantity", f"must be above the {self.order.filled:g} "
                                  "filled already")
        limit = parse_price(self.limit.text(), "limit") if "limit" in uses else None
        stop = parse_price(self.stop.text(), "stop") if "stop" in uses else None
        return Changes(quantity if quantity != request.quantity else None,
                       limit if limit != request.limit else None,
                       stop if stop != request.stop else None)

    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            changes = self.changes()
        except OrderInputError as exc:
            self.error.setText(str(exc))
            ok.setEnabled(False)
            return
        self.error.setText("" if changes.any else "nothing changed")
        ok.setEnabled(changes.any)
