"""`IBAccount`: the account as the engine sizes against it, read from ib_async's cache.

ib_async subscribes to the account's values and positions when it connects and keeps
them current, so a read here is a cheap synchronous look at memory, never a request.
"""

from __future__ import annotations

import math

from ibtrader.adapters.ib.connection import IBConnection
from ibtrader.adapters.ib.contracts import app_symbol
from ibtrader.core.ports import AccountSnapshot

EQUITY_TAG = "NetLiquidation"
BUYING_POWER_TAG = "BuyingPower"


class IBAccount:
    """The `AccountPort` of the IB adapter."""

    def __init__(self, connection: IBConnection, account: str = "") -> None:
        self._connection = connection
        self._account = account

    def account(self) -> AccountSnapshot:
        ib = self._connection.ib
        values: dict[str, float] = {}
        for item in ib.accountValues(self._account):
            # the base-currency line wins over a per-currency one when both are sent
            if item.tag in (EQUITY_TAG, BUYING_POWER_TAG) and (
                    item.tag not in values or item.currency == "BASE"):
                values[item.tag] = _number(item.value)
        positions: dict[str, float] = {}
        for position in ib.positions(self._account):
            if position.position:
                symbol = app_symbol(position.contract)
                positions[symbol] = positions.get(symbol, 0.0) + float(position.position)
        return AccountSnapshot(values.get(EQUITY_TAG, math.nan),
                               values.get(BUYING_POWER_TAG, math.nan), positions)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan
