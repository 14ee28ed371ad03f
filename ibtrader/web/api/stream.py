"""`GET /api/v1/events`: the live stream (Server-Sent Events) behind the dashboard.

First a `snapshot` event with everything the page shows, then each engine event from the
bridge's hub as `event: <kind>` / `id: <n>` / `data: <json>`, and a `: keep-alive` comment
when nothing happened for `keepalive` seconds (proxies and browsers drop silent streams).

Each open stream holds one of the server's threads, so at most `context.max_streams` are
open at once (the pool has that many threads on top of the API's); one more gets 503
`too_many_streams`. A stream ends, and gives its slot back, when the server stops or the
engine detaches (the hub closes its listeners), or when the client goes away: waitress
closes the iterator when a write fails, and a quiet stream asks waitress every `POLL`
seconds whether the client is still connected.

Waitress sends what a stream yields at once (its `send_bytes` is 1 since 3.0): an event
reaches the client as soon as the hub has it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Response, request

from ibtrader.web.api import blueprint
from ibtrader.web.api.strategies import strategy_json
from ibtrader.web.bridge import EngineBridge, EngineUnavailable
from ibtrader.web.context import WebContext, web_context
from ibtrader.web.errors import ApiError
from ibtrader.web.events import Listener, WebEvent
from ibtrader.web.serialize import decision_json, quote_json

KEEPALIVE_EXTRA = "stream_keepalive"  # context.extras key: seconds between keep-alives
DEFAULT_KEEPALIVE = 15.0
POLL = 0.25  # seconds: how often a quiet stream checks that its client is still there
RETRY_MS = 2000  # the browser's reconnect delay after a dropped stream
SLOTS_EXTRA = "stream_slots"
_slots_lock = threading.Lock()


class StreamSlots:
    """The count of open streams of one app, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0

    def acquire(self, limit: int) -> bool:
        with self._lock:
            if self.open >= limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open -= 1


def stream_slots(context: WebContext) -> StreamSlots:
    with _slots_lock:
        slots = context.extras.get(SLOTS_EXTRA)
        if slots is None:
            slots = context.extras[SLOTS_EXTRA] = StreamSlots()
        return slots


def frame(kind: str, data: Any, event_id: int | None = None) -> bytes:
    """One SSE message; compact JSON never has a newline, so one `data:` line holds it."""
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + f"data: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"
            ).encode()


def event_frames(events: list[WebEvent]) -> bytes:
    return b"".join(frame(e.kind, e.data, e.id) for e in events)


KEEPALIVE_FRAME = b": keep-alive\n\n"


def snapshot(bridge: EngineBridge) -> dict[str, Any]:
    """What the page needs before the first event: snapshots read here, pending decisions
    and strategy status (engine objects) turned into JSON on the engine's loop."""

    def from_engine() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        trading = bridge.engine.trading
        return ([decision_json(d) for d in trading.pending()],
                [strategy_json(s) for s in trading.status()])

    decisions, strategies = bridge.call(from_engine)
    state = bridge.snapshot
    return {"account": state.account, "positions": state.positions,
            "orders": list(state.orders.values()),
            "quotes": [quote_json(q) for q in bridge.quotes().values()],
            "connection": state.connection, "decisions": decisions, "strategies": strategies}


class EventStream:
    """The response body: an iterator of SSE chunks. `close()` (called by the server when
    the stream ends for any reason, even before the first chunk) leaves the hub and
    frees the slot, once."""

    def __init__(self, listener: Listener, first: bytes, resources: contextlib.ExitStack, *,
                 keepalive: float, client_gone: Callable[[], bool]) -> None:
        self._listener = listener
        self._first: bytes | None = first
        self._resources = resources
        self._keepalive = keepalive
        self._client_gone = client_gone
        self._closed = False

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> bytes:
        if self._first is not None:
            chunk, self._first = self._first, None
            return chunk
        deadline = time.monotonic() + self._keepalive
        while not self._closed:
            events = self._listener.get(max(0.0, min(POLL, deadline - time.monotonic())))
            if events:
                return event_frames(events)
            if self._listener.closed or self._client_gone():
                break
            if time.monotonic() >= deadline:
                return KEEPALIVE_FRAME
        self.close()
        raise StopIteration

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._resources.close()


@blueprint.get("/events")
def events() -> Response:
    context = web_context()
    bridge = context.bridge
    if bridge is None or not bridge.running:
        raise EngineUnavailable("the engine is not running")
    slots = stream_slots(context)
    if not slots.acquire(context.max_streams):
        raise ApiError(503, "too_many_streams",
                       f"{context.max_streams} event streams are open already, the most "
                       "this server allows; close one or retry later",
                       headers={"Retry-After": "10"})
    with contextlib.ExitStack() as resources:
        resources.callback(slots.release)
        # listen before the snapshot: an event in between comes twice, never not at all
        listener = resources.enter_context(bridge.hub.listen())
        first = f"retry: {RETRY_MS}\n".encode() + frame("snapshot", snapshot(bridge))
        stream = EventStream(listener, first, resources.pop_all(),
                             keepalive=float(context.extras.get(KEEPALIVE_EXTRA,
                                                                DEFAULT_KEEPALIVE)),
                             client_gone=request.environ.get("waitress.client_disconnected",
                                                             lambda: False))
    return Response(stream, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
