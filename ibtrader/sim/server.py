"""The simulated IB Gateway's TCP server: sessions, client ids, the market loop, faults."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ibtrader.sim.exchange import SimExchange
from ibtrader.sim.faults import Fault, PendingFaults
from ibtrader.sim.handlers.account import AccountDesk
from ibtrader.sim.handlers.market_data import MarketDataDesk
from ibtrader.sim.handlers.orders import OrderDesk
from ibtrader.sim.pacing import Pacing, PacingRules
from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.requests import StartApi
from ibtrader.sim.session import ClientSession

log = logging.getLogger(__name__)

# DAY orders expire and daily P&L restarts at midnight New York time, as at IB.
SESSION_ZONE = ZoneInfo("America/New_York")
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefil"),
)


@dataclass
class GatewayStats:
    connections: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0
    pacing_violations: int = 0
    historical_pacing_violations: int = 0


class GatewayServer:
    """Serves the TWS API on one port; all state lives on the loop that runs `start`."""

    def __init__(
        self,
        exchange: SimExchange,
        host: str = "127.0.0.1",
        port: int = 4002,
        *,
        tick_interval: float = 0.25,
        firehose: bool = False,
        pacing: PacingRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.exchange = exchange
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        # benchmarks: re-send every quote field on every tick, changed or not
        self.firehose = firehose
        self.clock = clock
        self.pacing = Pacing(pacing)
        self.faults = PendingFaults()
        self.stats = GatewayStats()
        self.sessions: set[ClientSession] = set()
        self.by_client_id: dict[int, ClientSession] = {}
        self.outage_until = 0.0
        self._day: dt.date | None = None
        self._server: asyncio.Server | None = None
        self.control: asyncio.Server | None = None
        self._market_task: asyncio.Task | None = None
        self._session_tasks: set[asyncio.Task] = set()

    # ----- life cycle --------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._market_task = asyncio.create_task(self._market_loop(), name="sim-market")
        log.info("simulated IB Gateway listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        for listener in (self._server, self.control):
            if listener is not None:
                listener.close()
        for session in list(self.sessions):
            session.close()
        if self._market_task is not None:
            self._market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market_task
        for task in list(self._session_tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self.exchange.close()
        log.info("simulated IB Gateway stopped")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ClientSession(self, reader, writer)
        self.sessions.add(session)
        self.stats.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._session_tasks.add(task)
        try:
            await session.run()
        finally:
            if task is not None:
                self._session_tasks.discard(task)

    def start_api(self, session: ClientSession, request: StartApi) -> None:
        client_id = request.client_id
        if client_id in self.by_client_id:
            session.error(-1, 326, "Unable to connect as the client id is already in use. "
                                   "Retry with a unique client id.")
            asyncio.get_running_loop().call_soon(session.close)
            return
        session.client_id = client_id
        self.by_client_id[client_id] = session
        market = MarketDataDesk(session, self)
        orders = OrderDesk(session, self)
        account = AccountDesk(session, self)
        session.desks = (market, orders, account)  # type: ignore[attr-defined]
        for desk in session.desks:  # type: ignore[attr-defined]
            session.handlers.update(desk.handlers())
        account_id = self.exchange.account.account_id
        session.send(out.managed_accounts(account_id))
        session.send(out.next_valid_id(self.exchange.store.next_order_id(client_id)))
        for code, text in FARM_NOTICES:
            session.error(-1, code, text)
        log.info("client %d connected from %s (server version %d)",
                 client_id, session.peer, session.version)

    def session_closed(self, session: ClientSession) -> None:
        self.sessions.discard(session)
        if session.client_id is not None and self.by_client_id.get(session.client_id) is session:
            del self.by_client_id[session.client_id]
            log.info("client %d disconnected", session.client_id)

    # ----- the market --------------------------------------------------------------------
    async def _market_loop(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.tick_interval
            try:
                self.market_tick(self.clock())
            except Exception:
                log.exception("market tick failed")
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell far behind (a stall, a slow machine): skip, don't burst
                next_at = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    def market_tick(self, now: float) -> None:
        day = session_day(now)
        if day != self._day:
            if self._day is not None:
                self.publish_order_events(self.exchange.new_session_day(now))
            self._day = day
        con_ids = self.exchange.working_con_ids()
        for session in self.sessions:
            for desk in getattr(session, "desks", ()):
                con_ids |= desk.watched_con_ids()
        events = self.exchange.step(sorted(con_ids), now)
        if events:
            self.publish_order_events(events)
        in_outage = time.monotonic() < self.outage_until
        for session in list(self.sessions):
            for desk in getattr(session, "desks", ()):
                desk.on_market(now, quiet=in_outage)

    def publish_order_events(self, events: list[object]) -> None:
        """Tell each order's owner what happened, then refresh account subscribers."""
        for event in events:
            order = event.order  # type: ignore[attr-defined]
            owner = self.by_client_id.get(order.client_id)
            if owner is not None:
                owner.desks[1].report(event)  # type: ignore[attr-defined]
        for session in list(self.sessions):
            for desk in getattr(session, "desks", ()):
                desk.on_account_changed(events)

    # ----- faults ------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        log.warning("fault injected: %s", fault)
        if fault.kind == "drop":
            for session in list(self.sessions):
                session.close()
        elif fault.kind == "stall":
            for session in self.sessions:
                session.stall(fault.seconds)
        elif fault.kind == "outage":
            self._start_outage(fault.seconds)
        else:
            self.faults.arm(fault)

    def _start_outage(self, seconds: float) -> None:
        self.outage_until = time.monotonic() + seconds
        for session in self.sessions:
            session.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
        asyncio.get_running_loop().call_later(seconds, self._end_outage)

    def _end_outage(self) -> None:
        self.outage_until = 0.0
        for session in self.sessions:
            session.error(-1, 1102, "Connectivity between IB and Trader Workstation has been "
                                    "restored - data maintained.")


def session_day(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, SESSION_ZONE).date()
