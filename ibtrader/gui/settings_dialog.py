"""`SettingsDialog`: broker, risk limits, strategies and services, checked as you type.

Each field holds the setting's text; every change re-checks the whole set with the
config's own rules (`settings_file.check`), shows each problem under its field and keeps
Save disabled while any is left. Save writes the changed settings to the TOML config file
(the engine reads it on the next start); a value an IBTRADER_* variable sets is flagged,
since the variable wins over the file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ibtrader.config import Settings
from ibtrader.gui.settings_file import check, overridden_by_environment, save

# (tab, [(setting, label)]); choices get a combo box, everything else a text field
SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Broker", (("broker", "Broker"), ("ib_host", "IB host"), ("ib_port", "IB port"),
                ("ib_client_id", "Client id"), ("ib_account", "Account"),
                ("ib_readonly", "Read-only API"))),
    ("Risk", (("risk_per_trade_pct", "Risk per trade %"),
              ("max_position_value", "Max new position value"),
              ("max_order_quantity", "Max order quantity"),
              ("max_order_value", "Max order value"),
              ("max_position_value_per_symbol", "Max position per symbol"),
              ("max_gross_exposure", "Max gross exposure"),
              ("max_orders_per_minute", "Max orders per minute"),
              ("price_band_pct", "Price band %"),
              ("daily_loss_limit", "Daily loss limit"))),
    ("Strategies", (("strategies_dir", "Strategies folder"),
                    ("strategies", "Strategies run live"),
                    ("auto_trade", "Auto-trading strategies"))),
    ("Services", (("web_host", "Web host"), ("web_port", "Web port"),
                  ("log_level", "Log level"), ("data_dir", "Data folder"))),
)
CHOICES = {"broker": ("sim", "ib"), "log_level": ("DEBUG", "INFO", "WARNING", "ERROR"),
           "ib_readonly": ("false", "true")}


def as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


class SettingsDialog(QDialog):
    saved = Signal(str)  # the file written

    def __init__(self, settings: Settings, config_file: Path | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.base = settings
        self.config_file = Path(config_file) if config_file else settings.data_dir / "config.toml"
        self.fields: dict[str, QLineEdit | QComboBox] = {}
        self.errors: dict[str, QLabel] = {}
        self.problems: dict[str, str] = {}
        tabs = QTabWidget(self)
        for title, entries in SECTIONS:
            page = QWidget(tabs)
            form = QFormLayout(page)
            for name, label in entries:
                form.addRow(label, self._field(name, page))
                error = QLabel(page)
                error.setObjectName("errorText")
                error.hide()
                form.addRow("", error)
                self.errors[name] = error
            tabs.addTab(page, title)
        self.where = QLabel(f"Saved to {self.config_file}; applied on the next start.", self)
        self.where.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.where)
        layout.addWidget(self.buttons)
        self.validate()

    def _field(self, name: str, parent: QWidget) -> QLineEdit | QComboBox:
        text = as_text(getattr(self.base, name))
        widget: QLineEdit | QComboBox
        if name in CHOICES:
            widget = QComboBox(parent)
            widget.addItems(list(CHOICES[name]))
            widget.setCurrentText(text)
            widget.currentTextChanged.connect(self.validate)
        else:
            widget = QLineEdit(text, parent)
            widget.textChanged.connect(self.validate)
        widget.setObjectName(f"setting:{name}")
        if overridden_by_environment([name]):
            widget.setToolTip(f"IBTRADER_{name.upper()} is set: it wins over the file")
        self.fields[name] = widget
        return widget

    def texts(self) -> dict[str, str]:
        return {name: (w.currentText() if isinstance(w, QComboBox) else w.text())
                for name, w in self.fields.items()}

    def changed(self) -> dict[str, str]:
        return {n: t for n, t in self.texts().items() if t != as_text(getattr(self.base, n))}

    def validate(self) -> bool:
        """Check every field; show each problem under its field. True when all are fine."""
        _settings, self.problems = check(self.base, self.changed())
        for name, label in self.errors.items():
            message = self.problems.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not self.problems)
        return not self.problems

    def save(self) -> bool:
        if not self.validate():
            return False
        changed = self.changed()
        settings, _ = check(self.base, changed)
        assert settings is not None
        if changed:
            save(self.config_file, {n: getattr(settings, n) for n in changed})
        self.saved.emit(str(self.config_file))
        self.accept()
        return True
