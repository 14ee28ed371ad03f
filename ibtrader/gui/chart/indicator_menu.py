"""`IndicatorMenu`: the chart's Indicators button — the overlays and panels a trader picks.

Each choice is a study spec the chart understands ("sma:20", "rsi:14"); overlays draw on
the price, panels below it. The choice applies to every symbol the chart shows and is
handed to whoever saves it (`changed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

# (label, spec, drawn on the price): the studies a trader reaches for first
CHOICES: tuple[tuple[str, str, bool], ...] = (
    ("SMA 20", "sma:20", True),
    ("SMA 50", "sma:50", True),
    ("EMA 20", "ema:20", True),
    ("EMA 50", "ema:50", True),
    ("Bollinger 20, 2", "bbands:20:2", True),
    ("SuperTrend 10, 3", "supertrend:10:3", True),
    ("RSI 14", "rsi:14", False),
    ("MACD 12, 26, 9", "macd:12:26:9", False),
)
DEFAULT_CHOICE = ("sma:20", "bbands:20:2", "rsi:14")


class IndicatorMenu(QToolButton):
    changed = Signal(list)  # the chosen specs, in menu order

    def __init__(self, apply: Callable[[list[str], list[str]], object],
                 parent: QWidget | None = None) -> None:
        """`apply(overlays, panels)` draws the choice (the chart's `set_indicators`)."""
        super().__init__(parent)
        self._apply = apply
        self.setText("Indicators")
        self.setToolTip("Overlays on the price and panels below it")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        self.actions_by_spec: dict[str, QAction] = {}
        previous_on_price = True
        for label, spec, on_price in CHOICES:
            if previous_on_price and not on_price:
                menu.addSeparator()  # the panels, after the overlays
            previous_on_price = on_price
            action = QAction(label, self, checkable=True)
            action.setData(spec)
            action.toggled.connect(lambda _on, self=self: self._changed())
            menu.addAction(action)
            self.actions_by_spec[spec] = action
        self.setMenu(menu)

    def chosen(self) -> list[str]:
        return [spec for spec, action in self.actions_by_spec.items() if action.isChecked()]

    def choose(self, specs: Sequence[str]) -> None:
        """Check exactly `specs` (unknown ones are ignored) and draw them."""
        wanted = set(specs)
        for spec, action in self.actions_by_spec.items():
            action.blockSignals(True)
            action.setChecked(spec in wanted)
            action.blockSignals(False)
        self._changed()

    def _changed(self) -> None:
        chosen = self.chosen()
        overlay = {spec: on_price for _, spec, on_price in CHOICES}
        self._apply([s for s in chosen if overlay[s]], [s for s in chosen if not overlay[s]])
        self.changed.emit(chosen)
