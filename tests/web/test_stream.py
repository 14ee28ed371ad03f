"""The event stream over the real web server (waitress) and a real engine on the simulator."""

from __future__ import annotations

import contextlib
import os
import time

import pytest

from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.web.api.stream import KEEPALIVE_EXTRA, EventStream, stream_slots
from ibtrader.web.app import create_app
from ibtrader.web.bridge import EngineBridge
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path
from ibtrader.web.events import EventHub
from ibtrader.web.server import WebServer
from tests.web.harness import running_engine, web_settings
from tests.web.sse import SseClient

MAX_STREAMS = 2
SNAPSHOT_KEYS = {"account", "positions", "orders", "quotes", "connection", "decisions",
                 "strategies"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings = web_settings(tmp_path_factory.mktemp("stream"), strategies=("sma_cross",))
    with running_engine(settings) as (engine, bridge, runner):
        credentials = CredentialStore(store_path(settings.data_dir))
        key = credentials.create_key("stream-test").key
        context = WebContext(settings, credentials, bridge=bridge, max_streams=MAX_STREAMS,
                             extras={KEEPALIVE_EXTRA: 0.3})
        app = create_app(context)
        server = WebServer(app, port=0, api_threads=2, streams=MAX_STREAMS,
                           on_stop=lambda: bridge.hub.close()).start()
        try:
            yield engine, bridge, context, app, server, {"X-API-Key": key}, runner
        finally:
            server.stop()
            credentials.close()


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def on_loop(runner, fn) -> None:
    async def run() -> None:
        fn()

    runner.run(run())


@contextlib.contextmanager
def stream(server: WebServer, headers: dict[str, str]):
    client = SseClient("127.0.0.1", server.port, headers)
    try:
        yield client
    finally:
        client.close()


def test_the_stream_starts_with_a_snapshot_of_everything_the_page_shows(live):
    _engine, bridge, _context, _app, server, headers, _runner = live
    wait_for(lambda: "AAPL" in bridge.quotes())
    with stream(server, headers) as client:
        assert client.status == 200
        assert client.response.getheader("Content-Type").startswith("text/event-stream")
        assert client.response.getheader("Cache-Control") == "no-cache"
        assert client.response.getheader("X-Accel-Buffering") == "no"
        first = client.until(lambda m: True)[0]
        assert first.kind == "snapshot"
        assert set(first.data) == SNAPSHOT_KEYS
        assert first.data["connection"]["state"] == "connected"
        assert {q["symbol"] for q in first.data["quotes"]} >= {"AAPL", "MSFT"}
        assert [s["name"] for s in first.data["strategies"]] == ["sma_cross"]
        assert "net_liquidation" in first.data["account"]
        quotes = client.until(lambda m: m.kind == "quotes")[-1]
        assert quotes.id is not None and quotes.data[0]["symbol"] in ("AAPL", "MSFT")


@contextlib.contextmanager
def publish_times(hub: EventHub):
    """When the engine's loop published each order event (key, state, filled): the hub's
    publish, timed on the way in, so latency is measured from the engine event itself."""
    stamps: dict[tuple, float] = {}
    publish = hub.publish

    def timed(kind: str, data) -> None:
        if kind == "order":
            stamps.setdefault((data["key"], data["state"], data["filled"]), time.perf_counter())
        publish(kind, data)

    hub.publish = timed
    try:
        yield stamps
    finally:
        del hub.publish  # the class's method again


def place(engine, bridge, side: str = "buy", quantity: float = 2) -> str:
    key = new_client_key(time.time())
    request = OrderRequest(symbol="MSFT", side=side, quantity=quantity, client_key=key,
                           source="api")
    bridge.call(lambda: engine.orders.place(request))
    return key


def test_an_order_placed_through_the_bridge_streams_its_order_fill_and_positions(live):
    engine, bridge, _context, _app, server, headers, _runner = live
    with stream(server, headers) as client:
        client.until(lambda m: m.kind == "snapshot")
        key = place(engine, bridge)
        seen = client.until(lambda m: m.kind == "order" and m.data["key"] == key
                            and m.data["state"] == "filled")
        if not any(m.kind == "fill" for m in seen):  # executions may trail the status
            seen += client.until(lambda m: m.kind == "fill")
        seen += client.until(lambda m: m.kind == "positions"
                             and any(p["symbol"] == "MSFT" for p in m.data))
    fill = next(m.data for m in seen if m.kind == "fill")
    assert fill["symbol"] == "MSFT" and fill["side"] == "buy" and fill["quantity"] == 2
    ids = [m.id for m in seen if m.id is not None]
    assert ids == sorted(ids)  # in the hub's order


def test_order_events_reach_the_client_well_within_250_ms(live):
    """Engine event -> bytes at the client, and the order's whole trip (bridge.call to
    place it on the loop, the engine's work, the stream) to its first event there."""
    engine, bridge, _context, _app, server, headers, _runner = live
    orders = int(os.environ.get("STREAM_LATENCY_ORDERS", "6"))
    delays: list[float] = []
    trips: list[float] = []
    with publish_times(bridge.hub) as stamps, stream(server, headers) as client:
        client.until(lambda m: m.kind == "snapshot")
        for n in range(orders):
            placed = time.perf_counter()
            key = place(engine, bridge, ("buy", "sell")[n % 2], 1)
            seen = client.until(lambda m, key=key: m.kind == "order"
                                and m.data["key"] == key and m.data["state"] == "filled")
            mine = [m for m in seen if m.kind == "order" and m.data["key"] == key]
            trips.append(mine[0].received - placed)
            delays += [m.received - stamps[m.data["key"], m.data["state"], m.data["filled"]]
                       for m in mine]
    delays.sort()
    trips.sort()
    print(f"\norder event published -> at the client: {len(delays)} events, "
          f"p50 {delays[len(delays) // 2] * 1e3:.2f} ms, max {delays[-1] * 1e3:.2f} ms"
          f"\nplace via bridge.call -> first order event at the client: {len(trips)} orders, "
          f"p50 {trips[len(trips) // 2] * 1e3:.2f} ms, max {trips[-1] * 1e3:.2f} ms")
    assert delays[-1] < 0.25
    assert trips[len(trips) // 2] < 0.25


def test_a_quiet_stream_sends_keep_alive_comments():
    hub = EventHub()  # real hub, nothing published: only keep-alives can come
    resources = contextlib.ExitStack()
    listener = resources.enter_context(hub.listen())
    events = EventStream(listener, b"first", resources, keepalive=0.2,
                         client_gone=lambda: False)
    started = time.monotonic()
    assert next(events) == b"first"
    assert next(events) == b": keep-alive\n\n"
    assert 0.15 < time.monotonic() - started < 1.0
    hub.publish("order", {"key": "k1"})
    assert next(events) == b'event: order\nid: 1\ndata: {"key":"k1"}\n\n'
    events.close()
    assert hub.listeners == 0


def test_one_stream_too_many_is_refused_and_a_slot_comes_back_when_a_client_leaves(live):
    _engine, _bridge, context, _app, server, headers, _runner = live
    slots = stream_slots(context)
    with stream(server, headers) as a, stream(server, headers) as b:
        a.until(lambda m: m.kind == "snapshot")
        b.until(lambda m: m.kind == "snapshot")
        assert slots.open == MAX_STREAMS
        with stream(server, headers) as refused:
            assert refused.status == 503
            assert refused.response.getheader("Retry-After")
            assert refused.body()["error"]["code"] == "too_many_streams"
        b.close()  # the browser tab goes away
        wait_for(lambda: slots.open == 1, timeout=5.0)
        with stream(server, headers) as c:
            assert c.status == 200
            c.until(lambda m: m.kind == "snapshot")
    wait_for(lambda: slots.open == 0, timeout=5.0)


def test_without_an_engine_the_stream_answers_503(live):
    _engine, _bridge, context, _app, _server, headers, _runner = live
    idle = WebContext(context.settings, context.credentials, bridge=None)
    response = create_app(idle).test_client().get("/api/v1/events", headers=headers)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "engine_unavailable"


def test_streams_end_when_the_server_stops(live):
    _engine, bridge, context, app, _server, headers, _runner = live
    other = WebServer(app, port=0, api_threads=1, streams=1,
                      on_stop=lambda: bridge.hub.close()).start()
    with stream(other, headers) as client:
        client.until(lambda m: m.kind == "snapshot")
        stopped = time.monotonic()
        other.stop()
        with contextlib.suppress(AssertionError):
            client.until(lambda m: False, timeout=5.0)
        assert client.ended
        assert time.monotonic() - stopped < 5.0
    wait_for(lambda: stream_slots(context).open == 0, timeout=5.0)


def test_a_quiet_stream_gives_its_slot_back_soon_after_the_client_leaves(live):
    engine, _bridge, context, _app, _server, headers, runner = live
    # a real bridge on the same engine that publishes quotes only hourly: nothing is
    # written to the stream, so only waitress' disconnect notice can end it
    quiet = EngineBridge(engine, flush_interval=3600)
    quiet_context = WebContext(context.settings, context.credentials, max_streams=1)
    server = WebServer(create_app(quiet_context), port=0, api_threads=1, streams=1).start()
    try:
        on_loop(runner, quiet.attach)
        quiet_context.use_bridge(quiet)
        slots = stream_slots(quiet_context)
        with stream(server, headers) as client:
            client.until(lambda m: m.kind == "snapshot")
            assert slots.open == 1
        left = time.monotonic()
        wait_for(lambda: slots.open == 0, timeout=5.0)
        assert time.monotonic() - left < 1.5  # not at the next keep-alive (15 s)
    finally:
        on_loop(runner, quiet.detach)
        server.stop()
