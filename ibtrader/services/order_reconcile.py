"""Reconciliation: the journal merged with the broker's word, at start and every reconnect.

Order of the merge, and why:
1. open orders first, by client key (orderRef): a known one takes the broker's status
   (and its prices and quantity, if a modification was lost on the way); an unknown one
   is adopted, marked as placed outside the app — so that step 2 finds a key for its fills;
2. executions since the last one seen (or since the oldest order still open), each
   booked once by exec id: an order that filled while we were away ends FILLED;
3. what is left: an order still NEW was never sent (the app died between journal and
   broker): cancelled as "never reached the broker", or re-sent when younger than
   `order_resend_unsent_within`; an order the journal had open that the broker no longer
   lists is "missing": marked cancelled with that reason, and reported;
4. positions: ours (from executions) against the broker's; every difference is reported.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from ibtrader.core.broker import BrokerOrder
from ibtrader.core.orders.lifecycle import (
    OPEN,
    Order,
    OrderEvent,
    OrderState,
    UnsupportedOrder,
    adopt,
    apply_status,
    mark_sent,
)
from ibtrader.core.orders.portfolio import compare
from ibtrader.core.orders.tickets import build_tickets
from ibtrader.services.order_reports import OrderRefused, ReconcileReport

if TYPE_CHECKING:
    from ibtrader.services.order_manager import OrderManager

log = logging.getLogger(__name__)
S = OrderState
EXEC_TIME_SLACK = 2.0  # IB stamps executions to the second: ask a little earlier


class Reconciler:
    def __init__(self, manager: OrderManager) -> None:
        self.m = manager
        self._lock = asyncio.Lock()

    async def run(self) -> ReconcileReport:
        async with self._lock:  # one merge at a time: a reconnect during a start waits
            return await self._run()

    async def _run(self) -> ReconcileReport:
        m = self.m
        open_at_start = {o.client_key for o in m.orders(open_only=True)}
        listed = await m.port.open_orders()
        since = m.journal.last_execution_time()
        waiting = [o.created for o in m.orders(open_only=True)]
        since = max(0.0, min([since, *waiting]) - EXEC_TIME_SLACK) if since or waiting else 0.0
        fills = await m.port.fills_since(since)
        broker_positions = await m.port.positions()
        now = m.clock()
        adopted: list[Order] = []
        updated: set[str] = set()
        problems: list[str] = []
        seen: set[str] = set()
        for broker_order in listed:
            key = m.key_for(broker_order.ticket.order_ref, broker_order.status.perm_id)
            if key is None:
                try:
                    order = self._adopt(broker_order, now)
                except UnsupportedOrder as exc:
                    problems.append(str(exc))
                    continue
                adopted.append(order)
                seen.add(order.client_key)
                continue
            seen.add(key)
            before = m.order(key)
            self._sync_ticket(key, broker_order, now)
            after = m.apply(key, lambda o, b=broker_order: apply_status(o, b.status))
            if after is not before:
                updated.add(key)
        new_fills = 0
        for fill in fills:
            key = m.key_for(fill.order_ref, fill.perm_id)
            before = m.order(key) if key else None
            if m.book_fill(fill):
                new_fills += 1
            if key and m.order(key) is not before:
                updated.add(key)
        await self._contracts_for_resend(seen, now)
        unsent, missing = self._leftovers(seen, open_at_start, now)
        m.positions_held = {p.symbol: p.quantity for p in broker_positions}
        discrepancies = compare(m.portfolio, broker_positions)
        report = ReconcileReport(
            now, tuple(adopted), tuple(m.order(k) for k in sorted(updated)),  # type: ignore[misc]
            tuple(missing), tuple(unsent), new_fills, tuple(discrepancies), tuple(problems))
        log.info("reconciled: %d adopted, %d updated, %d missing, %d unsent, %d new fills, "
                 "%d discrepancies", len(adopted), len(updated), len(missing), len(unsent),
                 new_fills, len(discrepancies))
        return report

    def _adopt(self, broker_order: BrokerOrder, now: float) -> Order:
        order, events = adopt(broker_order, now)
        self.m.commit(order, events)
        log.warning("adopted %s: %s %s %g, placed outside the app", order.client_key,
                    order.request.side, order.request.symbol, order.quantity)
        return order

    def _sync_ticket(self, key: str, broker_order: BrokerOrder, now: float) -> None:
        """The broker's prices and quantity win over ours: a modification lost on the way
        (sent as the app died) must not leave the journal saying what the broker never did."""
        order = self.m.order(key)
        assert order is not None
        ticket, request = broker_order.ticket, order.request
        theirs = {"quantity": ticket.quantity, "limit": ticket.limit_price,
                  "stop": ticket.stop_price}
        ours = {"quantity": request.quantity, "limit": request.limit, "stop": request.stop}
        differ = {n: v for n, v in theirs.items()
                  if v is not None and ours[n] is not None and abs(v - ours[n]) > 1e-9}
        if not differ:
            return
        synced = replace(order, request=request.with_changes(**differ), updated=now)
        self.m.commit(synced, [OrderEvent(key, "synced_from_broker", now, order.state,
                                          order.state, {"before": {n: ours[n] for n in differ},
                                                        "after": differ})])

    async def _contracts_for_resend(self, seen: set[str], now: float) -> None:
        """The contracts of unsent orders young enough to be sent (after a restart the
        session has qualified nothing yet); an unknown one leaves its order unsent."""
        window = self.m.settings.order_resend_unsent_within
        symbols = {o.request.symbol for o in self.m.orders(open_only=True)
                   if o.state == S.NEW and o.client_key not in seen and window > 0
                   and now - o.created <= window}
        for symbol in sorted(symbols):
            try:
                await self.m.current_quote(symbol)
            except OrderRefused as exc:
                log.warning("unsent order for %s cannot be re-sent: %s", symbol, exc)

    def _leftovers(self, seen: set[str], open_at_start: set[str], now: float
                   ) -> tuple[list[Order], list[Order]]:
        m = self.m
        unsent: list[Order] = []
        missing: list[Order] = []
        window = m.settings.order_resend_unsent_within
        for order in m.orders(open_only=True):
            key = order.client_key
            if key in seen:
                continue
            if order.state == S.NEW:
                young = window > 0 and now - order.created <= window
                unsent.append(self._resend(order, now) if young else self._never_sent(order, now))
            elif order.state in OPEN and key in open_at_start:
                missing.append(self._missing(order, now))
        return unsent, missing

    def _never_sent(self, order: Order, now: float) -> Order:
        done = replace(order, state=S.CANCELLED, updated=now,
                       last_error="never reached the broker")
        self.m.commit(done, [OrderEvent(order.client_key, "not_sent", now, order.state,
                                        S.CANCELLED, {"reason": "never reached the broker "
                                                      "(journalled, then the app stopped)"})])
        log.warning("order %s was journalled but never reached the broker: cancelled",
                    order.client_key)
        return self.m.order(order.client_key) or done

    def _resend(self, order: Order, now: float) -> Order:
        """A very recent unsent order, sent now under its own key (a bracket is not: its
        legs would have to go with it, so it is reported as never sent)."""
        instrument = self.m.instrument(order.request.symbol)
        if instrument is None or order.request.is_bracket or order.parent_key:
            return self._never_sent(order, now)
        [ticket] = build_tickets(order.request, instrument)
        try:
            broker_id = self.m.port.place(ticket)
        except Exception as exc:
            log.warning("order %s: re-sending failed (%s)", order.client_key, exc)
            return self._never_sent(order, now)
        self.m.commit(*mark_sent(order, broker_id, now))
        return self.m.order(order.client_key) or order

    def _missing(self, order: Order, now: float) -> Order:
        gone = replace(order, state=S.CANCELLED, updated=now,
                       last_error="not at the broker after reconnecting")
        self.m.commit(gone, [OrderEvent(order.client_key, "missing_at_broker", now,
                                        order.state, S.CANCELLED,
                                        {"filled": order.filled, "reason": "the broker no "
                                         "longer lists it and reported no fill completing it"})])
        log.warning("order %s (%s) is no longer at the broker: marked cancelled",
                    order.client_key, order.state)
        return self.m.order(order.client_key) or gone
