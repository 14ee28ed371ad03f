"""`ChartLinks`: what the engine knows about the chart's symbol, drawn on the chart.

- a marker for each signal of the symbol (the journal's recent ones when the symbol is
  loaded, then each new one as it is emitted);
- a line for each working order of the symbol (entry buy/sell at its limit or stop, a
  bracket's take-profit as a target and its stop-loss as a stop);
- the position's average price and its working stop.

Order and fill events come in bursts; the lines are redrawn through a Coalescer, a few
times a second at most.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from ibtrader.gui.coalesce import Coalescer

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.core.decisions import SignalRecord
    from ibtrader.core.orders.lifecycle import Order
    from ibtrader.gui.chart import ChartWidget

log = logging.getLogger(__name__)

RECENT_SIGNALS = 500  # journal signals looked at when a symbol is loaded
TAKE_PROFIT, STOP_LOSS = "-tp", "-sl"  # the suffixes of a bracket's legs (core.orders.tickets)


class ChartLinks(QObject):
    def __init__(self, chart: ChartWidget, engine: Engine) -> None:
        super().__init__(chart)
        self.chart = chart
        self.engine = engine
        self._lines = Coalescer(lambda _batch: self.refresh_lines(), hz=5, parent=self)
        chart.symbol_loaded.connect(self._loaded)
        engine.trading.signal_emitted += self._on_signal
        if engine.orders is not None:
            engine.orders.order_changed += self._on_order
            engine.orders.fill_received += self._on_fill

    def close(self) -> None:
        self.engine.trading.signal_emitted -= self._on_signal
        if self.engine.orders is not None:
            self.engine.orders.order_changed -= self._on_order
            self.engine.orders.fill_received -= self._on_fill

    # --- events -------------------------------------------------------------------------

    def _loaded(self, symbol: str, _bar_size: str) -> None:
        for record in reversed(self.engine.journal.signals(RECENT_SIGNALS, symbol=symbol)):
            self._mark(record)
        self.refresh_lines()

    def _on_signal(self, record: SignalRecord) -> None:
        if record.signal.symbol == self.chart.symbol:
            self._mark(record)

    def _on_order(self, order: Order) -> None:
        if order.request.symbol == self.chart.symbol:
            self._lines.put("lines", None)

    def _on_fill(self, fill: Any) -> None:
        if fill.symbol == self.chart.symbol:
            self._lines.put("lines", None)

    # --- drawing ------------------------------------------------------------------------

    def _mark(self, record: SignalRecord) -> None:
        signal = record.signal
        if signal.side not in ("buy", "sell"):
            return  # exits close a position: the position line shows that
        self.chart.add_signal_marker(signal.time, signal.side,
                                     f"{record.strategy}: {signal.reason}")

    def refresh_lines(self) -> None:
        symbol, manager = self.chart.symbol, self.engine.orders
        if not symbol or manager is None:
            return
        working = [o for o in manager.orders(open_only=True) if o.request.symbol == symbol]
        self.chart.set_order_lines([line for o in working if (line := order_line(o))])
        position = next((p for p in manager.positions() if p.symbol == symbol), None)
        held = position is not None and position.quantity != 0
        stops = [o.request.stop for o in working
                 if o.client_key.endswith(STOP_LOSS) and o.request.stop is not None]
        self.chart.set_position_line(position.avg_price if held else None,
                                     stops[0] if held and stops else None)


def order_line(order: Order) -> tuple[float, str, str] | None:
    """(price, label, kind) of a working order's line, None for one without a price."""
    request = order.request
    price = request.limit if request.limit is not None else request.stop
    if price is None or not math.isfinite(price):
        return None
    if order.client_key.endswith(TAKE_PROFIT):
        kind = "target"
    elif order.client_key.endswith(STOP_LOSS):
        kind = "stop"
    else:
        kind = "buy" if request.side == "buy" else "sell"
    label = f"{request.side.upper()} {order.remaining:g} {request.order_type.upper()}"
    return price, label, kind
