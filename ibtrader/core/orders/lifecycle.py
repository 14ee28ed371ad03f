"""An order's life, as an explicit state machine over pure values.

    NEW --sent--> SENT --ack--> WORKING --fill--> PARTIALLY_FILLED --fill--> FILLED
     |             |              |  \\                 |
     |             |              |   `--cancel--> CANCEL_REQUESTED --> CANCELLED
     |             `--> REJECTED  `--> INACTIVE (held/not working at the broker)
     `--> CANCELLED (never sent)

`TRANSITIONS` is the whole table. Every change goes through `apply_status`, `apply_fill`,
`apply_error`, `mark_sent`, `request_cancel` or `request_modify`, each returning a new
`Order` and the `OrderEvent`s to journal; the input is never changed. An impossible change
raises `IllegalTransition` (the caller logs it and keeps the order as it was): nothing is
ever silently overwritten. A broker report identical to the last one changes nothing and
makes no event, so repeated reports (IB sends many) are harmless.

Decisions:
- NEW may move straight to any broker state: after a crash between journalling and
  recording SENT, the broker's reports (or reconciliation) are the first word we get.
- A working report while a cancel is pending keeps CANCEL_REQUESTED (the report may predate
  the cancel); a refused cancel (IB error 161/10148) returns the order to work.
- An error for an order not yet working (NEW, SENT, INACTIVE) rejects it; an error for a
  working order is recorded only (a refused modification leaves the order working; its
  status reports tell what became of it). IB error 202 ("order cancelled") cancels it.
- IB tells one outcome twice: a rejection is error 201 plus status "Inactive", a cancel is
  status "Cancelled" plus error 202, in either order. The second word is journalled and
  keeps the final state (`_ECHOES`) instead of being an impossible transition.
- Quantities: `filled` is the larger of the broker's reported total and our de-duplicated
  executions, so neither a late status nor a late execution report under-counts; a working
  status that lags behind our executions is journalled without moving the state back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from ibtrader.core.broker import (
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    OrderTicket,
)
from ibtrader.core.orders.request import TIFS, OrderInputError, OrderRequest


class OrderState(StrEnum):
    NEW = "new"  # journalled, not sent
    SENT = "sent"  # handed to the broker; no acknowledgement yet
    WORKING = "working"  # acknowledged, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCEL_REQUESTED = "cancel_requested"
    CANCELLED = "cancelled"  # possibly after a partial fill: see `filled`
    REJECTED = "rejected"
    INACTIVE = "inactive"  # at the broker but not working (IB "Inactive": held, not routed)


S = OrderState
_LIVE = frozenset({S.SENT, S.WORKING, S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_REQUESTED,
                   S.CANCELLED, S.REJECTED, S.INACTIVE})
TRANSITIONS: Mapping[OrderState, frozenset[OrderState]] = MappingProxyType({
    S.NEW: _LIVE,
    S.SENT: frozenset({S.WORKING, S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_REQUESTED,
                       S.CANCELLED, S.REJECTED, S.INACTIVE}),
    S.WORKING: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_REQUESTED, S.CANCELLED,
                          S.REJECTED, S.INACTIVE}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCEL_REQUESTED, S.CANCELLED, S.INACTIVE}),
    S.CANCEL_REQUESTED: frozenset({S.WORKING, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED,
                                   S.REJECTED, S.INACTIVE}),
    S.INACTIVE: frozenset({S.WORKING, S.PARTIALLY_FILLED, S.FILLED, S.CANCEL_REQUESTED,
                           S.CANCELLED, S.REJECTED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
})
FINAL = frozenset(s for s, after in TRANSITIONS.items() if not after)
OPEN = frozenset(TRANSITIONS) - FINAL - {S.NEW}  # at the broker, may still fill

# IB's order status texts.
_PENDING = {"ApiPending", "PendingSubmit"}
_WORKING = {"PreSubmitted", "Submitted"}
_CANCELLED = {"Cancelled", "ApiCancelled"}
# A final state followed by the status IB sends as the tail of the same outcome: a rejection
# (error 201) comes with "Inactive" (or "Cancelled"); a cancel with error 202 and "Inactive".
_ECHOES: Mapping[OrderState, frozenset[OrderState]] = MappingProxyType({
    S.REJECTED: frozenset({S.INACTIVE, S.CANCELLED}),
    S.CANCELLED: frozenset({S.INACTIVE}),
})
CANCEL_REFUSED_CODES = frozenset({161, 10148})  # "not in a cancellable state", "cannot cancel"
ORDER_CANCELLED_CODE = 202


class OrderLifecycleError(ValueError):
    """A report or command an order cannot take. The caller logs it; the order is unchanged."""


class IllegalTransition(OrderLifecycleError):
    def __init__(self, key: str, current: OrderState, target: OrderState, cause: str) -> None:
        super().__init__(f"order {key}: {current} -> {target} is not allowed ({cause})")
        self.key = key
        self.current = current
        self.target = target
        self.cause = cause


class UnknownStatus(OrderLifecycleError):
    """The broker sent a status text this table does not know."""


class WrongOrder(OrderLifecycleError):
    """A report for another order (its ref differs)."""


class Overfill(OrderLifecycleError):
    """Executions add up to more than the order's quantity."""


class StaleReport(OrderLifecycleError):
    """A report says less is filled than the broker already told us."""


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One line of an order's history, for the journal. `detail` is JSON-ready."""

    client_key: str
    kind: str  # created, adopted, sent, status, fill, commission, error, cancel_requested, ...
    time: float
    state_before: OrderState
    state_after: OrderState
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    client_key: str
    request: OrderRequest
    state: OrderState = S.NEW
    created: float = 0.0
    updated: float = 0.0
    broker_id: int = 0
    perm_id: int = 0
    reported_filled: float = 0.0  # the broker's total, from its last status report
    reported_avg_price: float = math.nan
    fills: tuple[BrokerFill, ...] = ()  # de-duplicated by exec_id
    parent_key: str = ""  # for a bracket's legs: the entry's client key
    adopted: bool = False  # placed outside the app (TWS, another client), adopted by us
    last_status: BrokerOrderStatus | None = None
    last_error: str = ""

    # -- derived values ------------------------------------------------------------------
    @property
    def quantity(self) -> float:
        return self.request.quantity

    @property
    def fill_quantity(self) -> float:
        return sum(f.quantity for f in self.fills)

    @property
    def filled(self) -> float:
        return max(self.fill_quantity, self.reported_filled)

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def avg_price(self) -> float:
        """Volume-weighted over our executions; the broker's figure until we have them."""
        qty = self.fill_quantity
        if qty > 0:
            return sum(f.quantity * f.price for f in self.fills) / qty
        return self.reported_avg_price

    @property
    def commission(self) -> float:
        """Commissions reported so far (an execution's arrives a moment after it)."""
        return sum(f.commission for f in self.fills if math.isfinite(f.commission))

    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    @property
    def is_open(self) -> bool:
        return self.state in OPEN


def new_order(request: OrderRequest, now: float,
              parent: str = "") -> tuple[Order, list[OrderEvent]]:
    """The order for a request, before it is sent: journal it, then send it. A bracket's
    legs name their entry's key in `parent` (see tickets.leg_requests)."""
    order = Order(client_key=request.client_key, request=request, created=now, updated=now,
                  parent_key=parent)
    detail = _request_detail(request) | ({"parent_key": parent} if parent else {})
    return order, [_event(order, "created", now, S.NEW, detail)]


_REQUEST_TYPES = {"MKT": "mkt", "LMT": "lmt", "STP": "stp", "STP LMT": "stp-lmt",
                  "TRAIL": "trail"}


class UnsupportedOrder(OrderLifecycleError):
    """An order at the broker the app cannot represent (an order type or TIF it lacks)."""


def adopted_key(ticket: OrderTicket, perm_id: int) -> str:
    """The client key of an order placed elsewhere: its ref, or one made of its perm id."""
    return ticket.order_ref or f"ext-{perm_id}"


def adopt(broker_order: BrokerOrder, now: float) -> tuple[Order, list[OrderEvent]]:
    """An order found at the broker that the journal does not know (placed in TWS, say):
    taken into the app as it stands there, marked adopted. Raises `UnsupportedOrder` for an
    order the app cannot represent; the caller reports it instead."""
    ticket, status = broker_order.ticket, broker_order.status
    key = adopted_key(ticket, status.perm_id)
    order_type = _REQUEST_TYPES.get(ticket.order_type)
    tif = ticket.tif.lower()
    unsupported = (f"order {key} ({ticket.instrument.symbol}) at the broker has type "
                   f"{ticket.order_type}, side {ticket.side} and TIF {ticket.tif}: the app "
                   f"manages only {', '.join(_REQUEST_TYPES)} buys and sells with "
                   + "/".join(t.upper() for t in TIFS))
    if order_type is None or tif not in TIFS:
        raise UnsupportedOrder(unsupported)
    try:
        request = OrderRequest(
            symbol=ticket.instrument.symbol, side=ticket.side.lower(),
            quantity=ticket.quantity, client_key=key, order_type=order_type,
            limit=ticket.limit_price, stop=ticket.stop_price, trail_amount=ticket.trail_amount,
            trail_percent=ticket.trail_percent, tif=tif, outside_rth=ticket.outside_rth,
            source="external", created=now)
    except OrderInputError:  # e.g. IB's SSHORT side
        raise UnsupportedOrder(unsupported) from None
    order = Order(client_key=key, request=request, created=now, updated=now, adopted=True,
                  parent_key=ticket.parent_ref)
    detail = _request_detail(request) | {"placed_by_us": broker_order.placed_by_us}
    events = [_event(order, "adopted", now, S.NEW, detail)]
    order, more = apply_status(order, status)
    return order, events + more


# -- the broker's word ------------------------------------------------------------------------

def state_for_status(status: str, filled: float, remaining: float) -> OrderState:
    """The state IB's status text and quantities mean."""
    if status in _PENDING:
        return S.SENT
    if status in _WORKING:
        return S.PARTIALLY_FILLED if filled > 0 else S.WORKING
    if status == "Filled":
        return S.FILLED
    if status == "PendingCancel":
        return S.CANCEL_REQUESTED
    if status in _CANCELLED:
        return S.CANCELLED
    if status == "Inactive":
        return S.INACTIVE
    raise UnknownStatus(f"unknown broker order status {status!r} (filled {filled:g}, "
                        f"remaining {remaining:g})")


def next_state(current: OrderState, status: str, filled: float, remaining: float,
               key: str = "") -> OrderState:
    """Where a status report takes an order in `current`; raises `IllegalTransition` when
    the table forbids it, `UnknownStatus` for a text IB never sends."""
    target = state_for_status(status, filled, remaining)
    if current == S.CANCEL_REQUESTED and target in (S.SENT, S.WORKING, S.PARTIALLY_FILLED):
        return current  # the report may predate our cancel
    if target in _ECHOES.get(current, ()):
        return current  # the same outcome told again in other words
    if target != current and target not in TRANSITIONS[current]:
        raise IllegalTransition(key, current, target, f"broker status {status}")
    return target


def _same_report(a: BrokerOrderStatus | None, b: BrokerOrderStatus) -> bool:
    # The receive time differs between repeats; the facts do not.
    return a is not None and (a.status, a.filled, a.remaining, a.broker_id, a.perm_id,
                              a.why_held) == (b.status, b.filled, b.remaining, b.broker_id,
                                              b.perm_id, b.why_held) and (
        a.avg_fill_price == b.avg_fill_price
        or (math.isnan(a.avg_fill_price) and math.isnan(b.avg_fill_price)))


def apply_status(order: Order, status: BrokerOrderStatus) -> tuple[Order, list[OrderEvent]]:
    """The order after a status report, and the events to journal ([] for a repeat)."""
    if status.order_ref and status.order_ref != order.client_key:
        raise WrongOrder(f"status for {status.order_ref} applied to order {order.client_key}")
    if _same_report(order.last_status, status):
        return order, []
    if status.filled < order.reported_filled:
        raise StaleReport(f"order {order.client_key}: broker reports {status.filled:g} filled"
                          f" after reporting {order.reported_filled:g} ({status.status})")
    if status.filled > order.quantity + 1e-9:
        raise Overfill(f"order {order.client_key}: broker reports {status.filled:g} filled of "
                       f"{order.quantity:g}")
    # Our executions are facts: a status sent before them arrives late, not wrong.
    filled = max(status.filled, order.fill_quantity)
    if order.state == S.FILLED and order.fill_quantity >= order.quantity - 1e-9 and \
            status.status in _WORKING | _PENDING:
        target = S.FILLED
    else:
        target = next_state(order.state, status.status, filled, order.quantity - filled,
                            key=order.client_key)
    updated = replace(order, state=target, updated=status.time,
                      broker_id=status.broker_id or order.broker_id,
                      perm_id=status.perm_id or order.perm_id,
                      reported_filled=status.filled,
                      reported_avg_price=status.avg_fill_price, last_status=status)
    detail = {"status": status.status, "filled": status.filled, "remaining": status.remaining,
              "avg_fill_price": _json_float(status.avg_fill_price),
              "broker_id": status.broker_id, "perm_id": status.perm_id}
    if status.why_held:
        detail["why_held"] = status.why_held
    return updated, [_event(updated, "status", status.time, order.state, detail)]


def apply_fill(order: Order, fill: BrokerFill) -> tuple[Order, list[OrderEvent]]:
    """The order after an execution report. The same `exec_id` again only brings its
    commission (or nothing): an execution is never counted twice."""
    if fill.order_ref and fill.order_ref != order.client_key:
        raise WrongOrder(f"fill {fill.exec_id} for {fill.order_ref} applied to order "
                         f"{order.client_key}")
    for i, seen in enumerate(order.fills):
        if seen.exec_id != fill.exec_id:
            continue
        if math.isfinite(fill.commission) and not math.isfinite(seen.commission):
            priced = replace(seen, commission=fill.commission, realized_pnl=fill.realized_pnl)
            fills = (*order.fills[:i], priced, *order.fills[i + 1:])
            updated = replace(order, fills=fills, updated=max(order.updated, fill.time))
            return updated, [_event(updated, "commission", fill.time, order.state,
                                    {"exec_id": fill.exec_id, "commission": fill.commission,
                                     "realized_pnl": _json_float(fill.realized_pnl)})]
        return order, []
    total = order.fill_quantity + fill.quantity
    if total > order.quantity + 1e-9:
        raise Overfill(f"order {order.client_key}: execution {fill.exec_id} of "
                       f"{fill.quantity:g} makes {total:g} filled of {order.quantity:g}")
    filled = max(total, order.reported_filled)
    target = order.state
    if order.state not in FINAL:  # a late execution of a cancelled order keeps it cancelled
        if filled >= order.quantity - 1e-9:
            target = S.FILLED
        elif order.state != S.CANCEL_REQUESTED:
            target = S.PARTIALLY_FILLED
    target = _check(order, target, f"execution {fill.exec_id}")
    updated = replace(order, state=target, fills=(*order.fills, fill),
                      broker_id=order.broker_id or fill.broker_id,
                      perm_id=order.perm_id or fill.perm_id, updated=max(order.updated,
                                                                         fill.time))
    detail = {"exec_id": fill.exec_id, "side": fill.side, "quantity": fill.quantity,
              "price": fill.price, "commission": _json_float(fill.commission),
              "filled": updated.filled, "remaining": updated.remaining}
    return updated, [_event(updated, "fill", fill.time, order.state, detail)]


def apply_error(order: Order, error: BrokerError, now: float) -> tuple[Order, list[OrderEvent]]:
    """The order after a broker error naming it (see the module's decisions)."""
    target = order.state
    if not error.is_warning and order.state not in FINAL:
        if error.code == ORDER_CANCELLED_CODE:
            target = S.CANCELLED
        elif order.state == S.CANCEL_REQUESTED and error.code in CANCEL_REFUSED_CODES:
            target = S.PARTIALLY_FILLED if order.filled > 0 else S.WORKING
        elif order.state in (S.NEW, S.SENT, S.INACTIVE):
            target = S.REJECTED
    target = _check(order, target, f"broker error {error.code}")
    updated = replace(order, state=target, updated=now, last_error=str(error))
    detail = {"code": error.code, "message": error.message, "warning": error.is_warning}
    return updated, [_event(updated, "error", now, order.state, detail)]


# -- our own commands -------------------------------------------------------------------------

def mark_sent(order: Order, broker_id: int, now: float) -> tuple[Order, list[OrderEvent]]:
    """`OrderPort.place` returned: the broker has the order (or will, in a moment)."""
    if order.state != S.NEW:
        raise IllegalTransition(order.client_key, order.state, S.SENT, "sent twice")
    updated = replace(order, state=S.SENT, broker_id=broker_id, updated=now)
    return updated, [_event(updated, "sent", now, S.NEW, {"broker_id": broker_id})]


def request_cancel(order: Order, now: float) -> tuple[Order, list[OrderEvent]]:
    """Ask for a cancel. An order never sent is cancelled at once; a repeat is a no-op."""
    if order.state == S.CANCEL_REQUESTED:
        return order, []
    target = _check(order, S.CANCELLED if order.state == S.NEW else S.CANCEL_REQUESTED,
                    "cancel requested")
    updated = replace(order, state=target, updated=now)
    return updated, [_event(updated, "cancel_requested", now, order.state, {})]


def request_modify(order: Order, now: float, *, quantity: float | None = None,
                   limit: float | None = None, stop: float | None = None,
                   reason: str = "modify") -> tuple[Order, list[OrderEvent]]:
    """New prices or quantity for a working order (a chase's reprice is one, with
    reason "reprice"). The state stays; the event records old and new values."""
    if order.state not in (S.SENT, S.WORKING, S.PARTIALLY_FILLED, S.INACTIVE):
        raise OrderLifecycleError(f"order {order.client_key} cannot be modified while "
                                  f"{order.state}")
    if quantity is not None and quantity <= order.filled:
        raise OrderLifecycleError(f"order {order.client_key}: new quantity {quantity:g} must "
                                  f"be above the {order.filled:g} already filled")
    changes = {name: value for name, value in
               (("quantity", quantity), ("limit", limit), ("stop", stop)) if value is not None}
    if not changes:
        raise OrderLifecycleError(f"order {order.client_key}: nothing to modify")
    before = {name: getattr(order.request, name) for name in changes}
    updated = replace(order, request=order.request.with_changes(**changes), updated=now)
    detail = {"reason": reason, "before": before, "after": changes}
    return updated, [_event(updated, "modify_requested", now, order.state, detail)]


# -- helpers ----------------------------------------------------------------------------------

def _check(order: Order, target: OrderState, cause: str) -> OrderState:
    if target != order.state and target not in TRANSITIONS[order.state]:
        raise IllegalTransition(order.client_key, order.state, target, cause)
    return target


def _event(order: Order, kind: str, time: float, before: OrderState,
           detail: Mapping[str, Any]) -> OrderEvent:
    return OrderEvent(order.client_key, kind, time, before, order.state, dict(detail))


def _json_float(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _request_detail(request: OrderRequest) -> dict[str, Any]:
    return {"symbol": request.symbol, "side": request.side, "quantity": request.quantity,
            "order_type": request.order_type, "limit": request.limit, "stop": request.stop,
            "trail_amount": request.trail_amount, "trail_percent": request.trail_percent,
            "tif": request.tif, "outside_rth": request.outside_rth,
            "take_profit": request.take_profit, "stop_loss": request.stop_loss,
            "price_policy": str(request.price_policy or ""), "chase": str(request.chase or ""),
            "decision_id": request.decision_id, "source": request.source}
