"""The journal: the local record of everything the app decided and did (SQLite, WAL)."""

from .orders import SqliteOrderJournal
from .sqlite import JournalError, SqliteJournal

__all__ = ["JournalError", "SqliteJournal", "SqliteOrderJournal"]
