"""Reading API input: the JSON body, its fields and query parameters, each error naming
the field to fix.

Two kinds of bad input, two statuses:
- 400: the request is malformed: not JSON, not an object, a field of the wrong JSON type
  (quantity "abc" or a list), an unknown field, a query parameter that is not a number;
- 422: well-formed but not acceptable: a value out of range, an order validation would
  refuse (`FieldErrors` carries every problem at once, each with its field).

`engine()` gives the bridge of the running engine (503 while there is none); every engine
call goes through `bridge.call`, so a view never touches engine objects itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from flask import request

from ibtrader.core.broker import BrokerUnavailable
from ibtrader.web.bridge import EngineBridge, EngineUnavailable
from ibtrader.web.context import web_context
from ibtrader.web.errors import ApiError

T = TypeVar("T")
MISSING: Any = object()


class FieldErrors(ApiError):
    """A 422 whose problems each name their field: {"code", "message", "field"}."""

    def __init__(self, code: str, message: str,
                 problems: Sequence[tuple[str, str, str | None]]) -> None:
        first = next((f for _c, _m, f in problems if f), None)
        super().__init__(422, code, message, field=first,
                         problems=[(c, m) for c, m, _f in problems])
        self.fields = [f for _c, _m, f in problems]

    def body(self) -> dict[str, Any]:
        out = super().body()
        for problem, name in zip(out["error"].get("problems", []), self.fields, strict=True):
            if name:
                problem["field"] = name
        return out


def bad_type(name: str, expected: str, value: Any) -> ApiError:
    shown = type(value).__name__ if not isinstance(value, (str, int, float)) else repr(value)
    return ApiError(400, "wrong_type", f"{name}: must be {expected}, got {shown}", field=name)


def invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "invalid_field", f"{name}: {message}", field=name)


def not_found(what: str, name: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} {name!r}", field=what)


# --- the body ---------------------------------------------------------------------------

def json_object(allowed: Collection[str] | None, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, refusing fields not `allowed` (a typo must not be
    ignored); None: the caller judges the fields itself."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise ApiError(400, "bad_json", "the request needs a JSON object body")
        return {}
    try:
        body = request.get_json(force=True, silent=False)
    except Exception:  # Werkzeug's BadRequest, or a decoding error under it
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "not_an_object",
                       f"the body must be a JSON object, got {_json_kind(body)}")
    for name in body:
        if allowed is not None and name not in allowed:
            raise ApiError(400, "unknown_field",
                           f"{name}: unknown field; allowed: {', '.join(allowed)}", field=name)
    return body


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "null"


def number_field(body: Mapping[str, Any], name: str) -> float | None:
    """A JSON number (not a string, not a boolean), finite; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_type(name, "a number", value)
    if not math.isfinite(value):
        raise bad_type(name, "a finite number", value)
    return float(value)


def text_field(body: Mapping[str, Any], name: str, *, max_length: int = 200) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_type(name, "a string", value)
    if len(value) > max_length:
        raise invalid(name, f"at most {max_length} characters, got {len(value)}")
    return value


def bool_field(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise bad_type(name, "true or false", value)
    return value


# --- the query string -------------------------------------------------------------------

def query_int(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, "wrong_type", f"{name}: must be an integer, got {text!r}",
                       field=name) from None
    if not low <= value <= high:
        raise invalid(name, f"must be between {low} and {high}, got {value}")
    return value


def query_choice(name: str, choices: Sequence[str], default: str) -> str:
    value = request.args.get(name) or default
    if value not in choices:
        raise invalid(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def query_text(name: str, max_length: int = 100) -> str | None:
    value = request.args.get(name)
    if not value:
        return None
    if len(value) > max_length:
        raise invalid(name, f"at most {max_length} characters")
    return value


# --- the engine ----------------------------------------------------------------------------

def engine() -> EngineBridge:
    """The running engine's bridge; 503 while the engine is not up."""
    bridge = web_context().bridge
    if bridge is None or not bridge.running:
        raise EngineUnavailable("the engine is not running")
    return bridge


def call(fn: Callable[[], Any], timeout: float | None = None) -> Any:
    """`bridge.call(fn)`; a broker that is not connected is a 503, not a 500."""
    try:
        return engine().call(fn, timeout)
    except BrokerUnavailable as exc:
        raise ApiError(503, "broker_unavailable", str(exc),
                       headers={"Retry-After": "5"}) from None
