"""The audit log: who did what, when, and how it ended, for every write call.

Recorded: every POST/PUT/PATCH/DELETE (logins and logouts included), sign-ins by ticket, and
refusals of a revoked key on any method. Each entry has the time, the principal (kind and
name, or "anonymous"), the client address, method, path, status, the refusal code if any, and
the request body's field names with their values, except where the name says it holds a
secret (password/key/token/secret: the value becomes "[redacted]"). The API key, the password
and the session cookie are never stored or logged.

Each entry is logged at once, one line on the `ibtrader.audit` logger at INFO, and written to
a table of web_auth.sqlite by a writer thread in batches (readers get a connection per thread,
as CredentialStore does), so a write call never waits for a commit.
"""

from __future__ import annotations

import atexit
import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from ibtrader.web.security import SECRET_WORDS, WRITE_METHODS, Principal, client_address
from ibtrader.web.sqlite_file import SqliteFile, transaction

if TYPE_CHECKING:
    from ibtrader.web.context import WebContext

log = logging.getLogger("ibtrader.audit")

EXTRA = "audit"  # key of the AuditLog in WebContext.extras
REDACTED = "[redacted]"
TICKET_PREFIX = "/login/ticket/"
MAX_VALUE_CHARS = 200
MAX_FIELDS = 50
KEEP_ROWS = 100_000  # the newest entries kept: an unauthenticated flood cannot fill the disk
PRUNE_EVERY = 1_000
ALWAYS_RECORDED = frozenset({"key_revoked", "csrf_failed"})  # refusals worth a line on GETs too

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    time      REAL NOT NULL,
    kind      TEXT NOT NULL,
    name      TEXT NOT NULL,
    client    TEXT NOT NULL,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    status    INTEGER NOT NULL,
    outcome   TEXT,
    fields    TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    time: float  # epoch seconds UTC
    kind: str  # "api_key" | "session" | "anonymous"
    name: str
    client: str
    method: str
    path: str
    status: int
    outcome: str | None  # a refusal code ("csrf_failed", "key_revoked", "wrong_password"...)
    fields: dict[str, Any]  # the body's fields, secrets redacted

    def json(self) -> dict[str, Any]:
        body = asdict(self)
        body["principal"] = {"kind": body.pop("kind"), "name": body.pop("name")}
        return body

    def line(self) -> str:
        who = self.kind if self.kind == "anonymous" else f"{self.kind}:{self.name}"
        outcome = f" ({self.outcome})" if self.outcome else ""
        return (f"{self.method} {self.path} -> {self.status}{outcome} by {who} "
                f"from {self.client} fields={json.dumps(self.fields, sort_keys=True)}")


class AuditLog:
    """Entries are logged at once and written to SQLite by a writer thread, in batches: a write
    call pays microseconds for its entry, never a commit or a WAL checkpoint's fsync. The
    writer stops when idle and starts again with the next entry; `newest` and `flush` wait
    for what was recorded before them."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time,
                 idle_seconds: float = 2.0) -> None:
        self.path = Path(path)
        self._clock = clock
        self._idle = idle_seconds
        self._file = SqliteFile(self.path, _SCHEMA, synchronous="NORMAL")
        self._since_prune = 0
        self._changed = threading.Condition()
        self._pending: list[AuditEntry] = []
        self._queued = self._done = 0
        self._writer: threading.Thread | None = None
        self._writer_db: sqlite3.Connection | None = None
        _LIVE.add(self)

    def record(self, *, principal: Principal | None, client: str, method: str, path: str,
               status: int, outcome: str | None, fields: dict[str, Any]) -> AuditEntry:
        entry = AuditEntry(self._clock(), principal.kind if principal else "anonymous",
                           principal.name if principal else "", client, method, path, status,
                           outcome, fields)
        log.info("%s", entry.line())
        with self._changed:
            self._pending.append(entry)
            self._queued += 1
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="audit-writer",
                                                daemon=True)
                self._writer.start()
            self._changed.notify_all()
        return entry

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every entry recorded so far is in the table (or failed to be)."""
        with self._changed:
            target = self._queued
            return self._changed.wait_for(lambda: self._done >= target, timeout)

    @property
    def writing(self) -> bool:
        """Whether a writer thread runs now (it stops when idle)."""
        with self._changed:
            return self._writer is not None

    def newest(self, limit: int = 100) -> list[AuditEntry]:
        self.flush()
        with transaction(self._file.connection(), write=False) as db:
            rows = db.execute("SELECT time, kind, name, client, method, path, status, outcome, "
                              "fields FROM audit_log ORDER BY id DESC LIMIT ?",
                              (limit,)).fetchall()
        return [AuditEntry(*row[:8], json.loads(row[8])) for row in rows]

    def close(self) -> None:
        """Write what is pending, then close every connection."""
        self.flush()
        self._writer_db = None
        self._file.close()

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._changed:
                if not self._changed.wait_for(lambda: self._pending, self._idle):
                    self._writer = None  # idle: the next record() starts a new writer
                    return
                batch, self._pending = self._pending, []
            try:
                self._write(batch)
            except Exception:
                logging.getLogger(__name__).exception(
                    "could not write %d audit entries to %s (they are in the log)",
                    len(batch), self.path)
            with self._changed:
                self._done += len(batch)
                self._changed.notify_all()

    def _write(self, batch: list[AuditEntry]) -> None:
        if self._writer_db is None:  # outlives the writer thread that opened it
            self._writer_db = self._file.detached()
        with transaction(self._writer_db) as db:
            db.executemany("INSERT INTO audit_log (time, kind, name, client, method, path, "
                           "status, outcome, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           [(e.time, e.kind, e.name, e.client, e.method, e.path, e.status,
                             e.outcome, json.dumps(e.fields)) for e in batch])
            self._since_prune += len(batch)
            if self._since_prune >= PRUNE_EVERY:
                self._since_prune = 0
                db.execute("DELETE FROM audit_log WHERE id <= "
                           "(SELECT MAX(id) FROM audit_log) - ?", (KEEP_ROWS,))

    # --- the file -------------------------------------------------------------------------


_LIVE: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    """At exit, the entries still queued reach the table (the writer is a daemon thread)."""
    for audit in list(_LIVE):
        audit.flush(timeout=2.0)


# --- what a request's body says, without secrets ----------------------------------------------

def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def redact(value: Any, depth: int = 0) -> Any:
    """The value as JSON-able data with every secret-named field's value replaced; long
    strings cut, deep nesting summarised."""
    if isinstance(value, dict):
        if depth >= 3:
            return "{...}"
        items = list(value.items())[:MAX_FIELDS]
        return {str(k): REDACTED if is_secret(str(k)) else redact(v, depth + 1)
                for k, v in items}
    if isinstance(value, list):
        if depth >= 3:
            return "[...]"
        return [redact(v, depth + 1) for v in value[:MAX_FIELDS]]
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_VALUE_CHARS]


def body_fields() -> dict[str, Any]:
    """The request body's fields (JSON object or form), secrets redacted; {} otherwise."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        data: Any = {name: request.form.getlist(name) if len(request.form.getlist(name)) > 1
                     else request.form.get(name) for name in request.form}
    else:
        data = request.get_json(silent=True, cache=True)
    if isinstance(data, dict):
        return redact(data)
    if data is None:
        return {}
    return {"(body)": f"a JSON {type(data).__name__}"}  # the shape, not the content


def audited_path() -> str:
    """The request's path, with a login ticket hidden (it signs in until used)."""
    if request.path.startswith(TICKET_PREFIX):  # matched or not: a POST there gets a 303
        return TICKET_PREFIX + REDACTED
    return request.path


def install(app: Flask, context: WebContext) -> None:
    audit = context.extras.get(EXTRA)
    if audit is None:
        audit = context.extras[EXTRA] = AuditLog(context.credentials.path)

    @app.after_request
    def _audit(response: Response) -> Response:
        outcome = g.get("refusal")
        if (request.method in WRITE_METHODS or outcome in ALWAYS_RECORDED
                or g.get("audit_always", False)):
            try:
                audit.record(principal=g.get("principal"), client=client_address(),
                             method=request.method, path=audited_path(),
                             status=response.status_code, outcome=outcome,
                             fields=body_fields())
            except Exception:
                # The answer already happened (an order may be placed): an audit failure
                # must not turn it into a 500 the client would retry. Loudly logged instead.
                logging.getLogger(__name__).exception(
                    "could not write the audit entry for %s %s", request.method, request.path)
        return response


def audit_log(context: WebContext) -> AuditLog:
    return context.extras[EXTRA]
