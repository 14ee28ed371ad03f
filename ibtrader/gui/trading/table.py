"""`RowsModel`: a keyed table for the panels, which repaints only the rows that changed.

    model = RowsModel([Column("Symbol", lambda p: p.symbol), ...], key=lambda p: p.symbol)
    model.upsert(position)        # one row: added, or its changed cells repainted
    model.replace_all(positions)  # the whole set (rows gone are removed)

Each column turns a row value into text once per update; a cell whose text did not change
does not make Qt repaint it. `tone` colours a cell by sign (P&L: +1 green, -1 red).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QTableView

R = TypeVar("R")
UP = QColor(38, 166, 91)
DOWN = QColor(214, 69, 65)
_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[R]):
    header: str
    text: Callable[[R], str]
    tone: Callable[[R], int] | None = None  # +1 / -1 / 0: the colour of the cell
    right: bool = False  # numbers are right-aligned


class RowsModel(QAbstractTableModel, Generic[R]):
    def __init__(self, columns: Sequence[Column[R]], key: Callable[[R], Hashable],
                 parent: Any = None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._key = key
        self._rows: list[R] = []
        self._texts: list[list[str]] = []
        self._where: dict[Hashable, int] = {}

    # --- reads ---------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._texts[index.row()][index.column()]
        if role == Qt.ItemDataRole.ForegroundRole and column.tone is not None:
            sign = column.tone(self._rows[index.row()])
            return UP if sign > 0 else DOWN if sign < 0 else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def row(self, i: int) -> R:
        return self._rows[i]

    def rows(self) -> list[R]:
        return list(self._rows)

    def find(self, key: Hashable) -> int:
        """The row number of `key`, -1 when absent."""
        return self._where.get(key, -1)

    def text(self, key: Hashable, header: str) -> str:
        """A cell's shown text, by row key and column header (for tests and tooltips)."""
        col = [c.header for c in self.columns].index(header)
        return self._texts[self._where[key]][col]

    # --- writes --------------------------------------------------------------------------
    def _render(self, row: R) -> list[str]:
        return [c.text(row) for c in self.columns]

    def upsert(self, row: R) -> None:
        key = self._key(row)
        i = self._where.get(key)
        texts = self._render(row)
        if i is None:
            n = len(self._rows)
            self.beginInsertRows(QModelIndex(), n, n)
            self._rows.append(row)
            self._texts.append(texts)
            self._where[key] = n
            self.endInsertRows()
            return
        old = self._texts[i]
        self._rows[i], self._texts[i] = row, texts
        # a tone follows its cell's value, shown rounded: same text, same colour
        changed = [c for c, (a, b) in enumerate(zip(old, texts, strict=True)) if a != b]
        if changed:
            self.dataChanged.emit(self.index(i, min(changed)), self.index(i, max(changed)))

    def replace_all(self, rows: Iterable[R]) -> None:
        fresh = list(rows)
        keys = [self._key(r) for r in fresh]
        if keys == [self._key(r) for r in self._rows]:
            for row in fresh:  # the same rows: repaint only what changed
                self.upsert(row)
            return
        self.beginResetModel()
        self._rows = fresh
        self._texts = [self._render(r) for r in fresh]
        self._where = {k: i for i, k in enumerate(keys)}
        self.endResetModel()

    def remove(self, key: Hashable) -> None:
        i = self._where.pop(key, None)
        if i is None:
            return
        self.beginRemoveRows(QModelIndex(), i, i)
        del self._rows[i]
        del self._texts[i]
        self.endRemoveRows()
        self._where = {k: (j - 1 if j > i else j) for k, j in self._where.items()}


def table_view(model: RowsModel[Any]) -> QTableView:
    """A read-only, row-selecting view of a model, as every panel shows its rows."""
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setStretchLastSection(True)
    view.setAlternatingRowColors(True)
    return view
