"""What a trader (or the engine, the API, the CLI) asks for: one `OrderRequest`.

A request is the app's own word for an order, before validation (validation.py), risk
(risk.py) and the broker's tickets (tickets.py). It names its type, side and time in force
with lower-case words a trader types ("buy", "stp-lmt", "gtc"); the ticket builder maps
them to the broker's. Its `client_key` is our order ref: made once, journalled before
anything is sent, and echoed by the broker in every report, so a retry or a restart
matches the broker's order to ours and never sends it twice.

The constructor refuses only what makes a request meaningless (an unknown side, type,
time in force or source; a missing symbol or key). Whether it can be traded (quantity,
prices, tick grid, side of the market, bracket legs) is validation's job, which lists
every problem at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ibtrader.core.decisions import new_id
from ibtrader.core.orders.pricing import ChaseRule, PricePolicy, parse_chase, parse_policy

SIDES = ("buy", "sell")
ORDER_TYPES = ("mkt", "lmt", "stp", "stp-lmt", "trail")
TIFS = ("day", "gtc", "ioc")
# "killswitch": closing orders of the kill switch; "external": adopted from the broker
# (placed in TWS or by another client), never sent by us.
SOURCES = ("ticket", "decision", "api", "cli", "killswitch", "external")
KEY_PREFIX = "ibt-"


class OrderInputError(ValueError):
    """Bad text or values for a request; `field` names the input the trader must fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def new_client_key(now: float) -> str:
    """Our order ref: "ibt-" + an id that sorts by creation time (see decisions.new_id)."""
    return KEY_PREFIX + new_id(now)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str  # "buy" | "sell"
    quantity: float
    client_key: str
    order_type: str = "mkt"  # one of ORDER_TYPES
    limit: float | None = None  # lmt, stp-lmt
    stop: float | None = None  # stp, stp-lmt (optionally a trail's initial stop)
    trail_amount: float | None = None  # trail: price units ...
    trail_percent: float | None = None  # ... or percent, never both
    tif: str = "day"
    outside_rth: bool = False
    take_profit: float | None = None  # bracket legs: a LMT child ...
    stop_loss: float | None = None  # ... and a STP child, one OCA group
    # lmt only: how the limit follows the market (the service resolves it into `limit`
    # before validation), and how an unfilled limit is chased; see pricing.py
    price_policy: PricePolicy | None = None
    chase: ChaseRule | None = None
    decision_id: str = ""  # the engine's decision this order carries out
    source: str = "ticket"
    created: float = 0.0  # epoch seconds

    def __post_init__(self) -> None:
        for name, allowed in (("side", SIDES), ("order_type", ORDER_TYPES), ("tif", TIFS),
                              ("source", SOURCES)):
            value = getattr(self, name)
            if value not in allowed:
                raise OrderInputError(name, f"must be one of {', '.join(allowed)}, "
                                      f"got {value!r}")
        if not self.symbol.strip():
            raise OrderInputError("symbol", "is empty")
        if not self.client_key.strip():
            raise OrderInputError("client_key", "is empty")

    @property
    def is_buy(self) -> bool:
        return self.side == "buy"

    @property
    def signed_quantity(self) -> float:
        return self.quantity if self.is_buy else -self.quantity

    @property
    def is_bracket(self) -> bool:
        return self.take_profit is not None or self.stop_loss is not None

    def with_changes(self, **changes: Any) -> OrderRequest:
        return replace(self, **changes)


# --- text input (CLI, REST API) -------------------------------------------------------------

_TYPE_ALIASES = {"market": "mkt", "limit": "lmt", "stop": "stp", "stop-limit": "stp-lmt",
                 "stplmt": "stp-lmt", "stp lmt": "stp-lmt", "stp_lmt": "stp-lmt",
                 "trailing": "trail"}
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9./-]*")


def _choice(field_name: str, text: str, allowed: tuple[str, ...],
            aliases: Mapping[str, str] | None = None) -> str:
    word = text.strip().lower()
    word = (aliases or {}).get(word, word)
    if word not in allowed:
        raise OrderInputError(field_name, f"{text!r} is not one of {', '.join(allowed)}")
    return word


def parse_side(text: str) -> str:
    return _choice("side", text, SIDES)


def parse_order_type(text: str) -> str:
    return _choice("type", text, ORDER_TYPES, _TYPE_ALIASES)


def parse_tif(text: str) -> str:
    return _choice("tif", text, TIFS)


def parse_symbol(text: str) -> str:
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        raise OrderInputError("symbol", f"{text!r} is not a symbol (letters, digits, '.', "
                              "'/', '-')")
    return symbol


def _number(field_name: str, text: str) -> float:
    cleaned = text.strip().replace("_", "").replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        raise OrderInputError(field_name, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise OrderInputError(field_name, f"{text!r} is not a finite number")
    return value


def parse_quantity(text: str) -> float:
    value = _number("quantity", text)
    if value <= 0:
        raise OrderInputError("quantity", f"must be above 0, got {text!r}")
    return value


def parse_price(text: str, field_name: str = "price") -> float:
    value = _number(field_name, text)
    if value <= 0:
        raise OrderInputError(field_name, f"must be above 0, got {text!r}")
    return value


def parse_trail(text: str) -> tuple[float | None, float | None]:
    """ "0.50" -> (0.5, None), an amount in price units; "1.5%" -> (None, 1.5)."""
    raw = text.strip()
    if raw.endswith("%"):
        pct = _number("trail", raw[:-1])
        if not 0 < pct < 100:
            raise OrderInputError("trail", f"a percent trail must be between 0 and 100, "
                                  f"got {text!r}")
        return None, pct
    amount = _number("trail", raw)
    if amount <= 0:
        raise OrderInputError("trail", f"must be above 0, got {text!r}")
    return amount, None


def parse_policy_text(text: str) -> PricePolicy:
    """ "join", "mid", "marketable:2", "last:-1" (pricing.py's forms)."""
    try:
        return parse_policy(text)
    except ValueError as exc:
        raise OrderInputError("policy", str(exc)) from None


def parse_chase_text(text: str) -> ChaseRule:
    """ "EVERY:TICKS:MAX[%][:cancel|market]", e.g. "5:1:10:market" (pricing.py's form)."""
    try:
        return parse_chase(text)
    except ValueError as exc:
        raise OrderInputError("chase", str(exc)) from None


def parse_request(symbol: str, side: str, quantity: str, *, now: float,
                  order_type: str = "mkt", limit: str | None = None, stop: str | None = None,
                  trail: str | None = None, tif: str = "day", outside_rth: bool = False,
                  take_profit: str | None = None, stop_loss: str | None = None,
                  policy: str | None = None, chase: str | None = None, source: str = "cli",
                  client_key: str = "") -> OrderRequest:
    """A request from text fields as a trader types them (the CLI's and the API's words).
    Raises `OrderInputError` naming the first bad field; market rules come later."""
    trail_amount, trail_percent = parse_trail(trail) if trail else (None, None)
    return OrderRequest(
        symbol=parse_symbol(symbol), side=parse_side(side), quantity=parse_quantity(quantity),
        client_key=client_key or new_client_key(now), order_type=parse_order_type(order_type),
        limit=parse_price(limit, "limit") if limit is not None else None,
        stop=parse_price(stop, "stop") if stop is not None else None,
        trail_amount=trail_amount, trail_percent=trail_percent, tif=parse_tif(tif),
        outside_rth=outside_rth,
        take_profit=parse_price(take_profit, "take_profit") if take_profit is not None else None,
        stop_loss=parse_price(stop_loss, "stop_loss") if stop_loss is not None else None,
        price_policy=parse_policy_text(policy) if policy else None,
        chase=parse_chase_text(chase) if chase else None,
        source=_choice("source", source, SOURCES), created=now,
    )
