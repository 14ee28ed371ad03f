"""A validated request becomes the broker's tickets: one order, or a bracket of up to three.

A bracket is the entry (the parent) plus a take-profit LMT and a stop-loss STP on the other
side, each naming the parent in `parent_ref` and sharing one OCA group, so that one leg
filling cancels the other. They are sent parent first with `transmit=False` on all but the
last, as IB requires: nothing works before the whole bracket has arrived.

Every ref is derived from the request's client key alone ("KEY", "KEY-tp", "KEY-sl",
OCA "KEY-oca"): a retry after a crash rebuilds exactly the same refs, and the broker's
reports find their way back to the journal's rows.
"""

from __future__ import annotations

from ibtrader.core.broker import OrderTicket
from ibtrader.core.market import Instrument
from ibtrader.core.orders.pricing import round_to_tick
from ibtrader.core.orders.request import OrderRequest

TAKE_PROFIT_SUFFIX = "-tp"
STOP_LOSS_SUFFIX = "-sl"
OCA_SUFFIX = "-oca"
_TYPES = {"mkt": "MKT", "lmt": "LMT", "stp": "STP", "stp-lmt": "STP LMT", "trail": "TRAIL"}


class TicketError(ValueError):
    """The request and the instrument do not make a ticket (validate first)."""


def take_profit_ref(key: str) -> str:
    return key + TAKE_PROFIT_SUFFIX


def stop_loss_ref(key: str) -> str:
    return key + STOP_LOSS_SUFFIX


def oca_group(key: str) -> str:
    return key + OCA_SUFFIX


def parent_key(ref: str) -> str:
    """The client key of the request a ref belongs to ("KEY-tp" -> "KEY")."""
    for suffix in (TAKE_PROFIT_SUFFIX, STOP_LOSS_SUFFIX):
        if ref.endswith(suffix):
            return ref[: -len(suffix)]
    return ref


def _price(value: float | None, instrument: Instrument) -> float | None:
    # Validation checked the grid; this only removes float noise (100.00000000001).
    return None if value is None else round_to_tick(value, instrument.min_tick)


def build_tickets(request: OrderRequest, instrument: Instrument) -> list[OrderTicket]:
    """The tickets to send, in sending order. The request must have passed `validate`."""
    if instrument.symbol != request.symbol:
        raise TicketError(f"request for {request.symbol} given the contract of "
                          f"{instrument.symbol}")
    side = "BUY" if request.is_buy else "SELL"
    key = request.client_key
    legs: list[tuple[str, float, str]] = []  # (ref, price, order type) of the children
    if request.take_profit is not None:
        legs.append((take_profit_ref(key), request.take_profit, "LMT"))
    if request.stop_loss is not None:
        legs.append((stop_loss_ref(key), request.stop_loss, "STP"))
    group = oca_group(key) if legs else ""
    parent = OrderTicket(
        order_ref=key, instrument=instrument, side=side, quantity=request.quantity,
        order_type=_TYPES[request.order_type], limit_price=_price(request.limit, instrument),
        stop_price=_price(request.stop, instrument),
        trail_amount=_price(request.trail_amount, instrument),
        trail_percent=request.trail_percent, tif=request.tif.upper(),
        outside_rth=request.outside_rth, transmit=not legs,
    )
    tickets = [parent]
    exit_side = "SELL" if request.is_buy else "BUY"
    for i, (ref, price, kind) in enumerate(legs):
        limit = _price(price, instrument) if kind == "LMT" else None
        stop = _price(price, instrument) if kind == "STP" else None
        tickets.append(OrderTicket(
            order_ref=ref, instrument=instrument, side=exit_side, quantity=request.quantity,
            order_type=kind, limit_price=limit, stop_price=stop, tif=request.tif.upper(),
            outside_rth=request.outside_rth, parent_ref=key, oca_group=group,
            transmit=i == len(legs) - 1,
        ))
    return tickets


def leg_requests(request: OrderRequest) -> list[OrderRequest]:
    """A bracket's exit legs as requests of their own (each becomes an `Order` with the
    entry's key as its parent): the take-profit LMT, then the stop-loss STP. [] if none."""
    exit_side = "sell" if request.is_buy else "buy"
    base = dict(symbol=request.symbol, side=exit_side, quantity=request.quantity,
                tif=request.tif, outside_rth=request.outside_rth,
                decision_id=request.decision_id, source=request.source,
                created=request.created)
    legs: list[OrderRequest] = []
    if request.take_profit is not None:
        legs.append(OrderRequest(client_key=take_profit_ref(request.client_key),
                                 order_type="lmt", limit=request.take_profit, **base))
    if request.stop_loss is not None:
        legs.append(OrderRequest(client_key=stop_loss_ref(request.client_key),
                                 order_type="stp", stop=request.stop_loss, **base))
    return legs
