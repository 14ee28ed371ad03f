"""Signing in: the password (form or JSON), the rate limit on failures, the page's guidance,
and the desktop app's one-time login tickets."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's behaviour, not scrypt's cost, is under test here: a lower cost factor
    (stored with each hash, so checking uses it too) keeps every sign-in fast."""
    monkeypatch.setattr(credentials, "SCRYPT_N", 2**10)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """The store's verify_password, counted: scrypt must not run for a limited client."""

    def __init__(self, store: CredentialStore) -> None:
        self.calls = 0
        self._verify = store.verify_password

    def __call__(self, password: str) -> bool:
        self.calls += 1
        return self._verify(password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def context(tmp_path: Path, clock: Clock) -> WebContext:
    settings = Settings(data_dir=tmp_path / "data")
    context = WebContext(settings, CredentialStore(store_path(settings.data_dir)))
    context.extras[security.STATE] = security.SecurityState(clock=clock)
    return context


@pytest.fixture
def app(context: WebContext) -> Flask:
    context.credentials.set_password(PASSWORD)
    return create_app(context)


@pytest.fixture
def verify(context: WebContext, monkeypatch: pytest.MonkeyPatch) -> Counting:
    counting = Counting(context.credentials)
    monkeypatch.setattr(context.credentials, "verify_password", counting)
    return counting


def session_of(client: FlaskClient) -> dict | None:
    response = client.get("/api/v1/session")
    return response.json if response.status_code == 200 else None


def test_form_login_signs_in_and_goes_to_next(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login?next=/orders")
    assert page.status_code == 200 and 'name="password"' in page.text
    assert 'value="/orders"' in page.text  # the form carries next along
    response = client.post("/login", data={"password": PASSWORD, "next": "/orders"})
    assert response.status_code == 303 and response.headers["Location"] == "/orders"
    assert session_of(client)["principal"] == {"kind": "session", "name": "password"}


def test_json_login(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", json={"password": PASSWORD})
    assert response.status_code == 200 and response.json == {"ok": True}
    assert session_of(client)["csrf_token"]


def test_wrong_password_is_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/login", json={"password": "not the password"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "wrong_password"
    page = client.post("/login", data={"password": "not the password"})
    assert page.status_code == 401 and "wrong password" in page.text
    assert session_of(client) is None


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": 123}])
def test_missing_or_mistyped_password_names_the_field(app: Flask, body: dict,
                                                      verify: Counting) -> None:
    response = app.test_client().post("/login", json=body)
    assert response.status_code == 400
    assert response.json["error"]["field"] == "password"
    assert verify.calls == 0


def test_json_body_must_be_an_object(app: Flask) -> None:
    response = app.test_client().post("/login", data="[1]", content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


def test_login_rotates_the_session(app: Flask) -> None:
    client = app.test_client()
    client.post("/login", json={"password": PASSWORD})
    first = session_of(client)["csrf_token"]
    old_cookie = client.get_cookie(security.COOKIE_NAME).value
    client.post("/login", json={"password": PASSWORD})
    assert session_of(client)["csrf_token"] != first
    replay = app.test_client()
    replay.set_cookie(security.COOKIE_NAME, old_cookie)
    assert session_of(replay) is None  # the session before the new login is over


def test_rate_limit_after_five_failures(app: Flask, clock: Clock, verify: Counting) -> None:
    client = app.test_client()
    for _ in range(security.LOGIN_FAILURES):
        assert client.post("/login", json={"password": "guess guess"}).status_code == 401
        clock.now += 5
    assert verify.calls == security.LOGIN_FAILURES

    limited = client.post("/login", json={"password": PASSWORD})  # even the right one
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "too_many_attempts"
    # The first failure leaves the 60-s window 35 s from now.
    assert limited.headers["Retry-After"] == "35"
    assert verify.calls == security.LOGIN_FAILURES  # no scrypt while limited

    page = client.post("/login", data={"password": PASSWORD})
    assert page.status_code == 429 and "too many attempts, wait 35 s" in page.text
    assert page.headers["Retry-After"] == "35"

    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert other.post("/login", json={"password": PASSWORD}).status_code == 200  # per address

    clock.now += 35
    assert client.post("/login", json={"password": PASSWORD}).status_code == 200


def test_a_success_resets_the_count(app: Flask) -> None:
    client = app.test_client()
    for _ in range(security.LOGIN_FAILURES - 1):
        client.post("/login", json={"password": "guess guess"})
    assert client.post("/login", json={"password": PASSWORD}).status_code == 200
    for _ in range(security.LOGIN_FAILURES - 1):
        assert client.post("/login", json={"password": "guess guess"}).status_code == 401
    assert client.post("/login", json={"password": PASSWORD}).status_code == 200


def test_parallel_attempts_cannot_exceed_the_limit(clock: Clock) -> None:
    limiter = security.LoginLimiter(clock)
    # Attempts still being checked count already: six at once, the sixth waits.
    started = [limiter.begin("1.2.3.4") for _ in range(security.LOGIN_FAILURES + 1)]
    assert started[:-1] == [0.0] * security.LOGIN_FAILURES and started[-1] == 60.0


def test_page_explains_how_to_set_a_password(context: WebContext, verify: Counting) -> None:
    client = create_app(context).test_client()  # no password set
    page = client.get("/login")
    assert page.status_code == 200 and "ibtrader web set-password" in page.text
    assert 'name="password"' not in page.text
    response = client.post("/login", json={"password": "anything at all"})
    assert response.status_code == 409
    assert "ibtrader web set-password" in response.json["error"]["message"]
    assert verify.calls == 0


def test_login_page_is_self_contained_and_phone_sized(app: Flask) -> None:
    page = app.test_client().get("/login").text
    assert 'name="viewport"' in page and "width=device-width" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_ticket_signs_in_once(app: Flask, context: WebContext) -> None:
    ticket = security.issue_login_ticket(context)
    client = app.test_client()
    response = client.get(f"/login/ticket/{ticket}")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert session_of(client)["principal"] == {"kind": "session", "name": "desktop"}

    again = app.test_client()
    used = again.get(f"/login/ticket/{ticket}")
    assert used.status_code == 403 and "expired or was already used" in used.text
    assert session_of(again) is None


def test_ticket_expires_after_60_seconds(app: Flask, context: WebContext, clock: Clock) -> None:
    early, late = security.issue_login_ticket(context), security.issue_login_ticket(context)
    clock.now += 59
    assert app.test_client().get(f"/login/ticket/{early}").status_code == 302
    clock.now += 1
    client = app.test_client()
    assert client.get(f"/login/ticket/{late}").status_code == 403
    assert session_of(client) is None


def test_unknown_ticket_is_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/login/ticket/made-up").status_code == 403
    assert session_of(client) is None


def test_tickets_are_distinct_and_unguessable(context: WebContext) -> None:
    tickets = {security.issue_login_ticket(context) for _ in range(100)}
    assert len(tickets) == 100 and min(len(t) for t in tickets) >= 40


def test_a_new_password_ends_password_sessions(app: Flask, context: WebContext,
                                               clock: Clock) -> None:
    browser = app.test_client()
    browser.post("/login", json={"password": PASSWORD})
    desktop = app.test_client()
    desktop.get(f"/login/ticket/{security.issue_login_ticket(context)}")
    assert session_of(browser) and session_of(desktop)

    context.credentials.set_password("a brand new passphrase")
    assert session_of(browser) is None  # someone who knew the old password is out
    assert browser.get("/login").status_code == 200  # the form, not "already signed in"
    assert session_of(desktop)  # the desktop app's own session was never the password's
    browser.post("/login", json={"password": "a brand new passphrase"})
    assert session_of(browser)
