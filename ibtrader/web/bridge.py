"""The web layer's one door to the engine.

The engine lives on its asyncio loop (qasync's in the desktop app, a plain one in
`ibtrader serve`); the web server answers on its own threads. Server threads never touch
engine objects. Instead:

- reads come from snapshots the loop publishes: quotes as they arrive (a dict whose items
  are immutable `Quote`s, copied whole under the GIL), orders on every change, positions and
  the account at most every `flush_interval` s while something moved them;
- commands (`call`) run on the loop and are awaited from the server thread with a timeout;
- events go to an `EventHub` for the live stream: orders, fills, signals, decisions and the
  connection at once, quotes and positions coalesced per `flush_interval` (100 ms: the
  dashboard shows an engine event well within 250 ms); positions and the account only
  when they changed (recomputed after a fill, a quote of a held symbol, or each second).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ibtrader.core.broker import BrokerFill, ConnectionState
from ibtrader.core.decisions import Decision, SignalRecord
from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order, OrderState
from ibtrader.web.events import EventHub
from ibtrader.web.metrics import Metrics
from ibtrader.web.serialize import (
    decision_json,
    number,
    order_json,
    position_json,
    quote_json,
    signal_json,
)

if TYPE_CHECKING:
    from ibtrader.app import Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
ANSWERED = frozenset({OrderState.WORKING, OrderState.PARTIALLY_FILLED, OrderState.FILLED,
                      OrderState.REJECTED, OrderState.INACTIVE, OrderState.CANCELLED})
KEEP_FINAL_ORDERS = 200
# the broker's account values (net liquidation, buying power) move without our events:
# the account is read again at least this often (seconds)
ACCOUNT_REFRESH = 1.0  # final orders kept in the snapshot (the journal has them all)


class EngineUnavailable(RuntimeError):
    """The engine is not running (starting, stopped, or its loop is gone)."""


class EngineTimeout(TimeoutError):
    """A command did not finish on the engine's loop in time."""


@dataclass
class Snapshot:
    """What the web reads. Each attribute is replaced whole, never changed in place."""

    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: list[dict[str, Any]] = field(default_factory=list)
    account: dict[str, Any] = field(default_factory=dict)
    connection: dict[str, Any] = field(default_factory=lambda: {"state": "disconnected",
                                                               "reason": ""})
    last_error: dict[str, Any] | None = None


class EngineBridge:
    def __init__(self, engine: Engine, *, loop: asyncio.AbstractEventLoop | None = None,
                 metrics: Metrics | None = None, flush_interval: float = 0.1,
                 command_timeout: float = 10.0, clock: Callable[[], float] = time.time,
                 outbox_depth: Callable[[], tuple[int, float | None]] | None = None) -> None:
        self.engine = engine
        self.loop = loop
        self.metrics = metrics or Metrics()
        self.hub = EventHub()
        self.snapshot = Snapshot()
        self.flush_interval = flush_interval
        self.command_timeout = command_timeout
        self.clock = clock
        self.outbox_depth = outbox_depth or (lambda: (0, None))
        self._quotes: dict[str, Quote] = {}
        self._changed_quotes: dict[str, Quote] = {}
        self._positions_dirty = True
        self._held: set[str] = set()  # symbols with a position: their quotes move P&L
        self._refreshed_at = 0.0
        self._sent_at: dict[str, float] = {}
        self._last_quote_at = 0.0
        self._flusher: asyncio.Task[None] | None = None
        self._attached = False
        self._lock = threading.Lock()

    # ----- on the engine's loop ----------------------------------------------------------
    def attach(self) -> None:
        """Listen to the engine and publish the first snapshots. Call on the engine's loop."""
        if self._attached:
            return
        self.loop = asyncio.get_running_loop()
        e = self.engine
        e.broker.market_data.quotes_updated += self._on_quotes
        e.broker.state_changed += self._on_connection
        e.trading.signal_emitted += self._on_signal
        e.trading.decision_made += self._on_decision
        e.trading.decision_changed += self._on_decision
        e.trading.strategy_failed += self._on_strategy_failed
        if e.orders is not None:
            e.orders.order_changed += self._on_order
            e.orders.fill_received += self._on_fill
            e.orders.risk_event += self._on_risk
            self.snapshot.orders = {o.client_key: order_json(o) for o in e.orders.orders()}
        self._on_connection(e.broker.state, "")
        self._refresh_positions()
        self._flusher = self.loop.create_task(self._flush_loop(), name="web-bridge-flush")
        self._attached = True

    def detach(self) -> None:
        """Stop listening (on the engine's loop): later calls get EngineUnavailable."""
        if not self._attached:
            return
        self._attached = False
        e = self.engine
        e.broker.market_data.quotes_updated -= self._on_quotes
        e.broker.state_changed -= self._on_connection
        e.trading.signal_emitted -= self._on_signal
        e.trading.decision_made -= self._on_decision
        e.trading.decision_changed -= self._on_decision
        e.trading.strategy_failed -= self._on_strategy_failed
        if e.orders is not None:
            e.orders.order_changed -= self._on_order
            e.orders.fill_received -= self._on_fill
            e.orders.risk_event -= self._on_risk
        if self._flusher is not None:
            self._flusher.cancel()
        self.hub.publish("connection", {"state": "disconnected", "reason": "engine stopped"})
        self.hub.close()

    def _on_quotes(self, quotes: list[Quote]) -> None:
        for quote in quotes:
            self._quotes[quote.symbol] = quote
            self._changed_quotes[quote.symbol] = quote
        self._last_quote_at = self.clock()
        if not self._positions_dirty and any(q.symbol in self._held for q in quotes):
            self._positions_dirty = True  # a mark moved: unrealized P&L did
        self.metrics.events.labels("quote").inc(len(quotes))

    def _on_connection(self, state: ConnectionState, reason: str) -> None:
        value = {"state": state.value if hasattr(state, "value") else str(state),
                 "reason": reason}
        self.snapshot.connection = value
        self.metrics.connected.set(1 if state is ConnectionState.CONNECTED else 0)
        if state is not ConnectionState.CONNECTED and reason:
            self._error("connection", reason)
        self.hub.publish("connection", value)

    def _on_signal(self, record: SignalRecord) -> None:
        self.metrics.events.labels("signal").inc()
        quote = self._quotes.get(record.signal.symbol)
        if quote is not None and quote.time:
            self.metrics.tick_to_signal.observe(max(0.0, record.created - quote.time))
        self.hub.publish("signal", signal_json(record))

    def _on_decision(self, decision: Decision) -> None:
        self.metrics.events.labels("decision").inc()
        self.hub.publish("decision", decision_json(decision))

    def _on_strategy_failed(self, name: str, symbol: str, error: str) -> None:
        self._error("strategy", f"{name} on {symbol}: {error}")

    def _on_order(self, order: Order) -> None:
        self.metrics.events.labels("order").inc()
        key = order.client_key
        if order.state is OrderState.SENT:
            self._sent_at.setdefault(key, time.perf_counter())
        elif order.state in ANSWERED and key in self._sent_at:
            self.metrics.order_round_trip.observe(time.perf_counter() - self._sent_at.pop(key))
        if order.state is OrderState.REJECTED:
            self._error("order", f"{order.request.symbol} {order.request.side} "
                                 f"{order.request.quantity:g} rejected: {order.last_error}")
        value = order_json(order)
        orders = dict(self.snapshot.orders)
        orders[key] = value
        if len(orders) > KEEP_FINAL_ORDERS * 2:  # forget the oldest final ones
            final = [k for k, o in orders.items() if o["is_final"]]
            for old in final[:len(final) - KEEP_FINAL_ORDERS]:
                del orders[old]
        self.snapshot.orders = orders
        self.hub.publish("order", value)

    def _on_fill(self, fill: BrokerFill) -> None:
        self.metrics.events.labels("fill").inc()
        self._positions_dirty = True
        self.hub.publish("fill", {"symbol": fill.symbol, "side": fill.side.lower(),
                                  "quantity": fill.quantity, "price": fill.price,
                                  "time": fill.time, "order_ref": fill.order_ref,
                                  "exec_id": fill.exec_id})

    def _on_risk(self, message: str) -> None:
        self.metrics.events.labels("risk").inc()
        self.hub.publish("risk", {"message": message, "time": self.clock()})

    def _error(self, source: str, message: str) -> None:
        value = {"source": source, "message": message, "time": self.clock()}
        self.snapshot.last_error = value
        self.hub.publish("error", value)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                self.flush()
            except Exception:  # a bad value must not end the stream for good
                log.exception("publishing web snapshots failed")

    def flush(self) -> None:
        """Publish the quotes that changed and, if anything moved them, positions and the
        account (on the loop, every `flush_interval`)."""
        if self._changed_quotes:
            changed, self._changed_quotes = self._changed_quotes, {}
            self.hub.publish("quotes", [quote_json(q) for q in changed.values()])
        now = self.clock()
        if self._positions_dirty or now - self._refreshed_at >= ACCOUNT_REFRESH:
            positions, account = self.snapshot.positions, self.snapshot.account
            self._refresh_positions()
            if self.snapshot.positions != positions:
                self.hub.publish("positions", self.snapshot.positions)
            if self.snapshot.account != account:
                self.hub.publish("account", self.snapshot.account)
        if self._last_quote_at:
            self.metrics.data_age.set(self.clock() - self._last_quote_at)

    def _refresh_positions(self) -> None:
        self._positions_dirty = False
        self._refreshed_at = self.clock()
        orders = self.engine.orders
        snapshot = self.engine.broker.account.account()
        if orders is None:
            self.snapshot.account = {"net_liquidation": number(snapshot.equity),
                                     "buying_power": number(snapshot.buying_power)}
            return
        every = orders.portfolio.positions(include_flat=True)  # flat ones hold realized P&L
        positions = [p for p in every if p.quantity]
        self._held = {p.symbol for p in positions}
        daily = sum(p.daily_pnl for p in every)
        unrealized = sum(p.unrealized_pnl for p in every)
        realized = sum(p.realized_pnl for p in every)
        held = sum(p.market_value for p in positions if number(p.market_value) is not None)
        self.snapshot.positions = [position_json(p) for p in positions]
        self.snapshot.account = {
            "net_liquidation": number(snapshot.equity),
            "buying_power": number(snapshot.buying_power),
            "cash": number(snapshot.equity - held), "daily_pnl": number(daily),
            "unrealized_pnl": number(unrealized), "realized_pnl": number(realized),
            "kill_switch": orders.kill_switch_engaged}

    # ----- from any thread -----------------------------------------------------------------
    def quotes(self) -> dict[str, Quote]:
        return dict(self._quotes)  # one C-level copy: atomic under the GIL

    def data_age(self) -> float | None:
        """Seconds since the newest quote arrived (None before the first)."""
        return self.clock() - self._last_quote_at if self._last_quote_at else None

    @property
    def running(self) -> bool:
        return self._attached and self.loop is not None and not self.loop.is_closed()

    def call(self, fn: Callable[[], Awaitable[T] | T], timeout: float | None = None) -> T:
        """Run `fn` on the engine's loop (awaiting it if it returns an awaitable) and give
        its result or raise its exception here. EngineTimeout after `timeout` s (the
        command is cancelled: an order command is idempotent by its client key, so a retry
        after a timeout never sends twice); EngineUnavailable when the engine is not up."""
        if not self.running:
            raise EngineUnavailable("the engine is not running")
        assert self.loop is not None

        async def run() -> T:
            result = fn()
            if inspect.isawaitable(result):
                return await result
            return result

        try:
            future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        except RuntimeError as exc:  # the loop closed under us
            raise EngineUnavailable(f"the engine is not running: {exc}") from None
        wait = self.command_timeout if timeout is None else timeout
        try:
            return future.result(wait)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise EngineTimeout(f"the engine did not answer within {wait:g} s") from None
        except concurrent.futures.CancelledError:
            raise EngineUnavailable("the engine stopped before answering") from None
