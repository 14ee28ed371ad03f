"""An estimate of IB's commission for one order, for the ticket's preview line.

IB Pro tiered, first tier, without exchange, clearing and regulatory fees (what the
simulated gateway charges too): stocks USD 0.0035 a share, at least 0.35, at most 1% of
the trade value (the cap wins below the minimum); currencies 0.2 basis points of the
value, at least USD 2; futures USD 0.85 a contract. An estimate, shown as one.
"""

from __future__ import annotations

import math

STOCK_PER_SHARE = 0.0035
STOCK_MINIMUM = 0.35
STOCK_CAP_OF_VALUE = 0.01
FX_OF_VALUE = 0.2e-4
FX_MINIMUM = 2.0
FUTURE_PER_CONTRACT = 0.85


def ib_tiered(sec_type: str, quantity: float, price: float, multiplier: float = 1.0) -> float:
    """The commission of trading `quantity` at `price`; NaN without a usable price."""
    if quantity <= 0:
        return 0.0
    if not (math.isfinite(price) and price > 0):
        return math.nan
    value = quantity * price * multiplier
    if sec_type == "CASH":
        return max(value * FX_OF_VALUE, FX_MINIMUM)
    if sec_type in ("FUT", "FOP"):
        return quantity * FUTURE_PER_CONTRACT
    return min(max(quantity * STOCK_PER_SHARE, STOCK_MINIMUM), value * STOCK_CAP_OF_VALUE)
