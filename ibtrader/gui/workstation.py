"""The views other engineers build, joined to the main window over a running engine:

- the chart (`gui.chart`): the window's centre, fed by `ChartFeed`, following the
  watchlist's selection, with the symbol's signals, working orders and position drawn on
  it (`ChartLinks`); File > Export chart saves it as PNG;
- the trading panels (`gui.trading`): order ticket, orders, positions, account, signals as
  docks (they find their saved places again); the ticket follows the selection; Trading >
  Backtest opens the backtest dialog.

`attach_views` returns a `Views` whose `detach()` lets go of the engine before it stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.config import Settings
    from ibtrader.gui.main_window import MainWindow

log = logging.getLogger(__name__)

Area = Qt.DockWidgetArea
PANEL_PLACES = {"Order ticket": ("ticket", Area.RightDockWidgetArea),
                "Account": ("account", Area.RightDockWidgetArea),
                "Signals": ("signals", Area.RightDockWidgetArea),
                "Orders": ("orders", Area.BottomDockWidgetArea),
                "Positions": ("positions", Area.BottomDockWidgetArea)}


@dataclass
class Views:
    window: MainWindow
    chart: Any = None
    feed: Any = None
    links: Any = None  # signals, orders and the position drawn on the chart
    panels: Any = None
    _pending_symbol: str = ""
    _engine: Any = None
    _actions: list[QAction] = field(default_factory=list)

    def show_symbol(self, symbol: str) -> None:
        """The selected symbol on the chart; if it is not streaming yet, once it is."""
        if self.feed is None:
            return
        try:
            self.feed.show(symbol)
            self._pending_symbol = ""
        except KeyError:  # its history is still coming in
            self._pending_symbol = symbol

    def _history_ready(self, symbol: str) -> None:
        if symbol == self._pending_symbol:
            self.show_symbol(symbol)

    def export_chart(self) -> None:
        if self.chart is None:
            self.window.notifier.notify("Export", "there is no chart to export")
            return
        dialog = QFileDialog(self.window, "Export chart as PNG")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("PNG images (*.png)")
        dialog.setDefaultSuffix("png")
        dialog.selectFile(f"{self.chart.symbol or 'chart'}.png")
        dialog.fileSelected.connect(self.export_to)
        dialog.open()  # not exec(): the loop keeps running

    def export_to(self, path: str) -> None:
        try:
            saved = self.chart.export_png(path)
        except (OSError, ValueError) as exc:
            self.window.notifier.notify("Export failed", str(exc))
            return
        self.window.notifier.notify("Export", f"chart saved to {saved}")

    def detach(self) -> None:
        if self.panels is not None:
            self.panels.detach()
        if self.feed is not None:
            self.feed.close()
        if self.links is not None:
            self.links.close()
        if self._engine is not None:
            self._engine.market_data.history_ready -= self._history_ready
            self._engine = None
        for action in self._actions:
            action.setEnabled(False)


def attach_views(window: MainWindow, engine: Engine, settings: Settings) -> Views:
    views = Views(window)
    _attach_chart(views, engine)
    if engine.orders is not None:
        _attach_trading(views, engine, settings)
    window.export_chart_requested.connect(views.export_chart)
    current = window.watchlist.selected_symbol()
    if current is None and window.watchlist.model.symbols():
        window.watchlist.select(window.watchlist.model.symbols()[0])  # something to look at
    elif current is not None:
        window.symbol_selected.emit(current)
    return views


def _attach_chart(views: Views, engine: Engine) -> None:
    from ibtrader.gui.chart import ChartWidget
    from ibtrader.gui.chart.feed import ChartFeed
    from ibtrader.gui.chart_links import ChartLinks

    views.chart = ChartWidget(views.window)
    views.feed = ChartFeed(views.chart, engine.market_data)
    views.links = ChartLinks(views.chart, engine)
    _restore_indicators(views.chart, views.window)
    views.window.set_central(views.chart)
    views._engine = engine
    engine.market_data.history_ready += views._history_ready
    views.window.symbol_selected.connect(views.show_symbol)


def _attach_trading(views: Views, engine: Engine, settings: Settings) -> None:
    from ibtrader.gui.trading.panels import TradingPanels, open_backtest

    window = views.window
    panels = TradingPanels.build(engine, settings, window)
    views.panels = panels
    for title, widget in panels.widgets().items():
        name, area = PANEL_PLACES.get(title, (title.lower().replace(" ", "_"),
                                              Area.RightDockWidgetArea))
        if name in window.panels:  # a second engine session in the same window
            window.panels[name].setWidget(widget)
        else:
            window.add_panel(name, title, widget, area)
    window.symbol_selected.connect(panels.ticket.set_symbol)
    backtest = QAction("&Backtest…", window)
    backtest.setShortcut(QKeySequence("Ctrl+Shift+B"))  # Ctrl+B buys in the ticket
    backtest.triggered.connect(lambda _c=False: open_backtest(
        settings, tuple(window.watchlist.model.symbols()), window))
    window.trading_menu.addAction(backtest)
    window.addAction(backtest)
    views._actions.append(backtest)


INDICATORS_KEY = "chart/indicators"


def _restore_indicators(chart: Any, window: MainWindow) -> None:
    """The trader's last choice of indicators (or the default), saved when it changes."""
    from ibtrader.gui.chart.indicator_menu import DEFAULT_CHOICE

    saved = window.store.value(INDICATORS_KEY)
    specs = [saved] if isinstance(saved, str) else list(saved or ())
    chart.indicator_menu.choose(specs if saved is not None else DEFAULT_CHOICE)
    chart.indicator_menu.changed.connect(
        lambda chosen: window.store.setValue(INDICATORS_KEY, list(chosen)))
