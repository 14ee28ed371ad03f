"""The matching engine: order types, TIF, partial fills, brackets, OCA, modify and cancel.

Pure: driven by `place`, `modify`, `cancel`, `on_quote` (live) and `on_bar` (backtests),
each answering a list of events in the order they happened. Every event carries a
snapshot of its order as of that event; `order(key)` gives the live object.

Rules where IB leaves room (details in `fill_rules`):
- live, buys fill at the ask and sells at the bid, up to the quoted size; what one fill
  takes from a quote is gone for the other orders until the quote changes;
- commissions: each fill pays what the order's total (by the schedule) has grown by;
- bracket children go live only when their parent has completely filled; siblings reduce
  each other by what fills (OCA type 2) and so cancel each other on a complete fill;
  cancelling a partly filled parent resizes its waiting children to what did fill and
  releases them, so the filled part stays protected;
- an explicit OCA group with type 2 or 3 reduces the others, any other type cancels them;
- on a bar, MKT orders fill first, then stops, then limits: when a take-profit and a
  stop-loss could both trade in the same bar, the stop wins (the conservative guess);
- an IOC order placed without a quote waits for the first quote or bar, then cancels
  whatever that could not fill.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ibtrader.sim.account import PaperAccount
from ibtrader.sim.commissions import CommissionSchedule
from ibtrader.sim.fill_rules import (
    BarMarket,
    Fill,
    Market,
    QuoteBook,
    QuoteMarket,
    set_trail_limit,
)
from ibtrader.sim.matching_types import (
    STOP_TYPES,
    BarLike,
    Event,
    ExecIdSequence,
    Execution,
    InstrumentLike,
    InvalidTransition,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderHeld,
    OrderKey,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    QuoteLike,
    SimOrder,
    ends_order,
)
from ibtrader.sim.order_checks import (
    apply_changes,
    invalid_order,
    margin_price,
    unmodifiable,
)

__all__ = [
    "Execution", "InvalidTransition", "MatchingEngine", "OrderAccepted", "OrderCancelled",
    "OrderFilled", "OrderHeld", "OrderModified", "OrderRejected", "OrderTriggered",
    "SimOrder", "ends_order",
]


def _priority(order: SimOrder) -> int:
    """Bar-mode order of business: market first, then stops, then limits."""
    if order.order_type == "MKT" or (order.triggered and order.order_type in ("STP", "TRAIL")):
        return 0
    return 1 if order.order_type in STOP_TYPES and not order.triggered else 2


class MatchingEngine:
    def __init__(self, account: PaperAccount, instrument_for: Callable[[int], InstrumentLike],
                 commissions: CommissionSchedule,
                 exec_ids: Callable[[], str] | None = None) -> None:
        self.account = account
        self.instrument_for = instrument_for
        self.commissions = commissions
        self.exec_ids = exec_ids or ExecIdSequence()
        # working and held orders in arrival order (time priority); finished ones apart, so
        # every quote scans only what can still trade
        self._active: dict[OrderKey, SimOrder] = {}
        self._done: dict[OrderKey, SimOrder] = {}
        self._books: dict[int, QuoteBook] = {}

    # ----- queries -----------------------------------------------------------------------
    def order(self, key: OrderKey) -> SimOrder | None:
        """Any order this engine knows, working or done."""
        return self._active.get(key) or self._done.get(key)

    def open_orders(self) -> list[SimOrder]:
        """Working orders (held transmit=False orders are not working yet)."""
        return [o for o in self._active.values() if o.is_live]

    def held_orders(self) -> list[SimOrder]:
        return [o for o in self._active.values() if o.is_held]

    def restore(self, orders: Iterable[SimOrder]) -> None:
        """Take back working and held orders after a restart, state and all."""
        for order in orders:
            if not order.is_done:
                self._active[order.key] = order

    # ----- requests ----------------------------------------------------------------------
    def place(self, order: SimOrder, quote: QuoteLike | None, now: float) -> list[Event]:
        """A new order, or a modification if the key is already known."""
        out: list[Event] = []
        market = self._quote_market(order.con_id, quote) if quote is not None else None
        existing = self.order(order.key)
        if existing is not None:
            self._modify(existing, order, market, now, out)
        else:
            self._new(order, market, now, out)
        return out

    def modify(self, order: SimOrder, quote: QuoteLike | None, now: float) -> list[Event]:
        if self.order(order.key) is None:
            return [OrderRejected(order.snapshot(), 135,
                                  f"Can't find order with id = {order.order_id}")]
        return self.place(order, quote, now)

    def cancel(self, key: OrderKey, now: float) -> list[Event]:
        order = self.order(key)
        if order is None:
            return [OrderRejected(SimOrder.unknown(key), 135,
                                  f"Can't find order with id = {key[1]}")]
        if order.is_done:
            return [OrderRejected(order.snapshot(), 161,
                                  "Cancel attempted when order is not in a cancellable state. "
                                  f"Order permId = {order.perm_id}")]
        out: list[Event] = []
        self._cancel(order, "", now, out)
        return out

    def cancel_all(self, now: float) -> list[Event]:
        return self._cancel_where(lambda o: True, "", now)

    def end_of_day(self, now: float) -> list[Event]:
        """The session ended: DAY orders expire (GTC stay)."""
        return self._cancel_where(lambda o: o.tif == "DAY", "DAY order expired", now)

    def _cancel_where(self, wanted: Callable[[SimOrder], bool], reason: str,
                      now: float) -> list[Event]:
        out: list[Event] = []
        for order in list(self._active.values()):
            if (order.is_live or order.is_held) and wanted(order):
                self._cancel(order, reason, now, out)
        return out

    # ----- market ------------------------------------------------------------------------
    def on_quote(self, con_id: int, quote: QuoteLike, now: float) -> list[Event]:
        market = self._quote_market(con_id, quote)
        out: list[Event] = []
        for order in self._working(con_id):  # time priority
            self._match(order, market, now, out)
        return out

    def on_bar(self, con_id: int, bar: BarLike, now: float) -> list[Event]:
        """Match one bar of a backtest, then mark the account at its close."""
        market = BarMarket(con_id, bar)
        out: list[Event] = []
        for order in sorted(self._working(con_id), key=_priority):
            self._match(order, market, now, out)
        self.account.mark(con_id, bar.close)
        return out

    def _working(self, con_id: int) -> list[SimOrder]:
        return [o for o in self._active.values()
                if o.con_id == con_id and o.is_live and not o.awaiting_parent]

    def _move(self, order: SimOrder, status: str) -> None:
        order.move_to(status)
        if order.is_done:
            self._done[order.key] = self._active.pop(order.key)

    def _quote_market(self, con_id: int, quote: QuoteLike) -> QuoteMarket:
        book = self._books.get(con_id)
        if book is None or not book.same_quote(quote):
            book = QuoteBook.of(quote)
            self._books[con_id] = book
        return QuoteMarket(con_id, quote, book)

    # ----- new orders --------------------------------------------------------------------
    def _new(self, order: SimOrder, market: Market | None, now: float, out: list[Event]) -> None:
        self._active[order.key] = order
        reason = self._invalid(order) or self._parent_problem(order)
        if reason is not None:
            self._reject(order, reason, out)
        elif not order.transmit:
            out.append(OrderHeld(order.snapshot()))
        else:
            self._transmit(order, market, now, out)

    def _transmit(self, order: SimOrder, market: Market | None, now: float,
                  out: list[Event]) -> None:
        """Send the order with whatever of its group was held for it, parent first."""
        root = self._parent(order) or order
        group = [root] if root.is_held else []
        group += [o for o in self._children(root) if o.is_held and o is not order]
        if root is not order:
            group.append(order)
        for member in group:
            self._activate(member, market if member.con_id == order.con_id else None, out)
        if market is not None:
            for member in group:
                self._match(member, market, now, out, resting=False)

    def _activate(self, order: SimOrder, market: Market | None, out: list[Event]) -> None:
        parent = self._parent(order)
        if parent is not None and parent.status in ("Cancelled", "Inactive"):
            self._cancel(order, f"parent order {parent.status.lower()}", 0.0, out)
            return
        if parent is None:  # bracket children are exits: their parent was checked
            reason = self._buying_power(order, order.remaining, market)
            if reason is not None:
                self._reject(order, reason, out)
                return
        order.awaiting_parent = parent is not None and parent.status != "Filled"
        waits = order.awaiting_parent or order.order_type in STOP_TYPES
        self._move(order, "PreSubmitted" if waits else "Submitted")
        out.append(OrderAccepted(order.snapshot()))

    def _reject(self, order: SimOrder, reason: str, out: list[Event]) -> None:
        self._move(order, "Inactive")
        out.append(OrderRejected(order.snapshot(), 201, reason, ends_order=True))

    def _invalid(self, order: SimOrder) -> str | None:
        return invalid_order(order, self.instrument_for(order.con_id))

    def _parent_problem(self, order: SimOrder) -> str | None:
        if not order.parent_id:
            return None
        parent = self._parent(order)
        if parent is None or parent.status in ("Cancelled", "Inactive"):
            return f"The parent order {order.parent_id} is not working"
        return None

    def _buying_power(self, order: SimOrder, quantity: float,
                      market: Market | None) -> str | None:
        quote = market.quote if isinstance(market, QuoteMarket) else None
        price = margin_price(order, quote)
        if price is None or quantity <= 0:
            return None
        instrument = self.instrument_for(order.con_id)
        return self.account.check_buying_power(instrument, order.action, quantity, price)

    # ----- modifications -----------------------------------------------------------------
    def _modify(self, existing: SimOrder, incoming: SimOrder, market: Market | None,
                now: float, out: list[Event]) -> None:
        if existing.status == "Filled":
            out.append(OrderRejected(incoming.snapshot(), 104, "Cannot modify a filled order"))
            return
        if existing.is_done:
            out.append(OrderRejected(incoming.snapshot(), 103,
                                     f"Duplicate order id {incoming.order_id}"))
            return
        if existing.is_held:  # nothing was sent yet: the new version simply replaces it
            reason = self._invalid(incoming)
            if reason is not None:
                out.append(OrderRejected(incoming.snapshot(), 201, reason))
                return
            self._active[incoming.key] = incoming
            if incoming.transmit:
                self._transmit(incoming, market, now, out)
            else:
                out.append(OrderHeld(incoming.snapshot()))
            return
        reason = (self._invalid(incoming) or unmodifiable(existing, incoming)
                  or self._modify_buying_power(existing, incoming, market))
        if reason is not None:
            out.append(OrderRejected(existing.snapshot(), 201, reason))
            return
        apply_changes(existing, incoming, self.instrument_for(existing.con_id))
        out.append(OrderModified(existing.snapshot()))
        if market is not None:
            self._match(existing, market, now, out, resting=False)

    def _modify_buying_power(self, existing: SimOrder, incoming: SimOrder,
                             market: Market | None) -> str | None:
        if existing.parent_id or incoming.total_quantity <= existing.total_quantity:
            return None  # exits and smaller orders never need more margin
        return self._buying_power(incoming, incoming.total_quantity - existing.filled, market)

    # ----- matching ----------------------------------------------------------------------
    def _match(self, order: SimOrder, market: Market, now: float, out: list[Event],
               resting: bool = True) -> None:
        if (not order.is_live or order.awaiting_parent or order.key in market.visited
                or not market.eligible(order)):
            return
        market.visited.add(order.key)
        instrument = self.instrument_for(order.con_id)
        trigger_price = None
        if order.order_type in STOP_TYPES and not order.triggered:
            trigger_price = market.trigger(order, instrument)
            if trigger_price is not None:
                self._trigger(order, instrument, out)
        if order.status == "Submitted":
            fill = market.execution(order, trigger_price, resting)
            if fill is not None:
                self._fill(order, instrument, fill, market, now, out)
        if order.tif == "IOC" and order.is_live:
            self._cancel(order, "IOC order not filled in full", now, out)

    def _trigger(self, order: SimOrder, instrument: InstrumentLike, out: list[Event]) -> None:
        order.triggered = True
        if order.order_type == "TRAIL LIMIT":
            set_trail_limit(order, instrument)
        self._move(order, "Submitted")
        out.append(OrderTriggered(order.snapshot()))

    def _fill(self, order: SimOrder, instrument: InstrumentLike, fill: Fill, market: Market,
              now: float, out: list[Event]) -> None:
        price, quantity, liquidity = fill
        before = order.filled
        order.filled = before + quantity
        order.avg_fill_price = (order.avg_fill_price * before + price * quantity) / order.filled
        order.last_fill_price = price
        total = self.commissions.commission(instrument, order.filled, order.avg_fill_price)
        commission = max(total - order.commission, 0.0)
        order.commission += commission
        side = "BOT" if order.is_buy else "SLD"
        realized = self.account.apply_fill(instrument, side, quantity, price, commission)
        if order.remaining == 0.0:
            order.filled = order.total_quantity
            self._move(order, "Filled")
        execution = Execution(
            exec_id=self.exec_ids(), client_id=order.client_id, order_id=order.order_id,
            perm_id=order.perm_id, con_id=order.con_id, time=now, side=side, shares=quantity,
            price=price, cum_qty=order.filled, avg_price=order.avg_fill_price,
            commission=commission, realized_pnl=realized, order_ref=order.order_ref,
            account=order.account or self.account.account_id, liquidity=liquidity,
        )
        out.append(OrderFilled(order.snapshot(), execution))
        self._apply_oca(order, quantity, now, out)
        if order.status == "Filled":
            self._release(self._waiting_children(order), None, market, now, out)

    # ----- groups: brackets and OCA ------------------------------------------------------
    def _parent(self, order: SimOrder) -> SimOrder | None:
        if not order.parent_id:
            return None
        return self.order((order.client_id, order.parent_id))

    def _children(self, parent: SimOrder) -> list[SimOrder]:
        return [o for o in self._active.values()
                if o.parent_id == parent.order_id and o.client_id == parent.client_id
                and o is not parent]

    def _waiting_children(self, parent: SimOrder) -> list[SimOrder]:
        return [c for c in self._children(parent) if c.is_live and c.awaiting_parent]

    def _release(self, children: list[SimOrder], quantity: float | None,
                 market: Market | None, now: float, out: list[Event]) -> None:
        """Bracket children go live (stops stay PreSubmitted until triggered)."""
        children = sorted(children, key=_priority)
        for child in children:
            child.awaiting_parent = False
            if quantity is not None:
                child.total_quantity = quantity
            if child.order_type not in STOP_TYPES:
                self._move(child, "Submitted")
                out.append(OrderAccepted(child.snapshot()))
            elif quantity is not None:
                out.append(OrderModified(child.snapshot()))
        if market is not None:
            for child in children:
                self._match(child, market, now, out, resting=False)

    def _apply_oca(self, order: SimOrder, quantity: float, now: float,
                   out: list[Event]) -> None:
        if order.oca_group:
            others = [o for o in self._active.values() if o.oca_group == order.oca_group]
            reduce = order.oca_type in (2, 3)
        elif order.parent_id:
            parent = self._parent(order)
            others = self._children(parent) if parent is not None else []
            reduce = True
        else:
            return
        for other in others:
            if other is order or not (other.is_live or other.is_held):
                continue
            if not reduce:
                self._cancel(other, "OCA group", now, out)
                continue
            other.total_quantity = max(other.total_quantity - quantity, other.filled)
            if other.remaining == 0.0:
                self._cancel(other, "OCA group", now, out)
            else:
                out.append(OrderModified(other.snapshot()))

    def _cancel(self, order: SimOrder, reason: str, now: float, out: list[Event]) -> None:
        self._move(order, "Cancelled")
        out.append(OrderCancelled(order.snapshot(), reason))
        resize: list[SimOrder] = []
        for child in self._children(order):
            if not (child.is_live or child.is_held):
                continue
            if order.filled > 0 and child.awaiting_parent:
                resize.append(child)  # keep protecting the part that did fill
            else:
                self._cancel(child, "parent order cancelled", now, out)
        if resize:
            self._release(resize, order.filled, None, now, out)
