"""Position sizing by risk: how many units to buy or sell so that being stopped out costs
`risk_per_trade_pct` of equity, with the stop and take-profit prices that go with it.

    rules = SizingRules(risk_per_trade_pct=0.5, reward_r=2.0, max_position_value=25_000)
    result = size_entry("buy", price=100.0, equity=100_000, buying_power=200_000,
                        rules=rules, stop=97.0)
    # Sizing(quantity=166, stop=97.0, target=106.0, ...) or Refusal("stop_wrong_side", ...)

R is the stop distance per unit. The stop comes from the signal when it has one, else
from an ATR it reported (`stop_atr_multiple` ATRs), else `default_stop_pct` of the price.
Pure arithmetic: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Refusal codes: stable text for the journal, the GUI and tests.
NO_EQUITY = "no_equity"
NO_PRICE = "no_price"
NO_BUYING_POWER = "no_buying_power"
STOP_WRONG_SIDE = "stop_wrong_side"
TARGET_WRONG_SIDE = "target_wrong_side"
SIZE_ZERO = "size_rounds_to_zero"

_NUMBER = (int, float)  # built once: `int | float` makes a new union on every call


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no order follows a signal: a stable `code` and a message a trader reads."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class SizingRules:
    risk_per_trade_pct: float = 0.5  # % of equity lost if the stop is hit
    reward_r: float = 2.0  # take-profit distance in R; 0 = no take-profit
    default_stop_pct: float = 2.0  # stop distance in % of price when nothing better is known
    stop_atr_multiple: float = 2.0  # stop distance in ATRs when the signal reports an ATR
    max_position_value: float = 25_000.0  # cap on quantity * price * multiplier; 0 = no cap
    quantity_step: float = 1.0  # whole shares / contracts
    multiplier: float = 1.0  # contract multiplier (futures), value per price point per unit

    def __post_init__(self) -> None:
        checks = (
            ("risk_per_trade_pct", 0.0 < self.risk_per_trade_pct <= 100.0, "in (0, 100]"),
            ("reward_r", self.reward_r >= 0.0, "0 or more"),
            ("default_stop_pct", 0.0 < self.default_stop_pct < 100.0, "in (0, 100)"),
            ("stop_atr_multiple", self.stop_atr_multiple > 0.0, "above 0"),
            ("max_position_value", self.max_position_value >= 0.0, "0 (no cap) or more"),
            ("quantity_step", self.quantity_step > 0.0, "above 0"),
            ("multiplier", self.multiplier > 0.0, "above 0"),
        )
        for name, ok, allowed in checks:
            value = getattr(self, name)
            if not (ok and math.isfinite(value)):
                raise ValueError(f"sizing: {name} must be {allowed}, got {value!r}")


@dataclass(frozen=True, slots=True)
class Sizing:
    quantity: float  # units to trade, > 0
    entry: float  # the price the size was computed at
    stop: float
    target: float | None
    risk_per_unit: float  # R, in price points
    risk_amount: float  # what hitting the stop costs: quantity * R * multiplier
    stop_source: str  # "signal", "atr" or "percent"
    capped_by: str = ""  # "max_position_value" or "buying_power" when a cap cut the size


def stop_for(side: str, price: float, rules: SizingRules, stop: float | None,
             values: Mapping[str, Any] | None = None) -> tuple[float, str]:
    """The stop price and where it came from: the signal's, an ATR reported in its
    values (key "atr"), or the configured percentage."""
    sign = 1.0 if side == "buy" else -1.0
    if stop is not None:
        return stop, "signal"
    atr = (values or {}).get("atr")
    if isinstance(atr, _NUMBER) and math.isfinite(atr) and atr > 0:
        return price - sign * rules.stop_atr_multiple * atr, "atr"
    return price * (1.0 - sign * rules.default_stop_pct / 100.0), "percent"


def size_entry(side: str, price: float, equity: float, buying_power: float,
               rules: SizingRules, *, stop: float | None = None, target: float | None = None,
               values: Mapping[str, Any] | None = None) -> Sizing | Refusal:
    """The size, stop and take-profit of a new position opened `side` ("buy" or "sell")
    at `price`, or the Refusal saying why there is none."""
    if side not in ("buy", "sell"):
        raise ValueError(f"sizing: side must be buy or sell, not {side!r}")
    if not (math.isfinite(price) and price > 0):
        return Refusal(NO_PRICE, f"no usable price to size at (got {price!r})")
    if not (math.isfinite(equity) and equity > 0):
        return Refusal(NO_EQUITY, f"no equity to risk (equity is {equity!r})")
    if not (math.isfinite(buying_power) and buying_power > 0):
        return Refusal(NO_BUYING_POWER, f"no buying power left (it is {buying_power!r})")
    sign = 1.0 if side == "buy" else -1.0
    stop_price, source = stop_for(side, price, rules, stop, values)
    risk = sign * (price - stop_price)
    if not (math.isfinite(stop_price) and risk > 0):
        where = "below" if side == "buy" else "above"
        return Refusal(STOP_WRONG_SIDE, f"the stop {stop_price:g} must be {where} the price "
                                        f"{price:g} for a {side}")
    if target is None:
        target = price + sign * rules.reward_r * risk if rules.reward_r > 0 else None
    elif not sign * (target - price) > 0:
        where = "above" if side == "buy" else "below"
        return Refusal(TARGET_WRONG_SIDE, f"the take-profit {target:g} must be {where} the "
                                          f"price {price:g} for a {side}")
    risk_amount = equity * rules.risk_per_trade_pct / 100.0
    unit_value = price * rules.multiplier
    wanted = risk_amount / (risk * rules.multiplier)
    quantity, capped_by = wanted, ""
    if rules.max_position_value and quantity * unit_value > rules.max_position_value:
        quantity, capped_by = rules.max_position_value / unit_value, "max_position_value"
    if quantity * unit_value > buying_power:
        quantity, capped_by = buying_power / unit_value, "buying_power"
    step = rules.quantity_step
    # a hair of tolerance so that 2.9999999999 shares from float division count as 3
    quantity = math.floor(quantity / step + 1e-9) * step
    if quantity <= 0:
        why = f" (capped by {capped_by.replace('_', ' ')})" if capped_by else ""
        return Refusal(SIZE_ZERO, f"the size rounds to zero: risking {risk_amount:.2f} over a "
                                  f"stop distance of {risk:g} allows {wanted:.4g} units{why}")
    return Sizing(quantity, price, stop_price, target, risk,
                  quantity * risk * rules.multiplier, source, capped_by)
