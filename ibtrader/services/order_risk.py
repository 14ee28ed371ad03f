"""The account as pre-trade risk sees it: a `RiskSnapshot` from the order manager's state."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.risk import RiskSnapshot


def reference_price(quote: Quote | None) -> float:
    """The price risk judges by: the last trade, else the mid; NaN when neither."""
    if quote is None:
        return math.nan
    if _ok(quote.last):
        return quote.last
    if _ok(quote.bid) and _ok(quote.ask):
        return quote.mid
    return math.nan


def risk_snapshot(open_orders: Iterable[Order], positions: Mapping[str, float], *,
                  mark: Callable[[str], float], multiplier: Callable[[str], float],
                  sent_times: Sequence[float], daily_pnl: float, kill_switch: bool,
                  now: float, exclude: str = "") -> RiskSnapshot:
    """Working quantities per side and symbol (a bracket's exits, one OCA group, count
    once), the value of entries that add exposure, and the gross value of positions.
    `exclude` leaves out the order being modified, so that it is not counted twice."""
    buy: dict[str, float] = {}
    sell: dict[str, float] = {}
    exposure = 0.0
    groups: set[str] = set()
    for order in open_orders:
        if order.client_key == exclude:
            continue
        request = order.request
        if order.parent_key:
            if order.parent_key in groups:
                continue
            groups.add(order.parent_key)
        side = buy if request.is_buy else sell
        side[request.symbol] = side.get(request.symbol, 0.0) + order.remaining
        if not order.parent_key:  # exits reduce exposure; entries may add it
            price = request.limit or request.stop or mark(request.symbol)
            exposure += order.remaining * price * multiplier(request.symbol)
    gross = sum(abs(q) * mark(s) * multiplier(s) for s, q in positions.items() if q)
    return RiskSnapshot(now=now, positions=dict(positions), working_buy=buy,
                        working_sell=sell, gross_exposure=gross, working_exposure=exposure,
                        sent_times=tuple(sent_times), daily_pnl=daily_pnl,
                        kill_switch_engaged=kill_switch)


def _ok(price: float) -> bool:
    return math.isfinite(price) and price > 0
