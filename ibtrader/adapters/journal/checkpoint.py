"""`WalCheckpointer`: moves the WAL back into the database file on a thread of its own.

In WAL mode with synchronous=NORMAL a commit only appends to the WAL (no fsync); the
fsyncs happen when the WAL is checkpointed into the main file. SQLite's automatic
checkpoint runs inside whichever commit crosses 1,000 pages, on the committing thread:
for the journal that is the engine's loop, which then stalls for milliseconds (measured:
p99 3 ms, max 40 ms per commit). So the journal's own connection turns the automatic
checkpoint off, and this thread checkpoints instead, through its own connection, in
PASSIVE mode: it copies what no reader needs and never makes a writer wait.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds between checkpoints while the journal is open


class WalCheckpointer:
    def __init__(self, path: Path, every: float | None = None) -> None:
        self.path = path
        self.every = CHECK_EVERY if every is None else every
        self.checkpoints = 0  # completed, for tests and diagnostics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint {path.name}",
                                        daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after a last checkpoint, so the WAL is small when the app ends."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error:
            log.exception("journal checkpoints are off: cannot open %s", self.path)
            return
        try:
            db.execute("PRAGMA busy_timeout=2000")
            while not self._stop.wait(self.every):
                self._checkpoint(db)
            self._checkpoint(db)
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.checkpoints += 1
        except sqlite3.Error as exc:  # busy or closing: the next round tries again
            log.debug("journal checkpoint skipped: %s", exc)
