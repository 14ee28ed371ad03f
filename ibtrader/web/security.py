"""The API gateway: every request is authenticated before its view runs.

- A script sends an API key (`X-API-Key: <key>` or `Authorization: Bearer <key>`); an unknown
  key gets 401 `unauthorized`, a revoked one 403 `key_revoked`.
- A browser carries a signed session cookie (HttpOnly, SameSite=Strict, Secure under HTTPS),
  set by the login views (`auth_views`). A page asked for without one redirects to /login.
- Cookie-authenticated writes need `X-CSRF-Token` (or a form field `csrf_token`) equal to the
  session's token: the cookie travels by itself, the token only with the dashboard's own
  requests. API-key requests need none: nothing ambient authenticates them.
- A view is public only when marked `@public` (under its route decorator), so a new endpoint
  is never open by mistake.

Login tickets (`issue_login_ticket`) let the desktop app open the dashboard already signed in;
the login rate limiter and the list of signed-out sessions live here too, in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from ibtrader.web.errors import ApiError, error_response

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.web.context import WebContext

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

STATE = "security"  # key of the SecurityState in WebContext.extras
SECRET_FILE = "web_secret"
MIN_SECRET_CHARS = 32
COOKIE_NAME = "ibtrader_session"
SESSION_LIFETIME = timedelta(hours=12)  # idle lifetime: refreshed on every request
TICKET_SECONDS = 60.0
LOGIN_FAILURES = 5  # per client address ...
LOGIN_WINDOW = 60.0  # ... within this many seconds, then 429
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_WORDS = ("password", "key", "token", "secret")  # field names never recorded in clear


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "api_key" | "session"
    name: str  # the key's name, or how the session signed in ("password", "desktop")

    def json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}


def public(view: F) -> F:
    """Mark a view as answering without authentication (put it under the route decorator)."""
    view._ibtrader_public = True  # type: ignore[attr-defined]
    return view


# --- in-memory state: tickets, login attempts, signed-out sessions ------------------------------

class LoginTickets:
    """One-time sign-in tickets, valid for `ttl` seconds. Only their hashes are kept, so that
    a lookup's timing says nothing about a ticket."""

    def __init__(self, clock: Callable[[], float], ttl: float = TICKET_SECONDS) -> None:
        self._clock, self._ttl = clock, ttl
        self._lock = threading.Lock()
        self._expiry: dict[bytes, float] = {}

    def issue(self) -> str:
        ticket = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._expiry = {h: t for h, t in self._expiry.items() if t > now}
            self._expiry[_digest(ticket)] = now + self._ttl
        return ticket

    def redeem(self, ticket: str) -> bool:
        """Whether the ticket is known and unexpired; it can never be used again."""
        with self._lock:
            expiry = self._expiry.pop(_digest(ticket), None)
        return expiry is not None and self._clock() < expiry


class LoginLimiter:
    """At most `failures` failed logins per client address within `window` seconds.

    An attempt is counted as a failure before the password is checked and forgiven on success,
    so that parallel requests cannot slip extra guesses past the limit while scrypt runs."""

    def __init__(self, clock: Callable[[], float], failures: int = LOGIN_FAILURES,
                 window: float = LOGIN_WINDOW) -> None:
        self._clock, self._failures, self._window = clock, failures, window
        self._lock = threading.Lock()
        self._attempts: dict[str, deque[float]] = {}

    def begin(self, client: str) -> float:
        """0 and the attempt counted, or the seconds to wait (nothing counted)."""
        now = self._clock()
        with self._lock:
            if len(self._attempts) > 10_000:  # a scan of many addresses must not grow this
                self._forget_old(now)
            attempts = self._attempts.setdefault(client, deque())
            while attempts and attempts[0] <= now - self._window:
                attempts.popleft()
            if len(attempts) >= self._failures:
                return attempts[0] + self._window - now
            attempts.append(now)
            return 0.0

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._attempts.pop(client, None)

    def _forget_old(self, now: float) -> None:
        self._attempts = {c: a for c, a in self._attempts.items()
                          if a and a[-1] > now - self._window}


class SignedOut:
    """Session ids signed out before their cookie expires: a copied cookie stays refused."""

    def __init__(self, clock: Callable[[], float], lifetime: float) -> None:
        self._clock, self._lifetime = clock, lifetime
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def add(self, sid: str) -> None:
        now = self._clock()
        with self._lock:
            self._until = {s: t for s, t in self._until.items() if t > now}
            self._until[sid] = now + self._lifetime  # no cookie outlives this

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            until = self._until.get(sid) if isinstance(sid, str) else None
        return until is not None and self._clock() < until


@dataclass
class SecurityState:
    """What the gateway remembers between requests; put one in `WebContext.extras[STATE]`
    before `create_app` to choose the clock (tests)."""

    clock: Callable[[], float] = time.monotonic
    tickets: LoginTickets = field(init=False)
    limiter: LoginLimiter = field(init=False)
    signed_out: SignedOut = field(init=False)

    def __post_init__(self) -> None:
        self.tickets = LoginTickets(self.clock)
        self.limiter = LoginLimiter(self.clock)
        self.signed_out = SignedOut(self.clock, SESSION_LIFETIME.total_seconds())


def security_state(context: WebContext) -> SecurityState:
    return context.extras.setdefault(STATE, SecurityState())


def issue_login_ticket(context: WebContext) -> str:
    """A one-time ticket for `GET /login/ticket/<ticket>`, valid 60 s (from any thread)."""
    return security_state(context).tickets.issue()


# --- sessions --------------------------------------------------------------------------------

def start_session(context: WebContext, how: str) -> Principal:
    """Sign this browser in: a new session id and CSRF token (never reuse the old ones)."""
    old = session.get("sid")
    if isinstance(old, str):
        security_state(context).signed_out.add(old)
    session.clear()
    session.permanent = True
    session["sid"] = secrets.token_urlsafe(24)
    session["csrf"] = secrets.token_urlsafe(32)
    session["how"] = how
    if how == "password":  # a new password ends the sessions signed in with the old one
        session["pwv"] = context.credentials.password_changed()
    principal = Principal("session", how)
    g.principal = principal
    return principal


def session_principal(context: WebContext) -> Principal | None:
    """Who this request's session cookie signs in, if it still does."""
    sid = session.get("sid")
    if not isinstance(sid, str) or sid in security_state(context).signed_out:
        return None
    how = str(session.get("how", "password"))
    if how == "password" and session.get("pwv") != context.credentials.password_changed():
        return None
    return Principal("session", how)


def end_session(context: WebContext) -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        security_state(context).signed_out.add(sid)
    session.clear()


def csrf_token() -> str | None:
    token = session.get("csrf")
    return token if isinstance(token, str) else None


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, a scheme-relative
    `//host`, backslash tricks, control characters) becomes "/"."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def client_address() -> str:
    return request.remote_addr or "unknown"


def is_api_path(path: str) -> bool:
    return path.startswith("/api/") or path == "/metrics"


# --- the hook --------------------------------------------------------------------------------

def install(app: Flask, context: WebContext) -> None:
    from ibtrader.web import audit  # audit imports this module's helpers

    security_state(context)  # made now, not by the first request's thread
    app.secret_key = secret_key(context.settings)
    https = serves_https(context.settings)
    app.config.update(
        # __Host-: the browser takes it only over HTTPS, for this host, for every path
        SESSION_COOKIE_NAME=f"__Host-{COOKIE_NAME}" if https else COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    app.session_interface = _CookieSessions()
    app.before_request(lambda: _authenticate(app, context))
    app.after_request(_security_headers)
    audit.install(app, context)


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the signer built once per secret key instead of
    once per request (it derives a key each time: ~40 us, on every API call too)."""

    def __init__(self) -> None:
        self._signer: Any = None
        self._signer_key: Any = None

    def get_signing_serializer(self, app: Flask) -> Any:
        if self._signer is None or self._signer_key != app.secret_key:
            self._signer = super().get_signing_serializer(app)
            self._signer_key = app.secret_key
        return self._signer


def serves_https(settings: Settings) -> bool:
    return bool(settings.web_tls_certfile and settings.web_tls_keyfile)  # both: see config


def _authenticate(app: Flask, context: WebContext) -> Response | None:
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is not None and getattr(view, "_ibtrader_public", False):
        return None
    key = _presented_key()
    if key is not None:
        record = context.credentials.find_key(key)
        if record is None:
            return _refuse(401, "unauthorized", "the API key is not valid",
                           {"WWW-Authenticate": 'Bearer realm="ibtrader"'})
        g.principal = Principal("api_key", record.name)
        if not record.active:
            return _refuse(403, "key_revoked", f"the API key {record.name!r} was revoked")
        return None
    principal = session_principal(context)
    if principal is None:
        return _unauthenticated()
    g.principal = principal
    if request.method in WRITE_METHODS and not _csrf_ok():
        return _refuse(403, "csrf_failed",
                       "this write needs the session's CSRF token in the X-CSRF-Token header "
                       "(GET /api/v1/session gives it)")
    return None


def _presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _csrf_ok() -> bool:
    expected = csrf_token()
    presented = request.headers.get("X-CSRF-Token")
    if presented is None and request.mimetype in ("application/x-www-form-urlencoded",
                                                   "multipart/form-data"):
        presented = request.form.get("csrf_token")  # a plain HTML form cannot send a header
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def _unauthenticated() -> Response:
    if is_api_path(request.path):
        return _refuse(401, "unauthorized",
                       "authentication required: send an API key (X-API-Key or Bearer) "
                       "or sign in at /login",
                       {"WWW-Authenticate": 'Bearer realm="ibtrader"'})
    if request.method in ("GET", "HEAD"):
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login_page", next=safe_next(target)), 302)
    return redirect(url_for("auth.login_page"), 303)


def _refuse(status: int, code: str, message: str,
            headers: dict[str, str] | None = None) -> Response:
    g.refusal = code  # the audit log names why
    return error_response(ApiError(status, code, message, headers=headers))


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of the order form
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


# --- the signing key -------------------------------------------------------------------------

def secret_key(settings: Settings) -> str:
    """settings.web_secret_key, or a random key kept in <data_dir>/web_secret (owner-only), made
    once so that sessions outlive a restart."""
    if settings.web_secret_key:
        if len(settings.web_secret_key) < MIN_SECRET_CHARS:
            raise ValueError(f"web_secret_key is too short: use at least {MIN_SECRET_CHARS} "
                             f"random characters (or leave it empty to use a generated one)")
        return settings.web_secret_key
    return _secret_file(Path(settings.data_dir) / SECRET_FILE)


def _secret_file(path: Path) -> str:
    # Written whole to a private temporary file, then linked into place: the link is atomic
    # and fails if the file exists, so two processes starting at once agree on one key.
    for _ in range(3):
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            key = None
        if key is not None:
            if len(key) >= MIN_SECRET_CHARS:
                if os.name == "posix" and path.stat().st_mode & 0o077:
                    log.warning("%s was readable by others; made it owner-only", path)
                    os.chmod(path, 0o600)
                return key
            log.warning("%s was damaged (too short); making a new one: sessions start over",
                        path)
            path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: read theirs
        finally:
            temporary.unlink(missing_ok=True)
    raise RuntimeError(f"could not create or read the web secret key file {path}")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
