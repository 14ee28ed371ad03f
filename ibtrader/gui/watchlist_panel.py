"""`WatchlistPanel`: the watchlist table with add / remove / reorder, bound to the engine.

Adding checks the symbol with the broker first (contract details through the market-data
port's `qualify`): an unknown one gets a clear error under the input and no row. A known
one gets its row at once; the engine then backfills and streams it in the background.
Quotes reach the model through a `Coalescer` (newest per symbol, at most ~20 flushes a
second), never one repaint per tick. Selecting a row emits `symbol_selected(symbol)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.broker import (
    BrokerUnavailable,
    MarketDataLinesExhausted,
    MarketDataPort,
    UnknownSymbol,
)
from ibtrader.core.market import Instrument, Quote
from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.watchlist import SYMBOL, WatchlistModel, decimals_for, normalise_symbol

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.core.decisions import SignalRecord

log = logging.getLogger(__name__)

COLUMN_WIDTHS = (64, 84, 68, 84, 84, 96, 90)
PANEL_WIDTH = sum(COLUMN_WIDTHS) + 24
PREV_CLOSE_BAR = "1 day"  # the last closed daily bar is the previous session's close


class WatchlistPanel(QWidget):
    symbol_selected = Signal(str)
    symbols_changed = Signal(list)  # the symbols in their order, after any change
    quotes_shown = Signal(float)  # seconds from the newest quote's arrival to its display

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WatchlistModel(self)
        self.engine: Engine | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.quotes_received = 0
        self._quote_port: MarketDataPort | None = None
        self._handles: dict[str, int] = {}  # our own quote subscriptions, by symbol
        self._quotes: Coalescer[str, Quote] = Coalescer(self._show_quotes, parent=self)

        self.input = QLineEdit(self)
        self.input.setPlaceholderText("Add symbol (e.g. AAPL, EURUSD, ES)")
        self.input.returnPressed.connect(self.add_from_input)
        self.add_button = QPushButton("Add", self)
        self.add_button.clicked.connect(self.add_from_input)
        self.message = QLabel(self)
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self.message.hide()

        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.table.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.table.setDragDropOverwriteMode(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate(COLUMN_WIDTHS):  # fixed: no re-measuring per quote
            header.resizeSection(col, width)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button = QPushButton("Up", self)
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = QPushButton("Down", self)
        self.down_button.clicked.connect(lambda: self.move_selected(1))

        top = QHBoxLayout()
        top.addWidget(self.input, 1)
        top.addWidget(self.add_button)
        bottom = QHBoxLayout()
        for button in (self.remove_button, self.up_button, self.down_button):
            bottom.addWidget(button)
        bottom.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.rowsMoved):
            signal.connect(lambda *_: self.symbols_changed.emit(self.model.symbols()))

    # ----- the engine -------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        """Stream the engine's quotes and signals into the rows (symbols already listed
        are expected to be in the engine's subscription)."""
        self.engine = engine
        self.follow_quotes(engine.broker.market_data)
        engine.market_data.history_ready += self._on_history
        engine.trading.signal_emitted += self._on_signal
        for symbol in self.model.symbols():
            self._on_history(symbol)
        self._spawn(self._stream_listed())

    def detach(self) -> None:
        if self.engine is None:
            return
        self.unfollow_quotes()
        for handle in self._handles.values():
            self._unsubscribe(handle)
        self._handles.clear()
        self.engine.market_data.history_ready -= self._on_history
        self.engine.trading.signal_emitted -= self._on_signal
        for task in self._tasks:
            task.cancel()
        self.engine = None

    def follow_quotes(self, port: MarketDataPort) -> None:
        """Show the quotes `port` publishes (all the engine is needed for, for a benchmark)."""
        self._quote_port = port
        port.quotes_updated += self._on_quotes

    def unfollow_quotes(self) -> None:
        if self._quote_port is not None:
            self._quote_port.quotes_updated -= self._on_quotes
            self._quote_port = None

    def _on_quotes(self, batch: list[Quote]) -> None:
        self.quotes_received += len(batch)
        self._quotes.put_many((q.symbol, q) for q in batch)  # the hot path: store only

    @property
    def quotes_flushes(self) -> int:
        """How many times quotes were handed to the model (at most ~20 a second)."""
        return self._quotes.flushes

    def _show_quotes(self, quotes: dict[str, Quote]) -> None:
        self.model.apply_quotes(quotes)
        newest = max(q.time for q in quotes.values())
        if newest == newest:  # not nan
            self.quotes_shown.emit(max(0.0, time.time() - newest))

    def _on_history(self, symbol: str) -> None:
        if self.engine is None or self.model.row_of(symbol) < 0:
            return
        try:
            closed = self.engine.market_data.history(symbol, PREV_CLOSE_BAR)
        except KeyError:  # not streaming yet, or no daily bars kept
            return
        if closed:
            self.model.set_prev_close(symbol, closed[-1].close)

    def _on_signal(self, record: SignalRecord) -> None:
        s = record.signal
        self.model.set_signal(s.symbol, f"{s.side} · {record.strategy}")

    # ----- actions ----------------------------------------------------------------------
    def set_symbols(self, symbols: Sequence[str]) -> None:
        for symbol in symbols:
            self.model.add(symbol)

    def add_from_input(self) -> None:
        self._spawn(self.add_symbol(self.input.text()))

    async def add_symbol(self, text: str) -> bool:
        """Check `text` with the broker and add it; False (and a message shown) if not."""
        try:
            symbol = normalise_symbol(text)
        except ValueError as exc:
            return self._fail(str(exc))
        if self.model.row_of(symbol) >= 0:
            return self._fail(f"{symbol} is already in the watchlist")
        if self.engine is None:
            return self._fail("not connected to the broker yet: try again in a moment")
        self._say(f"checking {symbol}…", error=False)
        try:
            instrument = await self.engine.broker.market_data.qualify(symbol)
        except UnknownSymbol as exc:
            return self._fail(f"{symbol} is not known to the broker ({exc.reason})")
        except BrokerUnavailable as exc:
            return self._fail(f"cannot check {symbol}: the broker is unavailable ({exc})")
        if self.model.row_of(instrument.symbol) >= 0:  # ES is ESZ6, already listed
            return self._fail(f"{symbol} is {instrument.symbol}, already in the watchlist")
        symbol = instrument.symbol  # the broker's name: what quotes and bars are keyed by
        self.model.add(symbol, decimals_for(instrument.min_tick))
        self.input.clear()
        self.message.hide()
        self._stream(instrument)
        self._spawn(self._backfill(symbol))
        log.info("watchlist: added %s", symbol)
        return True

    async def _stream_listed(self) -> None:
        """Quotes for the listed symbols at once: the engine streams a symbol only after its
        history is in, which can take a while at IB's pacing; the stream is shared."""
        assert self.engine is not None
        found = await self.engine.broker.market_data.qualify_many(self.model.symbols())
        for symbol, instrument in found.items():
            if isinstance(instrument, UnknownSymbol):
                self._say(f"{symbol} is not known to the broker ({instrument.reason})",
                          error=True)
            elif self.model.row_of(symbol) >= 0:
                self.model.rename(symbol, instrument.symbol)  # quotes come keyed by it
                self.model.set_decimals(instrument.symbol, decimals_for(instrument.min_tick))
                self._stream(instrument)

    def _stream(self, instrument: Instrument) -> None:
        if self.engine is None or instrument.symbol in self._handles:
            return
        try:
            handle = self.engine.broker.market_data.subscribe_quotes(instrument)
        except MarketDataLinesExhausted as exc:
            self._say(f"{instrument.symbol}: no live quotes ({exc})", error=True)
            return
        self._handles[instrument.symbol] = handle

    def _unsubscribe(self, handle: int) -> None:
        if self.engine is None:
            return
        try:
            self.engine.broker.market_data.unsubscribe(handle)
        except Exception:  # the broker may be gone already; nothing to free then
            log.debug("unsubscribe failed", exc_info=True)

    async def _backfill(self, symbol: str) -> None:
        # the engine's history and bars (chart, strategies) for a symbol added by hand
        assert self.engine is not None
        await self.engine.market_data.subscribe([symbol])
        self._on_history(symbol)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("watchlist: %s", task.exception())

    def selected_symbol(self) -> str | None:
        rows = self.table.selectionModel().selectedRows(SYMBOL)
        return rows[0].data() if rows else None

    def remove_selected(self) -> None:
        symbol = self.selected_symbol()
        if symbol is not None:
            self.model.remove(symbol)
            if symbol in self._handles:
                self._unsubscribe(self._handles.pop(symbol))
            log.info("watchlist: removed %s", symbol)

    def move_selected(self, step: int) -> None:
        symbol = self.selected_symbol()
        if symbol is None:
            return
        row = self.model.row_of(symbol)
        if self.model.move(row, row + step):
            self.table.selectRow(row + step)

    def select(self, symbol: str) -> None:
        row = self.model.row_of(symbol)
        if row >= 0:
            self.table.selectRow(row)

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        symbol = self.selected_symbol()
        if symbol is not None:
            self.symbol_selected.emit(symbol)

    def _say(self, text: str, *, error: bool) -> None:
        self.message.setObjectName("errorText" if error else "")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)
        self.message.show()

    def _fail(self, text: str) -> bool:
        self._say(text, error=True)
        return False
