"""The outbox table (schema version 3) in the journal's file: queue, claim, mark, count.

Two sides, two connections:
- the writer side is `enqueue(db, ...)`, called through `SqliteJournal.enqueue` on the
  journal's own connection, so a record joins the transaction that writes the local row
  (`with journal.atomic(): journal.record_decision(d); journal.enqueue(...)`): both are
  committed or neither. It is one small INSERT, cheap enough for the engine's loop.
- the delivery side is `SqliteOutbox`, with a connection of its own (WAL lets it read and
  write while the engine writes). Its transactions are short and never span a delivery:
  a record is claimed (committed), sent with no lock held, then marked in a new transaction.

A claim is a lease: the record's `next_attempt` moves `lease` seconds ahead and `claimed`
is set. A worker killed mid-send leaves claimed rows behind; `release_claims()` at the
next start makes them due at once (one delivery worker per journal file).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ibtrader.core.outbox import OutboxRecord, SinkStats, check_sink, encode_payload

_COLUMNS = ("sink, record_id, kind, payload_json, created, updated, rev, state, attempts, "
            "next_attempt, claimed, last_error, delivered")
MAX_ERROR_CHARS = 500


def enqueue(db: sqlite3.Connection, sink: str, record_id: str, kind: str,
            payload: Mapping[str, Any], now: float) -> None:
    """Queue (or re-queue with a newer payload) one record, in the caller's transaction
    if one is open. A record queued again before it went out is sent once, newest payload;
    one queued again after it went out is sent again (the sink updates by id)."""
    text = encode_payload(sink, record_id, kind, payload)
    db.execute(
        f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 'pending', 0, ?, 0, '',"
        " NULL) ON CONFLICT (sink, record_id) DO UPDATE SET kind=excluded.kind,"
        " payload_json=excluded.payload_json, updated=excluded.updated, rev=rev + 1,"
        " created=CASE WHEN state='pending' THEN created ELSE excluded.created END,"
        " state='pending', attempts=0, next_attempt=excluded.next_attempt, last_error='',"
        " delivered=NULL",
        (sink, record_id, kind, text, now, now, now))


class SqliteOutbox:
    """The delivery side of the outbox; safe to share between threads (one lock, short
    statements), e.g. the worker's lanes and the web server's health endpoint."""

    def __init__(self, path: Path | str, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the journal's checkpointer does it
        try:
            self._db.execute("SELECT 1 FROM outbox LIMIT 0")
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise RuntimeError(f"{self.path} has no outbox table: open it as a journal first "
                               f"(schema version 3)") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- delivery ----------------------------------------------------------------------------

    def release_claims(self) -> int:
        """Make records claimed by a worker that died due now; returns how many."""
        now = self.clock()
        with self._lock:
            cur = self._db.execute("UPDATE outbox SET claimed=0, next_attempt=? "
                                   "WHERE state='pending' AND claimed=1", (now,))
            return cur.rowcount

    def retry_now(self) -> int:
        """Make every waiting record due now (at start: a service that was down in the last
        run may be back, so nothing waits out a backoff from before); returns how many."""
        now = self.clock()
        with self._lock:
            cur = self._db.execute("UPDATE outbox SET claimed=0, next_attempt=? "
                                   "WHERE state='pending' AND next_attempt>?", (now, now))
            return cur.rowcount

    def claim(self, sink: str, limit: int = 20, lease: float = 60.0) -> list[OutboxRecord]:
        """Up to `limit` due records of `sink`, oldest due first, leased for `lease` s."""
        now = self.clock()
        with self._lock, _immediate(self._db) as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE sink=? AND state='pending' "
                "AND next_attempt<=? ORDER BY next_attempt, created LIMIT ?",
                (check_sink(sink), now, limit)).fetchall()
            db.executemany("UPDATE outbox SET claimed=1, next_attempt=? "
                           "WHERE sink=? AND record_id=?",
                           [(now + lease, r[0], r[1]) for r in rows])
        return [_record(r) for r in rows]

    def mark_delivered(self, record: OutboxRecord) -> bool:
        """True when marked; False when the record was queued again meanwhile (a newer
        payload): it stays pending and goes out next."""
        now = self.clock()
        with self._lock, _immediate(self._db) as db:
            cur = db.execute("UPDATE outbox SET state='delivered', delivered=?, claimed=0, "
                             "last_error='' WHERE sink=? AND record_id=? AND rev=?",
                             (now, record.sink, record.record_id, record.rev))
            if cur.rowcount:
                return True
            db.execute("UPDATE outbox SET claimed=0, next_attempt=? WHERE sink=? AND "
                       "record_id=? AND state='pending'", (now, record.sink, record.record_id))
            return False

    def reschedule(self, record: OutboxRecord, error: str, delay: float) -> None:
        """A failed delivery: one more attempt counted, the next one `delay` s from now."""
        now = self.clock()
        with self._lock, _immediate(self._db) as db:
            db.execute("UPDATE outbox SET attempts=attempts + 1, next_attempt=?, claimed=0, "
                       "last_error=? WHERE sink=? AND record_id=? AND state='pending'",
                       (now + delay, error[:MAX_ERROR_CHARS], record.sink, record.record_id))

    def postpone(self, record: OutboxRecord, delay: float) -> None:
        """Give a claimed record back untried (its sink just failed on another record):
        due again in `delay` s, no attempt counted."""
        now = self.clock()
        with self._lock, _immediate(self._db) as db:
            db.execute("UPDATE outbox SET next_attempt=?, claimed=0 WHERE sink=? AND "
                       "record_id=? AND state='pending'",
                       (now + delay, record.sink, record.record_id))

    def mark_failed(self, record: OutboxRecord, error: str) -> None:
        """A record no retry can deliver: kept, counted in `stats`, never sent again
        (unless it is queued again)."""
        with self._lock, _immediate(self._db) as db:
            db.execute("UPDATE outbox SET state='failed', claimed=0, attempts=attempts + 1, "
                       "last_error=? WHERE sink=? AND record_id=? AND rev=?",
                       (error[:MAX_ERROR_CHARS], record.sink, record.record_id, record.rev))

    def next_due(self, sinks: Iterable[str]) -> float | None:
        """When the earliest waiting record of these sinks is due (None: nothing waits)."""
        names = [check_sink(s) for s in sinks]
        with self._lock:
            row = self._db.execute(
                f"SELECT MIN(next_attempt) FROM outbox WHERE state='pending' AND sink IN "
                f"({', '.join('?' * len(names))})", names).fetchone()
        return row[0]

    def purge_delivered(self, older_than: float) -> int:
        """Forget records delivered before `older_than` (epoch seconds); returns how many."""
        with self._lock:
            return self._db.execute("DELETE FROM outbox WHERE state='delivered' AND "
                                    "delivered<?", (older_than,)).rowcount

    # --- what the app shows ------------------------------------------------------------------

    def stats(self) -> dict[str, SinkStats]:
        """Per sink: records waiting, when the oldest was queued, records failed. Two
        index-only scans of the pending and failed rows, however many were delivered."""
        with self._lock:
            waiting = self._db.execute("SELECT sink, COUNT(*), MIN(created) FROM outbox "
                                       "WHERE state='pending' GROUP BY sink").fetchall()
            failed = dict(self._db.execute("SELECT sink, COUNT(*) FROM outbox "
                                           "WHERE state='failed' GROUP BY sink").fetchall())
        stats = {s: SinkStats(s, n, oldest, failed.get(s, 0)) for s, n, oldest in waiting}
        for sink, n in failed.items():
            stats.setdefault(sink, SinkStats(sink, 0, None, n))
        return stats

    def depth(self) -> tuple[int, float | None]:
        """(records waiting in all sinks, age in seconds of the oldest): the health
        endpoint's and the metrics' view."""
        stats = self.stats().values()
        depth = sum(s.depth for s in stats)
        oldest = [s.oldest_created for s in stats if s.oldest_created is not None]
        return depth, (max(0.0, self.clock() - min(oldest)) if oldest else None)

    def records(self, sink: str, state: str | None = None) -> list[OutboxRecord]:
        """Every record of a sink (optionally in one state), oldest first: for checks."""
        where, args = "WHERE sink=?", [check_sink(sink)]
        if state is not None:
            where, args = where + " AND state=?", [*args, state]
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM outbox {where} "
                                    "ORDER BY created, record_id", args).fetchall()
        return [_record(r) for r in rows]


class _immediate:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front, so a claim's read and
    update are one step (no other writer in between)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _record(row: tuple[Any, ...]) -> OutboxRecord:
    (sink, record_id, kind, payload, created, _updated, rev, _state, attempts, next_attempt,
     _claimed, last_error, delivered) = row
    return OutboxRecord(sink, record_id, kind, json.loads(payload), created, attempts,
                        next_attempt, last_error, delivered, rev)
