"""Notifications: the trader's events (signal, decision, risk limit, fill, rejection, kill
switch, connection lost/restored, daily summary) as outbox records for the "n8n" sink, and
as a log line each (the embedded default; the GUI's panel shows fills and rejections).

Two sources, one event shape (`{"time", "data"}` under an event id and a kind):
- `NotificationMirror`, a `JournalMirror`: the journal hands it every write inside the
  write's transaction, so an event is queued if and only if its row was committed;
- `ConnectionNotifier`: what is no journal row (the kill switch, the broker connection, an
  order refused by a pre-trade risk rule), queued with `journal.enqueue` in `atomic()`.

Event ids are deterministic where the event is a fact about a row ("order_filled:<key>",
"decision:<id>"), so a row written again never notifies twice under a new id; n8n drops an
id it has seen (the workflow's Remove Duplicates node) when the outbox sends one again.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ibtrader.core.broker import ConnectionState
from ibtrader.core.decisions import (
    ALREADY_POSITIONED,
    AUTO_TRADE_UNAVAILABLE,
    NOTHING_TO_EXIT,
    STRATEGY_DISABLED,
    SUBMISSION_FAILED,
)
from ibtrader.core.events import Event
from ibtrader.core.orders import risk
from ibtrader.core.outbox import MirrorRecord, check_sink

log = logging.getLogger("ibtrader.notify")

SINK = "n8n"
# refusals that are no risk limit (the strategy is off, nothing to do, no order port), or
# that the order side reports itself: a pre-trade rule's refusal comes as `refused`, with its
# own code, and a broker that is down is the connection's event
_NOT_RISK = frozenset({STRATEGY_DISABLED, ALREADY_POSITIONED, NOTHING_TO_EXIT,
                       AUTO_TRADE_UNAVAILABLE, SUBMISSION_FAILED})
# the pre-trade rules of core/orders/risk.py: an order they refuse hit a risk limit
RISK_RULES = frozenset({risk.MAX_ORDER_QUANTITY, risk.MAX_ORDER_VALUE, risk.MAX_POSITION_VALUE,
                        risk.MAX_GROSS_EXPOSURE, risk.MAX_ORDERS_PER_MINUTE, risk.PRICE_BAND,
                        risk.DAILY_LOSS_LIMIT, risk.KILL_SWITCH})
_ORDER_OUTCOMES = {"filled": "order_filled", "rejected": "order_rejected"}
_KEEP_ORDERS = 5_000  # latest rows remembered, for the fill's symbol, side and price


def _text(x: Any) -> str:
    return "?" if x is None or x == "" else f"{x:g}" if isinstance(x, float) else str(x)


def message(kind: str, data: Mapping[str, Any]) -> str:
    """The event as one line, as the workflow's "format message" node writes it."""
    d = {k: _text(v) for k, v in data.items()}
    g = d.get
    lines: dict[str, Callable[[], str]] = {
        "signal": lambda: f"Signal {g('side')} {g('symbol')} from {g('strategy')} "
                          f"({g('bar_size')}): {g('reason')}",
        "decision": lambda: f"Decision {g('state')}: {g('side')} {g('quantity')} {g('symbol')}"
                            f" at {g('entry_price')}, stop {g('stop')}, target {g('target')} "
                            f"({g('strategy')})",
        "risk_limit": lambda: f"Risk limit {g('refusal_code')} on {g('symbol')}: {g('reason')}",
        "order_filled": lambda: f"Filled {g('side')} {g('filled')} {g('symbol')} at "
                                f"{g('avg_price')}",
        "order_rejected": lambda: f"Rejected {g('side')} {g('quantity')} {g('symbol')}: "
                                  f"{g('last_error')}",
        "kill_switch": lambda: f"Kill switch {'ENGAGED' if data.get('engaged') else 'released'}"
                               f": {g('reason')}",
        "connection_lost": lambda: f"Connection to the broker lost: {g('reason')}",
        "connection_restored": lambda: f"Connection to the broker restored: {g('reason')}",
        "daily_summary": lambda: f"Day {g('session_date')}: equity {g('equity')}, realized "
                                 f"{g('realized_pnl')}, unrealized {g('unrealized_pnl')}, "
                                 f"{g('trades')} trades, win rate {g('win_rate')}, drawdown "
                                 f"{g('max_drawdown')}",
    }
    line = lines.get(kind)
    return f"ibtrader: {line() if line else f'{kind}: {dict(data)}'}"


def _pick(values: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {n: values.get(n) for n in names}


class NotificationMirror:
    """Journal writes -> notification events (a `JournalMirror`: cheap, no I/O). With
    `sink=None` it only logs: the embedded default."""

    def __init__(self, sink: str | None = SINK, clock: Callable[[], float] = time.time) -> None:
        self.sink = None if sink is None else check_sink(sink)
        self.clock = clock
        self._orders: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def __repr__(self) -> str:
        return f"NotificationMirror({self.sink!r})"

    def records(self, table: str, our_id: str,
                values: Mapping[str, Any]) -> Iterable[MirrorRecord]:
        event = self._event(table, our_id, values)
        if event is None:
            return ()
        event_id, kind, data = event
        log.info("%s", message(kind, data))
        if self.sink is None:
            return ()
        return ((self.sink, event_id, kind, {"time": self.clock(), "data": data}),)

    def _event(self, table: str, our_id: str,
               values: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        if table == "signals":
            return f"signal:{our_id}", "signal", {"signal_id": our_id, **_pick(
                values, "symbol", "side", "strategy", "bar_size", "strength", "reason",
                "stop", "target", "bar_time")}
        if table == "decisions":
            return self._decision(our_id, values)
        if table == "orders":
            self._orders[our_id] = dict(values)
            self._orders.move_to_end(our_id)
            while len(self._orders) > _KEEP_ORDERS:
                self._orders.popitem(last=False)
            return None
        if table == "order_events":
            return self._order_outcome(values)
        if table == "daily_performance":
            return f"daily_summary:{our_id}", "daily_summary", _pick(
                values, "session_date", "account", "equity", "realized_pnl",
                "unrealized_pnl", "trades", "win_rate", "max_drawdown")
        return None

    @staticmethod
    def _decision(our_id: str, values: Mapping[str, Any]
                  ) -> tuple[str, str, dict[str, Any]] | None:
        state, code = values.get("state"), values.get("refusal_code") or ""
        data = {"decision_id": our_id, **_pick(
            values, "symbol", "strategy", "state", "side", "action", "quantity", "entry_price",
            "stop", "target", "risk_amount", "reason", "refusal_code")}
        if state == "refused":  # final: written once in this state
            return (f"risk_limit:{our_id}", "risk_limit", data) if code not in _NOT_RISK \
                else None
        # a new decision: pending ones are always new; an accepted one is new when it was
        # made so (auto-trade), not when a trader accepted a pending one later
        new = state == "pending" or (state == "accepted" and
                                     values.get("updated") == values.get("created"))
        return (f"decision:{our_id}", "decision", data) if new else None

    def _order_outcome(self, values: Mapping[str, Any]
                       ) -> tuple[str, str, dict[str, Any]] | None:
        before, after = values.get("state_before"), values.get("state_after")
        kind = _ORDER_OUTCOMES.get(str(after))
        if kind is None or before == after:
            return None
        key = str(values.get("client_key"))
        row = self._orders.get(key, {})  # the orders row comes first in save_order
        data = {"client_key": key, "state": after, **_pick(
            row, "symbol", "side", "quantity", "filled", "avg_price", "order_type",
            "decision_id", "last_error")}
        return f"{kind}:{key}", kind, data  # once per order: a final state is reached once


class _Journal(Protocol):
    def enqueue(self, sink: str, record_id: str, kind: str, payload: Mapping[str, Any],
                now: float | None = None) -> None: ...
    def atomic(self) -> Any: ...


class ConnectionNotifier:
    """The events that are no journal row, queued in the journal's outbox (or only logged
    with `sink=None`). Call the handlers on the engine's loop (where the events fire)."""

    def __init__(self, journal: _Journal, sink: str | None = SINK,
                 clock: Callable[[], float] = time.time) -> None:
        self.journal = journal
        self.sink = None if sink is None else check_sink(sink)
        self.clock = clock
        self._lost = False

    def attach(self, *, state_changed: Event[[ConnectionState, str]] | None = None,
               auto_trade_disabled: Event[[str]] | None = None,
               risk_event: Event[[str]] | None = None,
               refused: Event[[Any, list]] | None = None) -> ConnectionNotifier:
        """Subscribe to the broker's connection and the order manager's events."""
        if state_changed is not None:
            state_changed += self.on_connection
        if auto_trade_disabled is not None:
            auto_trade_disabled += self.on_kill_switch
        if risk_event is not None:
            risk_event += self.on_risk_event
        if refused is not None:
            refused += self.on_refused
        return self

    def on_connection(self, state: ConnectionState, reason: str) -> None:
        if state in (ConnectionState.LOST, ConnectionState.RECONNECTING) and not self._lost:
            self._lost = True
            self.emit("connection_lost", {"state": state.value, "reason": reason})
        elif state is ConnectionState.CONNECTED and self._lost:
            self._lost = False
            self.emit("connection_restored", {"state": state.value, "reason": reason})

    def on_kill_switch(self, reason: str) -> None:
        self.emit("kill_switch", {"engaged": True, "reason": reason})

    def on_risk_event(self, text: str) -> None:
        if text.startswith("kill switch released"):
            self.emit("kill_switch", {"engaged": False, "reason": text})

    def on_refused(self, request: Any, problems: list) -> None:
        """An order refused before it was sent; a risk rule among the reasons notifies
        (once per order: its client key makes the id)."""
        hit = [(code, text) for code, text in problems if code in RISK_RULES]
        if hit:
            self.emit("risk_limit", {
                "client_key": request.client_key, "symbol": request.symbol,
                "side": request.side, "quantity": request.quantity,
                "refusal_code": hit[0][0], "reason": "; ".join(t for _, t in hit)},
                event_id=f"risk_limit:{request.client_key}")

    def emit(self, kind: str, data: dict[str, Any], event_id: str | None = None) -> str:
        """Log the event and queue it (committed before this returns); its id."""
        now = self.clock()
        event_id = event_id or f"{kind}:{now:.3f}:{uuid.uuid4().hex[:8]}"
        urgent = kind in ("kill_switch", "connection_lost")
        log.log(logging.WARNING if urgent else logging.INFO, "%s", message(kind, data))
        if self.sink is not None:
            try:
                with self.journal.atomic():
                    self.journal.enqueue(self.sink, event_id, kind,
                                         {"time": now, "data": data}, now)
            except Exception:  # a closed journal at shutdown: never break the event's
                log.exception("notification %s not queued", event_id)  # other handlers
        return event_id
