"""The bridge between the web's threads and the engine's loop, over a real engine."""

from __future__ import annotations

import time

import pytest

from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.web.bridge import EngineBridge, EngineTimeout, EngineUnavailable
from tests.web.harness import running_engine, web_settings


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with running_engine(web_settings(tmp_path_factory.mktemp("bridge"))) as running:
        yield running


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_quotes_are_read_from_the_published_snapshot_without_the_loop(live):
    _engine, bridge, _runner = live
    quotes = wait_for(lambda: bridge.quotes().get("AAPL"))
    assert quotes.bid < quotes.ask
    assert bridge.data_age() is not None and bridge.data_age() < 5


def test_a_market_order_placed_from_a_server_thread_fills_and_shows_in_positions(live):
    engine, bridge, _runner = live
    key = new_client_key(time.time())
    request = OrderRequest(symbol="MSFT", side="buy", quantity=3, client_key=key, source="api")
    with bridge.hub.listen() as listener:
        order = bridge.call(lambda: engine.orders.place(request))
        assert order.client_key == key
        filled = wait_for(lambda: bridge.snapshot.orders.get(key, {}).get("state") == "filled")
        assert filled
        seen: list = []
        wait_for(lambda: seen.extend(listener.get(0.2)) or
                 any(e.kind == "positions" and any(p["symbol"] == "MSFT" for p in e.data)
                     for e in seen))
    kinds = {e.kind for e in seen}
    assert {"order", "fill", "positions", "account"} <= kinds
    [msft] = [p for p in bridge.snapshot.positions if p["symbol"] == "MSFT"]
    assert msft["quantity"] >= 3


def test_the_same_client_key_never_sends_twice(live):
    engine, bridge, _runner = live
    key = new_client_key(time.time())
    below = round(bridge.quotes()["AAPL"].bid * 0.97, 2)  # works, inside the 5% band
    request = OrderRequest(symbol="AAPL", side="buy", quantity=1, client_key=key,
                           order_type="lmt", limit=below, source="api")
    first = bridge.call(lambda: engine.orders.place(request))
    again = bridge.call(lambda: engine.orders.place(request))
    assert first.client_key == again.client_key
    assert sum(1 for o in engine.orders.orders() if o.client_key == key) == 1
    bridge.call(lambda: engine.orders.cancel(key))


def test_a_command_that_overruns_its_time_is_cancelled_and_said_so(live):
    import asyncio

    _engine, bridge, _runner = live
    with pytest.raises(EngineTimeout, match=r"did not answer within 0\.05 s"):
        bridge.call(lambda: asyncio.sleep(5), timeout=0.05)


def test_a_bridge_without_a_running_engine_refuses_clearly(live):
    engine, _bridge, _runner = live
    idle = EngineBridge(engine)
    with pytest.raises(EngineUnavailable, match="not running"):
        idle.call(lambda: 1)
