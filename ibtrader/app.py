"""The composition root: builds the app's parts from `Settings`, starts and stops them.

For now it makes one part, the broker: IB through ib_async, either the configured TWS /
IB Gateway or, when `settings.broker == "sim"`, the simulated gateway started in-process
on a loopback port (a free one unless `sim_port` is set). The code path above the socket
is the same in both cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from ibtrader.adapters.ib import ConnectionConfig, IBBroker

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.sim.gateway import SimulatedGateway

log = logging.getLogger(__name__)

SIM_HOST = "127.0.0.1"


def connection_config(settings: Settings, host: str, port: int) -> ConnectionConfig:
    return ConnectionConfig(
        host=host, port=port, client_id=settings.ib_client_id, account=settings.ib_account or "",
        readonly=settings.ib_readonly, timeout=settings.ib_connect_timeout,
    )


def start_simulator(settings: Settings) -> SimulatedGateway:
    """The simulated gateway on its own thread, on loopback port `sim_port` (0: a free one).

    Blocks until it listens: from a running loop, call it through `asyncio.to_thread`.
    """
    from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway

    state_file = settings.sim_state_file
    if state_file is not None:
        Path(state_file).parent.mkdir(parents=True, exist_ok=True)
    config = GatewayConfig(host=SIM_HOST, port=settings.sim_port, seed=settings.sim_seed,
                           state_file=state_file, around_the_clock=settings.sim_around_the_clock)
    return SimulatedGateway(config).start()


@contextlib.asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[IBBroker]:
    """A started `IBBroker` for the configured broker; stops it (and the simulator) on exit.

    Raises `BrokerUnavailable` when the first connection fails.
    """
    gateway = None
    if settings.broker == "sim":
        gateway = await asyncio.to_thread(start_simulator, settings)
        host, port = SIM_HOST, gateway.port
        log.info("simulated IB Gateway started on %s:%d", host, port)
    else:
        host, port = settings.ib_host, settings.ib_port
    broker = IBBroker(connection_config(settings, host, port))
    try:
        await broker.start()
        yield broker
    finally:
        await broker.stop()
        if gateway is not None:
            await asyncio.to_thread(gateway.stop)
