"""SqliteJournal: signals and decisions in a local SQLite file (WAL), the app's truth.

Writes happen on the caller's thread (the engine's loop), synchronously: one small
INSERT or UPDATE per call in its own transaction, measured at tens of microseconds
(see tests/adapters/test_journal.py::test_write_cost), about a tick's worth of work, so
a writer thread would add a hop and a queue for nothing. The synchronous write is also
what write-ahead needs: when `record_decision` returns, the row is committed and
survives the app being killed (WAL with synchronous=NORMAL: durable against a crash of
the process; a power cut may lose the last few commits, never corrupt the file).

One journal object is used from one thread; other threads (the web server) read
through the engine's loop or open their own `SqliteJournal` on the same file, which
WAL lets them do while the engine writes.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ibtrader.core.decisions import Decision, DecisionState, SignalRecord
from ibtrader.core.outbox import JournalMirror
from ibtrader.core.strategy import Signal

from . import outbox
from .checkpoint import WalCheckpointer
from .jsontext import to_json
from .rows import decision_values, signal_values
from .schema import BOOKKEEPING, LATEST, MIGRATIONS


class JournalError(RuntimeError):
    """The journal file cannot be used: unreadable, or written by a newer version."""


class SqliteJournal:
    def __init__(self, path: Path | str, mirrors: Sequence[JournalMirror] = ()) -> None:
        self.path = Path(path)
        # each write's remote copies are queued in the outbox in the write's transaction
        self.mirrors: list[JournalMirror] = list(mirrors)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we write BEGIN/COMMIT ourselves, one per call
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=2000")
            # checkpoints (the fsyncs) run on a thread of their own, never inside a
            # commit on the engine's loop: see checkpoint.py
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.path}: cannot be opened ({exc})") from exc
        self._checkpointer = WalCheckpointer(self.path).start()

    # --- schema ------------------------------------------------------------------------------

    def _migrate(self) -> None:
        db = self._db
        db.execute(BOOKKEEPING)
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        if done and max(done) > LATEST:
            raise JournalError(f"journal {self.path} has schema version {max(done)}, newer "
                               f"than this ibtrader knows ({LATEST}); upgrade ibtrader")
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            try:
                db.execute("BEGIN IMMEDIATE")
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                           (version, name, time.time()))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @property
    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        self._checkpointer.stop()
        self._db.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes ------------------------------------------------------------------------------

    def record_signal(self, record: SignalRecord) -> None:
        s = record.signal
        with self._transaction() as db:
            db.execute(
                "INSERT INTO signals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, record.created, s.time, record.strategy, record.bar_size,
                 s.symbol, s.side, s.strength, s.reason, _num(s.stop), _num(s.target),
                 to_json(s.values)))
            if self.mirrors:
                self._mirror("signals", record.id, signal_values(record))

    def record_decision(self, decision: Decision) -> None:
        """A new decision, and its first state in decision_events, in one transaction."""
        d = decision
        with self._transaction() as db:
            db.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?)",
                (d.id, d.signal_id, d.created, d.updated, d.strategy, d.symbol, d.state.value,
                 d.side, d.action, d.quantity, d.closes, _num(d.entry_price), _num(d.stop),
                 _num(d.target), d.risk_amount, d.reason, d.refusal_code, d.expires,
                 to_json(d.detail)))
            self._event(d)
            if self.mirrors:
                self._mirror("decisions", d.id, decision_values(d))

    def update_decision(self, decision: Decision) -> None:
        """A decision's new state (and reason), appended to its trail."""
        d = decision
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE decisions SET state=?, updated=?, reason=?, refusal_code=?, expires=?"
                " WHERE id=?",
                (d.state.value, d.updated, d.reason, d.refusal_code, d.expires, d.id))
            if cursor.rowcount != 1:
                raise JournalError(f"decision {d.id} is not in the journal")
            self._event(d)
            if self.mirrors:
                self._mirror("decisions", d.id, decision_values(d))

    def enqueue(self, sink: str, record_id: str, kind: str, payload: Mapping[str, Any],
                now: float | None = None) -> None:
        """Queue a record for a remote sink in the outbox (see outbox.py); inside
        `atomic()` it commits with the local row it mirrors, or not at all."""
        outbox.enqueue(self._db, sink, record_id, kind, payload,
                       time.time() if now is None else now)

    def _mirror(self, table: str, our_id: str, values: Mapping[str, Any]) -> None:
        """Queue every mirror's records for one row; the caller holds the transaction."""
        now = time.time()
        for mirror in self.mirrors:
            for sink, record_id, kind, payload in mirror.records(table, our_id, values):
                outbox.enqueue(self._db, sink, record_id, kind, payload, now)

    def _event(self, d: Decision) -> None:
        self._db.execute(
            "INSERT INTO decision_events (decision_id, time, state, reason) VALUES (?, ?, ?, ?)",
            (d.id, d.updated, d.state.value, d.reason))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def atomic(self) -> _Transaction:
        """Group writes into one transaction (one commit: a third of the cost of three):
        `with journal.atomic(): ...`. Writes inside join it; an exception rolls all back."""
        return _Transaction(self._db)

    # --- reads -------------------------------------------------------------------------------

    def signals(self, limit: int = 100, symbol: str | None = None,
                strategy: str | None = None) -> list[SignalRecord]:
        """The newest signals first, optionally of one symbol and/or strategy."""
        where, args = _filters(symbol=symbol, strategy=strategy)
        rows = self._db.execute(f"SELECT * FROM signals {where} ORDER BY created DESC, id DESC "
                                "LIMIT ?", (*args, _limit(limit)))
        return [_signal(row) for row in _dicts(rows)]

    def decisions(self, state: DecisionState | None = None, limit: int = 100,
                  symbol: str | None = None) -> list[Decision]:
        """The newest decisions first, optionally in one state and/or of one symbol."""
        where, args = _filters(state=state.value if state else None, symbol=symbol)
        rows = self._db.execute(f"SELECT * FROM decisions {where} "
                                "ORDER BY created DESC, id DESC LIMIT ?",
                                (*args, _limit(limit)))
        return [_decision(row) for row in _dicts(rows)]

    def decision(self, decision_id: str) -> Decision | None:
        rows = _dicts(self._db.execute("SELECT * FROM decisions WHERE id=?", (decision_id,)))
        return _decision(rows[0]) if rows else None

    def decision_trail(self, decision_id: str) -> list[tuple[float, DecisionState, str]]:
        """(time, state, reason) of every state the decision went through, oldest first."""
        rows = self._db.execute("SELECT time, state, reason FROM decision_events "
                                "WHERE decision_id=? ORDER BY seq", (decision_id,))
        return [(t, DecisionState(s), r) for t, s, r in rows]


class _Transaction:
    """BEGIN ... COMMIT (ROLLBACK on an exception); inside another one, it only joins it."""

    __slots__ = ("_db", "_outer")

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        self._outer = not self._db.in_transaction
        if self._outer:
            self._db.execute("BEGIN")
        return self._db

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self._outer:
            self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (migrations hold no ';' inside literals)."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _filters(**given: Any) -> tuple[str, tuple[Any, ...]]:
    used = {k: v for k, v in given.items() if v is not None}
    if not used:
        return "", ()
    return "WHERE " + " AND ".join(f"{k}=?" for k in used), tuple(used.values())


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a whole number of at least 1, got {limit!r}")
    return limit


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _num(x: float | None) -> float | None:
    """A price for the journal: NULL for absent or nan (SQLite stores nan as NULL anyway)."""
    return None if x is None or not math.isfinite(x) else x


def _signal(row: dict[str, Any]) -> SignalRecord:
    signal = Signal(row["symbol"], row["side"], row["strength"], row["reason"],
                    json.loads(row["values_json"]), row["stop"], row["target"], row["bar_time"])
    return SignalRecord(row["id"], row["strategy"], row["bar_size"], signal, row["created"])


def _decision(row: dict[str, Any]) -> Decision:
    return Decision(
        id=row["id"], signal_id=row["signal_id"], strategy=row["strategy"],
        symbol=row["symbol"], state=DecisionState(row["state"]), created=row["created"],
        updated=row["updated"], side=row["side"], action=row["action"],
        quantity=row["quantity"], closes=row["closes"],
        entry_price=math.nan if row["entry_price"] is None else row["entry_price"],
        stop=row["stop"], target=row["target"], risk_amount=row["risk_amount"],
        reason=row["reason"], refusal_code=row["refusal_code"], expires=row["expires"],
        detail=json.loads(row["detail_json"]))
