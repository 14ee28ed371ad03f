"""Per-strategy switches: enabled and auto-trade, one row per running strategy.

A switch calls the trading engine at once; when the engine refuses (auto-trade without
an order port, a strategy that is not running) the box goes back and the reason shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QCheckBox, QTableWidget, QTableWidgetItem

HEADERS = ("Strategy", "Bar size", "Symbols", "Enabled", "Auto-trade", "Problems")


class StrategySwitches(QTableWidget):
    problem = Signal(str)

    def __init__(self, trading: Any, parent: Any = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self._trading = trading  # the TradingEngine
        self.setHorizontalHeaderLabels(list(HEADERS))
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setStretchLastSection(True)
        self.boxes: dict[tuple[str, str], QCheckBox] = {}  # (strategy, "enabled"|"auto")
        self.refresh()

    def refresh(self) -> None:
        """Rebuild from the engine's status (strategies do not come and go while running:
        only their switches and failures change)."""
        statuses = self._trading.status()
        self.setRowCount(len(statuses))
        for row, status in enumerate(statuses):
            texts = (status.name, status.bar_size, ", ".join(status.symbols))
            for col, text in enumerate(texts):
                self.setItem(row, col, QTableWidgetItem(text))
            problems = [f"{s}: failed: {e}" for s, e in status.failed.items()]
            problems += [f"{s}: answer refused: {r}" for s, r in status.refused.items()]
            self.setItem(row, 5, QTableWidgetItem("; ".join(problems)))
            self._box(row, 3, status.name, "enabled", status.enabled,
                      self._trading.set_enabled)
            self._box(row, 4, status.name, "auto", status.auto_trade,
                      self._trading.set_auto_trade)

    def _box(self, row: int, col: int, name: str, what: str, on: bool,
             apply: Callable[[str, bool], None]) -> None:
        box = self.boxes.get((name, what))
        if box is None:
            box = QCheckBox()
            box.setObjectName(f"{what}:{name}")
            box.toggled.connect(lambda checked, b=box: self._switch(b, name, checked, apply))
            self.boxes[(name, what)] = box
            self.setCellWidget(row, col, box)
        if box.isChecked() != on:
            box.blockSignals(True)
            box.setChecked(on)
            box.blockSignals(False)

    def _switch(self, box: QCheckBox, name: str, on: bool,
                apply: Callable[[str, bool], None]) -> None:
        try:
            apply(name, on)
        except ValueError as exc:
            box.blockSignals(True)
            box.setChecked(not on)
            box.blockSignals(False)
            self.problem.emit(str(exc))

    def box(self, name: str, what: str) -> QCheckBox:
        return self.boxes[(name, what)]

    def sizeHint(self) -> Any:
        hint = super().sizeHint()
        hint.setHeight(self.horizontalHeader().height() + 2 + 26 * max(self.rowCount(), 1))
        return hint

