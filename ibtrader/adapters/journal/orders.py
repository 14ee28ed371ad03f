"""SqliteOrderJournal: orders, their events, executions and refusals in the journal file.

The order manager's write-ahead log. `save_order` writes an order's row and appends its
events in one transaction: when it returns, both are committed (WAL), so an order is in
the journal before it is sent and a crash never leaves a row without its history or the
other way round. Executions are keyed by the broker's exec id: the same execution
reported again (reconnect, restart, the commission report) updates its row, never adds one.

It extends `SqliteJournal` so that signals, decisions and orders share one connection
(and one writer): two connections on one file would make the engine's writes wait on
each other's locks, on the loop.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ibtrader.core.broker import BrokerFill
from ibtrader.core.orders.lifecycle import Order, OrderEvent, OrderState
from ibtrader.core.orders.pricing import parse_chase, parse_policy
from ibtrader.core.orders.request import OrderRequest

from .performance import PerformanceJournalMixin
from .rows import row_values
from .sqlite import JournalError, SqliteJournal, _dicts, to_json

_REQUEST_FIELDS = ("symbol", "side", "quantity", "client_key", "order_type", "limit", "stop",
                   "trail_amount", "trail_percent", "tif", "outside_rth", "take_profit",
                   "stop_loss", "decision_id", "source", "created")


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    """A request refused before anything was sent, and why."""

    time: float
    client_key: str
    symbol: str
    request: dict[str, Any]
    problems: list[tuple[str, str]]  # (code, message)


def request_to_json(request: OrderRequest) -> str:
    data: dict[str, Any] = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    data["price_policy"] = str(request.price_policy) if request.price_policy else None
    data["chase"] = str(request.chase) if request.chase else None
    return to_json(data)


def request_from_json(text: str) -> OrderRequest:
    data = json.loads(text)
    policy, chase = data.pop("price_policy", None), data.pop("chase", None)
    return OrderRequest(**data, price_policy=parse_policy(policy) if policy else None,
                        chase=parse_chase(chase) if chase else None)


class SqliteOrderJournal(PerformanceJournalMixin, SqliteJournal):
    """The journal with the order side (schema version 2) and daily performance (4)."""

    # --- writes ------------------------------------------------------------------------------

    def save_order(self, order: Order, events: Sequence[OrderEvent] = ()) -> None:
        """Insert or update the order's row and append its events, in one transaction."""
        o = order
        avg = o.avg_price
        row = (o.client_key, o.created, o.updated, o.request.symbol, o.request.side,
               o.quantity, o.request.order_type, o.state.value, request_to_json(o.request),
               o.broker_id, o.perm_id, o.filled, avg if math.isfinite(avg) else None,
               o.commission, o.parent_key, o.request.decision_id, o.request.source,
               int(o.adopted), o.last_error)
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT INTO orders VALUES ({', '.join('?' * len(row))})"
                " ON CONFLICT (client_key) DO UPDATE SET updated=excluded.updated,"
                " quantity=excluded.quantity, state=excluded.state,"
                " request_json=excluded.request_json, broker_id=excluded.broker_id,"
                " perm_id=excluded.perm_id, filled=excluded.filled,"
                " avg_price=excluded.avg_price, commission=excluded.commission,"
                " last_error=excluded.last_error RETURNING *", row)
            self._returned("orders", cursor)
            for e in events:
                cursor = db.execute(
                    "INSERT INTO order_events (client_key, time, kind, state_before,"
                    " state_after, detail_json) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
                    (e.client_key, e.time, e.kind, e.state_before.value,
                     e.state_after.value, to_json(dict(e.detail))))
                self._returned("order_events", cursor)

    def record_execution(self, fill: BrokerFill, client_key: str) -> None:
        """An execution, once per exec id; a repeat brings only its commission."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (exec_id) DO UPDATE SET"
                " commission=COALESCE(excluded.commission, commission),"
                " realized_pnl=COALESCE(excluded.realized_pnl, realized_pnl),"
                " client_key=CASE WHEN client_key='' THEN excluded.client_key"
                " ELSE client_key END RETURNING *",
                (fill.exec_id, client_key, fill.broker_id, fill.perm_id, fill.symbol,
                 fill.side, fill.quantity, fill.price, fill.time, _finite(fill.commission),
                 _finite(fill.realized_pnl)))
            self._returned("executions", cursor)

    def _returned(self, table: str, cursor: sqlite3.Cursor) -> None:
        """Finish an INSERT ... RETURNING * and mirror the row it handed back, as it is
        now (an upsert's result, not what was asked)."""
        rows = _dicts(cursor)
        if self.mirrors:
            for row in rows:
                self._mirror(table, *row_values(table, row))

    def record_refusal(self, request: OrderRequest, problems: Iterable[tuple[str, str]],
                       now: float) -> None:
        listed = [[code, message] for code, message in problems]
        self._db.execute(
            "INSERT INTO order_refusals (time, client_key, symbol, request_json, problems_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (now, request.client_key, request.symbol, request_to_json(request),
             json.dumps(listed)))

    # --- reads -------------------------------------------------------------------------------

    def load_orders(self, open_only: bool = False) -> list[Order]:
        """Every order (or those not final), oldest first, with their executions."""
        where = "" if not open_only else (
            "WHERE state NOT IN ('filled', 'cancelled', 'rejected')")
        rows = _dicts(self._db.execute(f"SELECT * FROM orders {where} ORDER BY created, rowid"))
        fills: dict[str, list[BrokerFill]] = {}
        for fill, key in self._executions("WHERE client_key != '' ORDER BY time, rowid", ()):
            fills.setdefault(key, []).append(fill)
        return [_order(row, fills.get(row["client_key"], [])) for row in rows]

    def order(self, client_key: str) -> Order | None:
        rows = _dicts(self._db.execute("SELECT * FROM orders WHERE client_key=?",
                                       (client_key,)))
        if not rows:
            return None
        fills = [f for f, _ in self._executions("WHERE client_key=? ORDER BY time, rowid",
                                                (client_key,))]
        return _order(rows[0], fills)

    def order_events(self, client_key: str) -> list[OrderEvent]:
        rows = self._db.execute(
            "SELECT client_key, kind, time, state_before, state_after, detail_json"
            " FROM order_events WHERE client_key=? ORDER BY seq", (client_key,))
        return [OrderEvent(k, kind, t, OrderState(b), OrderState(a), json.loads(d))
                for k, kind, t, b, a, d in rows]

    def executions(self, since: float = 0.0) -> list[BrokerFill]:
        """Every execution at or after `since`, oldest first (client keys as refs)."""
        return [f for f, _ in self._executions("WHERE time >= ? ORDER BY time, rowid",
                                               (since,))]

    def last_execution_time(self) -> float:
        """The newest execution's time (0 when none): where the next fetch starts."""
        row = self._db.execute("SELECT MAX(time) FROM executions").fetchone()
        return float(row[0] or 0.0)

    def refusals(self, limit: int = 100) -> list[RefusalRecord]:
        rows = self._db.execute(
            "SELECT time, client_key, symbol, request_json, problems_json FROM order_refusals"
            " ORDER BY seq DESC LIMIT ?", (limit,))
        return [RefusalRecord(t, k, s, json.loads(r), [tuple(p) for p in json.loads(pj)])
                for t, k, s, r, pj in rows]

    def _executions(self, where: str, args: tuple[Any, ...]
                    ) -> list[tuple[BrokerFill, str]]:
        rows = _dicts(self._db.execute(f"SELECT * FROM executions {where}", args))
        return [(BrokerFill(r["exec_id"], r["client_key"], r["broker_id"], r["perm_id"],
                            r["symbol"], r["side"], r["quantity"], r["price"], r["time"],
                            _nan(r["commission"]), _nan(r["realized_pnl"])), r["client_key"])
                for r in rows]


def _order(row: dict[str, Any], fills: list[BrokerFill]) -> Order:
    try:
        request = request_from_json(row["request_json"])
        state = OrderState(row["state"])
    except (ValueError, TypeError, sqlite3.Error) as exc:
        raise JournalError(f"order {row['client_key']}: unreadable row ({exc})") from exc
    avg = row["avg_price"]
    return Order(client_key=row["client_key"], request=request, state=state,
                 created=row["created"], updated=row["updated"], broker_id=row["broker_id"],
                 perm_id=row["perm_id"], reported_filled=row["filled"],
                 reported_avg_price=math.nan if avg is None else avg, fills=tuple(fills),
                 parent_key=row["parent_key"], adopted=bool(row["adopted"]),
                 last_error=row["last_error"])


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
