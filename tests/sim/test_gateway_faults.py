"""Faults and pacing rules of the simulated gateway, seen from an ib_async client."""

from __future__ import annotations

import asyncio
import time

import pytest
from ib_async import IB, Stock
from ib_async.wrapper import RequestError

from ibtrader.sim.control import send_command
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from ibtrader.sim.pacing import PacingRules
from tests.sim.conftest import connect, until


def test_historical_pacing_violation_is_error_162(tmp_path, run):
    config = GatewayConfig(port=0, state_file=tmp_path / "gw.sqlite", pacing=PacingRules())

    async def scenario(gw):
        ib = await connect(gw)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "TRADES", False)
        with pytest.raises(RequestError) as caught:  # the identical request, at once
            await ib.reqHistoricalDataAsync(aapl, "", "1 D", "1 min", "TRADES", False)
        assert caught.value.code == 162 and "pacing violation" in caught.value.message
        ib.disconnect()

    with SimulatedGateway(config) as gw:
        run(scenario(gw))
        assert gw.stats().historical_pacing_violations == 1


def test_injected_pacing_fault(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        gateway.inject("pacing")
        with pytest.raises(RequestError) as caught:
            await ib.reqHistoricalDataAsync(spy, "", "1 D", "1 hour", "TRADES", False)
        assert caught.value.code == 162
        bars = await ib.reqHistoricalDataAsync(spy, "", "2 D", "1 hour", "TRADES", False)
        assert bars
        ib.disconnect()

    run(scenario())


def test_more_than_fifty_messages_a_second_is_a_violation(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        ib.client.MaxRequests = 0  # switch off ib_async's own throttle to break the rule
        errors = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
        for _ in range(120):
            ib.reqMarketDataType(1)
        await until(lambda: 100 in errors, timeout=5)
        ib.disconnect()

    run(scenario())
    assert gateway.stats().pacing_violations > 0


def test_ib_async_own_throttle_keeps_a_burst_inside_the_limit(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        for _ in range(150):
            ib.reqMarketDataType(1)
        await ib.reqCurrentTimeAsync()  # queued behind the burst: ~3.5 s at 45/s
        ib.disconnect()

    run(scenario())
    assert gateway.stats().pacing_violations == 0


def test_drop_closes_every_connection(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        dropped = asyncio.Event()
        ib.disconnectedEvent += dropped.set
        gateway.inject("drop")
        await asyncio.wait_for(dropped.wait(), 5)
        assert not ib.isConnected()
        again = await connect(gateway)  # and the gateway takes new connections at once
        again.disconnect()

    run(scenario())


def test_outage_sends_1100_then_1102_and_pauses_ticks(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktData(aapl)
        await until(lambda: ticker.bid > 0)
        codes = []
        ib.errorEvent += lambda req_id, code, msg, contract: codes.append((time.monotonic(), code))
        gateway.inject("outage:1.5")
        await until(lambda: any(c == 1100 for _, c in codes))
        updates = []
        ticker.updateEvent += lambda t: updates.append(time.monotonic())
        await until(lambda: any(c == 1102 for _, c in codes), timeout=5)
        lost = next(t for t, c in codes if c == 1100)
        restored = next(t for t, c in codes if c == 1102)
        assert 1.2 < restored - lost < 3.0
        assert not [t for t in updates if t < restored - 0.3]  # quiet while "lost"
        await until(lambda: any(t > restored for t in updates))  # and flowing again after
        ib.disconnect()

    run(scenario())


def test_stall_delays_replies(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        gateway.inject("stall:1.5")
        started = time.monotonic()
        await ib.reqCurrentTimeAsync()
        assert time.monotonic() - started >= 1.2
        ib.disconnect()

    run(scenario())


def test_faults_reach_a_running_gateway_through_its_control_port(tmp_path):
    config = GatewayConfig(port=0, state_file=tmp_path / "gw.sqlite", control_port=0)
    with SimulatedGateway(config) as gw:
        port = gw.call(lambda: gw.server.control.sockets[0].getsockname()[1])
        assert send_command(port, "pacing") == "ok pacing"
        assert send_command(port, "explode").startswith("error unknown fault")
        assert '"connections"' in send_command(port, "stats")


def test_client_outside_the_supported_versions_is_refused(gateway, run):
    async def scenario():
        ib = IB()
        ib.client.MaxClientVersion = 150  # older than the simulator serves (157..178)
        ib.client.MinClientVersion = 100
        with pytest.raises((ConnectionError, TimeoutError, OSError)):
            await ib.connectAsync("127.0.0.1", gateway.port, clientId=77, timeout=3)
        assert 77 not in gateway.connected_clients()

    run(scenario())
