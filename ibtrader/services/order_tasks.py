"""The order manager's price tasks: the chase of unfilled limits, and stop management.

One loop on the engine's loop wakes a few times a second and asks the pure rules what to
do: `pricing.chase_step` for each chased order (reprice toward the far side, then cancel or
go to market at the bound), `stops.next_stop` for each filled bracket entry whose stop leg
still works (break-even after +1R, then an ATR trail over 5-second bars). Every move goes
through `OrderManager.change`, so it is validated, risk-checked and journalled as an order
event (reason "reprice", "stop_breakeven", "stop_trail") before it is sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ibtrader.core.indicators import make_indicator
from ibtrader.core.market import BarUpdate, Quote
from ibtrader.core.orders.lifecycle import Order, OrderEvent, OrderState
from ibtrader.core.orders.pricing import ChaseAction, ChaseState, chase_step
from ibtrader.core.orders.request import OrderRequest
from ibtrader.core.orders.stops import StopRules, breakeven_level, next_stop
from ibtrader.core.orders.tickets import stop_loss_ref
from ibtrader.services.order_reports import NOT_MODIFIABLE, OrderRefused

if TYPE_CHECKING:
    from ibtrader.services.order_manager import OrderManager

log = logging.getLogger(__name__)
S = OrderState
INTERVAL = 0.2  # seconds between looks; a chase step is seconds apart, a stop move rarer
RETRY_AFTER = 5.0  # seconds before a refused stop move is tried again (not 5 times a second)
MARKET_SUFFIX = "-mkt"


@dataclass(slots=True)
class _Managed:
    """A filled bracket entry whose stop leg is managed."""

    symbol: str
    side: str
    entry: float
    initial_stop: float
    high: float
    low: float


class PriceTasks:
    def __init__(self, manager: OrderManager) -> None:
        self.m = manager
        s = manager.settings
        self.rules = StopRules(breakeven_r=s.breakeven_r,
                               breakeven_buffer_ticks=s.breakeven_buffer_ticks,
                               trail_atr_multiple=s.trail_stop_atr_multiple)
        self._chases: dict[str, ChaseState] = {}
        self._managed: dict[str, _Managed] = {}
        self._atr: dict[str, Any] = {}  # symbol -> ATR over 5-second bars
        self._bar_subs: dict[int, str] = {}  # subscription -> symbol
        self._busy: set[str] = set()  # orders with a change on the way
        self._quiet_until: dict[str, float] = {}  # stop legs whose last move was refused
        self._task: asyncio.Task[None] | None = None

    @property
    def managing_stops(self) -> bool:
        return self.rules.breakeven_r > 0 or self.rules.trail_atr_multiple > 0

    def start(self) -> None:
        self.m.market.bar_received += self._on_bar
        self._task = self.m.spawn(self._loop(), "order price tasks")
        for order in self.m.orders(open_only=True):  # after a restart
            self._resume_chase(order)
        for order in self.m.orders():
            self.changed(order)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self.m.market.bar_received -= self._on_bar
        for handle in self._bar_subs:
            try:
                self.m.market.unsubscribe(handle)
            except Exception:
                log.debug("unsubscribe failed", exc_info=True)
        self._bar_subs.clear()

    # ----- what the manager tells us ------------------------------------------------------
    def placed(self, order: Order) -> None:
        request = order.request
        if request.chase is not None and request.limit is not None and not order.is_final:
            self._chases.setdefault(order.client_key, ChaseState.start(
                request.side, request.limit, order.updated or self.m.clock()))

    def _resume_chase(self, order: Order) -> None:
        """After a restart: the chase goes on from the price it was placed at (its first
        journal event), so that its bound stays where it was, never from the last reprice."""
        request = order.request
        if request.chase is None or request.limit is None or order.state not in (
                S.WORKING, S.PARTIALLY_FILLED, S.SENT):
            return
        events = self.m.journal.order_events(order.client_key)
        placed = next((e.detail.get("limit") for e in events if e.kind == "created"), None)
        moves = sum(1 for e in events if e.kind == "modify_requested"
                    and e.detail.get("reason") == "reprice")
        if placed is None:
            return
        self._chases[order.client_key] = ChaseState(
            request.side.upper(), placed, order.created, request.limit, order.updated, moves)
        self._watch(request.symbol)

    def _watch(self, symbol: str) -> None:
        """Quotes (and the contract) for a symbol the tasks need but nobody asked for yet
        in this session (after a restart)."""
        if self.m.instrument(symbol) is not None and self.m.quote(symbol) is not None:
            return

        async def subscribe() -> None:
            try:
                await self.m.current_quote(symbol)
            except OrderRefused as exc:
                log.warning("no market for %s: %s", symbol, exc)

        self.m.spawn(subscribe(), f"quotes for {symbol}")

    def forget(self, key: str) -> None:
        self._chases.pop(key, None)
        self._managed.pop(key, None)

    def changed(self, order: Order) -> None:
        """A filled bracket entry starts being managed once its stop leg exists."""
        key = order.client_key
        if order.is_final:
            self._chases.pop(key, None)
        if not self.managing_stops or key in self._managed or order.state != S.FILLED:
            return
        request = order.request
        if request.stop_loss is None or order.parent_key:
            return
        leg = self.m.order(stop_loss_ref(key))
        if leg is None or leg.is_final or not math.isfinite(order.avg_price):
            return
        entry = order.avg_price
        self._managed[key] = _Managed(request.symbol, request.side, entry,
                                      request.stop_loss, entry, entry)
        self._watch(request.symbol)
        if self.rules.trail_atr_multiple > 0:
            self._watch_bars(request.symbol)

    def quoted(self, quote: Quote) -> None:
        last = quote.last
        if not (math.isfinite(last) and last > 0):
            return
        for managed in self._managed.values():
            if managed.symbol == quote.symbol:
                managed.high = max(managed.high, last)
                managed.low = min(managed.low, last)

    def _watch_bars(self, symbol: str) -> None:
        if symbol in self._atr:
            return
        instrument = self.m.instrument(symbol)
        if instrument is None:
            return
        self._atr[symbol] = make_indicator("atr", period=self.m.settings.stop_atr_period)
        self._bar_subs[self.m.market.subscribe_realtime_bars(instrument)] = symbol

    def _on_bar(self, update: BarUpdate) -> None:
        symbol = self._bar_subs.get(update.subscription)
        if symbol is not None and update.complete:
            self._atr[symbol].update(update.bar)

    # ----- the loop ---------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                self._chase_all()
                self._manage_stops()
            except Exception:  # one bad order must not end price management for all
                log.exception("order price tasks")

    def _run(self, key: str, coro: Any, name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except OrderRefused as exc:
                if NOT_MODIFIABLE in exc.codes:  # it filled or ended meanwhile: nothing lost
                    log.info("%s for %s: %s", name, key, exc)
                    return
                log.warning("%s for %s refused: %s", name, key, exc)
                self.m.risk_event.emit(f"{name} of {key} refused: {exc}")
                self._chases.pop(key, None)  # a refused chase ends where it is
                self._quiet_until[key] = self.m.clock() + RETRY_AFTER  # a stop move: later
            except Exception:
                log.exception("%s for %s failed", name, key)
            finally:
                self._busy.discard(key)

        self._busy.add(key)
        self.m.spawn(guarded(), f"{name} {key}")

    def _chase_all(self) -> None:
        now = self.m.clock()
        for key, state in list(self._chases.items()):
            order = self.m.order(key)
            if order is None or order.is_final:
                self._chases.pop(key, None)
                continue
            if key in self._busy or order.state not in (S.WORKING, S.PARTIALLY_FILLED):
                continue
            request = order.request
            quote, instrument = self.m.quote(request.symbol), self.m.instrument(request.symbol)
            if quote is None or instrument is None or request.chase is None:
                continue
            step = chase_step(request.chase, state, quote, now, instrument.min_tick)
            if step.action is ChaseAction.REPRICE:
                self._chases[key] = step.state
                self._run(key, self.m.change(key, limit=step.price, reason="reprice"), "reprice")
            elif step.action is ChaseAction.CANCEL:
                self._chases.pop(key, None)
                self._note(order, "chase_ended", {"then": "cancel", "reason": step.reason})
                self._run(key, self.m.cancel(key), "chase cancel")
            elif step.action is ChaseAction.MARKET:
                self._chases.pop(key, None)
                self._note(order, "chase_ended", {"then": "market", "reason": step.reason})
                self._run(key, self._to_market(order), "chase to market")

    async def _to_market(self, order: Order) -> None:
        """Cancel the chased limit; once the broker confirms, send what is left at market
        (under the key KEY-mkt, so that a retry finds it and never sends it twice)."""
        await self.m.cancel(order.client_key)
        final = await self.m.wait_final(order.client_key, 10.0)
        rest = final.quantity - final.filled
        if final.state != S.CANCELLED or rest <= 1e-9:
            return
        r = order.request
        await self.m.place(OrderRequest(
            symbol=r.symbol, side=r.side, quantity=rest, client_key=order.client_key
            + MARKET_SUFFIX, order_type="mkt", tif="day", outside_rth=r.outside_rth,
            decision_id=r.decision_id, source=r.source, created=self.m.clock()))

    def _note(self, order: Order, kind: str, detail: dict[str, Any]) -> None:
        now = self.m.clock()
        self.m.commit(order, [OrderEvent(order.client_key, kind, now, order.state, order.state,
                                         detail)])

    def _manage_stops(self) -> None:
        for key, managed in list(self._managed.items()):
            leg = self.m.order(stop_loss_ref(key))
            if leg is None or leg.is_final:
                self._managed.pop(key, None)
                continue
            if leg.client_key in self._busy or leg.state not in (S.WORKING, S.PARTIALLY_FILLED):
                continue
            if self._quiet_until.get(leg.client_key, 0.0) > self.m.clock():
                continue
            quote, instrument = self.m.quote(managed.symbol), self.m.instrument(managed.symbol)
            if quote is None or instrument is None or leg.request.stop is None:
                continue
            if self.rules.trail_atr_multiple > 0:
                self._watch_bars(managed.symbol)  # a no-op once the bars stream
            atr_ind = self._atr.get(managed.symbol)
            atr = atr_ind.value if atr_ind is not None and atr_ind.value is not None else math.nan
            tick = instrument.min_tick
            try:
                new = next_stop(managed.side, managed.entry, managed.initial_stop,
                                leg.request.stop, managed.high, managed.low,
                                _trigger_side(managed.side, quote), atr, self.rules, tick)
            except ValueError as exc:
                log.warning("stop management of %s stopped: %s", key, exc)
                self._managed.pop(key, None)
                continue
            if new is None:
                continue
            level = breakeven_level(managed.side, managed.entry,
                                    self.rules.breakeven_buffer_ticks, tick)
            # without a trail every move is the break-even (perhaps kept a tick inside
            # the market); with one, only a move to the level itself
            at_level = abs(new - level) < tick / 2
            trailing = self.rules.trail_atr_multiple > 0 and math.isfinite(atr)
            reason = "stop_breakeven" if at_level or not trailing else "stop_trail"
            self._run(leg.client_key, self.m.change(leg.client_key, stop=new, reason=reason),
                      reason)


def _trigger_side(side: str, quote: Quote) -> float:
    """The price the protective stop must stay inside of: a long's sell stop below the bid
    (and the last trade), a short's buy stop above the ask, as the broker requires."""
    prices = [p for p in (quote.last, quote.bid if side == "buy" else quote.ask)
              if math.isfinite(p) and p > 0]
    if not prices:
        return math.nan
    return min(prices) if side == "buy" else max(prices)
