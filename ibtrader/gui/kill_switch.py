"""`KillSwitchButton`: always visible; after a confirmation it stops all trading at once.

It calls the order manager's `kill_switch(flatten)`: auto-trade off for every strategy,
every open order of the account cancelled, and, when the trader ticks the box, every
position closed at market. The dialog is opened non-modally (`open`, not `exec`), so the
shared asyncio loop keeps running (fills, cancels) while the trader decides.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QMessageBox, QPushButton, QWidget

if TYPE_CHECKING:
    from ibtrader.services.order_manager import OrderManager
    from ibtrader.services.order_reports import KillSwitchReport

log = logging.getLogger(__name__)


class KillSwitchButton(QPushButton):
    tripped = Signal(object)  # the KillSwitchReport
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("KILL SWITCH", parent)
        self.setObjectName("killSwitch")
        self.setToolTip("Cancel every open order and stop auto-trading (Ctrl+Shift+K)")
        self.orders: OrderManager | None = None
        self.dialog: QMessageBox | None = None
        self.flatten_box: QCheckBox | None = None
        self.running: asyncio.Task[None] | None = None
        self.clicked.connect(self.ask)
        self.setEnabled(False)  # until an order manager is attached

    def attach(self, orders: OrderManager | None) -> None:
        self.orders = orders
        self.setEnabled(orders is not None)

    def ask(self) -> None:
        """Show the confirmation; the kill switch runs only on an explicit Yes."""
        if self.orders is None or (self.running is not None and not self.running.done()):
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Kill switch",
                          "Cancel every open order and turn auto-trading off?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self.window())
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.flatten_box = QCheckBox("Also close every position at market", box)
        box.setCheckBox(self.flatten_box)
        box.finished.connect(self._answered)
        self.dialog = box
        box.open()

    def _answered(self, result: int) -> None:
        box, self.dialog = self.dialog, None
        if box is None:
            return
        flatten = bool(self.flatten_box and self.flatten_box.isChecked())
        box.deleteLater()
        if result == QMessageBox.StandardButton.Yes:
            self.running = asyncio.ensure_future(self.trip(flatten))

    async def trip(self, flatten: bool) -> KillSwitchReport | None:
        if self.orders is None:
            return None
        self.setEnabled(False)
        self.setText("KILLING…")
        try:
            report = await self.orders.kill_switch(flatten=flatten)
        except Exception as exc:  # shown to the trader: the switch did not complete
            log.exception("kill switch failed")
            self.failed.emit(f"kill switch failed: {exc}")
            return None
        finally:
            self.setText("KILL SWITCH")
            self.setEnabled(self.orders is not None)
        log.warning("kill switch: %d orders cancelled, %d closing orders, %d still open%s",
                    len(report.cancelled), len(report.flattening), len(report.still_open),
                    f"; errors: {'; '.join(report.errors)}" if report.errors else "")
        self.tripped.emit(report)
        return report
