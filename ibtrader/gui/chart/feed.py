"""`ChartFeed`: keeps a ChartWidget showing one symbol's bars from the market data service.

    feed = ChartFeed(chart, engine.market_data)
    window.symbol_selected.connect(feed.show)       # the bar-size selector is wired inside

Forming bars arrive with every tick (thousands a second across symbols); the feed keeps
only the shown symbol's, and a Coalescer hands the newest to the chart at most `hz` times
a second. Closed bars (one per bar period) go straight in. History comes from the service
(`history` + `forming`), again when its backfill reports in (`history_ready`). Times
show in the exchange's zone when the instrument names one.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PySide6.QtCore import QObject

from ibtrader.core.market import Bar, Instrument
from ibtrader.gui.coalesce import DEFAULT_HZ, Coalescer
from ibtrader.services.market_data import MarketDataService

from .widget import ChartWidget


class ChartFeed(QObject):
    def __init__(self, chart: ChartWidget, market_data: MarketDataService,
                 hz: float = DEFAULT_HZ) -> None:
        super().__init__(chart)
        self.chart, self.market_data = chart, market_data
        self.symbol = ""
        self.bar_size = chart.bar_size
        self._forming: Coalescer[int, Bar] = Coalescer(self._flush, hz, self)
        self._closed = False
        market_data.bar_forming += self._on_forming
        market_data.bar_closed += self._on_closed
        market_data.history_ready += self._on_history_ready
        chart.bar_size_changed.connect(self.show_bar_size)
        chart.destroyed.connect(self.close)

    def show(self, symbol: str, bar_size: str | None = None) -> None:
        """Show `symbol` (at `bar_size`, or the current one) with the service's history;
        KeyError if the service does not stream that symbol."""
        size = bar_size or self.bar_size
        history = self.market_data.history(symbol, size)
        self.symbol, self.bar_size = symbol, size
        self._forming.flush_now()  # drop nothing silently: the old symbol's last tick
        self.chart.tz = exchange_zone(self.market_data.instruments.get(symbol))
        self.chart.set_symbol(symbol, size, history)
        forming = self.market_data.forming(symbol, size)
        if forming is not None:
            self.chart.update_forming(forming)

    def show_bar_size(self, bar_size: str) -> None:
        if self.symbol:
            self.show(self.symbol, bar_size)
        else:
            self.bar_size = bar_size

    def close(self) -> None:
        """Stop listening (the chart going away does it too); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.market_data.bar_forming -= self._on_forming
        self.market_data.bar_closed -= self._on_closed
        self.market_data.history_ready -= self._on_history_ready

    def _on_forming(self, symbol: str, bar_size: str, bar: Bar) -> None:
        if symbol == self.symbol and bar_size == self.bar_size:
            self._forming.put(0, bar)

    def _on_closed(self, symbol: str, bar_size: str, bar: Bar) -> None:
        if symbol != self.symbol or bar_size != self.bar_size:
            return
        series = self.chart.series
        if len(series) and bar.time <= series.time[-1]:
            return  # already in the history the chart was loaded with
        self.chart.add_closed(bar)

    def _on_history_ready(self, symbol: str) -> None:
        if symbol == self.symbol:
            self.show(symbol)

    def _flush(self, batch: dict[int, Bar]) -> None:
        bar = batch.get(0)
        if bar is not None and self.symbol:
            self.chart.update_forming(bar)


def exchange_zone(instrument: Instrument | None) -> ZoneInfo | None:
    """The exchange's time zone, in which a trader reads bar times; None (local time) when
    the broker gave none or an unknown one."""
    if instrument is None or not instrument.time_zone:
        return None
    try:
        return ZoneInfo(instrument.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
