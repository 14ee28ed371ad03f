"""Where and how much an order can trade against one quote or one bar.

Two views of the market with the same three questions, so the engine's order logic is
the same live and in backtests:

- `trigger(order, instrument)`: update a trailing stop, then return the price at which a
  stop-type order triggers now, or None;
- `execution(order, trigger_price, resting)`: (price, quantity, liquidity) of a fill now,
  or None;
- `eligible(order)`: may this order trade here at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ibtrader.sim.matching_types import (
    TRAIL_TYPES,
    BarLike,
    InstrumentLike,
    OrderKey,
    QuoteLike,
    SimOrder,
    positive,
)

ADDED, REMOVED = 1, 2
Fill = tuple[float, float, int]  # price, quantity, liquidity


def stop_price(order: SimOrder) -> float | None:
    if order.order_type in TRAIL_TYPES:
        return order.trail_stop_price
    return order.aux_price


def limit_price(order: SimOrder) -> float | None:
    """The limit an order works with now: None for market (and triggered stop) orders."""
    if order.order_type in ("LMT", "STP LMT", "TRAIL LIMIT"):
        return order.lmt_price
    return None


def trail_offset(order: SimOrder, extreme: float) -> float:
    """How far the trailing stop sits from the best price seen."""
    if positive(order.aux_price):
        return order.aux_price  # type: ignore[return-value]
    return extreme * (order.trailing_percent or 0.0) / 100.0


def follow_trail(order: SimOrder, price: float, instrument: InstrumentLike) -> None:
    """Move a trailing stop with a new price: it only ever moves in the order's favour
    (up for a SELL, down for a BUY). The first price seen starts the trail, at the given
    trail_stop_price if there is one."""
    if order.trail_extreme is None:
        _start_trail(order, price, instrument)
        return
    better = price > order.trail_extreme if not order.is_buy else price < order.trail_extreme
    if not better:
        return
    order.trail_extreme = price
    candidate = trail_stop_for(order, price, instrument)
    current = order.trail_stop_price
    if current is None or (candidate > current if not order.is_buy else candidate < current):
        order.trail_stop_price = candidate


def _start_trail(order: SimOrder, price: float, instrument: InstrumentLike) -> None:
    order.trail_extreme = price
    if not positive(order.trail_stop_price):
        order.trail_stop_price = trail_stop_for(order, price, instrument)
    elif order.lmt_price_offset is None and positive(order.lmt_price):
        # a TRAIL LIMIT given as an initial stop and limit: their distance is the offset
        order.lmt_price_offset = abs(order.trail_stop_price - order.lmt_price)  # type: ignore[operator]


def trail_stop_for(order: SimOrder, extreme: float, instrument: InstrumentLike) -> float:
    offset = trail_offset(order, extreme)
    stop = extreme + offset if order.is_buy else extreme - offset
    return instrument.round_to_tick(stop)


def set_trail_limit(order: SimOrder, instrument: InstrumentLike) -> None:
    """At the trigger, a TRAIL LIMIT's limit is fixed at the stop -/+ the limit offset."""
    stop = order.trail_stop_price or 0.0
    offset = order.lmt_price_offset or 0.0
    order.lmt_price = instrument.round_to_tick(stop + offset if order.is_buy else stop - offset)


def _touched(order: SimOrder, price: float) -> bool:
    stop = stop_price(order)
    if stop is None:
        return False
    return price >= stop if order.is_buy else price <= stop


def _marketable(order: SimOrder, price: float) -> bool:
    limit = limit_price(order)
    if limit is None:
        return True
    return price <= limit if order.is_buy else price >= limit


@dataclass
class QuoteBook:
    """What is left of one quote's sizes after earlier fills against it."""

    identity: tuple[float, ...]
    bid_left: float
    ask_left: float

    @classmethod
    def of(cls, quote: QuoteLike) -> QuoteBook:
        identity = (quote.time, quote.bid, quote.ask, quote.bid_size, quote.ask_size)
        return cls(identity, max(quote.bid_size, 0.0), max(quote.ask_size, 0.0))

    def same_quote(self, quote: QuoteLike) -> bool:
        return self.identity == (quote.time, quote.bid, quote.ask, quote.bid_size,
                                 quote.ask_size)


@dataclass
class QuoteMarket:
    """Live: fills at the touch (buys at the ask, sells at the bid), up to its size."""

    con_id: int
    quote: QuoteLike
    book: QuoteBook
    visited: set[OrderKey] = field(default_factory=set)

    def eligible(self, order: SimOrder) -> bool:
        return order.con_id == self.con_id

    def reference(self) -> float | None:
        """The price stops and trails watch: the last trade, else the mid."""
        q = self.quote
        if positive(q.last):
            return q.last
        if positive(q.bid) and positive(q.ask):
            return (q.bid + q.ask) / 2
        return None

    def trigger(self, order: SimOrder, instrument: InstrumentLike) -> float | None:
        price = self.reference()
        if price is None:
            return None
        if order.order_type in TRAIL_TYPES:
            follow_trail(order, price, instrument)
        return price if _touched(order, price) else None

    def execution(self, order: SimOrder, trigger_price: float | None, resting: bool) -> Fill | None:
        q = self.quote
        price, size = (q.ask, self.book.ask_left) if order.is_buy else (q.bid, self.book.bid_left)
        if not (positive(price) and size > 0) or not _marketable(order, price):
            return None
        quantity = min(order.remaining, size)
        if order.is_buy:
            self.book.ask_left -= quantity
        else:
            self.book.bid_left -= quantity
        # a limit that was already resting when the market came to it provided liquidity
        added = resting and trigger_price is None and limit_price(order) is not None
        return price, quantity, ADDED if added else REMOVED


@dataclass
class BarMarket:
    """Backtests: one bar, whole fills, and the open as the only price known to come first.

    A stop triggered inside the bar fills at the stop, or at the open if the bar gapped
    through it. A limit fills at the open if the open was already good enough, else at
    its limit if the bar reached it - except right after a trigger in the same bar, where
    the part of the range that came before the trigger is unknown, so it then waits.
    """

    con_id: int
    bar: BarLike
    visited: set[OrderKey] = field(default_factory=set)

    def eligible(self, order: SimOrder) -> bool:
        """Only orders placed by the bar's start time trade on it."""
        return order.con_id == self.con_id and order.created <= self.bar.time

    def reference(self) -> float | None:
        return self.bar.open if positive(self.bar.open) else None

    def trigger(self, order: SimOrder, instrument: InstrumentLike) -> float | None:
        bar = self.bar
        if order.order_type in TRAIL_TYPES:
            follow_trail(order, bar.open, instrument)  # the open is known to come first
        stop = stop_price(order)
        if stop is None:
            return None
        if order.is_buy and bar.high >= stop:
            return max(bar.open, stop)
        if not order.is_buy and bar.low <= stop:
            return min(bar.open, stop)
        if order.order_type in TRAIL_TYPES:  # not hit: the bar's best price moves the trail
            follow_trail(order, bar.low if order.is_buy else bar.high, instrument)
        return None

    def execution(self, order: SimOrder, trigger_price: float | None, resting: bool) -> Fill | None:
        bar = self.bar
        start = trigger_price if trigger_price is not None else bar.open
        limit = limit_price(order)
        if limit is None or _marketable(order, start):
            return start, order.remaining, REMOVED
        if trigger_price is not None:
            return None
        reached = bar.low <= limit if order.is_buy else bar.high >= limit
        return (limit, order.remaining, ADDED) if reached else None


Market = QuoteMarket | BarMarket
