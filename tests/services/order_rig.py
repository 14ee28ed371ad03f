"""A rig for the order manager's tests: the real simulated gateway over loopback, the real
IB adapter and a real journal file; helpers that read the gateway's own records."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ibtrader.adapters.ib import IBBroker
from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.config import Settings
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.services.order_manager import OrderManager
from ibtrader.services.order_reports import ReconcileReport
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from tests.adapters.conftest import GATEWAY_PACING, broker_for, until
from tests.loops import loop_runner

__all__ = ["Rig", "gateway_orders", "gateway_positions", "make_gateway", "until"]

run = pytest.fixture(loop_runner, name="run")


def make_gateway(state_file: Path, port: int = 0) -> SimulatedGateway:
    # speed 5 and quotes every 0.1 s: a chase step or a stop move within a second or two
    return SimulatedGateway(GatewayConfig(port=port, seed=7, state_file=state_file,
                                          tick_interval=0.1, speed=5.0,
                                          pacing=GATEWAY_PACING)).start()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[SimulatedGateway]:
    gw = make_gateway(tmp_path / "gateway.sqlite")
    yield gw
    gw.stop()


def gateway_orders(gateway: SimulatedGateway, ref: str | None = None) -> list[dict[str, Any]]:
    """Every order the gateway ever received (working or done), optionally with one ref."""
    def read() -> list[dict[str, Any]]:
        engine = gateway.server.exchange.engine
        every = {**engine._done, **engine._active}  # the gateway's own truth
        return [dict(vars(o)) for o in every.values()]
    found = gateway.call(read)
    return [o for o in found if ref is None or o["order_ref"] == ref]


def gateway_positions(gateway: SimulatedGateway) -> dict[str, float]:
    def read() -> dict[str, float]:
        exchange = gateway.server.exchange
        return {exchange.instrument(p.con_id).symbol: p.quantity
                for p in exchange.account.positions.values() if p.quantity}
    return gateway.call(read)


def book(gateway: SimulatedGateway, symbol: str = "AAPL") -> tuple[float, float, float]:
    """(bid, ask, last) at the gateway right now."""
    def read() -> tuple[float, float, float]:
        exchange = gateway.server.exchange
        [inst] = exchange.universe.by_symbol(symbol)
        quote = exchange.quote(inst.con_id)
        return quote.bid, quote.ask, quote.last
    return gateway.call(read)


@dataclass
class Rig:
    """One app session: broker, journal and a started order manager."""

    gateway: SimulatedGateway
    settings: Settings
    client_id: int
    broker: IBBroker = field(init=False)
    journal: SqliteOrderJournal = field(init=False)
    manager: OrderManager = field(init=False)
    report: ReconcileReport = field(init=False)

    async def start(self) -> Rig:
        self.broker = broker_for(self.gateway, client_id=self.client_id)
        await self.broker.start()
        self.journal = SqliteOrderJournal(self.settings.journal_file)
        self.manager = OrderManager(self.broker.orders, self.broker.market_data, self.journal,
                                    self.settings, account=self.broker.account,
                                    connection=self.broker)
        self.report = await self.manager.start()
        return self

    async def stop(self) -> None:
        await self.manager.stop()
        await self.broker.stop()
        self.journal.close()

    def request(self, side: str = "buy", quantity: float = 10, **fields: Any) -> OrderRequest:
        return OrderRequest(symbol=fields.pop("symbol", "AAPL"), side=side, quantity=quantity,
                            client_key=new_client_key(self.manager.clock()), **fields)

    async def final(self, order: Order, timeout: float = 10.0) -> Order:
        return await self.manager.wait_final(order.client_key, timeout)

    def kinds(self, key: str) -> list[str]:
        return [e.kind for e in self.journal.order_events(key)]


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


async def quoted(rig: Rig, symbol: str = "AAPL") -> tuple[float, float, float]:
    """Bid, ask and last as the manager sees them (subscribing first)."""
    quote = await rig.manager.current_quote(symbol)
    assert quote is not None and math.isfinite(quote.bid)
    return quote.bid, quote.ask, quote.last


def cents(price: float) -> float:
    return round(price, 2)


async def settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
