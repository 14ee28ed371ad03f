"""The Interactive Brokers adapter, over ib_async: connection, market data, pacing."""

from ibtrader.adapters.ib.broker import IBBroker
from ibtrader.adapters.ib.connection import ConnectionConfig, IBConnection
from ibtrader.adapters.ib.market_data import IBMarketData
from ibtrader.adapters.ib.pacing import HistoricalPacingRules

__all__ = ["ConnectionConfig", "HistoricalPacingRules", "IBBroker", "IBConnection",
           "IBMarketData"]
