"""An order's JSON body -> an `OrderRequest`, with the desktop ticket's parsers.

Each field goes through core.orders.request's parser for it (the same ones the ticket and
the CLI use), every problem is kept at once with the field it belongs to, and then
core.orders.validation judges the request against the instrument and quote on the engine's
loop (in the Order Manager's `place`/`preview`). JSON types are checked first: a quantity
given as "abc" or a list is a malformed request (400), not a trading problem.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ibtrader.core.market import Instrument, Quote
from ibtrader.core.orders import risk
from ibtrader.core.orders.request import (
    OrderInputError,
    OrderRequest,
    new_client_key,
    parse_chase_text,
    parse_order_type,
    parse_policy_text,
    parse_price,
    parse_quantity,
    parse_side,
    parse_symbol,
    parse_tif,
    parse_trail,
)
from ibtrader.core.orders.validation import validate
from ibtrader.services import order_reports
from ibtrader.web.api.inputs import bad_type, bool_field, number_field, text_field

FIELDS = ("symbol", "side", "quantity", "order_type", "limit", "stop", "trail", "tif",
          "outside_rth", "take_profit", "stop_loss", "policy", "chase", "client_key")
PRICES = ("limit", "stop", "take_profit", "stop_loss")
CLIENT_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
MAX_CLIENT_KEY = 64
# a request's field (as validation names it) -> the API's field
API_FIELD = {"price_policy": "policy", "type": "order_type", "trail_amount": "trail",
             "trail_percent": "trail"}
# refusal codes whose field does not depend on the request
_FIELD_OF_CODE = {
    risk.MAX_ORDER_QUANTITY: "quantity", risk.MAX_ORDER_VALUE: "quantity",
    risk.MAX_POSITION_VALUE: "quantity", risk.MAX_GROSS_EXPOSURE: "quantity",
    "bad_quantity": "quantity", "lot_size": "quantity", "unknown_contract": "symbol",
    "tif_not_allowed": "tif", "bad_trail": "trail", "bracket_inconsistent": "stop_loss",
}

Problem = tuple[str, str, str | None]  # (code, message, field)


def _text(value: float) -> str:
    """A JSON number as the text the parsers read (no precision lost)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_order(body: Mapping[str, Any], *, now: float | None = None
                ) -> tuple[OrderRequest | None, list[Problem]]:
    """The request the body describes (source "api"), or None and every problem found.
    Raises ApiError(400) for a field of the wrong JSON type."""
    now = time.time() if now is None else now
    symbol = text_field(body, "symbol", max_length=32)
    side = text_field(body, "side", max_length=16)
    quantity = number_field(body, "quantity")
    kind = text_field(body, "order_type", max_length=16)
    tif = text_field(body, "tif", max_length=8)
    prices = {name: number_field(body, name) for name in PRICES}
    trail = body.get("trail")
    if trail is not None and (isinstance(trail, bool) or not isinstance(trail, (int, float, str))):
        raise bad_type("trail", "a number (an amount) or a string such as \"1.5%\"", trail)
    outside_rth = bool_field(body, "outside_rth") or False
    policy = text_field(body, "policy", max_length=32)
    chase = text_field(body, "chase", max_length=64)
    key = text_field(body, "client_key", max_length=MAX_CLIENT_KEY)

    problems: list[Problem] = []

    def take(name: str, parse: Callable[[str], Any], text: str | None,
             required: bool = False) -> Any:
        if text is None or (isinstance(text, str) and not text.strip()):
            if required:
                problems.append(("required", f"{name}: is required", name))
            return None
        try:
            return parse(text)
        except OrderInputError as exc:
            problems.append(("invalid_field", f"{name}: {exc.message}", name))
        except ValueError as exc:
            problems.append(("invalid_field", f"{name}: {exc}", name))
        return None

    parsed_symbol = take("symbol", parse_symbol, symbol, required=True)
    parsed_side = take("side", parse_side, side, required=True)
    parsed_quantity = take("quantity", parse_quantity,
                           None if quantity is None else _text(quantity), required=True)
    parsed_kind = take("order_type", parse_order_type, kind or "mkt")
    parsed_tif = take("tif", parse_tif, tif or "day")
    parsed_prices = {name: take(name, lambda t, n=name: parse_price(t, n),
                                None if value is None else _text(value))
                     for name, value in prices.items()}
    trail_text = None if trail is None else trail if isinstance(trail, str) else _text(trail)
    amount, percent = take("trail", parse_trail, trail_text) or (None, None)
    parsed_policy = take("policy", parse_policy_text, policy)
    parsed_chase = take("chase", parse_chase_text, chase)
    if key is not None and (not key or not set(key) <= CLIENT_KEY_CHARS):
        problems.append(("invalid_field", "client_key: 1 to 64 of letters, digits and "
                         "- _ . :", "client_key"))
    if problems:
        return None, problems
    try:
        request = OrderRequest(
            symbol=parsed_symbol, side=parsed_side, quantity=parsed_quantity,
            client_key=key or new_client_key(now), order_type=parsed_kind,
            limit=parsed_prices["limit"], stop=parsed_prices["stop"], trail_amount=amount,
            trail_percent=percent, tif=parsed_tif, outside_rth=outside_rth,
            take_profit=parsed_prices["take_profit"], stop_loss=parsed_prices["stop_loss"],
            price_policy=parsed_policy, chase=parsed_chase, source="api", created=now)
    except OrderInputError as exc:
        name = API_FIELD.get(exc.field, exc.field)
        return None, [("invalid_field", f"{name}: {exc.message}", name)]
    return request, []


def field_of(code: str, request: OrderRequest,
             by_validation: Mapping[str, str]) -> str | None:
    """The API field a refusal code points at, if any."""
    if code in by_validation:
        return by_validation[code]
    if code == risk.PRICE_BAND:
        return "limit" if request.limit is not None else "stop"
    if code in (order_reports.NO_QUOTE, order_reports.PRICING):
        return "policy"
    return _FIELD_OF_CODE.get(code)


def refusal_problems(problems: list[tuple[str, str]], request: OrderRequest,
                     instrument: Instrument | None, quote: Quote | None) -> list[Problem]:
    """The manager's (code, message) refusals with the field each is about: validation
    knows the field of its own problems; the risk and manager codes map by kind."""
    by_validation = {p.code: API_FIELD.get(p.field, p.field)
                     for p in validate(request, instrument, quote) if p.field}
    return [(code, message, field_of(code, request, by_validation))
            for code, message in problems]
