"""`WatchlistModel`: the watchlist as a Qt table model, updated by changed cell only.

Columns: symbol, last, change % (against the previous session's close), bid, ask, volume,
signal (the latest strategy signal). Quotes arrive through a `Coalescer`, so `apply_quotes`
runs at most ~20 times a second with the newest quote per symbol; it compares each cell with
what is shown and emits `dataChanged` for the runs of cells that really changed, so a view
repaints only those. Rows move by drag and drop or `move`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)

from ibtrader.core.market import Quote
from ibtrader.gui.theme import semantic_colour

COLUMNS = ("Symbol", "Last", "Chg %", "Bid", "Ask", "Volume", "Signal")
SYMBOL, LAST, CHANGE, BID, ASK, VOLUME, SIGNAL = range(len(COLUMNS))
ROW_MIME = "application/x-ibtrader-watchlist-row"
_SYMBOL_TEXT = re.compile(r"[A-Z0-9][A-Z0-9. /-]{0,31}")  # as the `watchlist` setting allows

Index = QModelIndex | QPersistentModelIndex


def normalise_symbol(text: str) -> str:
    """The symbol as the app keys it (upper case, trimmed); ValueError saying what is wrong."""
    symbol = text.strip().upper()
    if not symbol:
        raise ValueError("type a symbol first, e.g. AAPL")
    if not _SYMBOL_TEXT.fullmatch(symbol):
        raise ValueError(f"{text.strip()!r} is not a symbol (letters, digits, '.', '/', '-')")
    return symbol


@dataclass(slots=True)
class _Row:
    symbol: str
    decimals: int = 2
    prev_close: float = math.nan
    last: float = math.nan
    bid: float = math.nan
    ask: float = math.nan
    volume: float = math.nan
    signal: str = ""

    @property
    def change_pct(self) -> float:
        if math.isnan(self.prev_close) or self.prev_close == 0:
            return math.nan
        return (self.last / self.prev_close - 1) * 100


def decimals_for(min_tick: float) -> int:
    """Digits after the point that show a price to its tick: 0.01 -> 2, 0.00005 -> 5."""
    if not min_tick > 0:
        return 2
    return max(0, min(8, math.ceil(-math.log10(min_tick) - 1e-9)))


class WatchlistModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._index: dict[str, int] = {}
        self.cells_changed = 0  # cells reported through dataChanged: what tests count

    # ----- the list itself ----------------------------------------------------------------
    def symbols(self) -> list[str]:
        return [r.symbol for r in self._rows]

    def row_of(self, symbol: str) -> int:
        return self._index.get(symbol, -1)

    def add(self, symbol: str, decimals: int = 2) -> int:
        """Append `symbol` (kept where it is when already there); returns its row."""
        if symbol in self._index:
            return self._index[symbol]
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(_Row(symbol, decimals))
        self._index[symbol] = row
        self.endInsertRows()
        return row

    def remove(self, symbol: str) -> bool:
        row = self._index.get(symbol)
        if row is None:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self._reindex()
        self.endRemoveRows()
        return True

    def rename(self, symbol: str, to: str) -> bool:
        """Show row `symbol` as `to` (the broker's name for it: ES becomes ESZ6), in place;
        if `to` is listed already, the row named `symbol` goes."""
        row = self._index.get(symbol)
        if row is None or symbol == to:
            return False
        if to in self._index:
            return self.remove(symbol)
        self._rows[row].symbol = to
        self._reindex()
        self._announce(row, range(self.columnCount()))
        return True

    def move(self, row: int, to: int) -> bool:
        """Move `row` so that it ends up at position `to` (both 0-based)."""
        if not (0 <= row < len(self._rows) and 0 <= to < len(self._rows)) or row == to:
            return False
        # Qt counts the destination before the move: one past `to` when moving down
        dest = to + 1 if to > row else to
        if not self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), dest):
            return False
        self._rows.insert(to, self._rows.pop(row))
        self._reindex()
        self.endMoveRows()
        return True

    def _reindex(self) -> None:
        self._index = {r.symbol: i for i, r in enumerate(self._rows)}

    # ----- live values --------------------------------------------------------------------
    def apply_quotes(self, quotes: Mapping[str, Quote]) -> int:
        """Show the newest quote of each symbol; returns how many cells changed."""
        changed = 0
        for symbol, quote in quotes.items():
            row = self._index.get(symbol)
            if row is None:
                continue
            r = self._rows[row]
            cols = []
            for col, attr, value in ((LAST, "last", quote.last), (BID, "bid", quote.bid),
                                     (ASK, "ask", quote.ask), (VOLUME, "volume", quote.volume)):
                if math.isnan(value) or value == getattr(r, attr):
                    continue  # a field the broker has not sent keeps what is shown
                setattr(r, attr, value)
                cols.append(col)
                if col == LAST and not math.isnan(r.prev_close):
                    cols.append(CHANGE)
            changed += self._announce(row, cols)
        return changed

    def set_prev_close(self, symbol: str, price: float) -> None:
        row = self._index.get(symbol)
        if row is not None and price != self._rows[row].prev_close:
            self._rows[row].prev_close = price
            self._announce(row, [CHANGE])

    def set_decimals(self, symbol: str, decimals: int) -> None:
        row = self._index.get(symbol)
        if row is not None and decimals != self._rows[row].decimals:
            self._rows[row].decimals = decimals
            self._announce(row, [LAST, BID, ASK])

    def set_signal(self, symbol: str, text: str) -> None:
        row = self._index.get(symbol)
        if row is not None and text != self._rows[row].signal:
            self._rows[row].signal = text
            self._announce(row, [SIGNAL])

    def _announce(self, row: int, cols: Iterable[int]) -> int:
        ordered = sorted(set(cols))
        start = prev = None
        for col in [*ordered, None]:  # one dataChanged per run of adjacent changed cells
            if col is not None and prev is not None and col == prev + 1:
                prev = col
                continue
            if start is not None and prev is not None:
                self.dataChanged.emit(self.index(row, start), self.index(row, prev))
            start = prev = col
        self.cells_changed += len(ordered)
        return len(ordered)

    # ----- QAbstractTableModel ------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _text(r, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col not in (SYMBOL, SIGNAL):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == CHANGE:
            change = r.change_pct
            if not math.isnan(change) and change != 0:
                return semantic_colour("up" if change > 0 else "down")
        if role == Qt.ItemDataRole.ToolTipRole and col == SIGNAL and r.signal:
            return r.signal
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsDropEnabled  # between rows
        if not index.isValid():
            return base
        return (base | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled)

    # ----- drag and drop: rows move within the list -------------------------------------
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [ROW_MIME]

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        data = QMimeData()
        data.setData(ROW_MIME, QByteArray(",".join(map(str, rows)).encode()))
        return data

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: Index) -> bool:
        if action != Qt.DropAction.MoveAction or not data.hasFormat(ROW_MIME):
            return False
        text = bytes(data.data(ROW_MIME).data()).decode()
        if not text:
            return False
        source = int(text.split(",")[0])
        target = row if row >= 0 else (parent.row() if parent.isValid() else len(self._rows))
        to = target - 1 if target > source else target
        self.move(source, max(0, min(to, len(self._rows) - 1)))
        # False: the move is done; the view must not also remove the "source" row
        return False


def _price(value: float, decimals: int) -> str:
    return "" if math.isnan(value) else f"{value:,.{decimals}f}"


def _text(r: _Row, col: int) -> str:
    if col == SYMBOL:
        return r.symbol
    if col == LAST:
        return _price(r.last, r.decimals)
    if col == CHANGE:
        change = r.change_pct
        return "" if math.isnan(change) else f"{change:+.2f}%"
    if col == BID:
        return _price(r.bid, r.decimals)
    if col == ASK:
        return _price(r.ask, r.decimals)
    if col == VOLUME:
        return "" if math.isnan(r.volume) else f"{r.volume:,.0f}"
    return r.signal
