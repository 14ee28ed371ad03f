"""The API gateway: no endpoint answers without authentication, revoked keys are refused,
session cookies carry the right flags, cookie writes need the CSRF token, and the signing key
is made once and kept private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ibtrader.config import Settings
from ibtrader.web import credentials, security
from ibtrader.web.app import create_app
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path

PASSWORD = "correct horse battery"
# Endpoints that answer without credentials, and nothing else may: health (a probe), the
# login page and its POST, the ticket URL (it is the credential) and static assets.
PUBLIC = {"monitoring.health", "auth.login_page", "auth.login", "auth.ticket_login",
          "dashboard.asset", "dashboard.chart_library"}


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's behaviour, not scrypt's cost, is under test here: a lower cost factor
    (stored with each hash, so checking uses it too) keeps every sign-in fast."""
    monkeypatch.setattr(credentials, "SCRYPT_N", 2**10)


def make_app(tmp_path: Path, **values: object) -> tuple[Flask, CredentialStore]:
    settings = Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]
    store = CredentialStore(store_path(settings.data_dir))
    return create_app(WebContext(settings, store)), store


@pytest.fixture
def app_store(tmp_path: Path) -> tuple[Flask, CredentialStore]:
    app, store = make_app(tmp_path)
    store.set_password(PASSWORD)
    return app, store


@pytest.fixture
def app(app_store: tuple[Flask, CredentialStore]) -> Flask:
    return app_store[0]


@pytest.fixture
def store(app_store: tuple[Flask, CredentialStore]) -> CredentialStore:
    return app_store[1]


def sign_in(client: FlaskClient) -> str:
    """Sign in with the password; the session's CSRF token."""
    assert client.post("/login", json={"password": PASSWORD}).status_code == 200
    return client.get("/api/v1/session").json["csrf_token"]


def sample_url(rule) -> str:
    return rule.build({name: "x" for name in rule.arguments})[1]


def all_routes(app: Flask) -> list[tuple[str, str, str]]:
    return [(rule.endpoint, method, sample_url(rule)) for rule in app.url_map.iter_rules()
            for method in sorted(rule.methods or ())]


def test_no_endpoint_answers_without_authentication(app: Flask) -> None:
    marked = {endpoint for endpoint, view in app.view_functions.items()
              if getattr(view, "_ibtrader_public", False)}
    assert marked <= PUBLIC, f"unexpected public views: {marked - PUBLIC}"
    client = app.test_client()
    checked = 0
    for endpoint, method, url in all_routes(app):
        if endpoint in PUBLIC:
            continue
        response = client.open(url, method=method)
        checked += 1
        if url.startswith("/api/") or url == "/metrics":
            assert response.status_code == 401, (method, url, response.status_code)
            if method != "HEAD":
                assert response.json["error"]["code"] == "unauthorized", (method, url)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        else:  # a page: off to the login page, never its content
            assert response.status_code in (302, 303), (method, url, response.status_code)
            assert response.headers["Location"].startswith("/login")
    assert checked >= 5  # at least our own: session, audit, logout, metrics, the dashboard


def test_unknown_paths_and_wrong_methods_need_authentication_too(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/api/v1/no-such-thing").status_code == 401
    assert client.delete("/api/v1/session").status_code == 401  # 405 only once signed in
    assert client.get("/api/v1/no-such-thing", headers={"X-API-Key": "ibt_nonsense"}
                      ).status_code == 401


def test_public_views_answer_without_credentials(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/health").status_code == 503  # answers (no engine yet)


def test_api_key_as_header_or_bearer_token(app: Flask, store: CredentialStore) -> None:
    key = store.create_key("grafana").key
    client = app.test_client()
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"},
                    {"Authorization": f"bearer  {key} "}):
        response = client.get("/api/v1/session", headers=headers)
        assert response.status_code == 200, headers
        assert response.json == {"principal": {"kind": "api_key", "name": "grafana"},
                                 "csrf_token": None}
    assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for headers in ({"X-API-Key": wrong}, {"Authorization": f"Bearer {wrong}"},
                    {"Authorization": f"Basic {key}"}):
        response = client.get("/api/v1/session", headers=headers)
        assert response.status_code == 401, headers
        assert response.json["error"]["code"] == "unauthorized"


def test_revoked_key_is_refused_with_403(app: Flask, store: CredentialStore) -> None:
    key = store.create_key("old-bot").key
    client = app.test_client()
    assert client.get("/api/v1/session", headers={"X-API-Key": key}).status_code == 200
    store.revoke("old-bot")
    for method in ("GET", "POST"):
        response = client.open("/api/v1/session", method=method, headers={"X-API-Key": key})
        assert response.status_code == 403
        assert response.json["error"]["code"] == "key_revoked"
        assert "old-bot" in response.json["error"]["message"]
    assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 403


def cookie_attributes(set_cookie: str) -> tuple[str, dict[str, str]]:
    name_value, *attributes = [part.strip() for part in set_cookie.split(";")]
    flags = {}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        flags[name.lower()] = value
    return name_value, flags


def test_session_cookie_is_httponly_samesite_strict_and_expires(app: Flask) -> None:
    response = app.test_client().post("/login", data={"password": PASSWORD})
    assert response.status_code == 303
    [set_cookie] = response.headers.getlist("Set-Cookie")
    name_value, flags = cookie_attributes(set_cookie)
    assert name_value.startswith(security.COOKIE_NAME + "=")
    assert "httponly" in flags and flags["samesite"] == "Strict"
    assert "secure" not in flags  # plain HTTP: a Secure cookie would never come back
    assert "expires" in flags  # a lifetime, not forever


def test_session_cookie_is_secure_when_serving_https(tmp_path: Path) -> None:
    app, store = make_app(tmp_path, web_tls_certfile="cert.pem", web_tls_keyfile="key.pem")
    store.set_password(PASSWORD)
    client = app.test_client()
    response = client.post("/login", json={"password": PASSWORD}, base_url="https://localhost")
    assert client.get("/api/v1/session", base_url="https://localhost").status_code == 200
    name_value, flags = cookie_attributes(response.headers["Set-Cookie"])
    assert name_value.startswith(f"__Host-{security.COOKIE_NAME}=")
    assert {"secure", "httponly"} <= flags.keys() and flags["samesite"] == "Strict"
    assert flags["path"] == "/" and "domain" not in flags


def test_session_is_refreshed_on_use(app: Flask) -> None:
    client = app.test_client()
    sign_in(client)
    response = client.get("/api/v1/session")
    assert security.COOKIE_NAME in response.headers.get("Set-Cookie", "")  # idle timer restarts


def test_cookie_write_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    token = sign_in(client)
    assert token and len(token) >= 32
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": token[:-1]},
                    {"X-CSRF-Token": "é" * 10}):
        response = client.post("/api/v1/orders", json={"symbol": "AAPL"}, headers=headers)
        assert response.status_code == 403, headers
        assert response.json["error"]["code"] == "csrf_failed"
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.open("/api/v1/orders/x", method=method).status_code == 403
    # With the token the request reaches its view (no engine here: 503, not a CSRF refusal).
    response = client.post("/api/v1/orders", json={"symbol": "AAPL"},
                           headers={"X-CSRF-Token": token})
    assert response.status_code != 403
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
    # Reads need no token.
    assert sign_in(client)


def test_a_plain_form_can_send_the_token_as_a_field(app: Flask) -> None:
    client = app.test_client()
    token = sign_in(client)
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/api/v1/session").status_code == 401


def test_api_key_writes_need_no_csrf_token(app: Flask, store: CredentialStore) -> None:
    key = store.create_key("script").key
    response = app.test_client().post("/logout", headers={"X-API-Key": key,
                                                          "Accept": "application/json"})
    assert response.status_code == 200 and response.json == {"ok": True}


def test_a_signed_out_cookie_stays_refused(app: Flask) -> None:
    client = app.test_client()
    token = sign_in(client)
    copied = client.get_cookie(security.COOKIE_NAME).value
    assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
    thief = app.test_client()
    thief.set_cookie(security.COOKIE_NAME, copied)
    assert thief.get("/api/v1/session").status_code == 401


def test_a_forged_cookie_is_ignored(app: Flask, tmp_path: Path) -> None:
    other, other_store = make_app(tmp_path / "other")
    other_store.set_password(PASSWORD)
    foreign = other.test_client()
    sign_in(foreign)
    client = app.test_client()
    client.set_cookie(security.COOKIE_NAME, foreign.get_cookie(security.COOKIE_NAME).value)
    assert client.get("/api/v1/session").status_code == 401  # signed with another key


def test_page_without_session_redirects_to_login_with_local_next(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/?symbol=AAPL")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/?symbol%3DAAPL"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1", "",
                                    "http:/evil.example", "\\\\evil.example"])
def test_next_never_leaves_the_site(app: Flask, target: str) -> None:
    assert security.safe_next(target) == "/"
    response = app.test_client().post("/login", data={"password": PASSWORD, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_next_keeps_a_local_path(app: Flask) -> None:
    assert security.safe_next("/orders?x=1#y") == "/orders?x=1#y"
    client = app.test_client()
    response = client.post("/login?next=/chart", data={"password": PASSWORD})
    assert response.headers["Location"] == "/chart"
    # Already signed in: the login page sends you on (still only to a local path).
    assert client.get("/login?next=/chart").headers["Location"] == "/chart"
    assert client.get("/login?next=//evil.example").headers["Location"] == "/"


def test_security_headers_on_every_answer(app: Flask) -> None:
    response = app.test_client().get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_signing_key_is_made_once_owner_only_and_survives_a_restart(tmp_path: Path) -> None:
    app, store = make_app(tmp_path)
    store.set_password(PASSWORD)
    secret = tmp_path / "data" / security.SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert app.secret_key == secret.read_text().strip() and len(app.secret_key) >= 32
    client = app.test_client()
    sign_in(client)
    cookie = client.get_cookie(security.COOKIE_NAME).value

    restarted, _ = make_app(tmp_path)  # the same data folder: the same key
    assert restarted.secret_key == app.secret_key
    again = restarted.test_client()
    again.set_cookie(security.COOKIE_NAME, cookie)
    assert again.get("/api/v1/session").status_code == 200
    assert not [p for p in secret.parent.iterdir() if p.name.startswith(".web_secret")]


def test_configured_signing_key_wins_and_must_be_long(tmp_path: Path) -> None:
    app, _ = make_app(tmp_path, web_secret_key="k" * 40)
    assert app.secret_key == "k" * 40
    assert not (tmp_path / "data" / security.SECRET_FILE).exists()
    with pytest.raises(ValueError, match="web_secret_key is too short"):
        make_app(tmp_path, web_secret_key="short")


def test_damaged_or_loose_key_file_is_repaired(tmp_path: Path) -> None:
    secret = tmp_path / "data" / security.SECRET_FILE
    secret.parent.mkdir(parents=True)
    secret.write_text("tiny")
    app, _ = make_app(tmp_path)
    assert len(app.secret_key) >= 32 and secret.read_text().strip() == app.secret_key
    if os.name == "posix":
        secret.chmod(0o644)
        make_app(tmp_path)
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600

