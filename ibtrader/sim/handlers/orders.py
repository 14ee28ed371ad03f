"""Placing, modifying and cancelling orders, and reporting them, for one client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ibtrader.sim.contracts import WirePayload, describe, resolve, wire_contract
from ibtrader.sim.exchange import now_text
from ibtrader.sim.handlers.base import Desk
from ibtrader.sim.matching import (
    Execution,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderHeld,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    SimOrder,
)
from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.responses import ExecutionFields, OrderStateFields
from ibtrader.sim.protocol.wire import WireOrder

log = logging.getLogger(__name__)

DONE = ("Filled", "Cancelled", "Inactive", "ApiCancelled")


class OrderDesk(Desk):
    def __init__(self, session: Any, server: Any) -> None:
        super().__init__(session, server)
        self.auto_bind = False

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            rq.PlaceOrder: self.place,
            rq.CancelOrder: self.cancel,
            rq.ReqGlobalCancel: self.global_cancel,
            rq.ReqOpenOrders: lambda r: self.send_open_orders(all_clients=False),
            rq.ReqAllOpenOrders: lambda r: self.send_open_orders(all_clients=True),
            rq.ReqAutoOpenOrders: self.set_auto_bind,
            rq.ReqCompletedOrders: self.send_completed_orders,
            rq.ReqExecutions: self.send_executions,
            rq.ReqIds: self.next_ids,
        }

    @property
    def client_id(self) -> int:
        assert self.session.client_id is not None
        return self.session.client_id

    # ----- requests ----------------------------------------------------------------------
    def place(self, req: rq.PlaceOrder) -> None:
        store = self.exchange.store
        store.bump_order_id(self.client_id, req.order_id)
        found = resolve(self.exchange.universe, req.contract)
        if len(found) != 1:
            reason = ("No security definition has been found for the request" if not found
                      else f"The contract description specified for {describe(req.contract)} "
                           "is ambiguous.")
            self.session.error(req.order_id, 200, reason)
            return
        instrument = found[0]
        existing = self.exchange.engine.order((self.client_id, req.order_id))
        if existing is None and store.was_used(self.client_id, req.order_id):
            self.session.error(req.order_id, 103, "Duplicate order id")
            return
        if req.order.what_if:
            self._answer_what_if(req, instrument)
            return
        reject_reason = self.server.faults.take_reject()
        if reject_reason is not None:
            self.session.error(req.order_id, 201, f"Order rejected - reason:{reject_reason}")
            return
        order = self._sim_order(req, instrument.con_id, existing)
        events = self.exchange.place(order, self.server.clock())
        self.server.publish_order_events(events)

    def _sim_order(self, req: rq.PlaceOrder, con_id: int, existing: SimOrder | None) -> SimOrder:
        w = req.order
        order = SimOrder(
            client_id=self.client_id,
            order_id=req.order_id,
            perm_id=existing.perm_id if existing else self.exchange.store.next_perm_id(),
            con_id=con_id,
            action=w.action.upper(),
            total_quantity=w.total_quantity,
            order_type=w.order_type.upper(),
            lmt_price=w.lmt_price,
            aux_price=w.aux_price,
            trailing_percent=w.trailing_percent,
            trail_stop_price=w.trail_stop_price,
            lmt_price_offset=w.lmt_price_offset,
            tif=(w.tif or "DAY").upper(),
            oca_group=w.oca_group,
            oca_type=w.oca_type,
            parent_id=w.parent_id,
            transmit=w.transmit,
            outside_rth=w.outside_rth,
            order_ref=w.order_ref,
            account=w.account or self.exchange.account.account_id,
            created=self.server.clock(),
        )
        order.wire = WirePayload(req.contract, w)
        return order

    def _answer_what_if(self, req: rq.PlaceOrder, instrument: Any) -> None:
        quote = self.exchange.quote(instrument.con_id, self.server.clock())
        w = req.order
        price = w.lmt_price or (quote.ask if w.action.upper() == "BUY" else quote.bid)
        quantity, action = w.total_quantity, w.action.upper()
        impact = self.exchange.account.what_if(instrument, action, quantity, price)
        commission = self.exchange.engine.commissions.commission(instrument, quantity, price)
        state = OrderStateFields(
            status="PreSubmitted",
            init_margin_before=_num(impact.init_before),
            maint_margin_before=_num(impact.maint_before),
            equity_with_loan_before=_num(impact.equity_before),
            init_margin_change=_num(impact.init_after - impact.init_before),
            maint_margin_change=_num(impact.maint_after - impact.maint_before),
            equity_with_loan_change=_num(impact.equity_after - impact.equity_before),
            init_margin_after=_num(impact.init_after), maint_margin_after=_num(impact.maint_after),
            equity_with_loan_after=_num(impact.equity_after),
            commission=commission, min_commission=commission, max_commission=commission,
            commission_currency=instrument.currency,
        )
        self.send(out.open_order(self.version, req.order_id, req.contract, w, self.client_id,
                                 0, state))

    def cancel(self, req: rq.CancelOrder) -> None:
        events = self.exchange.cancel((self.client_id, req.order_id), self.server.clock())
        self.server.publish_order_events(events)

    def global_cancel(self, req: rq.ReqGlobalCancel) -> None:
        self.server.publish_order_events(self.exchange.cancel_all(self.server.clock()))

    def set_auto_bind(self, req: rq.ReqAutoOpenOrders) -> None:
        if self.client_id != 0:
            self.session.error(-1, 321, "Error validating request.-'bQ' : cause - "
                                        "auto bind is only available to client id 0")
            return
        self.auto_bind = bool(req.auto_bind)

    def next_ids(self, req: rq.ReqIds) -> None:
        self.send(out.next_valid_id(self.exchange.store.next_order_id(self.client_id)))

    def send_open_orders(self, all_clients: bool) -> None:
        for order in self.exchange.open_orders():
            if all_clients or order.client_id == self.client_id or self.auto_bind:
                self._send_order_state(order)
        self.send(out.open_order_end())

    def send_completed_orders(self, req: rq.ReqCompletedOrders) -> None:
        for order, wire_json, completed_time in self.exchange.store.completed_orders():
            payload = WirePayload.from_json(wire_json)
            self.send(out.completed_order(
                self.version, payload.contract, payload.order, order.perm_id,
                order.status, completed_time, order.status, order.filled,
            ))
        self.send(out.completed_orders_end())

    def send_executions(self, req: rq.ReqExecutions) -> None:
        for execution in self.exchange.executions():
            if _matches_filter(execution, req, self.exchange):
                self._send_execution(req.req_id, execution)
        self.send(out.exec_details_end(req.req_id))

    # ----- reports -----------------------------------------------------------------------
    def report(self, event: object) -> None:
        """Tell this client about an event of one of its orders."""
        if isinstance(event, OrderHeld):
            return
        if isinstance(event, OrderAccepted | OrderModified | OrderTriggered):
            self._send_order_state(event.order)
        elif isinstance(event, OrderFilled):
            self._send_order_state(event.order)
            self._send_execution(-1, event.execution)
        elif isinstance(event, OrderCancelled):
            self._send_status(event.order)
            self.session.error(event.order.order_id, event.code or 202,
                               f"Order Canceled - reason:{event.reason}")
        elif isinstance(event, OrderRejected):
            if event.order.status in DONE and event.code == 201:
                self._send_status(event.order)
            text = event.reason if event.code != 201 else f"Order rejected - reason:{event.reason}"
            self.session.error(event.order.order_id, event.code, text)

    def _send_order_state(self, order: SimOrder) -> None:
        payload: WirePayload = order.wire
        wire: WireOrder = payload.order
        state = OrderStateFields(status=order.status)
        self.send(out.open_order(self.version, order.order_id, payload.contract, wire,
                                 order.client_id, order.perm_id, state))
        self._send_status(order)

    def _send_status(self, order: SimOrder) -> None:
        self.send(out.order_status(
            order.order_id, order.status, order.filled, order.remaining, order.avg_fill_price,
            order.perm_id, order.parent_id, order.last_fill_price, order.client_id,
            order.why_held, 0.0,
        ))

    def _send_execution(self, req_id: int, e: Execution) -> None:
        instrument = self.exchange.instrument(e.con_id)
        contract = wire_contract(instrument, instrument.primary_exchange)
        fields = ExecutionFields(
            exec_id=e.exec_id, time_text=now_text(e.time), account=e.account,
            exchange=instrument.primary_exchange, side=e.side, shares=e.shares, price=e.price,
            perm_id=e.perm_id, client_id=e.client_id, liquidation=0, cum_qty=e.cum_qty,
            avg_price=e.avg_price, order_ref=e.order_ref, ev_rule="", ev_multiplier=0.0,
            model_code="", last_liquidity=e.liquidity,
        )
        self.send(out.exec_details(self.version, req_id, e.order_id, contract, fields))
        self.send(out.commission_report(e.exec_id, e.commission, instrument.currency,
                                        e.realized_pnl, None, None))


def _matches_filter(e: Execution, req: rq.ReqExecutions, exchange: Any) -> bool:
    if req.client_id and e.client_id != req.client_id:
        return False
    if req.acct_code and e.account != req.acct_code:
        return False
    instrument = exchange.instrument(e.con_id)
    if req.symbol and instrument.symbol.upper() != req.symbol.upper():
        return False
    if req.sec_type and instrument.sec_type != req.sec_type.upper():
        return False
    if req.side and e.side != req.side.upper()[:3].replace("BUY", "BOT").replace("SEL", "SLD"):
        return False
    return not (req.time and now_text(e.time) < req.time)


def _num(value: float) -> str:
    return f"{value:.2f}"
