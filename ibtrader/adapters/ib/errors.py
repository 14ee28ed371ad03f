"""IB's error messages as typed `BrokerError`s, and what the connection makes of a few.

Warnings follow ib_async's own rule (`Wrapper.error`): a warning never ends a request.
"""

from __future__ import annotations

from ib_async import Contract

from ibtrader.adapters.ib.contracts import app_symbol
from ibtrader.core.broker import BrokerError

WARNING_CODES = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167})

NO_SECURITY = 200
PACING_VIOLATION_HISTORICAL = 162
MAX_RATE_EXCEEDED = 100
CLIENT_ID_IN_USE = 326
CONNECTIVITY_LOST = 1100
RESTORED_DATA_LOST = 1101
RESTORED_DATA_KEPT = 1102
CONNECTIVITY_CODES = frozenset({CONNECTIVITY_LOST, RESTORED_DATA_LOST, RESTORED_DATA_KEPT})


def is_warning(code: int) -> bool:
    return code in WARNING_CODES or 2100 <= code < 2200


def broker_error(
    req_id: int, code: int, message: str, contract: Contract | None, symbol: str = ""
) -> BrokerError:
    """One ib_async `errorEvent` as a BrokerError; `symbol` wins over the contract's."""
    if not symbol and contract is not None:
        symbol = app_symbol(contract)
    return BrokerError(code=code, message=message, req_id=req_id, symbol=symbol,
                       is_warning=is_warning(code))
