"""Account: net liquidation, cash, buying power and today's P&L.

Net liquidation and buying power are the broker's (the account port's kept snapshot, a
cheap read of memory); P&L is the order manager's portfolio (realized + unrealized since
the day started). The broker port does not report cash yet, so cash is shown as net
liquidation less the market value of the positions, and labelled so. The panel reads
these once a second and right after a fill, never per tick.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.table import DOWN, UP
from ibtrader.gui.trading.wiring import Subscriptions

FIELDS = ("net_liquidation", "cash", "buying_power", "daily_pnl", "unrealized", "realized")
LABELS = {"net_liquidation": "Net liquidation", "cash": "Cash (net liq. − positions)",
          "buying_power": "Buying power", "daily_pnl": "Daily P&&L",
          "unrealized": "Unrealized P&&L", "realized": "Realized P&&L"}
SIGNED = ("daily_pnl", "unrealized", "realized")
# ("&&": a form label would take a lone "&" for a keyboard mnemonic)


class AccountPanel(QWidget):
    def __init__(self, account: Any, orders: Any, parent: QWidget | None = None,
                 every_ms: int = 1000) -> None:
        super().__init__(parent)
        self._account = account  # AccountPort
        self._orders = orders  # OrderManager (portfolio)
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout(self)
        for name in FIELDS:
            label = QLabel(fmt.DASH)
            label.setObjectName(name)
            self.labels[name] = label
            form.addRow(LABELS[name], label)
        self.values: dict[str, float] = {}
        self._timer = QTimer(self, interval=every_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self._fills: Coalescer[str, bool] = Coalescer(lambda _b: self.refresh(), hz=4,
                                                      parent=self)
        self.subscriptions = Subscriptions()
        self.subscriptions.on(orders.fill_received, lambda _f: self._fills.put("fill", True))
        self.refresh()

    def detach(self) -> None:
        self._timer.stop()
        self.subscriptions.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    def refresh(self) -> None:
        snapshot = self._account.account()
        portfolio = self._orders.portfolio
        daily, unrealized, realized = portfolio.totals()
        held = sum(p.market_value for p in portfolio.positions()
                   if math.isfinite(p.market_value))
        values = {"net_liquidation": snapshot.equity, "cash": snapshot.equity - held,
                  "buying_power": snapshot.buying_power, "daily_pnl": daily,
                  "unrealized": unrealized, "realized": realized}
        for name, value in values.items():
            if self.values.get(name) == value:
                continue  # unchanged: no repaint
            label = self.labels[name]
            label.setText(fmt.money(value, signed=name in SIGNED))
            if name in SIGNED:
                sign = fmt.pnl_sign(value)
                colour = UP if sign > 0 else DOWN if sign < 0 else None
                label.setStyleSheet(f"color: {colour.name()}" if colour else "")
        self.values = values
