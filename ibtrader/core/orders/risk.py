"""Pre-trade risk: may this (valid) request be sent now? And what the kill switch does.

    verdict = check(request, price, snapshot, limits, multiplier=instrument.multiplier)
    if not verdict.ok: record verdict.refusals (rule code + message) and send nothing

`price` is the reference price: the last trade, else the mid. Values are quantity x price x
multiplier in the instrument's currency (no FX conversion: the service passes values in
one currency). A limit of 0 switches its rule off. Every rule is checked, so a refusal
lists every reason at once.

Rules (like TWS's precautionary settings, plus account-level ones):
- max_order_quantity, max_order_value: per order, valued at its limit (or stop) price.
- max_position_value_per_symbol: the position after the order, counting the working orders
  on the same side (the worst case if they all fill). Reducing a position always passes.
- max_gross_exposure: sum of |position value| plus working orders plus what the order adds.
- max_orders_per_minute: orders sent in the last 60 s, a guard against a runaway loop.
- price_band_pct: an entry's limit or stop price more than X% from the reference price is
  refused, as a fat-finger guard (a bracket's exit legs are not banded).
- daily_loss_limit: once today's P&L (realized + unrealized) is at or below -limit, only
  orders that reduce a position pass; the same holds while the kill switch is engaged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.core.sizing import Refusal  # one (code, message) type for every refusal

NO_PRICE = "no_price"
MAX_ORDER_QUANTITY = "max_order_quantity"
MAX_ORDER_VALUE = "max_order_value"
MAX_POSITION_VALUE = "max_position_value_per_symbol"
MAX_GROSS_EXPOSURE = "max_gross_exposure"
MAX_ORDERS_PER_MINUTE = "max_orders_per_minute"
PRICE_BAND = "price_band"
DAILY_LOSS_LIMIT = "daily_loss_limit"
KILL_SWITCH = "kill_switch"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Safe defaults for a small account; 0 switches a rule off."""

    max_order_quantity: float = 100_000.0  # units: shares, contracts, currency units
    max_order_value: float = 50_000.0
    max_position_value_per_symbol: float = 100_000.0
    max_gross_exposure: float = 250_000.0
    max_orders_per_minute: int = 30
    price_band_pct: float = 5.0
    daily_loss_limit: float = 2_000.0  # a positive amount of money

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"risk: {f.name} must be 0 (off) or more, got {value!r}")

    @classmethod
    def from_settings(cls, settings: Any) -> RiskLimits:
        """From any object with the same attribute names (the app's Settings)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The account as the order manager sees it at the time of the check."""

    now: float  # epoch seconds
    positions: Mapping[str, float] = field(default_factory=dict)  # symbol -> signed quantity
    # Open order quantities per symbol; an OCA group (a bracket's exits) counts once.
    working_buy: Mapping[str, float] = field(default_factory=dict)
    working_sell: Mapping[str, float] = field(default_factory=dict)
    gross_exposure: float = 0.0  # sum of |position value| over all symbols
    working_exposure: float = 0.0  # value of open orders that would add exposure
    sent_times: Sequence[float] = ()  # when recent orders were sent
    daily_pnl: float = 0.0  # realized + unrealized today
    kill_switch_engaged: bool = False


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    refusals: tuple[Refusal, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.refusals)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def reduces_position(request: OrderRequest, position: float) -> bool:
    """True when the order only shrinks an open position (never opens or flips one).
    Working exit orders are not counted against it on purpose: a bracket's two OCA exits
    would otherwise make a trader's own exit look like a new short and be refused."""
    if request.is_buy:
        return position < 0 and request.quantity <= -position + 1e-9
    return position > 0 and request.quantity <= position + 1e-9


def _prices_to_band(request: OrderRequest) -> list[tuple[str, float]]:
    # The entry's prices only: a bracket's exits sit R multiples away by design, and
    # validation already keeps them on the right sides of the entry.
    named = (("limit", request.limit), ("stop", request.stop))
    return [(name, value) for name, value in named if value is not None]


def _order_price(request: OrderRequest, price: float) -> float:
    """The price an order's value is judged at: its limit (the worst it may pay or get),
    its stop for a stop order, else the reference price."""
    if request.order_type in ("lmt", "stp-lmt") and request.limit is not None:
        return request.limit
    if request.order_type == "stp" and request.stop is not None:
        return request.stop
    return price


def check(request: OrderRequest, price: float, snapshot: RiskSnapshot, limits: RiskLimits,
          *, multiplier: float = 1.0) -> RiskVerdict:
    """Every risk rule the request breaks; an ok verdict when none."""
    if not (math.isfinite(price) and price > 0):
        return RiskVerdict((Refusal(NO_PRICE, f"{request.symbol}: no reference price (last or "
                                    "mid) to check the order's value against"),))
    refusals: list[Refusal] = []
    position = snapshot.positions.get(request.symbol, 0.0)
    reducing = reduces_position(request, position)
    qty = request.quantity
    value = qty * _order_price(request, price) * multiplier

    if limits.max_order_quantity and qty > limits.max_order_quantity:
        refusals.append(Refusal(MAX_ORDER_QUANTITY, f"quantity {qty:g} is above the "
                                f"{limits.max_order_quantity:g} allowed per order"))
    if limits.max_order_value and value > limits.max_order_value:
        refusals.append(Refusal(MAX_ORDER_VALUE, f"order value {_money(value)} is above the "
                                f"{_money(limits.max_order_value)} allowed per order"))
    if not reducing:
        if request.is_buy:
            after = position + snapshot.working_buy.get(request.symbol, 0.0) + qty
        else:
            after = position - snapshot.working_sell.get(request.symbol, 0.0) - qty
        after_value = abs(after) * price * multiplier
        cap = limits.max_position_value_per_symbol
        if cap and after_value > cap:
            refusals.append(Refusal(MAX_POSITION_VALUE, f"{request.symbol} position would be "
                                    f"{after:g} (with working orders), worth "
                                    f"{_money(after_value)}: above the {_money(cap)} allowed "
                                    "per symbol"))
        added = max(abs(position + request.signed_quantity) - abs(position), 0.0)
        gross = snapshot.gross_exposure + snapshot.working_exposure + added * price * multiplier
        if limits.max_gross_exposure and gross > limits.max_gross_exposure:
            refusals.append(Refusal(MAX_GROSS_EXPOSURE, f"gross exposure would be "
                                    f"{_money(gross)} (positions and working orders): above "
                                    f"the {_money(limits.max_gross_exposure)} allowed"))
    recent = sum(1 for t in snapshot.sent_times if snapshot.now - 60.0 < t <= snapshot.now)
    if limits.max_orders_per_minute and recent >= limits.max_orders_per_minute:
        refusals.append(Refusal(MAX_ORDERS_PER_MINUTE, f"{recent} orders sent in the last "
                                f"minute: the limit is {limits.max_orders_per_minute:g}"))
    if limits.price_band_pct:
        for name, level in _prices_to_band(request):
            off = abs(level - price) / price * 100.0
            if off > limits.price_band_pct:
                refusals.append(Refusal(PRICE_BAND, f"{name} price {level:g} is {off:.1f}% "
                                        f"from the last price {price:g}: more than the "
                                        f"{limits.price_band_pct:g}% band"))
    if not reducing:
        if limits.daily_loss_limit and snapshot.daily_pnl <= -limits.daily_loss_limit:
            refusals.append(Refusal(DAILY_LOSS_LIMIT, f"daily loss limit reached (P&L "
                                    f"{_money(snapshot.daily_pnl)} against a limit of "
                                    f"{_money(limits.daily_loss_limit)}): only orders that "
                                    "reduce a position are allowed"))
        if snapshot.kill_switch_engaged:
            refusals.append(Refusal(KILL_SWITCH, "the kill switch is engaged: only orders "
                                    "that reduce a position are allowed until it is released"))
    return RiskVerdict(tuple(refusals))


# --- the kill switch -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class KillSwitchPlan:
    """What the order manager carries out, in this order: disable auto-trade, cancel every
    open order (including ones placed elsewhere), then send the closing orders. The closing
    orders skip the pre-trade check: they only ever reduce."""

    cancel_all: bool = True
    disable_auto_trade: bool = True
    flatten: tuple[OrderRequest, ...] = ()


def kill_switch_plan(positions: Mapping[str, float], *, flatten: bool,
                     now: float) -> KillSwitchPlan:
    """The kill switch's actions; with `flatten`, a market order closing each position."""
    if not flatten:
        return KillSwitchPlan()
    closing = tuple(
        OrderRequest(symbol=symbol, side="sell" if qty > 0 else "buy", quantity=abs(qty),
                     client_key=new_client_key(now), order_type="mkt", tif="day",
                     source="killswitch", created=now)
        for symbol, qty in sorted(positions.items()) if qty != 0)
    return KillSwitchPlan(flatten=closing)
