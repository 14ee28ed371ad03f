"""The activity log: a `logging.Handler` that feeds a read-only text view, coalesced.

Records come from any thread (the simulated gateway logs on its own). The handler only
appends the formatted line to a deque and, once per batch, pokes the GUI thread through a
queued signal; the view appends everything pending at most ~20 times a second.
"""

from __future__ import annotations

import collections
import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ibtrader.gui.coalesce import Coalescer

MAX_LINES = 5_000  # the view drops the oldest beyond this
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Poke(QObject):
    arrived = Signal()  # crosses threads as a queued call


class QtLogHandler(logging.Handler):
    """Hands formatted records to `panel`; thread-safe, never blocks the emitting thread."""

    def __init__(self, panel: LogPanel, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        self._panel = panel
        self.addFilter(_ours_or_serious)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._panel.append_line(self.format(record))
        except Exception:
            self.handleError(record)


def _ours_or_serious(record: logging.LogRecord) -> bool:
    # the app's own INFO lines; other libraries only from WARNING (ib_async is chatty)
    return record.name.startswith("ibtrader") or record.levelno >= logging.WARNING


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None, hz: float = 20.0) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setPlaceholderText("Activity log")
        self._lines: collections.deque[str] = collections.deque(maxlen=MAX_LINES)
        self._lock = threading.Lock()
        self._poked = False
        self._poke = _Poke(self)  # Qt-owned: never collected on another thread
        self._poke.arrived.connect(self._arm)
        self._coalescer: Coalescer[str, None] = Coalescer(self._flush, hz=hz, parent=self)
        self.handler = QtLogHandler(self)

    def append_line(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if self._poked:
                return
            self._poked = True
        self._poke.arrived.emit()

    def _arm(self) -> None:
        self._coalescer.put("lines", None)

    def _flush(self, _batch: dict[str, None]) -> None:
        with self._lock:
            lines, self._poked = list(self._lines), False
            self._lines.clear()
        if lines:
            self.appendPlainText("\n".join(lines))

    def install(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).addHandler(self.handler)

    def uninstall(self, logger: logging.Logger | None = None) -> None:
        (logger or logging.getLogger()).removeHandler(self.handler)
