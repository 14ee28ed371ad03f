"""`IBOrders`: the `OrderPort` over ib_async — place, modify, cancel, and IB's reports.

Every order carries the app's client key in IB's `orderRef`, which IB echoes in open
orders and executions; this module keeps the ref <-> orderId map (orderIds are per
client id), learns it again from IB's own reports after a reconnect, and refuses to place
a ref twice, so a retry can never send an order twice.

Reports are IB's own words only. ib_async invents statuses of its own in a few places
(Cancelled after any order error, even a refused modification of a live order;
ValidationError after a warning; PendingCancel when asked to cancel); those are not
passed on: errors arrive as `order_error` with IB's code, statuses only as IB sent them.
For that reason modify and cancel go to ib_async's client directly: same wire message,
same outbound throttle (the connection's shared message budget), none of the inventions.

Fills arrive twice, as IB sends them: at the execution (commission NaN), then with the
commission report. ib_async repeats commission reports whenever executions are requested
again; the port reports each exec id's commission exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from ib_async import CommissionReport, ExecutionFilter, Fill, RequestError, Trade

from ibtrader.adapters.ib.connection import IBConnection
from ibtrader.adapters.ib.contracts import contract_for
from ibtrader.adapters.ib.errors import broker_error
from ibtrader.adapters.ib.orders_convert import (
    InvalidTicket,
    broker_order_of,
    check_ticket,
    fill_of,
    filter_time,
    instrument_of,
    order_for,
    position_of,
    status_key,
    status_of,
)
from ibtrader.core.broker import (
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    BrokerRequestFailed,
    BrokerUnavailable,
    OrderTicket,
)
from ibtrader.core.events import Event
from ibtrader.core.market import Instrument

log = logging.getLogger(__name__)
T = TypeVar("T")

DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
# Statuses meaning IB holds the order as working, so a modification must be transmitted.
WORKING_STATUSES = frozenset({"PreSubmitted", "Submitted"})
_KEEP_EXEC_IDS = 100_000  # exec ids remembered for de-duplication (far above a day's fills)


class UnknownOrder(LookupError):
    """No order with this ref was placed through this port or found at the broker."""

    def __init__(self, order_ref: str) -> None:
        super().__init__(f"order {order_ref}: not known at the broker (never placed, or "
                         "placed by another client)")
        self.order_ref = order_ref


class IBOrders:
    """The order port of the IB adapter over one `IBConnection`."""

    def __init__(self, connection: IBConnection, *, account: str = "",
                 request_timeout: float = 30.0) -> None:
        self.connection = connection
        self.ib = connection.ib
        self.order_status: Event[[BrokerOrderStatus]] = Event("order_status")
        self.fill_received: Event[[BrokerFill]] = Event("fill_received")
        self.order_error: Event[[str, BrokerError]] = Event("order_error")
        self._account = account
        self._timeout = request_timeout
        self._ids: dict[str, int] = {}  # our ref -> IB orderId (this client's)
        self._refs: dict[int, str] = {}  # IB orderId -> our ref
        self._completed: dict[str, int] = {}  # ref -> permId of orders IB lists as completed
        self._last: dict[object, BrokerOrderStatus] = {}  # order key -> last one reported
        self._execs: OrderedDict[str, bool] = OrderedDict()  # exec id -> commission reported
        self._instruments: dict[int, Instrument] = {}  # con_id -> instrument of our tickets
        self._open_orders_lock = asyncio.Lock()
        self._positions_lock = asyncio.Lock()
        self._handlers = (
            (self.ib.orderStatusEvent, self._on_status),
            (self.ib.openOrderEvent, self._learn),
            (self.ib.execDetailsEvent, self._on_execution),
            (self.ib.commissionReportEvent, self._on_commission),
            (self.ib.errorEvent, self._on_error),
        )
        for event, handler in self._handlers:
            event += handler
        connection.session_started += self._on_session_started

    @property
    def client_id(self) -> int:
        return self.connection.config.client_id

    def broker_id(self, order_ref: str) -> int | None:
        """IB's orderId for one of our refs, if known."""
        return self._ids.get(order_ref)

    # ----- commands (never await the broker) ----------------------------------------------
    def place(self, ticket: OrderTicket) -> int:
        """Send a new order; returns its IB orderId. Raises `InvalidTicket` for a malformed
        ticket or a ref already placed, `BrokerUnavailable` when not connected (nothing sent)."""
        check_ticket(ticket)
        ref = ticket.order_ref
        if ref in self._ids:
            raise InvalidTicket(f"order {ref} was already placed (IB order id "
                                f"{self._ids[ref]}): modify it instead")
        if ref in self._completed:
            raise InvalidTicket(f"order {ref} was already placed and is completed at IB "
                                f"(perm id {self._completed[ref]})")
        parent_id = self._parent_id(ticket)
        self._require_connection(f"order {ref}: cannot place")
        order = order_for(ticket, parent_id, self._account)
        try:
            trade = self.ib.placeOrder(contract_for(ticket.instrument), order)
        except ConnectionError as exc:
            raise BrokerUnavailable(f"order {ref}: not sent: {exc}") from None
        order_id = trade.order.orderId
        self._remember(ref, order_id)
        self._instruments[ticket.instrument.con_id] = ticket.instrument
        log.info("placed %s: %s %g %s %s (IB id %d)", ref, ticket.side, ticket.quantity,
                 ticket.instrument.symbol, ticket.order_type, order_id)
        return order_id

    def modify(self, ticket: OrderTicket) -> None:
        """Send new prices/quantity for the order with this ref, under the same orderId.
        The side, type, instrument and parent stay; IB refuses a change of them."""
        check_ticket(ticket)
        ref = ticket.order_ref
        order_id = self._known_id(ref)
        last = self._last.get((self.client_id, order_id))
        status = last.status if last is not None and last.order_ref == ref else ""
        if status in DONE_STATUSES:
            raise InvalidTicket(f"order {ref} is {status} at the broker: it can no longer "
                                "be modified")
        parent_id = self._parent_id(ticket)
        self._require_connection(f"order {ref}: cannot modify")
        order = order_for(ticket, parent_id, self._account)
        order.orderId, order.clientId = order_id, self.client_id
        if status in WORKING_STATUSES:
            order.transmit = True  # at IB already: an untransmitted change would sit in TWS
        try:
            self.ib.client.placeOrder(order_id, contract_for(ticket.instrument), order)
        except ConnectionError as exc:
            raise BrokerUnavailable(f"order {ref}: modification not sent: {exc}") from None

    def cancel(self, order_ref: str) -> None:
        order_id = self._known_id(order_ref)
        self._require_connection(f"order {order_ref}: cannot cancel")
        try:
            self.ib.client.cancelOrder(order_id, "")
        except ConnectionError as exc:
            raise BrokerUnavailable(f"order {order_ref}: cancel not sent: {exc}") from None

    def cancel_all(self) -> None:
        """Cancel every open order of the account, including ones placed elsewhere."""
        self._require_connection("cannot cancel all orders")
        try:
            self.ib.reqGlobalCancel()
        except ConnectionError as exc:
            raise BrokerUnavailable(f"global cancel not sent: {exc}") from None

    def _known_id(self, order_ref: str) -> int:
        order_id = self._ids.get(order_ref)
        if order_id is None and order_ref in self._completed:
            raise InvalidTicket(f"order {order_ref} is completed at IB (perm id "
                                f"{self._completed[order_ref]}): nothing to change")
        if order_id is None:
            raise UnknownOrder(order_ref)
        return order_id

    def _parent_id(self, ticket: OrderTicket) -> int:
        if not ticket.parent_ref:
            return 0
        parent_id = self._ids.get(ticket.parent_ref)
        if parent_id is None:
            raise InvalidTicket(f"order {ticket.order_ref}: parent {ticket.parent_ref} is "
                                "unknown: place the parent first")
        return parent_id

    def _require_connection(self, what: str) -> None:
        if not (self.connection.is_ready and self.ib.isConnected()):
            raise BrokerUnavailable(f"{what}: not connected to IB "
                                    f"({self.connection.state.value})")

    def _remember(self, ref: str, order_id: int) -> None:
        stale = self._refs.get(order_id)
        if stale is not None and stale != ref:
            # a gateway that lost its state hands out ids again: the old ref is gone there
            self._ids.pop(stale, None)
        self._ids[ref] = order_id
        self._refs[order_id] = ref

    # ----- reports from IB ----------------------------------------------------------------
    def _learn(self, trade: Trade) -> None:
        """Take the ref <-> id pair of one of this client's orders from IB's report.
        IB lists completed orders without order or client id: only their refs count."""
        o = trade.order
        if o.orderId <= 0:
            if o.orderRef and o.permId and trade.orderStatus.status in DONE_STATUSES:
                self._completed[o.orderRef] = o.permId
            return
        if (o.clientId == self.client_id and o.orderRef
                and self._ids.get(o.orderRef) != o.orderId):
            self._remember(o.orderRef, o.orderId)

    def _on_status(self, trade: Trade) -> None:
        if trade.log and trade.log[-1].errorCode:
            return  # ib_async's own verdict on an error; the error goes out as order_error
        self._learn(trade)
        status = status_of(trade, time.time())
        if not status.order_ref and trade.order.clientId == self.client_id:
            status = replace(status, order_ref=self._refs.get(trade.order.orderId, ""))
        key = self.ib.wrapper.orderKey(trade.order.clientId, trade.order.orderId,
                                       status.perm_id)
        before = self._last.get(key)
        if before is not None and status_key(before) == status_key(status):
            return
        self._last[key] = status
        self.order_status.emit(status)

    def _on_execution(self, trade: Trade, fill: Fill) -> None:
        self._learn(trade)
        exec_id = fill.execution.execId
        if exec_id in self._execs:
            return
        self._mark_exec(exec_id, False)
        self.fill_received.emit(self._fill(fill))

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        exec_id = fill.execution.execId
        if self._execs.get(exec_id):
            return  # ib_async repeats reports whenever executions are requested again
        self._mark_exec(exec_id, True)
        self.fill_received.emit(self._fill(fill, report))

    def _mark_exec(self, exec_id: str, commissioned: bool) -> None:
        self._execs[exec_id] = commissioned
        self._execs.move_to_end(exec_id)
        while len(self._execs) > _KEEP_EXEC_IDS:
            self._execs.popitem(last=False)

    def _fill(self, fill: Fill, report: CommissionReport | None = None) -> BrokerFill:
        """The fill, with our ref from the map when IB left it out of an execution of
        this client's (order ids are per client: another client's id says nothing)."""
        found = fill_of(fill, report)
        if found.order_ref or fill.execution.clientId != self.client_id:
            return found
        return replace(found, order_ref=self._refs.get(found.broker_id, ""))

    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        ref = self._refs.get(req_id)  # request ids and order ids share one counter
        if ref is not None:
            self.order_error.emit(ref, broker_error(req_id, code, message, contract))  # type: ignore[arg-type]

    def _on_session_started(self, session: int, fresh: bool) -> None:
        # ib_async has just fetched this client's open and completed orders: take their
        # refs, so that after an app restart a ref already at IB is never placed again.
        listed = set()
        for trade in self.ib.trades():
            self._learn(trade)
            listed.add(trade.order.orderRef)
        if not fresh:
            return
        # Orders still queued in ib_async's throttle when the socket dropped were thrown
        # away unsent: a ref IB neither acknowledged nor lists may be placed again.
        acknowledged = {status.order_ref for status in self._last.values()}
        for ref in [r for r in self._ids if r not in listed and r not in acknowledged]:
            log.warning("order %s never reached IB before the connection dropped", ref)
            self._refs.pop(self._ids.pop(ref), None)

    # ----- queries ------------------------------------------------------------------------
    async def open_orders(self) -> list[BrokerOrder]:
        """Every open order of the account (every client's), with IB's status."""
        async with self._open_orders_lock:
            trades = await self._ask("open orders", self.ib.reqAllOpenOrdersAsync)
        received = time.time()
        unique: dict[object, Trade] = {}
        for trade in trades:
            o = trade.order
            unique[self.ib.wrapper.orderKey(o.clientId, o.orderId, o.permId)] = trade
            self._learn(trade)
        refs = {(t.order.clientId, t.order.orderId): t.order.orderRef for t in unique.values()}
        result = []
        for trade in unique.values():
            o = trade.order
            parent_ref = refs.get((o.clientId, o.parentId), "") if o.parentId else ""
            if not parent_ref and o.parentId and o.clientId == self.client_id:
                parent_ref = self._refs.get(o.parentId, "")
            instrument = self._instruments.get(trade.contract.conId) or instrument_of(
                trade.contract)
            result.append(broker_order_of(trade, instrument, parent_ref, self.client_id,
                                          received))
        return result

    async def fills_since(self, since: float) -> list[BrokerFill]:
        """Executions at or after `since` (epoch seconds), with commissions where known.
        IB keeps executions of the current trading day (TWS: up to 7 days if so set)."""
        request_filter = ExecutionFilter(time=filter_time(since))
        fills = await self._ask("executions",
                                lambda: self.ib.reqExecutionsAsync(request_filter))
        found: dict[str, BrokerFill] = {}
        for fill in fills:
            broker_fill = self._fill(fill, self._report_for(fill))
            if broker_fill.time >= since:
                found[broker_fill.exec_id] = broker_fill
        return sorted(found.values(), key=lambda f: (f.time, f.exec_id))

    def _report_for(self, fill: Fill) -> CommissionReport | None:
        """The commission report of an execution: ib_async files reports under the first
        Fill it saw for an exec id, not under a later request's copy."""
        exec_id = fill.execution.execId
        known = self.ib.wrapper.fills.get(exec_id)
        for candidate in (fill, known):
            if candidate is not None and candidate.commissionReport.execId == exec_id:
                return candidate.commissionReport
        return None

    async def positions(self) -> list[BrokerPosition]:
        """The account's positions as IB holds them (flat ones left out)."""
        async with self._positions_lock:
            raw = await self._ask("positions", self.ib.reqPositionsAsync)
        merged: dict[str, BrokerPosition] = {}
        for item in raw:
            if self._account and item.account != self._account:
                continue
            position = position_of(item)
            if not position.quantity:
                continue
            before = merged.get(position.symbol)
            if before is not None:  # the same contract in several accounts
                quantity = before.quantity + position.quantity
                cost = ((before.avg_cost * before.quantity + position.avg_cost
                         * position.quantity) / quantity) if quantity else 0.0
                position = replace(position, quantity=quantity, avg_cost=cost)
            merged[position.symbol] = position
        return [p for p in merged.values() if p.quantity]

    async def _ask(self, what: str, request: Callable[[], Awaitable[T]]) -> T:
        self._require_connection(what)
        try:
            return await asyncio.wait_for(request(), self._timeout)
        except TimeoutError:
            raise BrokerUnavailable(f"{what}: no answer from IB within "
                                    f"{self._timeout:g} s") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{what}: {exc}") from None
        except RequestError as exc:
            raise BrokerRequestFailed(broker_error(exc.reqId, exc.code, exc.message,
                                                   None)) from None

    def close(self) -> None:
        """Stop reporting (the broker is stopping); the ref map stays for a restart."""
        for event, handler in self._handlers:
            event -= handler
        self.connection.session_started -= self._on_session_started
