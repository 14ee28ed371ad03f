"""`Coalescer`: live values to a view at most N times a second, the latest value winning.

    quotes = Coalescer(model.apply, hz=20)
    market.quotes_updated += lambda batch: quotes.put_many((q.symbol, q) for q in batch)

The engine's events run on the GUI thread (one qasync loop), thousands a second; a
repaint costs far more than a put. `put` only stores the value under its key and arms a
single-shot timer; when it fires, `flush` gets every key changed since the last flush,
once, with its newest value. A quiet view costs nothing: the timer runs only after a put.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, QTimer

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

log = logging.getLogger(__name__)

DEFAULT_HZ = 20.0


class Coalescer(QObject, Generic[K, V]):
    """Collects `put`s and hands the latest per key to `flush` at most `hz` times a second."""

    def __init__(self, flush: Callable[[dict[K, V]], object], hz: float = DEFAULT_HZ,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        if hz <= 0:
            raise ValueError(f"hz must be above 0, got {hz}")
        self._flush = flush
        self._pending: dict[K, V] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(max(1, round(1000 / hz)))
        self._timer.timeout.connect(self.flush_now)
        self.flushes = 0  # how many times `flush` ran: what a benchmark or test counts

    def put(self, key: K, value: V) -> None:
        self._pending[key] = value
        if not self._timer.isActive():
            self._timer.start()

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        self._pending.update(items)
        if self._pending and not self._timer.isActive():
            self._timer.start()

    def flush_now(self) -> None:
        """Hand over what is pending now (also what the timer calls)."""
        self._timer.stop()
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        self.flushes += 1
        try:
            self._flush(batch)
        except Exception:  # a view's bug must not stop the next updates
            log.exception("a view failed to show %d updates", len(batch))

    @property
    def pending(self) -> int:
        return len(self._pending)
