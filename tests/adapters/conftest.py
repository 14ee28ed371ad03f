"""Fixtures for the IB adapter's tests: a fresh event loop per test, a real simulated
gateway on a free loopback port, and adapters connected to it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator

import pytest

from ibtrader.adapters.ib import ConnectionConfig, IBBroker
from ibtrader.adapters.ib.pacing import HistoricalPacingRules
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from ibtrader.sim.pacing import PacingRules
from tests.loops import loop_runner

# The gateway's historical rules, tightened from 60 per 10 minutes so that a burst of
# hundreds of requests fits in a few seconds; the adapter's scheduler gets the same.
GATEWAY_PACING = PacingRules(historical_per_window=20, historical_window=0.5,
                             identical_within=1.0, same_contract_max=5,
                             same_contract_within=0.5)
ADAPTER_PACING = HistoricalPacingRules(per_window=20, window=0.5, identical_within=1.0,
                                       same_contract_max=5, same_contract_within=0.5)

_client_ids = itertools.count(21)


run = pytest.fixture(loop_runner, name="run")


@pytest.fixture
def gateway(tmp_path) -> Iterator[SimulatedGateway]:
    # speed 5: a simulated 5-second real-time bar every real second
    gw = SimulatedGateway(GatewayConfig(port=0, seed=7, state_file=tmp_path / "gateway.sqlite",
                                        tick_interval=0.1, speed=5.0,
                                        pacing=GATEWAY_PACING)).start()
    yield gw
    gw.stop()


def broker_for(gateway: SimulatedGateway, **config: object) -> IBBroker:
    defaults: dict[str, object] = dict(host="127.0.0.1", port=gateway.port,
                                       client_id=next(_client_ids), timeout=10.0)
    return IBBroker(ConnectionConfig(**{**defaults, **config}),  # type: ignore[arg-type]
                    historical_rules=ADAPTER_PACING)


async def until(predicate: Callable[[], bool], timeout: float = 10.0,
                interval: float = 0.02) -> float:
    """Wait (without blocking the loop) until predicate() is true; returns seconds waited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > timeout:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
    return loop.time() - start
