"""Checks on an order's own fields before the engine lets it work or change, and what a
modification changes.

Checks return None when the order is fine, else the reason text the client sees after
"Order rejected - reason:".
"""

from __future__ import annotations

from ibtrader.sim.fill_rules import trail_stop_for
from ibtrader.sim.matching_types import (
    ACTIONS,
    ORDER_TYPES,
    TIFS,
    TRAIL_TYPES,
    InstrumentLike,
    QuoteLike,
    SimOrder,
    positive,
)

# fields a modification may change; side, type, contract and parent are fixed
MODIFIABLE = ("total_quantity", "lmt_price", "aux_price", "trailing_percent",
              "lmt_price_offset", "tif", "oca_group", "oca_type", "outside_rth", "order_ref",
              "account", "transmit")
TICK_TEXT = "The price does not conform to the minimum price variation for this contract."


def on_tick(instrument: InstrumentLike, price: float) -> bool:
    return abs(instrument.round_to_tick(price) - price) <= instrument.min_tick * 1e-6


def invalid_order(order: SimOrder, instrument: InstrumentLike) -> str | None:
    if order.action not in ACTIONS:
        return f"Invalid action {order.action!r}"
    if order.order_type not in ORDER_TYPES:
        return f"The order type {order.order_type!r} is not supported"
    if order.tif not in TIFS:
        return f"The time in force {order.tif!r} is not supported"
    if not positive(order.total_quantity):
        return "The order quantity must be above zero"
    return missing_price(order) or off_tick(order, instrument)


def missing_price(order: SimOrder) -> str | None:
    kind = order.order_type
    if kind in ("LMT", "STP LMT") and not positive(order.lmt_price):
        return "A limit price above zero is required"
    if kind in ("STP", "STP LMT") and not positive(order.aux_price):
        return "A stop price above zero is required"
    if kind in TRAIL_TYPES:
        if not (positive(order.aux_price) or positive(order.trailing_percent)):
            return "A trailing amount or trailing percent is required"
        if (order.trailing_percent or 0.0) >= 100:
            return "The trailing percent must be below 100"
    if kind == "TRAIL LIMIT" and order.lmt_price_offset is None and not (
            positive(order.lmt_price) and positive(order.trail_stop_price)):
        return "A limit price offset (or a limit and an initial stop price) is required"
    return None


def off_tick(order: SimOrder, instrument: InstrumentLike) -> str | None:
    prices = [order.aux_price, order.lmt_price_offset]
    if order.order_type != "MKT":  # a market order's limit field is noise
        prices.append(order.lmt_price)
    if any(p is not None and positive(p) and not on_tick(instrument, p) for p in prices):
        return TICK_TEXT
    return None


def unmodifiable(existing: SimOrder, incoming: SimOrder) -> str | None:
    """What a modification of a working order may not do."""
    fixed = ("action", "order_type", "con_id", "parent_id")
    if any(getattr(existing, name) != getattr(incoming, name) for name in fixed):
        return "The side, order type, contract or parent of a working order cannot change"
    if incoming.total_quantity <= existing.filled:
        return "The order quantity cannot be reduced to what has already filled"
    return None


def margin_price(order: SimOrder, quote: QuoteLike | None) -> float | None:
    """The price a buying-power check assumes: the quote's far side, else the order's own
    limit or stop (None if there is nothing to go by)."""
    if quote is not None:
        far = quote.ask if order.is_buy else quote.bid
        if positive(far):
            return far
    # a trailing order's aux price is an amount, not a price
    stop = order.trail_stop_price if order.order_type in TRAIL_TYPES else order.aux_price
    for price in (order.lmt_price, stop):
        if price is not None and positive(price):
            return price
    return None


def apply_changes(existing: SimOrder, incoming: SimOrder, instrument: InstrumentLike) -> None:
    """Take a modification's fields into the working order, keeping the engine's state."""
    trail = (existing.aux_price, existing.trailing_percent)
    engine_limit = existing.order_type == "TRAIL LIMIT" and existing.triggered
    for name in MODIFIABLE:
        if name == "lmt_price" and engine_limit and not positive(incoming.lmt_price):
            continue  # the engine set this limit at the trigger
        setattr(existing, name, getattr(incoming, name))
    existing.wire = incoming.wire
    if existing.order_type not in TRAIL_TYPES or existing.triggered:
        return
    if existing.trail_extreme is None:  # not trailing yet: a new initial stop counts
        existing.trail_stop_price = incoming.trail_stop_price
    elif trail != (existing.aux_price, existing.trailing_percent):
        # a new amount or percent re-bases the stop on the best price seen so far
        existing.trail_stop_price = trail_stop_for(existing, existing.trail_extreme, instrument)
