"""Is a request tradable as written? Every problem at once, each in a trader's words.

    problems = validate(request, instrument, quote)   # [] means: may go on to risk
    notes = advisories(request, instrument, quote)    # never blocking: shown to the trader

Decisions (IB's behaviour in mind):
- Quantity: whole shares for stocks (fractional shares are an IB API special case we do not
  use), whole contracts for futures, whole units (at least 1) for currencies. IB accepts FX
  odd lots below IDEALPRO's minimum and routes them differently; that is not an error.
- Prices must sit on the instrument's tick grid (IB rejects them otherwise, error 110); the
  message names the two nearest valid prices. Trail amounts too.
- A buy stop must be above the ask and a sell stop below the bid: otherwise it triggers at
  once, which is a market order the trader did not mean. A stop-limit's limit must not be
  on the wrong side of its stop (a buy limit below its stop could not fill when triggered).
- A marketable limit (a buy limit at or above the ask) is allowed, as it is at IB, and noted
  in `advisories`; how far from the market a price may be is the risk check's price band.
- IOC works only for orders that can fill at once: IOC with a stop, stop-limit or trail
  would be cancelled before it could trigger, and an IOC bracket would cancel its own
  protective legs; both are refused. Outside-RTH on a market order is only noted: IB ignores
  the flag for it (warning 2109) rather than refusing.
- A price policy and a chase belong to limit orders only (not IOC for a chase). Validation
  runs after the service has resolved the policy into `limit`: a limit is still required.
- Brackets: buy stop_loss < entry < take_profit, mirrored for a sell; the entry is the limit
  (or stop) price, or the far side of the quote for a market entry.
Checks that need a quote are skipped when the quote lacks the price: the broker will still
refuse a wrong order, and risk refuses trading without a reference price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import pairwise

from ibtrader.core.market import Instrument, Quote
from ibtrader.core.orders.pricing import round_to_tick
from ibtrader.core.orders.request import OrderRequest

# Problem codes: stable text for the journal, the GUI and tests.
UNKNOWN_CONTRACT = "unknown_contract"
BAD_QUANTITY = "bad_quantity"
LOT_SIZE = "lot_size"
MISSING_PRICE = "missing_price"
UNEXPECTED_PRICE = "unexpected_price"
BAD_PRICE = "bad_price"
OFF_TICK = "off_tick"
STOP_WRONG_SIDE = "stop_wrong_side"
STOP_LIMIT_INCONSISTENT = "stop_limit_inconsistent"
BAD_TRAIL = "bad_trail"
BRACKET_INCONSISTENT = "bracket_inconsistent"
TIF_NOT_ALLOWED = "tif_not_allowed"
POLICY_NOT_ALLOWED = "policy_not_allowed"
MARKETABLE_LIMIT = "marketable_limit"
OUTSIDE_RTH_IGNORED = "outside_rth_ignored"

_WHOLE_UNITS = {"STK": "whole shares", "FUT": "whole contracts", "CASH": "whole units",
                "OPT": "whole contracts", "FOP": "whole contracts"}


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    field: str = ""  # the request's field to fix, when one is to blame

    def __str__(self) -> str:
        return self.message


# --- the tick grid ---------------------------------------------------------------------------

@cache  # a handful of tick sizes, asked for on every price
def tick_decimals(tick: float) -> int:
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def on_tick(price: float, tick: float) -> bool:
    steps = price / tick
    # Binary floats never hit 0.1-grids exactly: allow a millionth of a tick, and more for
    # huge step counts, where a float's own precision is coarser.
    return abs(steps - round(steps)) <= 1e-6 + abs(steps) * 1e-12


def neighbours(price: float, tick: float) -> tuple[float, float]:
    """The valid prices just below and just above an off-grid price."""
    return round_to_tick(price, tick, "down"), round_to_tick(price, tick, "up")


def fmt(price: float, tick: float = 0.01) -> str:
    return f"{price:.{max(2, tick_decimals(tick))}f}"


# --- the checks ------------------------------------------------------------------------------

def _entry(request: OrderRequest, quote: Quote | None) -> float | None:
    """The price a bracket's entry is expected at."""
    if request.order_type in ("lmt", "stp-lmt"):
        return request.limit
    if request.order_type == "stp":
        return request.stop
    if quote is None:
        return None
    far = quote.ask if request.is_buy else quote.bid
    return far if math.isfinite(far) and far > 0 else None


def _quantity(request: OrderRequest, instrument: Instrument) -> list[Problem]:
    qty = request.quantity
    if not (math.isfinite(qty) and qty > 0):
        return [Problem(BAD_QUANTITY, f"quantity must be above 0, got {qty:g}", "quantity")]
    whole = _WHOLE_UNITS.get(instrument.sec_type)
    if whole and qty != int(qty):
        low, high = math.floor(qty), math.ceil(qty)
        hint = f"use {low:g} or {high:g}" if low >= 1 else "the least is 1"
        return [Problem(LOT_SIZE, f"{instrument.symbol} trades in {whole}: {qty:g} is not a "
                        f"whole number ({hint})", "quantity")]
    return []


_NEEDS = {"mkt": (), "lmt": ("limit",), "stp": ("stop",), "stp-lmt": ("stop", "limit"),
          "trail": ()}
_ALLOWS = {"mkt": (), "lmt": ("limit",), "stp": ("stop",), "stp-lmt": ("stop", "limit"),
           "trail": ("stop",)}  # a trail may carry its initial stop
_KIND = {"mkt": "a market order", "lmt": "a limit order", "stp": "a stop order",
         "stp-lmt": "a stop-limit order", "trail": "a trailing stop"}


def _prices(request: OrderRequest, tick: float) -> list[Problem]:
    problems: list[Problem] = []
    kind = _KIND[request.order_type]
    for name in ("limit", "stop"):
        value = getattr(request, name)
        if value is None and name in _NEEDS[request.order_type]:
            problems.append(Problem(MISSING_PRICE, f"{kind} needs a {name} price", name))
        elif value is not None and name not in _ALLOWS[request.order_type]:
            problems.append(Problem(UNEXPECTED_PRICE, f"{kind} takes no {name} price "
                                    f"(got {value:g})", name))
    for name in ("limit", "stop", "take_profit", "stop_loss"):
        value = getattr(request, name)
        if value is not None:
            problems.extend(_grid(name.replace("_", "-"), name, value, tick))
    return problems


def _grid(label: str, name: str, value: float, tick: float) -> list[Problem]:
    if not (math.isfinite(value) and value > 0):
        return [Problem(BAD_PRICE, f"{label} price must be above 0, got {value:g}", name)]
    if not on_tick(value, tick):
        low, high = neighbours(value, tick)
        return [Problem(OFF_TICK, f"{label} price {value:g} is not on the {fmt(tick, tick)} "
                        f"tick grid: nearest valid prices are {fmt(low, tick)} and "
                        f"{fmt(high, tick)}", name)]
    return []


def _trail(request: OrderRequest, tick: float) -> list[Problem]:
    amount, pct = request.trail_amount, request.trail_percent
    if request.order_type != "trail":
        if amount is not None or pct is not None:
            return [Problem(UNEXPECTED_PRICE, f"{_KIND[request.order_type]} takes no trail "
                            "amount or percent (use type trail)", "trail")]
        return []
    if amount is None and pct is None:
        return [Problem(BAD_TRAIL, "a trailing stop needs a trail amount or a trail percent",
                        "trail")]
    if amount is not None and pct is not None:
        return [Problem(BAD_TRAIL, "give a trail amount or a trail percent, not both", "trail")]
    if pct is not None:
        if not (math.isfinite(pct) and 0 < pct < 100):
            return [Problem(BAD_TRAIL, f"trail percent must be between 0 and 100, got {pct:g}",
                            "trail")]
        return []
    assert amount is not None
    if not (math.isfinite(amount) and amount > 0):
        return [Problem(BAD_TRAIL, f"trail amount must be above 0, got {amount:g}", "trail")]
    return _grid("trail", "trail", amount, tick)


def _market_side(request: OrderRequest, quote: Quote | None, tick: float) -> list[Problem]:
    problems: list[Problem] = []
    stop = request.stop
    stop_kind = request.order_type in ("stp", "stp-lmt", "trail")  # a trail's initial stop
    if stop is not None and stop_kind and quote is not None:
        if request.is_buy and math.isfinite(quote.ask) and stop <= quote.ask:
            problems.append(Problem(STOP_WRONG_SIDE, f"a buy stop must be above the ask "
                                    f"{fmt(quote.ask, tick)}: {fmt(stop, tick)} would trigger "
                                    "at once", "stop"))
        if not request.is_buy and math.isfinite(quote.bid) and stop >= quote.bid:
            problems.append(Problem(STOP_WRONG_SIDE, f"a sell stop must be below the bid "
                                    f"{fmt(quote.bid, tick)}: {fmt(stop, tick)} would trigger "
                                    "at once", "stop"))
    limit = request.limit
    if request.order_type == "stp-lmt" and stop is not None and limit is not None:
        if request.is_buy and limit < stop:
            problems.append(Problem(STOP_LIMIT_INCONSISTENT, f"a buy stop-limit's limit "
                                    f"{fmt(limit, tick)} is below its stop {fmt(stop, tick)}: "
                                    "once triggered it could not fill", "limit"))
        if not request.is_buy and limit > stop:
            problems.append(Problem(STOP_LIMIT_INCONSISTENT, f"a sell stop-limit's limit "
                                    f"{fmt(limit, tick)} is above its stop {fmt(stop, tick)}: "
                                    "once triggered it could not fill", "limit"))
    return problems


def _bracket(request: OrderRequest, quote: Quote | None, tick: float) -> list[Problem]:
    if not request.is_bracket:
        return []
    tp, sl = request.take_profit, request.stop_loss
    entry = _entry(request, quote)
    points = [(name, value) for name, value in
              (("stop-loss", sl), ("entry", entry), ("take-profit", tp)) if value is not None]
    if not request.is_buy:
        points.reverse()  # a sell bracket is the mirror: take-profit < entry < stop-loss
    for (low_name, low), (high_name, high) in pairwise(points):
        if not low < high:
            order = " < ".join(name for name, _ in points)
            shown = ", ".join(f"{name} {fmt(value, tick)}" for name, value in points)
            return [Problem(BRACKET_INCONSISTENT, f"a {request.side} bracket needs {order}; "
                            f"got {shown} ({low_name} is not below {high_name})",
                            "take_profit" if "take-profit" in (low_name, high_name)
                            else "stop_loss")]
    return []


def _policy(request: OrderRequest) -> list[Problem]:
    problems: list[Problem] = []
    if request.order_type != "lmt":
        kind = _KIND[request.order_type]
        if request.price_policy is not None:
            problems.append(Problem(POLICY_NOT_ALLOWED, f"a price policy sets a limit price: "
                                    f"{kind} has none to set (use type lmt)", "price_policy"))
        if request.chase is not None:
            problems.append(Problem(POLICY_NOT_ALLOWED, f"only a limit order can be chased, "
                                    f"not {kind}", "chase"))
    elif request.chase is not None and request.tif == "ioc":
        problems.append(Problem(POLICY_NOT_ALLOWED, "an IOC order cannot be chased: it is "
                                "cancelled before the first reprice (use DAY or GTC)", "chase"))
    return problems


def _tif(request: OrderRequest) -> list[Problem]:
    if request.tif != "ioc":
        return []
    if request.order_type in ("stp", "stp-lmt", "trail"):
        return [Problem(TIF_NOT_ALLOWED, f"IOC cannot be used with {_KIND[request.order_type]}:"
                        " it would be cancelled before it could trigger (use DAY or GTC)",
                        "tif")]
    if request.is_bracket:
        return [Problem(TIF_NOT_ALLOWED, "IOC cannot be used with a bracket: the take-profit "
                        "and stop-loss would be cancelled at once (use DAY or GTC)", "tif")]
    return []


def validate(request: OrderRequest, instrument: Instrument | None,
             quote: Quote | None = None) -> list[Problem]:
    """Every reason the request cannot be sent as written; [] when it can."""
    if instrument is None or not instrument.is_qualified:
        return [Problem(UNKNOWN_CONTRACT, f"{request.symbol}: no such contract at the broker "
                        "(or not qualified yet)", "symbol")]
    if instrument.symbol != request.symbol:
        return [Problem(UNKNOWN_CONTRACT, f"{request.symbol}: the contract given is "
                        f"{instrument.symbol}, not this symbol", "symbol")]
    if quote is not None and quote.symbol != request.symbol:
        quote = None  # a quote of another instrument says nothing about this one
    tick = instrument.min_tick
    if not (math.isfinite(tick) and tick > 0):
        return [Problem(UNKNOWN_CONTRACT, f"{request.symbol}: the broker gave no usable tick "
                        f"size ({tick:g}); prices cannot be checked", "symbol")]
    problems = _quantity(request, instrument) + _prices(request, tick) + _trail(request, tick)
    problems += _tif(request) + _policy(request)
    if not any(p.code in (BAD_PRICE, MISSING_PRICE) for p in problems):
        problems += _market_side(request, quote, tick) + _bracket(request, quote, tick)
    return problems


def advisories(request: OrderRequest, instrument: Instrument,
               quote: Quote | None = None) -> list[Problem]:
    """Worth telling the trader, never blocking: marketable limits, ignored flags."""
    notes: list[Problem] = []
    tick = instrument.min_tick
    limit = request.limit
    if request.order_type == "lmt" and limit is not None and quote is not None:
        if request.is_buy and math.isfinite(quote.ask) and limit >= quote.ask:
            notes.append(Problem(MARKETABLE_LIMIT, f"buy limit {fmt(limit, tick)} is at or above"
                                 f" the ask {fmt(quote.ask, tick)}: it fills at once, up to "
                                 "the limit", "limit"))
        if not request.is_buy and math.isfinite(quote.bid) and limit <= quote.bid:
            notes.append(Problem(MARKETABLE_LIMIT, f"sell limit {fmt(limit, tick)} is at or "
                                 f"below the bid {fmt(quote.bid, tick)}: it fills at once, "
                                 "down to the limit", "limit"))
    if request.outside_rth and request.order_type == "mkt":
        notes.append(Problem(OUTSIDE_RTH_IGNORED, "outside-RTH is ignored for a market order: "
                             "it works in regular trading hours only (use a limit order)",
                             "outside_rth"))
    return notes
