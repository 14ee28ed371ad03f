"""The API gateway's credential store: API keys and the dashboard password, hashed in SQLite.

Keys are `ibt_<id>_<secret>`: the 12-hex-digit id is stored in clear to find the record (and to
name a key in `apikey list`/`revoke`), the whole key only as SHA-256. A fast hash is enough
here because the secret carries 256 random bits; the password, chosen by a person, gets
scrypt with a random salt and its cost parameters stored beside the hash.

Each thread gets its own SQLite connection, kept open (WAL: readers never wait), so the web
server's worker threads can share one store and a revocation by `ibtrader apikey revoke` in
another process counts from the next request. The calls do blocking file I/O (and scrypt
costs ~80 ms): code on the asyncio loop must run them in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from ibtrader.web.sqlite_file import SqliteFile, transaction

FILE_NAME = "web_auth.sqlite"
KEY_PREFIX = "ibt_"
ID_HEX_CHARS = 12
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # scrypt of a huge input is a cheap denial of service
# Writing last_used on every request would turn each authenticated GET into a write; a
# minute's precision is all `apikey list` needs.
TOUCH_INTERVAL = 60.0

# scrypt cost: N=2^15, r=8 needs 32 MiB and ~50-100 ms; stored with each hash so it can rise.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**15, 8, 1, 32
SCRYPT_MAXMEM = 64 * 1024 * 1024

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_KEY = re.compile(rf"{KEY_PREFIX}([0-9a-f]{{{ID_HEX_CHARS}}})_([A-Za-z0-9_-]{{32,128}})")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   BLOB NOT NULL,
    created    REAL NOT NULL,
    last_used  REAL,
    revoked    REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_active_name ON api_keys(name) WHERE revoked IS NULL;
CREATE TABLE IF NOT EXISTS dashboard_password (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    hash       TEXT NOT NULL,
    updated    REAL NOT NULL
);
"""


class CredentialError(ValueError):
    """A credential request that cannot be done; the message says why, without secrets."""


class DuplicateKeyName(CredentialError):
    pass


class UnknownKey(CredentialError):
    pass


class PasswordRejected(CredentialError):
    pass


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the store knows about an API key: never the key itself."""

    key_id: str
    name: str
    created: float  # epoch seconds UTC
    last_used: float | None
    revoked: float | None  # when it was revoked; None while active

    @property
    def active(self) -> bool:
        return self.revoked is None


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str = field(repr=False)  # shown to the user once, never in a log line
    record: KeyRecord


def store_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


class CredentialStore:
    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._file = SqliteFile(self.path, _SCHEMA)

    # --- API keys ---------------------------------------------------------------------------

    def create_key(self, name: str) -> NewKey:
        _check_name(name)
        key_id = secrets.token_hex(ID_HEX_CHARS // 2)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = KeyRecord(key_id, name, self._clock(), None, None)
        try:
            with self._db() as db:
                db.execute("INSERT INTO api_keys (key_id, name, key_hash, created) "
                           "VALUES (?, ?, ?, ?)", (key_id, name, _key_hash(key), record.created))
        except sqlite3.IntegrityError as exc:
            if "name" not in str(exc):
                raise  # an id collision (2^-48): not the user's fault, not worth hiding
            raise DuplicateKeyName(f"an active API key named {name!r} already exists; "
                                   f"revoke it first or choose another name") from None
        return NewKey(key, record)

    def list_keys(self) -> list[KeyRecord]:
        with self._db(write=False) as db:
            rows = db.execute("SELECT key_id, name, created, last_used, revoked FROM api_keys "
                              "ORDER BY created, rowid").fetchall()
        return [KeyRecord(*row) for row in rows]

    def revoke(self, name_or_id: str) -> tuple[KeyRecord, bool]:
        """Revoke the active key with this name, or the key with this id: its record, and
        whether this call revoked it (a key already revoked stays as it was)."""
        with self._db() as db:
            row = db.execute("SELECT key_id, name, created, last_used, revoked FROM api_keys "
                             "WHERE key_id = ? OR (name = ? AND revoked IS NULL) "
                             "ORDER BY key_id = ? DESC",  # an id wins over a like name
                             (name_or_id, name_or_id, name_or_id)).fetchone()
            if row is None:
                raise UnknownKey(f"no active API key has the name or id {name_or_id!r} "
                                 f"(see `ibtrader apikey list`)")
            record = KeyRecord(*row)
            if record.revoked is not None:
                return record, False
            now = self._clock()
            db.execute("UPDATE api_keys SET revoked = ? WHERE key_id = ?", (now, record.key_id))
        return KeyRecord(record.key_id, record.name, record.created, record.last_used, now), True

    def find_key(self, presented: str) -> KeyRecord | None:
        """The record of a presented key whose hash matches, revoked or not (so that the API
        can tell 401 "unknown key" from 403 "revoked key"); None otherwise. Updates last_used
        of a matching active key."""
        match = _KEY.fullmatch(presented.strip()) if isinstance(presented, str) else None
        if match is None:
            return None
        key_id = match.group(1)
        with self._db(write=False) as db:
            row = db.execute("SELECT key_hash, name, created, last_used, revoked FROM api_keys "
                             "WHERE key_id = ?", (key_id,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _key_hash(presented.strip())):
            return None
        _, name, created, last_used, revoked = row
        now = self._clock()
        if revoked is None and (last_used is None or now - last_used >= TOUCH_INTERVAL):
            with self._db() as db:
                db.execute("UPDATE api_keys SET last_used = ? WHERE key_id = ?", (now, key_id))
            last_used = now
        return KeyRecord(key_id, name, created, last_used, revoked)

    def verify_api_key(self, presented: str) -> KeyRecord | None:
        """The record of a presented key that is valid and active; None otherwise."""
        record = self.find_key(presented)
        return record if record is not None and record.active else None

    # --- dashboard password -------------------------------------------------------------------

    def set_password(self, password: str) -> None:
        _check_password(password)
        with self._db() as db:
            db.execute("INSERT INTO dashboard_password (only_row, hash, updated) VALUES (1, ?, ?) "
                       "ON CONFLICT(only_row) DO UPDATE SET hash = excluded.hash, "
                       "updated = excluded.updated", (hash_password(password), self._clock()))

    def has_password(self) -> bool:
        with self._db(write=False) as db:
            return db.execute("SELECT 1 FROM dashboard_password").fetchone() is not None

    def password_changed(self) -> float | None:
        """When the dashboard password was last set (None: never); sessions signed in before
        it are over."""
        with self._db(write=False) as db:
            row = db.execute("SELECT updated FROM dashboard_password").fetchone()
        return None if row is None else row[0]

    def verify_password(self, password: str) -> bool:
        """Whether this is the dashboard password; False when none is set."""
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            return False  # never spend scrypt on an input no valid password can match
        with self._db(write=False) as db:
            row = db.execute("SELECT hash FROM dashboard_password").fetchone()
        return row is not None and check_password(password, row[0])

    # --- the file -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every thread's connection; only once no thread uses the store any more."""
        self._file.close()

    def _db(self, *, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._file.connection(), write=write)


# --- hashing ----------------------------------------------------------------------------------

def _key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64 parts), so that verifying never needs outside state."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=SCRYPT_DKLEN, maxmem=SCRYPT_MAXMEM)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n),
                                r=int(r), p=int(p), dklen=len(expected), maxmem=SCRYPT_MAXMEM)
    except ValueError as exc:
        raise CredentialError("the stored dashboard password hash is damaged; "
                              "set it again with `ibtrader web set-password`") from exc
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CredentialError(f"API key name {name!r} is not valid: use 1 to 64 letters, digits, "
                              f"'.', '_', '-' or '@', starting with a letter or digit")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejected(f"the password is too short: use at least {MIN_PASSWORD_CHARS} "
                               f"characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejected(f"the password is too long: at most {MAX_PASSWORD_CHARS} "
                               f"characters")
