"""SQLite persistence for the simulator: account, open and completed orders, executions,
order ids, perm ids and execution ids.

One file in WAL mode (None keeps it in memory), each write its own small transaction, so
a crash loses at most the write in flight. Records are JSON text next to the columns that
are looked up, so adding a field to an order or an execution needs no migration. The
store is used from one thread at a time (the gateway's loop).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path

from ibtrader.sim.account import PaperAccount, Position
from ibtrader.sim.matching_types import Execution, SimOrder, format_exec_id

SCHEMA_VERSION = 1
FIRST_PERM_ID = 1_000_000  # IB's perm ids are large; any start will do, it only has to rise

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    account_id TEXT NOT NULL, con_id INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (account_id, con_id));
CREATE TABLE IF NOT EXISTS open_orders (
    client_id INTEGER NOT NULL, order_id INTEGER NOT NULL, data TEXT NOT NULL,
    wire_json TEXT NOT NULL, PRIMARY KEY (client_id, order_id));
CREATE TABLE IF NOT EXISTS completed_orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id INTEGER NOT NULL,
    order_id INTEGER NOT NULL, perm_id INTEGER NOT NULL, status TEXT NOT NULL,
    completed_time TEXT NOT NULL, data TEXT NOT NULL, wire_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    exec_id TEXT PRIMARY KEY, time REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_by_time ON executions (time);
CREATE TABLE IF NOT EXISTS order_ids (client_id INTEGER PRIMARY KEY, high INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used_order_ids (
    client_id INTEGER NOT NULL, order_id INTEGER NOT NULL, PRIMARY KEY (client_id, order_id));
"""

ACCOUNT_FIELDS = ("cash", "currency", "buying_power_rate", "day_started")


class SchemaMismatch(RuntimeError):
    """The file was written by a newer version of the simulator."""


class SimStore:
    def __init__(self, path: Path | str | None = None) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # the gateway opens the store on one thread and uses it on its loop's thread
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                   check_same_thread=False, isolation_level=None)
        if self.path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)  # idempotent; executescript manages its own commit
        with self._tx():
            self._check_schema()
            # each open is a new run: execution ids carry it, so they never repeat
            self.run = self._bump("run")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _check_schema(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise SchemaMismatch(f"{self.path} has schema {row[0]}, this code knows "
                                 f"{SCHEMA_VERSION}")

    def _bump(self, key: str, start: int = 0) -> int:
        """Add one to a counter (inside the caller's transaction) and return it."""
        self._db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                         "SET value = value + 1", (key, start + 1))
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,))
                   .fetchone()[0])

    def schema_version(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'")
                   .fetchone()[0])

    # ----- ids ---------------------------------------------------------------------------
    def bump_order_id(self, client_id: int, order_id: int) -> None:
        """Remember the highest order id a client has used."""
        with self._tx() as db:
            db.execute("INSERT INTO order_ids VALUES (?, ?) ON CONFLICT(client_id) DO UPDATE "
                       "SET high = max(high, excluded.high)", (client_id, order_id))

    def next_order_id(self, client_id: int) -> int:
        """The nextValidId for a client: above every id it has used, and at least 1."""
        row = self._db.execute("SELECT high FROM order_ids WHERE client_id = ?",
                               (client_id,)).fetchone()
        return max(1, (row[0] if row else 0) + 1)

    def was_used(self, client_id: int, order_id: int) -> bool:
        """Has an order with this id been placed (open, held or completed)?"""
        return self._db.execute("SELECT 1 FROM used_order_ids WHERE client_id = ? AND "
                                "order_id = ?", (client_id, order_id)).fetchone() is not None

    def next_perm_id(self) -> int:
        with self._tx():
            return self._bump("perm_id", FIRST_PERM_ID)

    def next_exec_id(self) -> str:
        with self._tx():
            return format_exec_id(self.run, self._bump("exec_id"))

    # ----- account -----------------------------------------------------------------------
    def save_account(self, account: PaperAccount) -> None:
        data = json.dumps({name: getattr(account, name) for name in ACCOUNT_FIELDS})
        with self._tx() as db:
            db.execute("INSERT INTO accounts VALUES (?, ?) ON CONFLICT(account_id) DO UPDATE "
                       "SET data = excluded.data", (account.account_id, data))
            db.execute("DELETE FROM positions WHERE account_id = ?", (account.account_id,))
            db.executemany("INSERT INTO positions VALUES (?, ?, ?)", [
                (account.account_id, p.con_id, json.dumps(asdict(p)))
                for p in account.positions.values()
            ])

    def load_account(self, account_id: str) -> PaperAccount | None:
        row = self._db.execute("SELECT data FROM accounts WHERE account_id = ?",
                               (account_id,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        account = PaperAccount(account_id, cash=data["cash"], currency=data["currency"],
                               buying_power_rate=data["buying_power_rate"])
        account.day_started = data["day_started"]
        known = {f.name for f in fields(Position)}
        for (text,) in self._db.execute("SELECT data FROM positions WHERE account_id = ? "
                                        "ORDER BY con_id", (account_id,)):
            record = {k: v for k, v in json.loads(text).items() if k in known}
            position = Position(**record)
            account.positions[position.con_id] = position
        return account

    # ----- orders ------------------------------------------------------------------------
    def save_order(self, order: SimOrder, wire_json: str) -> None:
        """Insert or update a working (or held) order with its wire payload."""
        with self._tx() as db:
            db.execute("INSERT INTO open_orders VALUES (?, ?, ?, ?) "
                       "ON CONFLICT(client_id, order_id) DO UPDATE "
                       "SET data = excluded.data, wire_json = excluded.wire_json",
                       (order.client_id, order.order_id, _order_json(order), wire_json))
            self._mark_used(order)

    def remove_order(self, order: SimOrder) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM open_orders WHERE client_id = ? AND order_id = ?",
                       (order.client_id, order.order_id))

    def load_open_orders(self) -> list[tuple[SimOrder, str]]:
        """Working and held orders with their wire payloads, in the order they arrived."""
        rows = self._db.execute("SELECT data, wire_json FROM open_orders ORDER BY rowid")
        return [(SimOrder.from_record(json.loads(data)), wire) for data, wire in rows]

    def add_completed(self, order: SimOrder, wire_json: str, completed_time: str) -> None:
        """Archive an order that reached a final status; `completed_time` is IB's text."""
        with self._tx() as db:
            db.execute("INSERT INTO completed_orders (client_id, order_id, perm_id, status, "
                       "completed_time, data, wire_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (order.client_id, order.order_id, order.perm_id, order.status,
                        completed_time, _order_json(order), wire_json))
            self._mark_used(order)

    def completed_orders(self) -> list[tuple[SimOrder, str, str]]:
        """(order, wire json, completed time) of every completed order, oldest first."""
        rows = self._db.execute("SELECT data, wire_json, completed_time FROM completed_orders "
                                "ORDER BY seq")
        return [(SimOrder.from_record(json.loads(data)), wire, when)
                for data, wire, when in rows]

    def _mark_used(self, order: SimOrder) -> None:
        self._db.execute("INSERT OR IGNORE INTO used_order_ids VALUES (?, ?)",
                         (order.client_id, order.order_id))

    # ----- executions --------------------------------------------------------------------
    def add_execution(self, execution: Execution) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO executions VALUES (?, ?, ?)",
                       (execution.exec_id, execution.time,
                        json.dumps(execution.to_record())))

    def executions(self, since: float | None = None) -> list[Execution]:
        """Executions at or after `since` (all if None), oldest first."""
        if since is None:
            rows = self._db.execute("SELECT data FROM executions ORDER BY time, rowid")
        else:
            rows = self._db.execute("SELECT data FROM executions WHERE time >= ? "
                                    "ORDER BY time, rowid", (since,))
        return [Execution.from_record(json.loads(data)) for (data,) in rows]


def _order_json(order: SimOrder) -> str:
    return json.dumps(order.to_record())
