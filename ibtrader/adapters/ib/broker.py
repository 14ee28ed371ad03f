"""`IBBroker`: the IB adapter as the app sees it — a kept-alive connection, market data,
the account's values and orders.
"""

from __future__ import annotations

from ibtrader.adapters.ib.account import IBAccount
from ibtrader.adapters.ib.connection import ConnectionConfig, IBConnection
from ibtrader.adapters.ib.lines import DEFAULT_LINES
from ibtrader.adapters.ib.market_data import IBMarketData
from ibtrader.adapters.ib.orders import IBOrders
from ibtrader.adapters.ib.pacing import HistoricalPacingRules
from ibtrader.core.broker import BrokerError, ConnectionState
from ibtrader.core.events import Event


class IBBroker:
    """Start with `await start()`; `stop()` ends the session and every background task."""

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        line_limit: int = DEFAULT_LINES,
        historical_rules: HistoricalPacingRules | None = None,
    ) -> None:
        self.connection = IBConnection(config)
        self.account = IBAccount(self.connection, config.account)
        self.market_data = IBMarketData(self.connection, line_limit=line_limit,
                                        historical_rules=historical_rules)
        self.orders = IBOrders(self.connection, account=config.account)
        # The connection's own events (plain attributes, so that `+=` works on them here)
        self.state_changed: Event[[ConnectionState, str]] = self.connection.state_changed
        self.error_received: Event[[BrokerError]] = self.connection.error_received

    @property
    def state(self) -> ConnectionState:
        return self.connection.state

    async def start(self) -> None:
        await self.connection.start()

    async def stop(self) -> None:
        self.market_data.close()
        self.orders.close()
        await self.connection.stop()
