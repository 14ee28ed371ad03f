"""`Subscriptions`: the engine events a panel listens to, to be let go of together.

An engine `Event` holds its handlers strongly: a panel that is closed but still
subscribed would be kept alive and called. Panels subscribe through this and call
`detach()` when they close (or the window that owns them does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Subscriptions:
    def __init__(self) -> None:
        self._pairs: list[tuple[Any, Callable[..., object]]] = []

    def on(self, event: Any, handler: Callable[..., object]) -> None:
        event += handler
        self._pairs.append((event, handler))

    def detach(self) -> None:
        pairs, self._pairs = self._pairs, []
        for event, handler in reversed(pairs):
            if handler in event:
                event -= handler

    def __len__(self) -> int:
        return len(self._pairs)
