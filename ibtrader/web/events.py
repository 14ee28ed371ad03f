"""Fan-out of engine events to the web's listeners (one per open event stream).

The engine's loop publishes; each listener is read by its own server thread. A listener
that falls behind loses its oldest events and is told so (a "resync" event: reload the
snapshot), so a stalled browser can never hold the engine's memory or slow the loop.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class WebEvent:
    id: int  # increasing across the hub: the stream's `id:` line
    kind: str  # quotes, order, fill, position, account, signal, decision, connection, ...
    data: Any  # JSON-ready


class Listener:
    def __init__(self, hub: EventHub, capacity: int) -> None:
        self._hub = hub
        self._events: deque[WebEvent] = deque()
        self._capacity = capacity
        self._ready = threading.Condition(threading.Lock())
        self.dropped = 0
        self.closed = False

    def put(self, event: WebEvent) -> None:
        with self._ready:
            if len(self._events) >= self._capacity:
                self._events.clear()  # too far behind: start again from a fresh snapshot
                self.dropped += 1
                self._events.append(WebEvent(event.id, "resync", {"reason": "too slow"}))
            self._events.append(event)
            self._ready.notify()

    def get(self, timeout: float) -> list[WebEvent]:
        """Every waiting event, or [] after `timeout` s (time for a keep-alive)."""
        with self._ready:
            if not self._events and not self.closed:
                self._ready.wait(timeout)
            out = list(self._events)
            self._events.clear()
            return out

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()


class EventHub:
    def __init__(self, capacity: int = 2_000) -> None:
        self._capacity = capacity
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.published = 0

    def publish(self, kind: str, data: Any) -> None:
        event = WebEvent(next(self._ids), kind, data)
        self.published += 1
        for listener in self._listeners:  # a list replaced, never mutated: no lock here
            listener.put(event)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    @contextmanager
    def listen(self) -> Iterator[Listener]:
        listener = Listener(self, self._capacity)
        with self._lock:
            self._listeners = [*self._listeners, listener]
        try:
            yield listener
        finally:
            listener.close()
            with self._lock:
                self._listeners = [x for x in self._listeners if x is not listener]

    def close(self) -> None:
        """Wake every listener so its stream ends (the server is stopping)."""
        for listener in self._listeners:
            listener.close()
