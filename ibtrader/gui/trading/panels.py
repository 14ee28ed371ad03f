"""All the trading panels over one running engine, for the main window to dock.

    panels = TradingPanels.build(engine, settings)
    window.addDockWidget(..., dock(panels.ticket)) ...
    panels.detach()   # before the engine stops: no panel is called after that

The ticket drives the orders panel (a sent order shows its Working tab); the watchlist
drives the ticket through `ticket.set_symbol(symbol)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QWidget

from ibtrader.gui.trading.account_panel import AccountPanel
from ibtrader.gui.trading.backtest_dialog import BacktestDialog
from ibtrader.gui.trading.orders_panel import OrdersPanel
from ibtrader.gui.trading.positions_panel import PositionsPanel
from ibtrader.gui.trading.signals_panel import SignalsPanel
from ibtrader.gui.trading.ticket import OrderTicket


@dataclass
class TradingPanels:
    ticket: OrderTicket
    orders: OrdersPanel
    positions: PositionsPanel
    account: AccountPanel
    signals: SignalsPanel

    @classmethod
    def build(cls, engine: Any, settings: Any, parent: QWidget | None = None
              ) -> TradingPanels:
        if engine.orders is None:
            raise ValueError("the trading panels need the engine's order manager")
        quotes = engine.broker.market_data.quotes_updated
        panels = cls(
            ticket=OrderTicket(engine.orders, engine.broker.account, quotes, settings, parent),
            orders=OrdersPanel(engine.orders, parent),
            positions=PositionsPanel(engine.orders, quotes, parent),
            account=AccountPanel(engine.broker.account, engine.orders, parent),
            signals=SignalsPanel(engine.trading, engine.journal, parent))
        panels.ticket.order_sent.connect(lambda _o: panels.orders.tabs.setCurrentIndex(0))
        return panels

    def widgets(self) -> dict[str, QWidget]:
        return {"Order ticket": self.ticket, "Orders": self.orders,
                "Positions": self.positions, "Account": self.account,
                "Signals": self.signals}

    def detach(self) -> None:
        """Stop listening to the engine (call before it stops)."""
        for panel in (self.ticket, self.orders, self.positions, self.account, self.signals):
            panel.detach()


def open_backtest(settings: Any, symbols: tuple[str, ...] = (),
                  parent: QWidget | None = None) -> BacktestDialog:
    """The backtest dialog, shown without blocking (its runs go to an executor)."""
    dialog = BacktestDialog(settings, symbols, parent)
    dialog.open()
    return dialog
