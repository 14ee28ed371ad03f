"""Commission schedules: what one order's fills cost.

A schedule prices a whole order (quantity and average price so far); the engine charges
each fill the difference from what the order has already paid, so per-order minimums and
maximums apply once per order however many partial fills it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ibtrader.sim.matching_types import InstrumentLike


class CommissionSchedule(Protocol):
    def commission(self, instrument: InstrumentLike, quantity: float, price: float) -> float:
        """The commission for `quantity` (unsigned) traded at `price`, in the instrument's
        currency."""
        ...


def trade_value(instrument: InstrumentLike, quantity: float, price: float) -> float:
    return abs(quantity) * price * instrument.multiplier


@dataclass(frozen=True)
class IBTieredStyle:
    """IB Pro's published rates, simplified to their first tier (no exchange/clearing fees)."""

    stock_per_share: float = 0.0035
    stock_min: float = 0.35
    stock_max_fraction: float = 0.01
    fx_fraction: float = 0.2e-4  # 0.2 basis points of the trade value
    fx_min: float = 2.00
    future_per_contract: float = 0.85

    def commission(self, instrument: InstrumentLike, quantity: float, price: float) -> float:
        if quantity <= 0:
            return 0.0
        value = trade_value(instrument, quantity, price)
        if instrument.sec_type == "CASH":
            return max(value * self.fx_fraction, self.fx_min)
        if instrument.sec_type == "FUT":
            return abs(quantity) * self.future_per_contract
        # stocks (and anything else): per share with a minimum, but IB caps it at 1% of the
        # trade value, and the cap wins when it is below the minimum
        per_share = max(abs(quantity) * self.stock_per_share, self.stock_min)
        return min(per_share, value * self.stock_max_fraction)


@dataclass(frozen=True)
class PercentOfValue:
    """A flat fraction of the traded value, as backtests usually assume."""

    rate: float

    def commission(self, instrument: InstrumentLike, quantity: float, price: float) -> float:
        return self.rate * trade_value(instrument, quantity, price)


@dataclass(frozen=True)
class NoCommission:
    def commission(self, instrument: InstrumentLike, quantity: float, price: float) -> float:
        return 0.0
