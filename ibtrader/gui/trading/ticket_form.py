"""What the order ticket's fields mean: text in, an `OrderRequest` (or the problems, per
field) and the preview a trader reads before sending. No Qt here: the widget (ticket.py)
only shows what this computes.

    check = check_ticket(fields, now=..., instrument=..., quote=..., account=..., rules=...)
    check.request      # None when anything is wrong: nothing may be sent
    check.problems     # [(field, message)], every one at once
    check.preview      # "value 1,911.00 · commission ≈ 1.00 · ..."

Parsing uses core.orders.request's parsers (their messages name the field), validation
core.orders.validation.validate with the instrument and the latest quote. A risk-based
quantity is sized by core.sizing from the settings' risk per trade over the stop distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ibtrader.core.market import Instrument, Quote
from ibtrader.core.orders.pricing import PricePolicy, PricingError
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
from ibtrader.core.orders.validation import advisories, validate
from ibtrader.core.ports import AccountSnapshot
from ibtrader.core.sizing import Refusal, SizingRules, size_entry
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.commission import ib_tiered


@dataclass(frozen=True)
class TicketFields:
    """The ticket's inputs as typed (empty text: not given)."""

    symbol: str = ""
    side: str = "buy"
    quantity: str = ""
    risk_sized: bool = False  # size from the risk per trade and the stop instead
    order_type: str = "lmt"
    limit: str = ""
    stop: str = ""
    trail: str = ""
    tif: str = "day"
    take_profit: str = ""
    stop_loss: str = ""
    policy: str = ""
    chase: str = ""
    outside_rth: bool = False


@dataclass(frozen=True)
class TicketCheck:
    request: OrderRequest | None  # ready to send; None when anything is wrong
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message)
    notes: list[str] = field(default_factory=list)  # worth knowing, never blocking
    quantity: float = math.nan  # as typed or as sized
    value: float = math.nan
    commission: float = math.nan
    # the request with the limit its price policy gives now: what risk is judged on
    judged: OrderRequest | None = None
    # the risk rules' refusals (code, message) when a risk preview ran; None: not asked
    risk: list[tuple[str, str]] | None = None

    @property
    def ok(self) -> bool:
        return self.request is not None and not self.risk

    @property
    def preview(self) -> str:
        parts = [f"value ≈ {fmt.money(self.value)}",
                 f"commission ≈ {fmt.money(self.commission)}"]
        if self.problems:
            parts.append("NOT READY: " + "; ".join(m for _, m in self.problems))
        elif self.risk is None:
            parts.append("valid; risk is checked as it is sent")
        elif self.risk:
            parts.append("RISK SAYS NO: " + "; ".join(m for _, m in self.risk))
        else:
            parts.append("risk check: passes")
        return " · ".join(parts + self.notes)

    def with_risk(self, refusals: list[tuple[str, str]]) -> TicketCheck:
        """This check with the risk rules' verdict on `judged` ([] : it passes)."""
        return replace(self, risk=list(refusals))


LABELS = {"symbol": "symbol", "side": "side", "type": "order type", "tif": "time in force",
          "limit": "limit", "stop": "stop", "trail": "trail", "take_profit": "take-profit",
          "stop_loss": "stop-loss", "policy": "price policy", "chase": "chase",
          "quantity": "quantity"}
# validation names a request's field; the ticket's input for it
FIELD_OF = {"price_policy": "policy", "order_type": "type", "outside_rth": "tif"}


class _Collect:
    """Runs each parser, keeping the first problem per field instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def __call__(self, name: str, parse: Callable[[str], Any], text: str,
                 optional: bool = True) -> Any:
        if not text.strip():
            if not optional:
                self.problems.append((name, f"{LABELS.get(name, name)}: enter one"))
            return None
        try:
            return parse(text)
        except OrderInputError as exc:  # "must be above 0" needs the field's name
            self.problems.append((name, f"{LABELS.get(name, name)}: {exc.message}"))
        except ValueError as exc:  # a parser of core that raises a plain ValueError
            self.problems.append((name, str(exc)))
        return None


def check_ticket(fields: TicketFields, *, now: float, instrument: Instrument | None,
                 quote: Quote | None, account: AccountSnapshot | None = None,
                 rules: SizingRules | None = None, client_key: str = "") -> TicketCheck:
    take = _Collect()
    symbol = take("symbol", parse_symbol, fields.symbol, optional=False)
    side = take("side", parse_side, fields.side, optional=False)
    kind = take("type", parse_order_type, fields.order_type, optional=False)
    tif = take("tif", parse_tif, fields.tif, optional=False)
    limit = take("limit", lambda t: parse_price(t, "limit"), fields.limit)
    stop = take("stop", lambda t: parse_price(t, "stop"), fields.stop)
    trail = take("trail", parse_trail, fields.trail) or (None, None)
    take_profit = take("take_profit", lambda t: parse_price(t, "take_profit"),
                       fields.take_profit)
    stop_loss = take("stop_loss", lambda t: parse_price(t, "stop_loss"), fields.stop_loss)
    policy: PricePolicy | None = take("policy", parse_policy_text, fields.policy)
    chase = take("chase", parse_chase_text, fields.chase)
    quote = quote if quote is not None and quote.symbol == symbol else None
    resolved = _policy_limit(policy, kind, limit, side, quote, instrument, take)
    entry = _entry_price(kind, resolved, stop, side, quote)

    quantity = None
    if fields.risk_sized:
        quantity = _risk_size(side, entry, stop_loss or stop, account, rules, instrument, take)
    else:
        quantity = take("quantity", parse_quantity, fields.quantity, optional=False)
    qty = quantity if quantity is not None else math.nan
    value, commission = _costs(qty, entry, instrument)
    if take.problems or symbol is None or side is None or kind is None or tif is None \
            or quantity is None:
        return TicketCheck(None, take.problems, [], qty, value, commission)

    request = OrderRequest(
        symbol=symbol, side=side, quantity=quantity,
        client_key=client_key or new_client_key(now), order_type=kind, limit=limit,
        stop=stop, trail_amount=trail[0], trail_percent=trail[1], tif=tif,
        outside_rth=fields.outside_rth, take_profit=take_profit, stop_loss=stop_loss,
        price_policy=policy, chase=chase, source="ticket", created=now)
    # validation sees the limit the policy will give (the manager prices it when it sends)
    judged = request.with_changes(limit=resolved) if resolved != limit else request
    problems = [(FIELD_OF.get(p.field, p.field or "symbol"), p.message)
                for p in validate(judged, instrument, quote)]
    if problems:
        return TicketCheck(None, problems, [], qty, value, commission)
    notes = [n.message for n in advisories(judged, instrument, quote)] if instrument else []
    if resolved != limit and resolved is not None:
        notes.insert(0, f"limit by policy {policy}: {fmt.price(resolved)} now")
    return TicketCheck(request, [], notes, qty, value, commission, judged)


def _policy_limit(policy: PricePolicy | None, kind: str | None, limit: float | None,
                  side: str | None, quote: Quote | None, instrument: Instrument | None,
                  take: _Collect) -> float | None:
    """The limit a price policy gives now (a limit typed by hand wins)."""
    if policy is None or kind != "lmt" or limit is not None or side is None:
        return limit
    if quote is None or instrument is None:
        take.problems.append(("policy", "no quote yet to price the limit by the policy"))
        return None
    try:
        return policy.price(side, quote, instrument.min_tick)
    except PricingError as exc:
        take.problems.append(("policy", str(exc)))
        return None


def _entry_price(kind: str | None, limit: float | None, stop: float | None,
                 side: str | None, quote: Quote | None) -> float:
    """The price the order is expected to trade at: its limit or stop, else the far side
    of the quote (what a market order pays), else the last trade."""
    if kind in ("lmt", "stp-lmt") and limit is not None:
        return limit
    if kind == "stp" and stop is not None:
        return stop
    if quote is None:
        return math.nan
    far = quote.ask if side == "buy" else quote.bid
    return far if math.isfinite(far) and far > 0 else quote.last


def _risk_size(side: str | None, entry: float, stop: float | None,
               account: AccountSnapshot | None, rules: SizingRules | None,
               instrument: Instrument | None, take: _Collect) -> float | None:
    if side is None:
        return None
    if stop is None:
        take.problems.append(("quantity", "a risk-based size needs a stop-loss (or a stop) "
                              "to measure the risk by"))
        return None
    if account is None or rules is None:
        take.problems.append(("quantity", "no account values yet to size by risk"))
        return None
    if instrument is not None:
        rules = SizingRules(**{**_fields(rules), "multiplier": instrument.multiplier})
    sized = size_entry(side, entry, account.equity, account.buying_power, rules, stop=stop,
                       target=None)
    if isinstance(sized, Refusal):
        take.problems.append(("quantity", f"risk-based size: {sized.message}"))
        return None
    return sized.quantity


def _costs(quantity: float, price: float, instrument: Instrument | None) -> tuple[float, float]:
    if instrument is None or not (math.isfinite(quantity) and math.isfinite(price)):
        return math.nan, math.nan
    value = quantity * price * instrument.multiplier
    return value, ib_tiered(instrument.sec_type, quantity, price, instrument.multiplier)


def _fields(rules: SizingRules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in SizingRules.__dataclass_fields__}


def sizing_rules(settings: Any) -> SizingRules:
    """The settings' sizing, as the trading engine sizes its decisions (no take-profit:
    a ticket's take-profit is typed by the trader)."""
    return SizingRules(risk_per_trade_pct=settings.risk_per_trade_pct, reward_r=0.0,
                       default_stop_pct=settings.default_stop_pct,
                       stop_atr_multiple=settings.stop_atr_multiple,
                       max_position_value=settings.max_position_value)
