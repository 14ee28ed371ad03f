"""Typed editors for a strategy's parameters, made from its `Param` list: a spin box with
the bounds for numbers, a combo for choices, a check box for flags, a line for text.
`values()` returns what the strategy's own check accepts; each editor's tooltip says what
is allowed."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ibtrader.core.strategy import Param

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12


def editor_for(param: Param) -> QWidget:
    tip = f"{param.help} ({param.allowed()})" if param.help else param.allowed()
    widget: QWidget
    if param.choices:
        combo = QComboBox()
        combo.addItems([str(c) for c in param.choices])
        combo.setCurrentText(str(param.default))
        widget = combo
    elif param.type is bool:
        widget = QCheckBox()
        widget.setChecked(bool(param.default))
    elif param.type is int:
        spin = QSpinBox()
        spin.setRange(int(param.low) if param.low is not None else -INT_LIMIT,
                      int(param.high) if param.high is not None else INT_LIMIT)
        spin.setValue(int(param.default))
        widget = spin
    elif param.type is float:
        dspin = QDoubleSpinBox()
        dspin.setDecimals(4)
        dspin.setRange(param.low if param.low is not None else -FLOAT_LIMIT,
                       param.high if param.high is not None else FLOAT_LIMIT)
        dspin.setSingleStep(_step(param))
        dspin.setValue(float(param.default))
        widget = dspin
    else:
        widget = QLineEdit(str(param.default))
    widget.setObjectName(f"param:{param.name}")
    widget.setToolTip(tip)
    return widget


def _step(param: Param) -> float:
    span = (param.high or 0) - (param.low or 0)
    return 0.1 if not span or span <= 10 else 1.0


def value_of(param: Param, widget: QWidget) -> Any:
    if isinstance(widget, QComboBox):
        return param.check(widget.currentText())
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QSpinBox | QDoubleSpinBox):
        return param.check(widget.value())
    assert isinstance(widget, QLineEdit)
    return param.check(widget.text())


class ParamForm(QWidget):
    """The editors of one strategy's params; rebuilt with `show_params`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self.editors: dict[str, tuple[Param, QWidget]] = {}

    def show_params(self, params: tuple[Param, ...]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self.editors = {}
        for param in params:
            widget = editor_for(param)
            self.editors[param.name] = (param, widget)
            self._layout.addRow(param.name, widget)

    def values(self) -> dict[str, Any]:
        """Checked values; a ValueError names the param and what it allows."""
        return {name: value_of(param, widget) for name, (param, widget) in self.editors.items()}

    def editor(self, name: str) -> QWidget:
        return self.editors[name][1]
