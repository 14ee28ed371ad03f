"""The backtest's broker: the simulator's matching engine and paper account, driven bar by
bar without sockets, plus the bookkeeping of round-trip trades.

Entries go in as IB brackets would (a market parent, with a stop and a take-profit child
in one OCA group when the signal has them); exits and reversals as market orders that
close first and then open. The engine decides every fill; this class only reads them.

The lean path (`lean=True`): a plain market order while nothing else works in the engine
(no bracket, no stop) is filled here, as the engine fills a market order on a bar - at
the bar's open, commission by the same schedule, booked by the same paper account -
without the engine's order objects and events (which cost ~30 us per order, more than
everything else in a backtest together). Tests run both paths and compare the trades.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ibtrader.sim.account import PaperAccount
from ibtrader.sim.commissions import CommissionSchedule
from ibtrader.sim.matching import MatchingEngine, OrderFilled, OrderRejected, SimOrder

CLIENT_ID = 1
EXIT_REASONS = {"STP": "stop", "LMT": "target"}  # by the closing order's type; else "signal"
# builds a NamedTuple from a full tuple without the generated __new__'s extra call: the
# broker makes two per trade
_new_tuple = tuple.__new__


@dataclass(frozen=True)
class BacktestInstrument:
    """A tradeable without a tick grid, for CSV data (prices are taken as they come)."""

    symbol: str
    con_id: int = 1
    sec_type: str = "STK"
    currency: str = "USD"
    multiplier: float = 1.0
    min_tick: float = 0.0
    margin_rate: float = 1.0
    margin_per_contract: float = 0.0

    def round_to_tick(self, price: float) -> float:
        return price


class Trade(NamedTuple):
    """One round trip: opened by one fill, closed by one (fills are whole in bar mode).
    A NamedTuple: a frozen dataclass costs ~2 us more to build, per trade."""

    entry_bar: int
    exit_bar: int
    entry_time: float
    exit_time: float
    side: str  # "long" | "short"
    size: float
    entry_price: float
    exit_price: float
    pnl: float  # net of both commissions
    commission: float
    exit_reason: str


class _Open(NamedTuple):
    bar: int
    time: float
    side: str
    size: float
    price: float
    commission: float
    exits: list[SimOrder]


class BarBroker:
    """Orders for one instrument through a `MatchingEngine`, one bar at a time."""

    def __init__(self, instrument: Any, cash: float, commissions: CommissionSchedule,
                 lean: bool = True) -> None:
        self.lean = lean
        self._market: list[tuple[str, float]] = []  # lean market orders: (BOT|SLD, qty)
        self.instrument = instrument
        self.account = PaperAccount("BACKTEST", cash=cash)
        self.engine = MatchingEngine(self.account, lambda _con_id: instrument, commissions)
        self.commissions = commissions
        self._fee = commissions.commission
        self.trades: list[Trade] = []
        self.rejections: list[str] = []
        self._open: _Open | None = None
        # the open trade has (or had) stop/target orders in the engine: an attribute, not a
        # property, as the loop asks on every bar it visits
        self.has_exits = False
        # orders are waiting to fill (in _pending or _market), so the next bar must be
        # visited: kept up to date where those lists change, as the loop asks on every bar
        self.busy = False
        self._con_id = instrument.con_id
        self._next_id = 0
        self._pending: list[tuple[SimOrder, str]] = []  # placed, not filled yet: (order, role)
        self._staged_exits: list[SimOrder] = []  # the children of the entry in flight

    # ----- state --------------------------------------------------------------------------
    @property
    def position(self) -> float:
        held = self.account.positions.get(self._con_id)
        return held.quantity if held is not None else 0.0

    def exit_levels(self) -> tuple[float | None, float | None]:
        """(stop, target) of the working exits of the open trade, None where there is none."""
        stop = target = None
        if self._open is not None and self._open.exits:
            for order in self._open.exits:
                if order.is_live:
                    if order.order_type == "STP":
                        stop = order.aux_price
                    else:
                        target = order.lmt_price
        return stop, target

    def equity(self, price: float) -> float:
        """Net liquidation with the position marked at `price`."""
        account = self.account
        held = account.positions.get(self._con_id)
        if held is None or not held.quantity:
            return account.cash
        held.market_price = price
        if held.sec_type == "FUT":
            return account.net_liquidation()
        return account.cash + held.quantity * price * held.multiplier

    # ----- orders -------------------------------------------------------------------------
    def close(self, now: float) -> None:
        """Cancel the open trade's exits and send a market order closing the position."""
        quantity = self.position
        if not quantity:
            return
        if self.has_exits:
            self._cancel_exits(now)
        self._market_order("SELL" if quantity > 0 else "BUY", abs(quantity), "close", now)

    def open(self, side: str, quantity: float, now: float, stop: float | None = None,
             target: float | None = None) -> None:
        """A market entry (side "buy"/"sell"), with a stop and a target child if given."""
        action = "BUY" if side == "buy" else "SELL"
        if stop is None and target is None:
            self._market_order(action, quantity, "entry", now)
            return
        exit_action = "SELL" if side == "buy" else "BUY"
        parent = self._order(action, quantity, "MKT", now)
        children = []
        round_ = self.instrument.round_to_tick
        if stop is not None:
            children.append(self._order(exit_action, quantity, "STP", now,
                                        aux_price=round_(stop), parent_id=parent.order_id))
        if target is not None:
            children.append(self._order(exit_action, quantity, "LMT", now,
                                        lmt_price=round_(target), parent_id=parent.order_id))
        if children:
            parent.transmit = False
            for child in children[:-1]:
                child.transmit = False
        self._send(parent, "entry", now)
        for child in children:
            self._send(child, "exit", now)

    @property
    def engine_working(self) -> bool:
        """Orders in the engine that a bar could fill or trigger."""
        return bool(self._pending) or self.has_exits

    def fill_market(self, price: float, time: float, index: int) -> None:
        """Fill the lean market orders at `price` (a bar's open: they come first, as the
        engine's market orders do), each with its own commission."""
        market = self._market
        if not market:
            return
        instrument, fee, apply_fill = self.instrument, self._fee, self.account.apply_fill
        book = self._book
        for side, quantity in market:
            commission = fee(instrument, quantity, price)
            realized = apply_fill(instrument, side, quantity, price, commission)
            book("MKT", side, quantity, price, commission, realized, time, index)
        market.clear()
        self.busy = bool(self._pending)

    def match(self, bar: Any, index: int) -> None:
        """Let the engine match its working orders against `bar` (number `index`)."""
        for event in self.engine.on_bar(self.instrument.con_id, bar, bar.time):
            if isinstance(event, OrderFilled):
                x = event.execution
                self._book(event.order.order_type, x.side, x.shares, x.price,
                           x.commission, x.realized_pnl, x.time, index)
        self._pending = [(o, role) for o, role in self._pending if o.is_live]
        self.busy = bool(self._pending or self._market)

    def on_bar(self, bar: Any, index: int) -> None:
        """Everything that trades on `bar`: lean market orders first, then the engine's."""
        if self._market:
            self.fill_market(bar.open, bar.time, index)
        if self.engine_working:
            self.match(bar, index)

    # ----- internals ----------------------------------------------------------------------
    def _order(self, action: str, quantity: float, kind: str, now: float,
               **extra: Any) -> SimOrder:
        self._next_id += 1
        return SimOrder(client_id=CLIENT_ID, order_id=self._next_id, perm_id=self._next_id,
                        con_id=self.instrument.con_id, action=action,
                        total_quantity=quantity, order_type=kind, tif="GTC", created=now,
                        **extra)

    def _market_order(self, action: str, quantity: float, role: str, now: float) -> None:
        if self.lean and not self._pending:
            self._market.append(("BOT" if action == "BUY" else "SLD", quantity))
            self.busy = True
        else:
            self._send(self._order(action, quantity, "MKT", now), role, now)

    def _send(self, order: SimOrder, role: str, now: float) -> None:
        for event in self.engine.place(order, None, now):
            if isinstance(event, OrderRejected):
                self.rejections.append(f"{order.action} {order.total_quantity:g}: "
                                       f"{event.reason}")
                return
        live = self.engine.order(order.key)
        assert live is not None  # the engine keeps every order it was given
        if role == "exit":
            self._staged_exits.append(live)
        else:
            self._pending.append((live, role))
            self.busy = True
            if role == "entry":
                self._staged_exits = []

    def _cancel_exits(self, now: float) -> None:
        exits = self._open.exits if self._open is not None else []
        for order in exits:
            if order.is_live or order.is_held:
                self.engine.cancel(order.key, now)

    def _book(self, order_type: str, side: str, shares: float, price: float,
              commission: float, realized: float, time: float, index: int) -> None:
        """Keep the round trips: fills alternate between opening a flat position and
        closing it whole (bar fills are never partial, and entries never pyramid)."""
        opened = self._open
        if opened is None:
            exits = self._staged_exits
            self._open = _new_tuple(_Open, (index, time, "long" if side == "BOT" else "short",
                                            shares, price, commission, exits))
            self.has_exits = bool(exits)
            self._staged_exits = []
            return
        bar, opened_at, opened_side, size, entry, entry_commission, _ = opened
        self.trades.append(_new_tuple(Trade, (
            bar, index, opened_at, time, opened_side, size, entry, price, realized,
            entry_commission + commission, EXIT_REASONS.get(order_type, "signal"))))
        self._open = None
        self.has_exits = False
