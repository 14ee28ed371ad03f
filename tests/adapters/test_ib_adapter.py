"""The IB adapter against the real simulated gateway over loopback (no mocks of ib_async)."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from ib_async import IB, Stock

from ibtrader.adapters.ib import ConnectionConfig, IBBroker
from ibtrader.adapters.ib.connection import check_throttle
from ibtrader.core.broker import (
    BrokerError,
    BrokerUnavailable,
    ConnectionState,
    MarketDataLinesExhausted,
    UnknownSymbol,
)
from ibtrader.core.market import BarUpdate, Instrument, Quote
from tests.adapters.conftest import broker_for, until

S = ConnectionState


def test_connects_publishes_its_states_and_disconnects_cleanly(gateway, run) -> None:
    async def scenario() -> list[ConnectionState]:
        broker = broker_for(gateway, client_id=7)
        states: list[ConnectionState] = []
        broker.state_changed += lambda state, _reason: states.append(state)
        await broker.start()
        assert broker.state is S.CONNECTED
        assert 7 in gateway.connected_clients()
        await broker.stop()
        await until(lambda: 7 not in gateway.connected_clients(), timeout=5)
        return states

    assert run(scenario()) == [S.CONNECTING, S.CONNECTED, S.DISCONNECTED]


def test_nothing_listening_is_reported_clearly(run) -> None:
    async def scenario() -> None:
        broker = IBBroker(ConnectionConfig(port=1, timeout=2))
        with pytest.raises(BrokerUnavailable, match="nothing accepts connections"):
            await broker.start()
        assert broker.state is S.DISCONNECTED

    run(scenario())


def test_quotes_for_three_symbols_arrive_in_batches_per_socket_read(gateway, run) -> None:
    async def scenario() -> None:
        broker = broker_for(gateway)
        await broker.start()
        md = broker.market_data
        batches: list[list[Quote]] = []
        md.quotes_updated += batches.append
        found = await md.qualify_many(["AAPL", "EURUSD", "ES"])
        assert {s: i.sec_type for s, i in found.items()} == {
            "AAPL": "STK", "EURUSD": "CASH", "ES": "FUT"}
        for instrument in found.values():
            md.subscribe_quotes(instrument)
        symbols = {i.symbol for i in found.values()}
        latest: dict[str, Quote] = {}
        md.quotes_updated += lambda quotes: latest.update((q.symbol, q) for q in quotes)
        await until(lambda: set(latest) == symbols and all(
            not math.isnan(q.bid) and not math.isnan(q.last) for q in latest.values()))
        await asyncio.sleep(0.5)
        assert max(len(b) for b in batches) > 1  # several tickers in one read, one emit
        assert sum(len(b) for b in batches) > len(batches)
        assert all(q.ask > q.bid and q.time > 0 for q in latest.values())
        await broker.stop()

    run(scenario())


def test_an_unknown_symbol_gives_a_broker_error_with_code_200(gateway, run) -> None:
    async def scenario() -> None:
        broker = broker_for(gateway)
        errors: list[BrokerError] = []
        broker.error_received += errors.append
        await broker.start()
        found = await broker.market_data.qualify_many(["NOSUCH", "AAPL"])
        assert isinstance(found["AAPL"], Instrument)
        assert isinstance(found["NOSUCH"], UnknownSymbol)
        assert "200" in str(found["NOSUCH"])
        [error] = [e for e in errors if e.code == 200]
        assert error.symbol == "NOSUCH" and not error.is_warning
        await broker.stop()

    run(scenario())


def test_after_a_drop_every_subscription_flows_again_within_5_seconds(gateway, run) -> None:
    async def scenario() -> None:
        broker = broker_for(gateway)
        await broker.start()
        md = broker.market_data
        found = await md.qualify_many(["AAPL", "MSFT", "EURUSD"])
        for instrument in found.values():
            md.subscribe_quotes(instrument)
        rt_handle = md.subscribe_realtime_bars(found["AAPL"])
        kept_handle, history = await md.subscribe_bars(found["MSFT"], "1 min", "1800 S")
        assert history
        quotes: dict[str, float] = {}
        bars: dict[int, float] = {}
        reloaded: list[int] = []
        loop = asyncio.get_running_loop()
        md.quotes_updated += lambda qs: quotes.update((q.symbol, loop.time()) for q in qs)
        md.bar_received += lambda u: bars.__setitem__(u.subscription, loop.time())
        md.bars_reloaded += lambda handle, _bars: reloaded.append(handle)
        states: list[ConnectionState] = []
        broker.state_changed += lambda state, _reason: states.append(state)
        await until(lambda: len(quotes) == 3 and rt_handle in bars)

        dropped_at = loop.time()
        await asyncio.to_thread(gateway.inject, "drop")
        await until(lambda: S.RECONNECTING in states, timeout=3)
        waited = await until(lambda: len(quotes) == 3 and rt_handle in bars and all(
            t > dropped_at for t in (*quotes.values(), bars[rt_handle])) and kept_handle in
            reloaded, timeout=5)
        assert waited < 5.0
        assert states[-1] is S.CONNECTED
        await broker.stop()

    run(scenario())


def test_an_ib_outage_is_lost_then_connected_again(gateway, run) -> None:
    async def scenario() -> list[ConnectionState]:
        broker = broker_for(gateway)
        states: list[ConnectionState] = []
        await broker.start()
        broker.state_changed += lambda state, _reason: states.append(state)
        await asyncio.to_thread(gateway.inject, "outage:1")
        await until(lambda: states[-1:] == [S.CONNECTED], timeout=5)
        await broker.stop()
        return states

    assert run(scenario())[:2] == [S.LOST, S.CONNECTED]


def test_a_gateway_that_stops_answering_is_replaced(gateway, run) -> None:
    async def scenario() -> None:
        broker = broker_for(gateway, idle_probe=0.3, probe_timeout=0.5)
        states: list[ConnectionState] = []
        await broker.start()
        broker.state_changed += lambda state, _reason: states.append(state)
        await asyncio.to_thread(gateway.inject, "stall:2")
        await until(lambda: states[-1:] == [S.CONNECTED], timeout=10)
        assert states[0] is S.RECONNECTING
        await broker.stop()

    run(scenario())


def _burst(count: int, seed: int = 5) -> list[tuple[str, str]]:
    """(symbol, duration) pairs: 6 contracts × 10 durations, so identical requests repeat."""
    rng = random.Random(seed)
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "SPY", "QQQ"]
    return [(rng.choice(symbols), f"{rng.randrange(10) + 1} D") for _ in range(count)]


def test_300_historical_requests_through_the_scheduler_break_no_pacing_rule(gateway, run):
    async def scenario() -> int:
        broker = broker_for(gateway)
        await broker.start()
        md = broker.market_data
        found = await md.qualify_many(sorted({s for s, _ in _burst(300)}))
        results = await asyncio.gather(*(
            md.historical_bars(found[symbol], "1 day", duration, use_rth=False)
            for symbol, duration in _burst(300)))
        await broker.stop()
        return sum(1 for bars in results if bars)

    assert run(scenario(), timeout=40) == 300
    assert gateway.stats().historical_pacing_violations == 0


def test_the_same_burst_without_the_scheduler_breaks_the_rules(gateway, run) -> None:
    async def scenario() -> None:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=99, timeout=10)
        contracts = {}
        for symbol in {s for s, _ in _burst(40)}:
            [details] = await ib.reqContractDetailsAsync(Stock(symbol, "SMART", "USD"))
            contracts[symbol] = details.contract
        await asyncio.gather(*(
            ib.reqHistoricalDataAsync(contracts[s], "", d, "1 day", "TRADES", False)
            for s, d in _burst(40)))
        ib.disconnect()

    run(scenario())
    assert gateway.stats().historical_pacing_violations > 0


def test_500_cheap_requests_stay_under_the_gateways_message_rate(gateway, run) -> None:
    async def scenario() -> None:
        broker = broker_for(gateway)
        await broker.start()
        ib = broker.connection.ib
        before = gateway.stats().messages_in
        for _ in range(499):
            ib.reqMarketDataType(1)
        await ib.reqCurrentTimeAsync()  # FIFO: once answered, all 500 went out
        stats = gateway.stats()
        assert stats.messages_in - before >= 500
        assert stats.pacing_violations == 0
        await broker.stop()

    run(scenario(), timeout=30)
    assert gateway.stats().pacing_violations == 0


def test_ib_async_throttle_is_what_keeps_the_rate(gateway, run) -> None:
    """The control for the test above: with ib_async's throttle off, the gateway objects;
    and the adapter refuses to run with it off."""
    async def scenario() -> None:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gateway.port, clientId=98, timeout=10)
        ib.client.MaxRequests = 0
        with pytest.raises(ValueError, match="throttle"):
            check_throttle(ib)
        before = gateway.stats().messages_in
        for _ in range(100):
            ib.reqMarketDataType(1)
        await until(lambda: gateway.stats().messages_in - before >= 100, timeout=5)
        ib.disconnect()

    run(scenario())
    assert gateway.stats().pacing_violations > 0


def test_the_101st_market_data_line_is_refused(run) -> None:
    async def scenario() -> None:
        broker = IBBroker(ConnectionConfig(port=1))  # never started: nothing is sent
        md = broker.market_data
        instruments = [Instrument(f"S{i}", "STK", "SMART", "USD", con_id=i + 1)
                       for i in range(101)]
        for instrument in instruments[:70]:
            md.subscribe_quotes(instrument)
        md.subscribe_quotes(instruments[0])  # the same stream again shares its line
        for instrument in instruments[70:100]:
            md.subscribe_realtime_bars(instrument)
        assert md.lines.in_use == 100
        with pytest.raises(MarketDataLinesExhausted, match="100 market-data lines"):
            md.subscribe_quotes(instruments[100])
        handle = md.subscribe_realtime_bars(instruments[70])  # shared: still allowed
        md.unsubscribe(handle)
        md.unsubscribe(1)
        with pytest.raises(MarketDataLinesExhausted):
            md.subscribe_quotes(instruments[100])  # line 1 is still held by the second handle

    run(scenario())


def test_bar_updates_carry_the_subscription_handle(gateway, run) -> None:
    async def scenario() -> list[BarUpdate]:
        broker = broker_for(gateway)
        await broker.start()
        md = broker.market_data
        aapl = await md.qualify("AAPL")
        updates: list[BarUpdate] = []
        md.bar_received += updates.append
        handle = md.subscribe_realtime_bars(aapl, "MIDPOINT")
        await until(lambda: bool(updates), timeout=5)
        md.unsubscribe(handle)
        await broker.stop()
        return updates

    update = run(scenario())[0]
    assert update.symbol == "AAPL" and update.complete and update.bar.high >= update.bar.low
