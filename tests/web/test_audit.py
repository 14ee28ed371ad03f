"""The audit log: every write and sign-in recorded with who, what, when and how it ended, in
web_auth.sqlite and on the `ibtrader.audit` logger, and never a secret in either."""

from __future__ import annotations

import logging
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ibtrader.config import Settings
from ibtrader.web import audit, credentials, security
from ibtrader.web.app import create_app
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's behaviour, not scrypt's cost, is under test here: a lower cost factor
    (stored with each hash, so checking uses it too) keeps every sign-in fast."""
    monkeypatch.setattr(credentials, "SCRYPT_N", 2**10)


@pytest.fixture
def context(tmp_path: Path) -> WebContext:
    settings = Settings(data_dir=tmp_path / "data")
    store = CredentialStore(store_path(settings.data_dir))
    store.set_password(PASSWORD)
    return WebContext(settings, store)


@pytest.fixture
def app(context: WebContext) -> Flask:
    return create_app(context)


@pytest.fixture
def key(context: WebContext) -> str:
    return context.credentials.create_key("desk-bot").key


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Everything logged during the test, at every level, as a log file would have it."""
    path = tmp_path / "ibtrader.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    root.removeHandler(handler)
    root.setLevel(old_level)
    handler.close()


def entries(app: Flask, key: str, limit: int = 100) -> list[dict]:
    response = app.test_client().get(f"/api/v1/audit?limit={limit}", headers={"X-API-Key": key})
    assert response.status_code == 200
    return response.json["entries"]


def test_a_key_write_is_recorded_with_secrets_redacted(app: Flask, key: str) -> None:
    body = {"symbol": "AAPL", "quantity": 10, "api_key": "leak-1", "Password": "leak-2",
            "nested": {"client_secret": "leak-3", "note": "keep"}, "sessionToken": "leak-4"}
    response = app.test_client().post("/api/v1/no-such-write", json=body,
                                      headers={"X-API-Key": key})
    assert response.status_code == 404
    [entry] = entries(app, key)
    assert entry["principal"] == {"kind": "api_key", "name": "desk-bot"}
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/api/v1/no-such-write",
                                                                 404)
    assert entry["client"] == "127.0.0.1" and entry["time"] > 1.7e9
    assert entry["fields"] == {"symbol": "AAPL", "quantity": 10, "api_key": "[redacted]",
                               "Password": "[redacted]", "sessionToken": "[redacted]",
                               "nested": {"client_secret": "[redacted]", "note": "keep"}}


def test_reads_are_not_recorded(app: Flask, key: str) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/session", headers={"X-API-Key": key}).status_code == 200
    assert entries(app, key) == []


def test_sign_in_sign_out_and_refusals_are_recorded(app: Flask, context: WebContext,
                                                    key: str) -> None:
    client = app.test_client()
    client.post("/login", json={"password": "wrong wrong"})
    client.post("/login", data={"password": PASSWORD})
    client.post("/logout")  # no CSRF token
    token = client.get("/api/v1/session").json["csrf_token"]
    client.post("/logout", headers={"X-CSRF-Token": token})
    client.post("/api/v1/orders", json={"symbol": "AAPL"})  # signed out: refused
    ticket = security.issue_login_ticket(context)
    client.get(f"/login/ticket/{ticket}")
    client.get(f"/login/ticket/{ticket}")
    app.test_client().post(f"/login/ticket/{ticket}")  # no such route: still hidden
    revoked = context.credentials.create_key("retired").key
    context.credentials.revoke("retired")
    app.test_client().get("/api/v1/account", headers={"X-API-Key": revoked})

    got = [(e["method"], e["path"], e["status"], e["outcome"], e["principal"]["kind"],
            e["principal"]["name"]) for e in reversed(entries(app, key))]
    hidden = "/login/ticket/[redacted]"
    assert got == [
        ("POST", "/login", 401, "wrong_password", "anonymous", ""),
        ("POST", "/login", 303, None, "session", "password"),
        ("POST", "/logout", 403, "csrf_failed", "session", "password"),
        ("POST", "/logout", 303, None, "session", "password"),
        ("POST", "/api/v1/orders", 401, "unauthorized", "anonymous", ""),
        ("GET", hidden, 302, None, "session", "desktop"),
        ("GET", hidden, 403, "ticket_invalid", "anonymous", ""),
        ("POST", hidden, 303, None, "anonymous", ""),
        ("GET", "/api/v1/account", 403, "key_revoked", "api_key", "retired"),
    ]


def test_no_secret_reaches_the_database_or_the_log(app: Flask, context: WebContext, key: str,
                                                   log_file: Path, tmp_path: Path) -> None:
    client = app.test_client()
    client.post("/login", json={"password": "a wrong guess"})
    client.post("/login", data={"password": PASSWORD})
    cookie = client.get_cookie(security.COOKIE_NAME).value
    token = client.get("/api/v1/session").json["csrf_token"]
    client.post("/api/v1/nothing", json={"token": token, "x": 1},
                headers={"X-CSRF-Token": token})
    ticket = security.issue_login_ticket(context)
    app.test_client().get(f"/login/ticket/{ticket}")
    api = app.test_client()
    api.post("/api/v1/nothing", json={"key": key}, headers={"Authorization": f"Bearer {key}"})
    api.delete("/api/v1/orders/1", headers={"X-API-Key": key})
    assert len(entries(app, key)) == 6

    lines = log_file.read_text()
    assert "POST /login -> 401 (wrong_password) by anonymous from 127.0.0.1" in lines
    assert "DELETE /api/v1/orders/1" in lines and "api_key:desk-bot" in lines
    files = [p for p in (tmp_path / "data").iterdir() if p.name.startswith("web_auth")]
    assert files  # the store and its WAL
    secrets = {"API key": key, "password": PASSWORD, "wrong password": "a wrong guess",
               "cookie": cookie, "CSRF token": token, "ticket": ticket}
    for what, secret in secrets.items():
        assert secret not in lines, f"the {what} is in the log"
        for path in files:
            assert secret.encode() not in path.read_bytes(), f"the {what} is in {path.name}"


def test_audit_listing_is_newest_first_and_bounded(app: Flask, key: str) -> None:
    client = app.test_client()
    for n in range(5):
        client.post(f"/api/v1/write-{n}", headers={"X-API-Key": key})
    assert [e["path"] for e in entries(app, key, limit=2)] == ["/api/v1/write-4",
                                                               "/api/v1/write-3"]
    for bad in ("0", "abc", "1001", "-1"):
        response = client.get(f"/api/v1/audit?limit={bad}", headers={"X-API-Key": key})
        assert response.status_code == 400, bad
        assert response.json["error"]["field"] == "limit"
    assert client.get("/api/v1/audit").status_code == 401  # the log itself needs credentials


def test_a_failed_audit_write_does_not_fail_the_call(app: Flask, context: WebContext, key: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    log = audit.audit_log(context)
    caplog.set_level(logging.INFO, logger="ibtrader.audit")

    def disk_full(batch: list) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(log, "_write", disk_full)
    client = app.test_client()
    headers = {"X-API-Key": key, "Accept": "application/json"}
    assert client.post("/logout", headers=headers).status_code == 200
    assert log.flush()
    assert "could not write 1 audit entries" in caplog.text
    assert "POST /logout -> 200 by api_key:desk-bot" in caplog.text  # the line survives

    def broken(**_: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(log, "record", broken)
    assert client.post("/logout", headers=headers).status_code == 200
    assert "could not write the audit entry for POST /logout" in caplog.text


def test_entries_are_written_in_batches_off_the_request_thread(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "web_auth.sqlite", idle_seconds=0.05)
    callers = [threading.Thread(target=lambda: [
        log.record(principal=None, client="10.0.0.1", method="POST", path="/x", status=201,
                   outcome=None, fields={}) for _ in range(200)]) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(log.newest(1000)) == 800  # newest() waits for what was recorded before it
    time.sleep(0.2)  # idle: the writer stops ...
    assert not log.writing
    log.record(principal=None, client="10.0.0.1", method="DELETE", path="/y", status=200,
               outcome=None, fields={})
    assert log.newest(1)[0].path == "/y"  # ... and starts again with the next entry
    log.close()


def test_audit_table_lives_in_the_owner_only_store(tmp_path: Path) -> None:
    log = audit.AuditLog(tmp_path / "fresh" / "web_auth.sqlite", clock=lambda: 1.7e9)
    entry = log.record(principal=None, client="10.0.0.9", method="POST", path="/x", status=201,
                       outcome=None, fields={"a": 1})
    assert log.newest(1) == [entry] and entry.kind == "anonymous"
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    log.close()


def test_redact_keeps_shapes_and_hides_secrets() -> None:
    assert audit.redact({"orders": [{"symbol": "A", "apiKey": "x"}], "limit": None,
                         "text": "y" * 500}) == {
        "orders": [{"symbol": "A", "apiKey": "[redacted]"}], "limit": None,
        "text": "y" * audit.MAX_VALUE_CHARS + "..."}
    assert audit.redact({"a": {"b": {"c": {"d": 1}}}}) == {"a": {"b": {"c": "{...}"}}}
