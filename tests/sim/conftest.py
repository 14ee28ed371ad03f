"""Fixtures: a real simulated gateway on a free loopback port, and ib_async clients."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from ib_async import IB

from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from ibtrader.sim.pacing import PacingRules
from tests.loops import loop_runner

_client_ids = itertools.count(11)


@pytest.fixture
def gateway_config(tmp_path) -> GatewayConfig:
    # Pacing stays on; the historical rules are tightened in the tests that check them.
    return GatewayConfig(port=0, seed=7, state_file=tmp_path / "gateway.sqlite",
                         tick_interval=0.1, pacing=PacingRules(same_contract_max=50,
                                                               identical_within=0.0))


@pytest.fixture
def gateway(gateway_config) -> Iterator[SimulatedGateway]:
    gw = SimulatedGateway(gateway_config).start()
    yield gw
    gw.stop()


run = pytest.fixture(loop_runner, name="run")


async def connect(gateway: SimulatedGateway, client_id: int | None = None,
                  timeout: float = 10) -> IB:
    ib = IB()
    ib.RaiseRequestErrors = True
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=client_id or next(_client_ids),
                          timeout=timeout)
    return ib


async def until(predicate, timeout: float = 10.0, interval: float = 0.05) -> None:
    """Wait (without blocking the loop) until predicate() is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)

