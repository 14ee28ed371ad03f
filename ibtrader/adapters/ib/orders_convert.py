"""Between the broker-neutral order values (`core.broker`) and ib_async's objects.

Pure functions: an `OrderTicket` becomes an ib_async `Order` (after checks that give a
specific reason for a malformed ticket, so nothing half-formed reaches IB), and IB's
trades, fills and positions become `BrokerOrderStatus`, `BrokerFill`, `BrokerOrder` and
`BrokerPosition`. IB marks "no value" with its UNSET sentinels; they become None or NaN.
"""

from __future__ import annotations

import datetime as dt
import math

from ib_async import CommissionReport, Contract, Fill, Order, Position, Trade
from ib_async.util import UNSET_DOUBLE

from ibtrader.adapters.ib.contracts import app_symbol
from ibtrader.core.broker import (
    ORDER_TYPES,
    TIME_IN_FORCE,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    OrderTicket,
)
from ibtrader.core.market import Instrument

SIDES = ("BUY", "SELL")
# OCA type 2: when one order of the group fills (even partly), the others shrink by as
# much, with IB's overfill protection; so a partly filled take-profit leaves a stop for
# exactly what is still held.
OCA_REDUCE_WITH_BLOCK = 2
_IB_SIDES = {"BOT": "BUY", "SLD": "SELL"}


class InvalidTicket(ValueError):
    """A ticket the adapter cannot turn into an IB order; the message says why."""


def _price(value: float | None) -> float | None:
    """IB's "no price" (UNSET_DOUBLE, NaN, absent) as None."""
    if value is None:
        return None
    number = float(value)
    if math.isnan(number) or number >= UNSET_DOUBLE:
        return None
    return number


def _positive(ticket: OrderTicket, name: str, value: float | None) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        raise InvalidTicket(f"order {ticket.order_ref}: {ticket.order_type} needs a "
                            f"{name.replace('_', ' ')} above zero (got {value})")
    return value


def check_ticket(ticket: OrderTicket) -> None:
    """Refuse a ticket IB would misread or reject for its form; the reason names the field."""
    ref = ticket.order_ref
    if not ref or not ref.strip():
        raise InvalidTicket("an order needs an order_ref (the app's client key)")
    if not ticket.instrument.is_qualified:
        raise InvalidTicket(f"order {ref}: {ticket.instrument.symbol} is not qualified "
                            "(no broker contract id)")
    if ticket.side not in SIDES:
        raise InvalidTicket(f"order {ref}: side must be BUY or SELL, not {ticket.side!r}")
    if ticket.order_type not in ORDER_TYPES:
        raise InvalidTicket(f"order {ref}: unknown order type {ticket.order_type!r} "
                            f"(one of {', '.join(ORDER_TYPES)})")
    if ticket.tif not in TIME_IN_FORCE:
        raise InvalidTicket(f"order {ref}: unknown time in force {ticket.tif!r} "
                            f"(one of {', '.join(TIME_IN_FORCE)})")
    _positive(ticket, "quantity", ticket.quantity)
    kind = ticket.order_type
    if kind in ("LMT", "STP LMT"):
        _positive(ticket, "limit_price", ticket.limit_price)
    if kind in ("STP", "STP LMT"):
        _positive(ticket, "stop_price", ticket.stop_price)
    if kind == "TRAIL":
        amount, percent = ticket.trail_amount, ticket.trail_percent
        if (amount is None) == (percent is None):
            raise InvalidTicket(f"order {ref}: TRAIL needs exactly one of trail_amount "
                                "or trail_percent")
        if amount is not None:
            _positive(ticket, "trail_amount", amount)
        else:
            _positive(ticket, "trail_percent", percent)
            if percent is not None and percent >= 100:
                raise InvalidTicket(f"order {ref}: trail_percent must be below 100")
        if ticket.stop_price is not None:
            _positive(ticket, "stop_price", ticket.stop_price)
    if ticket.parent_ref == ref:
        raise InvalidTicket(f"order {ref}: an order cannot be its own parent")


def order_for(ticket: OrderTicket, parent_id: int = 0, account: str = "") -> Order:
    """The ib_async `Order` for a checked ticket; `parent_id` is the parent's IB order id."""
    order = Order(
        action=ticket.side, totalQuantity=ticket.quantity, orderType=ticket.order_type,
        tif=ticket.tif, outsideRth=ticket.outside_rth, orderRef=ticket.order_ref,
        ocaGroup=ticket.oca_group, parentId=parent_id, transmit=ticket.transmit,
        account=account,
    )
    if ticket.oca_group:
        order.ocaType = OCA_REDUCE_WITH_BLOCK
    kind = ticket.order_type
    if kind in ("LMT", "STP LMT"):
        order.lmtPrice = ticket.limit_price
    if kind in ("STP", "STP LMT"):
        order.auxPrice = ticket.stop_price
    if kind == "TRAIL":
        if ticket.trail_amount is not None:
            order.auxPrice = ticket.trail_amount
        else:
            order.trailingPercent = ticket.trail_percent
        if ticket.stop_price is not None:
            order.trailStopPrice = ticket.stop_price
    return order


def instrument_of(contract: Contract) -> Instrument:
    """An instrument from the contract IB reports with an order (no contract details:
    the tick size is unknown here, so the default stands)."""
    return Instrument(symbol=app_symbol(contract), sec_type=contract.secType,
                      exchange=contract.exchange, currency=contract.currency,
                      con_id=contract.conId, local_symbol=contract.localSymbol,
                      multiplier=float(contract.multiplier or 1))


def ticket_of(trade: Trade, instrument: Instrument, parent_ref: str = "") -> OrderTicket:
    """The ticket an order at IB amounts to (for reconciliation)."""
    o = trade.order
    kind = o.orderType
    limit = _price(o.lmtPrice) if kind in ("LMT", "STP LMT") else None
    stop: float | None = None
    trail_amount = trail_percent = None
    if kind in ("STP", "STP LMT"):
        stop = _price(o.auxPrice)
    elif kind == "TRAIL":
        stop = _price(o.trailStopPrice)
        trail_percent = _price(o.trailingPercent)
        trail_amount = None if trail_percent else _price(o.auxPrice)
    return OrderTicket(
        order_ref=o.orderRef, instrument=instrument, side=o.action.upper(),
        quantity=float(o.totalQuantity), order_type=kind, limit_price=limit,
        stop_price=stop, trail_amount=trail_amount, trail_percent=trail_percent,
        tif=(o.tif or "DAY").upper(), outside_rth=o.outsideRth, parent_ref=parent_ref,
        oca_group=o.ocaGroup, transmit=o.transmit,
    )


def status_of(trade: Trade, received: float) -> BrokerOrderStatus:
    s, o = trade.orderStatus, trade.order
    avg = _price(s.avgFillPrice)
    return BrokerOrderStatus(
        order_ref=o.orderRef, broker_id=o.orderId, perm_id=s.permId or o.permId,
        status=s.status, filled=float(s.filled), remaining=float(s.remaining),
        avg_fill_price=avg if avg is not None else math.nan, time=received,
        why_held=s.whyHeld,
    )


def status_key(status: BrokerOrderStatus) -> tuple:
    """What makes two statuses of one order the same news (the receipt time does not).
    The ref is part of it: a gateway that lost its state reuses order ids."""
    return (status.order_ref, status.status, status.filled, status.remaining,
            status.avg_fill_price, status.why_held, status.perm_id)


def broker_order_of(trade: Trade, instrument: Instrument, parent_ref: str, client_id: int,
                    received: float) -> BrokerOrder:
    mine = trade.order.clientId == client_id and bool(trade.order.orderRef)
    return BrokerOrder(ticket_of(trade, instrument, parent_ref), status_of(trade, received),
                       placed_by_us=mine)


def _epoch(when: dt.datetime | float) -> float:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:  # IB's text without a zone is UTC in ib_async's parsing
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    return float(when)


def fill_of(fill: Fill, report: CommissionReport | None = None) -> BrokerFill:
    """One execution; `report` (matched by exec id) adds the commission and realized P&L."""
    e = fill.execution
    commission = realized = math.nan
    if report is not None and report.execId == e.execId:
        commission = float(report.commission)
        pnl = _price(report.realizedPNL)
        realized = math.nan if pnl is None else pnl
    return BrokerFill(
        exec_id=e.execId, order_ref=e.orderRef, broker_id=e.orderId, perm_id=e.permId,
        symbol=app_symbol(fill.contract), side=_IB_SIDES.get(e.side, e.side),
        quantity=float(e.shares), price=float(e.price), time=_epoch(e.time),
        commission=commission, realized_pnl=realized,
    )


def position_of(position: Position) -> BrokerPosition:
    return BrokerPosition(symbol=app_symbol(position.contract),
                          quantity=float(position.position), avg_cost=float(position.avgCost))


def filter_time(since: float) -> str:
    """IB's execution-filter time for `since` (whole seconds, UTC, rounded down)."""
    moment = dt.datetime.fromtimestamp(math.floor(since), dt.UTC)
    return moment.strftime("%Y%m%d %H:%M:%S UTC")
