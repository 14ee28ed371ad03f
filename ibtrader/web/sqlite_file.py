"""One owner-only SQLite file (WAL) shared by a web server's threads: the credential store
and the audit log both keep theirs in `web_auth.sqlite`.

Each thread gets its own connection, kept open (opening one costs more than an API key
check); `detached()` gives one that is not tied to a thread (a writer thread that comes
and goes). `close()` closes them all, from any thread — hence check_same_thread off; in
use, each connection stays with the thread that took it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SqliteFile:
    def __init__(self, path: Path, schema: str, *, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._schema = schema
        self._synchronous = synchronous
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._ready = False

    def connection(self) -> sqlite3.Connection:
        """This thread's connection."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.detached()
        return db

    def detached(self) -> sqlite3.Connection:
        """A new connection, not tied to this thread; `close()` closes it too."""
        with self._lock:
            if not self._ready:
                self._create()
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA busy_timeout = 5000")
            db.execute(f"PRAGMA synchronous = {self._synchronous}")
            self._connections.append(db)
        return db

    def close(self) -> None:
        """Close every connection; only once no thread uses them any more."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for db in connections:
            db.close()

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file owner-only before SQLite opens it: SQLite gives the -wal and -shm
        # files the main file's permissions. An existing file is tightened too.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        if os.name == "posix":
            os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, timeout=5.0)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.executescript(self._schema)
        finally:
            db.close()
        self._ready = True


@contextmanager
def transaction(db: sqlite3.Connection, *, write: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction on `db` (opened with isolation_level=None). Writers take the lock at
    once (IMMEDIATE), so that a read-then-write never fails on a stale WAL snapshot;
    readers never wait for one."""
    db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
