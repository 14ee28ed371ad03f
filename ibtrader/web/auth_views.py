"""Signing in and out of the dashboard, the desktop app's login tickets, and the reads a signed-in
client needs about itself: its session (principal and CSRF token) and the audit log.

POST /login takes the form field `password` (the page) or JSON {"password": ...} (a script);
failures are limited per client address (`security.LoginLimiter`) and scrypt runs only when
the limit allows an attempt.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request

from ibtrader.web import security
from ibtrader.web.audit import audit_log
from ibtrader.web.context import web_context
from ibtrader.web.credentials import CredentialError
from ibtrader.web.errors import ApiError

blueprint = Blueprint("auth", __name__, template_folder="templates")

SET_PASSWORD_HINT = "ibtrader web set-password"
MAX_AUDIT_LIMIT = 1000


@blueprint.get("/login")
@security.public
def login_page() -> Any:
    target = security.safe_next(request.args.get("next"))
    if security.session_principal(web_context()) is not None:
        return redirect(target, 302)  # already signed in
    return _page(200, next_path=target)


@blueprint.post("/login")
@security.public
def login() -> Any:
    context = web_context()
    state = security.security_state(context)
    as_json = request.is_json
    target = security.safe_next(request.form.get("next") or request.args.get("next"))
    if not context.credentials.has_password():
        return _refuse(as_json, 409, "password_not_set",
                       f"no dashboard password is set yet: run `{SET_PASSWORD_HINT}`",
                       target)
    password = _presented_password(as_json)
    if not password:
        return _refuse(as_json, 400, "invalid_field", "password: enter the password", target,
                       field="password")
    client = security.client_address()
    wait = state.limiter.begin(client)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return _refuse(as_json, 429, "too_many_attempts",
                       f"too many attempts, wait {seconds} s", target,
                       headers={"Retry-After": str(seconds)})
    try:
        accepted = context.credentials.verify_password(password)
    except CredentialError as exc:  # a damaged stored hash: the user must set it again
        return _refuse(as_json, 500, "password_damaged", str(exc), target)
    if not accepted:
        return _refuse(as_json, 401, "wrong_password", "wrong password", target)
    state.limiter.succeeded(client)
    security.start_session(context, "password")
    if as_json:
        return jsonify({"ok": True})
    return redirect(target, 303)


@blueprint.post("/logout")
def logout() -> Any:
    security.end_session(web_context())
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"ok": True})
    return redirect("/login", 303)


@blueprint.get("/login/ticket/<ticket>")
@security.public
def ticket_login(ticket: str) -> Any:
    context = web_context()
    g.audit_always = True  # a sign-in, even though it is a GET
    if not security.security_state(context).tickets.redeem(ticket):
        g.refusal = "ticket_invalid"
        return _page(403, error="This sign-in link has expired or was already used. "
                                "Sign in with the password, or open the Dashboard tab again.")
    security.start_session(context, "desktop")
    return redirect("/", 302)


@blueprint.get("/api/v1/session")
def session_info() -> Response:
    principal: security.Principal = g.principal
    return jsonify({"principal": principal.json(), "csrf_token": security.csrf_token()})


@blueprint.get("/api/v1/audit")
def audit_entries() -> Response:
    raw = request.args.get("limit", "100")
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise ApiError(400, "invalid_field",
                       f"limit: must be a whole number from 1 to {MAX_AUDIT_LIMIT}, got {raw!r}",
                       field="limit")
    entries = audit_log(web_context()).newest(limit)
    return jsonify({"entries": [entry.json() for entry in entries]})


def _presented_password(as_json: bool) -> str | None:
    if as_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "the body must be a JSON object "
                                                '{"password": "..."}')
        value = body.get("password")
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "invalid_field", "password: must be a string", field="password")
        return value
    return request.form.get("password")


def _refuse(as_json: bool, status: int, code: str, message: str, target: str, *,
            field: str | None = None, headers: dict[str, str] | None = None) -> Any:
    g.refusal = code
    if as_json:
        raise ApiError(status, code, message, field=field, headers=headers)
    response = _page(status, error=message, next_path=target)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _page(status: int, *, error: str | None = None, next_path: str = "/") -> Response:
    context = web_context()
    html = render_template("login.html", error=error, next_path=next_path,
                           has_password=context.credentials.has_password(),
                           set_password_hint=SET_PASSWORD_HINT)
    response = Response(html, status=status, mimetype="text/html")
    # The page needs nothing from elsewhere: no script, only its own inline style.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    response.headers["Cache-Control"] = "no-store"
    return response
