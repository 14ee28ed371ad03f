"""`Event`: the app's one way to say "this happened" — synchronous, cheap, typed.

    quotes_updated: Event[[list[Quote]]] = Event("quotes_updated")
    quotes_updated += table.show          # subscribe
    quotes_updated.emit(quotes)           # every handler runs now, in subscription order
    quotes_updated -= table.show          # unsubscribe

Handlers run on the emitter's thread, inside `emit`: keep them short, and hand slow work
to a task or an executor. A handler that raises is logged and skipped; the others still
run and the emitter never sees the exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")

log = logging.getLogger(__name__)


class Event(Generic[P]):
    """A list of handlers called in order by `emit`; name events in the past tense."""

    __slots__ = ("_handlers", "name")

    def __init__(self, name: str = "") -> None:
        self.name = name
        # A tuple, replaced (never mutated) on subscribe/unsubscribe: `emit` iterates it
        # without copying, and a handler that unsubscribes during an emit is safe.
        self._handlers: tuple[Callable[P, object], ...] = ()

    def __iadd__(self, handler: Callable[P, object]) -> Event[P]:
        if not callable(handler):
            raise TypeError(f"{self.name or 'event'}: handler {handler!r} is not callable")
        self._handlers = (*self._handlers, handler)
        return self

    def __isub__(self, handler: Callable[P, object]) -> Event[P]:
        """Remove the handler's last subscription; a handler that is not subscribed is a bug."""
        handlers = list(self._handlers)
        for i in range(len(handlers) - 1, -1, -1):
            if handlers[i] == handler:  # == so that a fresh bound method matches
                del handlers[i]
                self._handlers = tuple(handlers)
                return self
        raise ValueError(f"{self.name or 'event'}: {handler!r} is not subscribed")

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for handler in self._handlers:
            try:
                handler(*args, **kwargs)
            except Exception:
                log.exception("handler %r of event %s failed", handler, self.name or "?")

    def clear(self) -> None:
        self._handlers = ()

    def __len__(self) -> int:
        return len(self._handlers)

    def __contains__(self, handler: object) -> bool:
        return handler in self._handlers

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._handlers)} handlers)"
