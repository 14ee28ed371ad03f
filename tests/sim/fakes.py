"""Small stand-ins for the market side (instruments, quotes, bars) and order builders, for
the matching engine, account and store tests. They fit the engine's Protocols by shape."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ibtrader.sim.account import PaperAccount
from ibtrader.sim.commissions import CommissionSchedule, NoCommission
from ibtrader.sim.matching import MatchingEngine, SimOrder


@dataclass(frozen=True)
class Inst:
    con_id: int
    symbol: str
    sec_type: str = "STK"
    currency: str = "USD"
    multiplier: float = 1.0
    min_tick: float = 0.01
    margin_rate: float = 0.25
    margin_per_contract: float = 0.0

    def round_to_tick(self, price: float) -> float:
        return round(round(price / self.min_tick) * self.min_tick, 10)


STOCK = Inst(1, "AAPL")
FX = Inst(2, "EUR", sec_type="CASH", min_tick=0.00005, margin_rate=0.03)
FUTURE = Inst(3, "ES", sec_type="FUT", multiplier=50.0, min_tick=0.25,
              margin_per_contract=15_000.0)
INSTRUMENTS = {i.con_id: i for i in (STOCK, FX, FUTURE)}


@dataclass(frozen=True)
class Quote:
    time: float
    bid: float
    ask: float
    bid_size: float = 100.0
    ask_size: float = 100.0
    last: float = 0.0
    last_size: float = 1.0


def quote(time: float, bid: float, ask: float, size: float = 100.0,
          last: float | None = None) -> Quote:
    """A quote whose last trade is the mid unless given."""
    return Quote(time, bid, ask, size, size, (bid + ask) / 2 if last is None else last)


@dataclass(frozen=True)
class Bar:
    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 1_000.0


def engine(cash: float = 1_000_000.0,
           commissions: CommissionSchedule | None = None) -> MatchingEngine:
    return MatchingEngine(PaperAccount("DU1", cash=cash), INSTRUMENTS.__getitem__,
                          commissions or NoCommission())


_ids = itertools.count(1)


def order(action: str = "BUY", quantity: float = 10, order_type: str = "MKT", *,
          con_id: int = STOCK.con_id, order_id: int | None = None, client_id: int = 1,
          created: float = 0.0, **fields: object) -> SimOrder:
    oid = next(_ids) if order_id is None else order_id
    return SimOrder(client_id=client_id, order_id=oid, perm_id=1000 + oid, con_id=con_id,
                    action=action, total_quantity=quantity, order_type=order_type,
                    created=created, **fields)  # type: ignore[arg-type]
