"""The Order Manager: requests become orders at the broker, and nothing is lost or sent twice.

    manager = OrderManager(broker.orders, broker.market_data, journal, settings)
    await manager.start()                 # subscribe, reconcile, start chase/stop tasks
    order = await manager.place(request)  # or OrderRefused(problems), with nothing sent

Rules it keeps (issue 4):
- Write-ahead: an order (state NEW, its client key in the broker's orderRef) is committed
  to the journal before `port.place`; every broker report, reprice, modify and cancel
  request is appended to its events before anything else acts on it.
- Never twice: `place` with a key the manager knows returns that order; the send itself
  is one synchronous step after the journal write (no await in between), and after a
  crash or a reconnect the broker's word (open orders by ref, executions since the last
  one seen) is merged with the journal (see `reconcile`), never re-sent blindly.
- Unsent orders: an order still NEW in the journal that the broker does not know was
  never sent (the app died between the two). It is marked cancelled ("never reached the
  broker") and reported, unless it is younger than `order_resend_unsent_within` seconds
  (0 by default: a trader expects "not sent" to be said, not an order sent late).
- Risk: every place and modify goes through validation and `risk.check` against a
  snapshot of positions, working orders, recent sends and today's P&L; a refusal is
  journalled with its reasons and published. The kill switch cancels everything, turns
  auto-trade off (`auto_trade_disabled`) and allows only reducing orders until released.
- Never block the loop: journal writes are small synchronous SQLite commits (tens of µs);
  broker calls never wait for the broker.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ibtrader.core.broker import (
    BrokerError,
    BrokerFill,
    BrokerOrderStatus,
    BrokerUnavailable,
    ConnectionState,
    MarketDataPort,
    OrderPort,
    OrderTicket,
    UnknownSymbol,
)
from ibtrader.core.decisions import Decision
from ibtrader.core.events import Event
from ibtrader.core.market import Instrument, Quote
from ibtrader.core.orders.lifecycle import (
    FINAL,
    OPEN,
    Order,
    OrderEvent,
    OrderLifecycleError,
    OrderState,
    apply_error,
    apply_fill,
    apply_status,
    mark_sent,
    new_order,
    request_cancel,
    request_modify,
)
from ibtrader.core.orders.portfolio import Portfolio, Position, fill_sign
from ibtrader.core.orders.pricing import PricingError
from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.core.orders.risk import RiskLimits, RiskSnapshot, check
from ibtrader.core.orders.tickets import build_tickets, leg_requests, oca_group
from ibtrader.core.orders.validation import validate
from ibtrader.core.ports import AccountPort, OrderJournal
from ibtrader.services.order_decisions import CLOSE_SUFFIX, decision_request
from ibtrader.services.order_killswitch import engage_kill_switch
from ibtrader.services.order_reconcile import Reconciler
from ibtrader.services.order_reports import (
    BROKER_REFUSED,
    BROKER_UNAVAILABLE,
    NO_QUOTE,
    NOT_MODIFIABLE,
    NOT_OURS,
    PRICING,
    UNKNOWN_ORDER,
    KillSwitchReport,
    OrderRefused,
    ReconcileReport,
)
from ibtrader.services.order_risk import reference_price, risk_snapshot
from ibtrader.services.order_tasks import PriceTasks

if TYPE_CHECKING:
    from ibtrader.config import Settings

log = logging.getLogger(__name__)

S = OrderState
DAY = 86_400.0


class OrderManager:
    def __init__(self, port: OrderPort, market: MarketDataPort, journal: OrderJournal,
                 settings: Settings, *, account: AccountPort | None = None,
                 clock: Callable[[], float] = time.time, connection: Any = None) -> None:
        self.port, self.market, self.journal, self.settings = port, market, journal, settings
        self.account = account
        self.clock = clock
        # the connection whose state_changed tells of reconnects (IBOrders carries its own)
        self._connection = connection or getattr(port, "connection", None)
        self.limits = RiskLimits.from_settings(settings)
        self.order_changed: Event[[Order]] = Event("order_changed")
        # once per execution: a report repeated (its commission, a reconnect) is not news
        self.fill_received: Event[[BrokerFill]] = Event("fill_received")
        self.refused: Event[[OrderRequest, list]] = Event("refused")
        self.risk_event: Event[[str]] = Event("risk_event")
        self.reconciled: Event[[ReconcileReport]] = Event("reconciled")
        self.auto_trade_disabled: Event[[str]] = Event("auto_trade_disabled")
        self.kill_switch_engaged = False
        self._orders: dict[str, Order] = {}
        self._by_perm: dict[int, str] = {}
        self._instruments: dict[str, Instrument] = {}
        self._quotes: dict[str, Quote] = {}
        self._quote_subs: dict[str, int] = {}
        self._quote_waiters: dict[str, list[asyncio.Future[Quote]]] = {}
        self._final_waiters: dict[str, list[asyncio.Future[Order]]] = {}
        self.positions_held: dict[str, float] = {}  # the broker's, moved by each new fill
        self.portfolio = Portfolio()
        self._sent_times: deque[float] = deque(maxlen=10_000)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconciler = Reconciler(self)
        self.tasks = PriceTasks(self)
        self._last_state: ConnectionState | None = None
        self._reconcile_pending = False
        self._started = False
        self._day = -1.0  # the start of the trading day P&L counts from

    # ----- start / stop ------------------------------------------------------------------
    async def start(self) -> ReconcileReport:
        for order in self.journal.load_orders():
            self._remember(order)
        self.portfolio.apply_all(self.journal.executions())
        self._roll_day()
        self.port.order_status += self._on_status
        self.port.fill_received += self._on_fill
        self.port.order_error += self._on_error
        self.market.quotes_updated += self._on_quotes
        if self._connection is not None:
            self._connection.state_changed += self._on_connection
        self._started = True
        report = await self.reconcile()
        self.tasks.start()
        return report

    async def stop(self) -> None:
        """Stop listening and every task; open orders stay at the broker, the journal holds
        every change (each was committed when it happened)."""
        if not self._started:
            return
        self._started = False
        await self.tasks.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.port.order_status -= self._on_status
        self.port.fill_received -= self._on_fill
        self.port.order_error -= self._on_error
        self.market.quotes_updated -= self._on_quotes
        if self._connection is not None:
            self._connection.state_changed -= self._on_connection
        for handle in self._quote_subs.values():
            try:
                self.market.unsubscribe(handle)
            except Exception:  # the broker may be gone already
                log.debug("unsubscribe failed", exc_info=True)
        self._quote_subs.clear()

    # ----- queries -----------------------------------------------------------------------
    def orders(self, open_only: bool = False) -> list[Order]:
        """Oldest first; `open_only`: not final (NEW included: about to be sent)."""
        chosen = [o for o in self._orders.values()
                  if not open_only or o.state in OPEN or o.state == S.NEW]
        return sorted(chosen, key=lambda o: (o.created, o.client_key))

    def order(self, key: str) -> Order | None:
        return self._orders.get(key)

    def positions(self) -> list[Position]:
        """Positions and P&L from the executions the journal holds, at the latest quotes."""
        return self.portfolio.positions()

    def instrument(self, symbol: str) -> Instrument | None:
        return self._instruments.get(symbol)

    def quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    async def current_quote(self, symbol: str) -> Quote | None:
        """The symbol's quote, qualifying and subscribing on first use (None: no quote in
        `order_quote_timeout`). Raises `OrderRefused` for an unknown symbol."""
        probe = OrderRequest(symbol=symbol, side="buy", quantity=1, client_key="quote")
        return (await self._market_for(probe, record=False))[1]

    # ----- place ------------------------------------------------------------------------
    async def place(self, request: OrderRequest) -> Order:
        """Qualify, price, validate, check risk, journal, send. A key already known returns
        its order unchanged (a retry never sends twice). Raises `OrderRefused`."""
        known = self._orders.get(request.client_key)
        if known is not None:
            return known
        instrument, quote = await self._market_for(request)
        known = self._orders.get(request.client_key)  # placed while we waited?
        if known is not None:
            return known
        request = self._priced(request, instrument, quote)
        problems = [(p.code, p.message) for p in validate(request, instrument, quote)]
        if not problems and request.source != "killswitch":  # closing orders only reduce
            verdict = check(request, reference_price(quote), self._snapshot(), self.limits,
                            multiplier=instrument.multiplier)
            problems = [(r.code, r.message) for r in verdict.refusals]
            for r in verdict.refusals:
                self.risk_event.emit(f"{request.symbol} {request.side} {request.quantity:g}: "
                                     f"{r.message}")
        if problems:
            self._refuse(request, problems)
        return self._send(request, instrument)

    def preview(self, request: OrderRequest) -> list[tuple[str, str]]:
        """What `place` would refuse now, as (code, message): validation, then the risk
        rules against the current snapshot; [] when it would be sent. Nothing is
        journalled, published or sent. Uses the contract and quote known already
        (`current_quote` fetches them); give a price policy's limit resolved."""
        instrument = self._instruments.get(request.symbol)
        quote = self._quotes.get(request.symbol)
        problems = [(p.code, p.message) for p in validate(request, instrument, quote)]
        if problems or instrument is None or request.source == "killswitch":
            return problems
        verdict = check(request, reference_price(quote), self._snapshot(), self.limits,
                        multiplier=instrument.multiplier)
        return [(r.code, r.message) for r in verdict.refusals]

    def _send(self, request: OrderRequest, instrument: Instrument) -> Order:
        """Write-ahead, then send: no await from the journal write to the last ticket."""
        now = self.clock()
        order, events = new_order(request, now)
        legs = [new_order(leg, now, parent=request.client_key) for leg in leg_requests(request)]
        with self.journal.atomic():
            for o, ev in [(order, events), *legs]:
                self.journal.save_order(o, ev)
        for o, _ in [(order, events), *legs]:
            self._remember(o)
        tickets = build_tickets(request, instrument)
        sent: list[str] = []
        for ticket in tickets:
            try:
                broker_id = self.port.place(ticket)
            except Exception as exc:  # nothing of this ticket was sent
                code = BROKER_UNAVAILABLE if isinstance(exc, BrokerUnavailable) else \
                    BROKER_REFUSED
                self._abandon([t.order_ref for t in tickets if t.order_ref not in sent],
                              sent, str(exc))
                self._refuse(request, [(code, f"not sent: {exc}")], journal=False)
            sent.append(ticket.order_ref)
            self._commit(*mark_sent(self._orders[ticket.order_ref], broker_id, self.clock()))
        self._sent_times.append(now)
        self.tasks.placed(self._orders[request.client_key])
        return self._orders[request.client_key]

    def _abandon(self, unsent: Sequence[str], sent: Sequence[str], reason: str) -> None:
        """A send failed part-way: what was not sent is cancelled as never sent; a bracket
        leg already at the broker (untransmitted, so not working) is cancelled there."""
        now = self.clock()
        for key in unsent:
            order = self._orders[key]
            done = replace(order, state=S.CANCELLED, updated=now, last_error=reason)
            self._commit(done, [OrderEvent(key, "not_sent", now, order.state, S.CANCELLED,
                                           {"reason": reason})])
        for key in sent:
            try:
                self._commit(*request_cancel(self._orders[key], now))
                self.port.cancel(key)
            except Exception:
                log.exception("order %s: cancelling the sent part of a failed bracket", key)

    def _refuse(self, request: OrderRequest, problems: list[tuple[str, str]], *,
                journal: bool = True) -> None:
        if journal:
            self.journal.record_refusal(request, problems, self.clock())
        log.warning("order %s refused: %s", request.client_key,
                    "; ".join(m for _, m in problems))
        self.refused.emit(request, problems)
        raise OrderRefused(problems, request.client_key)

    def _priced(self, request: OrderRequest, instrument: Instrument,
                quote: Quote | None) -> OrderRequest:
        """A limit order with a price policy and no limit gets its limit from the quote."""
        if request.order_type != "lmt" or request.price_policy is None or \
                request.limit is not None:
            return request
        if quote is None:
            self._refuse(request, [(NO_QUOTE, f"{request.symbol}: no quote to price the "
                                    f"limit by policy {request.price_policy}")])
        try:
            limit = request.price_policy.price(request.side, quote, instrument.min_tick)
        except PricingError as exc:
            self._refuse(request, [(PRICING, str(exc))])
        return request.with_changes(limit=limit)

    async def _market_for(self, request: OrderRequest, *, record: bool = True
                          ) -> tuple[Instrument, Quote | None]:
        symbol = request.symbol
        instrument = self._instruments.get(symbol)
        if instrument is None:
            try:
                instrument = await self.market.qualify(symbol)
            except UnknownSymbol as exc:
                self._refuse(request, [("unknown_contract", str(exc))], journal=record)
            except BrokerUnavailable as exc:
                self._refuse(request, [(BROKER_UNAVAILABLE, f"{symbol}: {exc}")],
                             journal=record)
            self._instruments[symbol] = instrument
            self.portfolio.set_multiplier(symbol, instrument.multiplier)
        return instrument, await self._quote(instrument)

    async def _quote(self, instrument: Instrument) -> Quote | None:
        """The latest quote, subscribing on first use and waiting a moment for it."""
        symbol = instrument.symbol
        if symbol not in self._quote_subs:
            try:
                self._quote_subs[symbol] = self.market.subscribe_quotes(instrument)
            except Exception as exc:  # no line left, or the broker went away: no quote,
                log.warning("%s: no quotes (%s)", symbol, exc)  # so risk has no price
                return self._quotes.get(symbol)
        quote = self._quotes.get(symbol)
        if quote is not None and _present(quote):
            return quote
        waiter: asyncio.Future[Quote] = asyncio.get_running_loop().create_future()
        self._quote_waiters.setdefault(symbol, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, self.settings.order_quote_timeout)
        except TimeoutError:
            return self._quotes.get(symbol)

    # ----- modify / cancel ----------------------------------------------------------------
    async def modify(self, key: str, *, quantity: float | None = None,
                     limit: float | None = None, stop: float | None = None) -> Order:
        return await self.change(key, quantity=quantity, limit=limit, stop=stop)

    async def change(self, key: str, *, quantity: float | None = None,
                     limit: float | None = None, stop: float | None = None,
                     reason: str = "modify") -> Order:
        """A modification (or a chase's reprice, a stop move: `reason`), validated and
        risk-checked like a new order, journalled, then sent under the same ids."""
        order = self._known(key)
        changes = {n: v for n, v in (("quantity", quantity), ("limit", limit), ("stop", stop))
                   if v is not None}
        candidate = order.request.with_changes(**changes)
        instrument, quote = await self._market_for(candidate)
        order = self._known(key)  # it may have moved while we waited
        problems = [(p.code, p.message) for p in validate(candidate, instrument, quote)]
        if not problems:
            verdict = check(candidate, reference_price(quote), self._snapshot(exclude=key),
                            self.limits, multiplier=instrument.multiplier)
            problems = [(r.code, r.message) for r in verdict.refusals]
        if problems:
            self._refuse(candidate, problems)
        try:
            updated, events = request_modify(order, self.clock(), quantity=quantity,
                                             limit=limit, stop=stop, reason=reason)
        except OrderLifecycleError as exc:
            raise OrderRefused([(NOT_MODIFIABLE, str(exc))], key) from None
        self._commit(updated, events)
        try:
            self.port.modify(self._ticket(updated, instrument))
        except Exception as exc:
            now = self.clock()
            back = replace(updated, request=order.request, updated=now)
            self._commit(back, [OrderEvent(key, "modify_failed", now, updated.state,
                                           back.state, {"reason": str(exc)})])
            code = BROKER_UNAVAILABLE if isinstance(exc, BrokerUnavailable) else BROKER_REFUSED
            raise OrderRefused([(code, f"modification not sent: {exc}")], key) from None
        return self._orders[key]

    def _ticket(self, order: Order, instrument: Instrument) -> OrderTicket:
        request = order.request.with_changes(take_profit=None, stop_loss=None)
        [ticket] = build_tickets(request, instrument)
        if order.parent_key:
            return replace(ticket, parent_ref=order.parent_key,
                           oca_group=oca_group(order.parent_key))
        return ticket

    async def cancel(self, key: str) -> Order:
        order = self._known(key)
        if order.is_final:
            return order
        now = self.clock()
        updated, events = request_cancel(order, now)
        self._commit(updated, events)
        self.tasks.forget(key)
        if updated.state == S.CANCELLED:  # never sent: nothing to tell the broker
            return updated
        try:
            self.port.cancel(key)
        except Exception as exc:
            back = replace(updated, state=order.state, updated=now)
            self._commit(back, [OrderEvent(key, "cancel_failed", now, updated.state,
                                           order.state, {"reason": str(exc)})])
            if isinstance(exc, BrokerUnavailable):
                raise OrderRefused([(BROKER_UNAVAILABLE, f"cancel not sent: {exc}")],
                                   key) from None
            raise OrderRefused([(NOT_OURS, f"cancel not sent: {exc} (cancel-all reaches "
                                 "orders of other clients)")], key) from None
        return self._orders[key]

    async def cancel_all(self) -> list[Order]:
        """Cancel every open order of the account (ours, adopted, other clients')."""
        self.port.cancel_all()  # BrokerUnavailable: nothing changed
        now = self.clock()
        changed = []
        for order in self.orders(open_only=True):
            self.tasks.forget(order.client_key)
            if order.state == S.CANCEL_REQUESTED:
                continue
            self._commit(*request_cancel(order, now))
            changed.append(self._orders[order.client_key])
        return changed

    async def wait_final(self, key: str, timeout: float) -> Order:
        """The order once filled, cancelled or rejected; TimeoutError after `timeout` s."""
        order = self._known(key)
        if order.is_final:
            return order
        waiter: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        self._final_waiters.setdefault(key, []).append(waiter)
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            waiters = self._final_waiters.get(key, [])
            if waiter in waiters:
                waiters.remove(waiter)

    # ----- kill switch ------------------------------------------------------------------
    async def kill_switch(self, flatten: bool = False, timeout: float = 10.0
                          ) -> KillSwitchReport:
        """Disable auto-trade, cancel every open order and, if asked, close every position
        at market. Only reducing orders pass until `release_kill_switch`."""
        return await engage_kill_switch(self, flatten, timeout)

    def release_kill_switch(self) -> None:
        self.kill_switch_engaged = False
        self.risk_event.emit("kill switch released: new entries allowed again")

    # ----- decisions --------------------------------------------------------------------
    async def submit(self, decision: Decision) -> Order:
        """The engine's OrderSubmissionPort: a decision becomes a limit order priced by the
        settings' policy (chased if configured), bracketed by its stop and target. A
        reversal first closes the old position, then opens the new one with its bracket.
        The same decision again returns its order: it is never sent twice."""
        for order in self._orders.values():
            r = order.request
            if r.decision_id == decision.id and r.source == "decision" and \
                    not order.parent_key and not order.client_key.endswith(CLOSE_SUFFIX):
                return order
        now = self.clock()
        key = new_client_key(now)
        probe = decision_request(decision, self.settings, key=key, quantity=1, bracket=False,
                                 tick=0.01, now=now)
        instrument, _ = await self._market_for(probe)
        tick = instrument.min_tick
        opening = decision.quantity - decision.closes
        if decision.action == "close" or opening <= 0:
            return await self.place(decision_request(
                decision, self.settings, key=key, quantity=decision.quantity, bracket=False,
                tick=tick, now=now))
        if decision.closes > 0:
            closing = await self.place(decision_request(
                decision, self.settings, key=key + CLOSE_SUFFIX, quantity=decision.closes,
                bracket=False, tick=tick, now=now))
            await self.wait_final(closing.client_key, 30.0)
        return await self.place(decision_request(
            decision, self.settings, key=key, quantity=opening, bracket=True, tick=tick,
            now=self.clock()))

    # ----- reconciliation ---------------------------------------------------------------
    async def reconcile(self) -> ReconcileReport:
        report = await self._reconciler.run()
        if report.discrepancies:
            self.risk_event.emit("positions differ from the broker's: " + "; ".join(
                str(d) for d in report.discrepancies))
        self.reconciled.emit(report)
        return report

    def _on_connection(self, state: ConnectionState, reason: str) -> None:
        before, self._last_state = self._last_state, state
        if state is ConnectionState.CONNECTED and before in (ConnectionState.RECONNECTING,
                                                             ConnectionState.LOST):
            self.spawn(self._reconcile_quietly(), "reconcile after reconnect")

    async def _reconcile_quietly(self) -> None:
        try:
            await self.reconcile()
        except Exception:
            log.exception("reconcile failed")

    def _reconcile_soon(self) -> None:
        """One reconcile for a burst of reports about unknown orders."""
        if self._started and not self._reconcile_pending:
            self._reconcile_pending = True
            self.spawn(self._reconcile_after_burst(), "reconcile unknown order")

    async def _reconcile_after_burst(self) -> None:
        await asyncio.sleep(0.2)  # the rest of the burst (its open-order report) arrives
        self._reconcile_pending = False
        await self._reconcile_quietly()

    # ----- broker reports ---------------------------------------------------------------
    def key_for(self, ref: str, perm_id: int = 0) -> str | None:
        if ref and ref in self._orders:
            return ref
        return self._by_perm.get(perm_id) if perm_id else None

    def _on_status(self, status: BrokerOrderStatus) -> None:
        key = self.key_for(status.order_ref, status.perm_id)
        if key is None:  # placed elsewhere (TWS) while we run: adopt it now
            log.info("status for an order the app does not know (%s, perm %d): reconciling",
                     status.order_ref, status.perm_id)
            self._reconcile_soon()
            return
        self.apply(key, lambda o: apply_status(o, status))

    def _on_fill(self, fill: BrokerFill) -> None:
        self.book_fill(fill)

    def book_fill(self, fill: BrokerFill) -> bool:
        """Journal, book and apply one execution report; True when it was new to us."""
        key = self.key_for(fill.order_ref, fill.perm_id) or ""
        self.journal.record_execution(fill, key)
        result = self.portfolio.apply(fill)
        new = result.value == "added"
        if new:
            held = self.positions_held.get(fill.symbol, 0.0)
            self.positions_held[fill.symbol] = held + fill_sign(fill.side) * fill.quantity
        if key:
            self.apply(key, lambda o: apply_fill(o, fill))
        if new:
            self.fill_received.emit(fill)
        return new

    def _on_error(self, ref: str, error: BrokerError) -> None:
        key = self.key_for(ref)
        if key is not None:
            self.apply(key, lambda o: apply_error(o, error, self.clock()))

    def apply(self, key: str, change: Callable[[Order], tuple[Order, list[OrderEvent]]]
              ) -> Order:
        """One lifecycle change, journalled; an impossible one is journalled as such and
        logged as an error, and the order stays as it was."""
        order = self._orders[key]
        try:
            updated, events = change(order)
        except OrderLifecycleError as exc:
            log.error("order %s: %s", key, exc)
            now = self.clock()
            self.journal.save_order(order, [OrderEvent(key, "illegal", now, order.state,
                                                       order.state, {"error": str(exc)})])
            return order
        if events:
            self._commit(updated, events)
        return self._orders[key]

    def _commit(self, order: Order, events: Sequence[OrderEvent]) -> None:
        self.journal.save_order(order, events)
        self._remember(order)
        self.order_changed.emit(order)
        self.tasks.changed(order)
        if order.state in FINAL:
            for waiter in self._final_waiters.pop(order.client_key, []):
                if not waiter.done():
                    waiter.set_result(order)

    commit = _commit

    def _remember(self, order: Order) -> None:
        self._orders[order.client_key] = order
        if order.perm_id:
            self._by_perm[order.perm_id] = order.client_key

    def _known(self, key: str) -> Order:
        order = self._orders.get(key)
        if order is None:
            raise OrderRefused([(UNKNOWN_ORDER, f"no order {key!r}")], key)
        return order

    def _on_quotes(self, quotes: list[Quote]) -> None:
        for quote in quotes:
            symbol = quote.symbol
            if symbol not in self._quote_subs:
                continue
            self._quotes[symbol] = quote
            self.portfolio.mark(symbol, quote.last if _ok(quote.last) else quote.mid)
            if _present(quote):
                for waiter in self._quote_waiters.pop(symbol, []):
                    if not waiter.done():
                        waiter.set_result(quote)
            self.tasks.quoted(quote)

    # ----- risk snapshot ----------------------------------------------------------------
    def _roll_day(self) -> None:
        """Daily P&L counts from midnight UTC: a session running past it starts a new day."""
        now = self.clock()
        day = now - now % DAY
        if day != self._day:
            self._day = day
            self.portfolio.start_day(day)

    def _snapshot(self, exclude: str = "") -> RiskSnapshot:
        self._roll_day()
        return risk_snapshot(self.orders(open_only=True), self.positions_held,
                             mark=self._mark, multiplier=self._multiplier,
                             sent_times=self._sent_times, daily_pnl=self.portfolio.totals()[0],
                             kill_switch=self.kill_switch_engaged, now=self.clock(),
                             exclude=exclude)

    def _mark(self, symbol: str) -> float:
        quote = self._quotes.get(symbol)
        price = reference_price(quote) if quote is not None else math.nan
        if _ok(price):
            return price
        mark = self.portfolio.position(symbol).mark
        return mark if _ok(mark) else 0.0

    def _multiplier(self, symbol: str) -> float:
        instrument = self._instruments.get(symbol)
        return instrument.multiplier if instrument is not None else 1.0

    # ----- tasks ------------------------------------------------------------------------
    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _ok(price: float) -> bool:
    return math.isfinite(price) and price > 0


def _present(quote: Quote) -> bool:
    return _ok(quote.bid) or _ok(quote.ask) or _ok(quote.last)
