"""What every desk of a client session offers to the server."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ibtrader.sim.server import GatewayServer
    from ibtrader.sim.session import ClientSession


class Desk:
    """Serves one family of requests for one client and keeps that client's subscriptions."""

    def __init__(self, session: ClientSession, server: GatewayServer) -> None:
        self.session = session
        self.server = server
        self.exchange = server.exchange

    @property
    def version(self) -> int:
        return self.session.version

    def send(self, fields: list[object]) -> None:
        self.session.send(fields)

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {}

    def watched_con_ids(self) -> set[int]:
        """Instruments this client needs the market to advance for."""
        return set()

    def on_market(self, now: float, quiet: bool) -> None:
        """Called on every market tick; `quiet` during a simulated connectivity outage."""

    def on_account_changed(self, events: list[object]) -> None:
        """Called after order events changed positions, cash or orders."""
