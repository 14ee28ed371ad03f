"""The credential store: API keys hashed and revocable, the dashboard password as scrypt."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator

import pytest

from ibtrader.web.credentials import (
    TOUCH_INTERVAL,
    CredentialError,
    CredentialStore,
    DuplicateKeyName,
    PasswordRejected,
    UnknownKey,
    check_password,
    hash_password,
    store_path,
)

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> Iterator[CredentialStore]:
    store = CredentialStore(store_path(tmp_path / "data"), clock=clock)
    yield store
    store.close()


def test_store_file_is_created_on_first_use_owner_only_in_wal_mode(tmp_path, store):
    assert not store.path.exists()
    store.list_keys()
    assert store.path == tmp_path / "data" / "web_auth.sqlite"
    if os.name == "posix":
        assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_an_existing_store_readable_by_others_is_tightened(tmp_path):
    path = store_path(tmp_path)
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    CredentialStore(path).list_keys()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_created_key_verifies_and_only_its_hash_is_stored(store, clock):
    new = store.create_key("grafana")
    assert new.key.startswith("ibt_" + new.record.key_id + "_")
    assert len(new.key) > 40
    assert new.key not in repr(new)  # a stray log line shows the record, never the key
    record = store.verify_api_key(new.key)
    assert record is not None and record.name == "grafana" and record.active
    assert record.last_used == clock.now
    store.create_key("other")
    data = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    secret = new.key.rsplit("_", 1)[-1]
    assert new.key.encode() not in data and secret.encode() not in data


def test_wrong_malformed_and_foreign_keys_are_refused(store):
    new = store.create_key("bot")
    key_id = new.record.key_id
    forged = f"ibt_{key_id}_{'A' * 43}"  # the right id with a wrong secret
    for presented in (forged, new.key[:-1], "", "Bearer " + new.key, "ibt_zz_x", new.key + "x"):
        assert store.verify_api_key(presented) is None, presented
    assert store.list_keys()[0].last_used is None  # failed attempts do not count as use


def test_revoked_key_is_refused_but_recognised_as_revoked(store, clock):
    new = store.create_key("bot")
    clock.now += 5
    record, revoked_now = store.revoke("bot")
    assert revoked_now and record.revoked == clock.now
    assert store.verify_api_key(new.key) is None
    found = store.find_key(new.key)  # the API answers 403 rather than 401 for this one
    assert found is not None and not found.active


def test_revoke_by_id_and_twice(store):
    new = store.create_key("bot")
    assert store.revoke(new.record.key_id)[1] is True
    record, revoked_now = store.revoke(new.record.key_id)
    assert record.key_id == new.record.key_id and not revoked_now
    with pytest.raises(UnknownKey, match="'bot'"):
        store.revoke("bot")  # by name: only active keys


def test_unknown_key_cannot_be_revoked(store):
    with pytest.raises(UnknownKey, match="'ghost'"):
        store.revoke("ghost")


def test_duplicate_active_name_is_refused_until_revoked(store):
    first = store.create_key("bot")
    with pytest.raises(DuplicateKeyName, match="'bot'"):
        store.create_key("bot")
    store.revoke("bot")
    second = store.create_key("bot")
    assert [(r.name, r.active) for r in store.list_keys()] == [("bot", False), ("bot", True)]
    assert store.verify_api_key(first.key) is None
    assert store.verify_api_key(second.key) is not None


@pytest.mark.parametrize("name", ["", " bot", "a b", "x" * 65, "-lead", "bot\n"])
def test_bad_key_names_are_refused(store, name):
    with pytest.raises(CredentialError, match="name"):
        store.create_key(name)


def test_last_used_is_written_at_most_once_a_minute(store, clock):
    new = store.create_key("bot")
    start = clock.now
    store.verify_api_key(new.key)
    clock.now += TOUCH_INTERVAL / 2
    assert store.verify_api_key(new.key).last_used == start
    clock.now = start + TOUCH_INTERVAL + 1
    assert store.verify_api_key(new.key).last_used == clock.now
    assert store.list_keys()[0].last_used == clock.now


def test_keys_survive_a_new_store_on_the_same_file(store):
    new = store.create_key("bot")
    assert CredentialStore(store.path).verify_api_key(new.key) is not None


def test_a_revocation_from_another_process_takes_effect_at_once(store):
    """The server keeps its connections open; `ibtrader apikey revoke` runs elsewhere."""
    new = store.create_key("bot")
    assert store.verify_api_key(new.key) is not None
    other = CredentialStore(store.path)
    other.revoke("bot")
    other.close()
    assert store.verify_api_key(new.key) is None


def test_keys_are_checked_from_many_threads_while_keys_change(store, clock):
    keys = [store.create_key(f"client-{i}").key for i in range(4)]
    errors: list[BaseException] = []
    results: list[bool] = []

    def check(key: str) -> None:
        try:
            for _ in range(100):
                clock.now += TOUCH_INTERVAL  # every check also writes last_used
                results.append(store.verify_api_key(key) is not None)
        except BaseException as exc:  # reported below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=check, args=(k,)) for k in keys]
    for thread in threads:
        thread.start()
    for i in range(20):
        store.create_key(f"late-{i}")
    for thread in threads:
        thread.join()
    assert errors == [] and results == [True] * 400


def test_password_set_verify_and_replace(store):
    assert not store.has_password() and not store.verify_password(PASSWORD)
    store.set_password(PASSWORD)
    assert store.has_password()
    assert store.verify_password(PASSWORD)
    assert not store.verify_password(PASSWORD.upper())
    assert not store.verify_password("x" * 5000)
    store.set_password("another password")
    assert store.verify_password("another password") and not store.verify_password(PASSWORD)
    data = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    assert b"another password" not in data


def test_short_password_is_refused_and_the_old_one_kept(store):
    store.set_password(PASSWORD)
    with pytest.raises(PasswordRejected, match="at least 10"):
        store.set_password("123456789")
    assert store.verify_password(PASSWORD)


def test_password_hash_is_salted_and_carries_its_parameters():
    one, two = hash_password(PASSWORD), hash_password(PASSWORD)
    assert one != two and one.startswith("scrypt$32768$8$1$")
    assert check_password(PASSWORD, one) and check_password(PASSWORD, two)
    # The parameters are read from the hash: a cheaper older one still verifies, and
    # altering them breaks it.
    salt = b"0123456789abcdef"
    older = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    b64 = base64.b64encode
    stored = f"scrypt$16384$8$1${b64(salt).decode()}${b64(older).decode()}"
    assert check_password(PASSWORD, stored)
    assert not check_password(PASSWORD, stored.replace("$16384$", "$32768$"))
    with pytest.raises(CredentialError, match="damaged"):
        check_password(PASSWORD, "garbage")
