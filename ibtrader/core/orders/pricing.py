"""Limit prices from the market: price policies, and the chase that reprices an unfilled order.

Conventions:
- `side` is "BUY" or "SELL" (any case). "Passive" is away from the other side of the book
  (down for a buy, up for a sell); "aggressive" is toward it.
- Every price returned is on the tick grid. A price derived from the book (mid, last ± N)
  is rounded toward the passive side, so that a policy never pays more than it says;
  `marketable` is rounded toward the aggressive side, because crossing is its whole point.
- Policies read `Quote` values, where a missing price is NaN (or, from some feeds, 0 or
  below): a policy that needs a missing price, or a book whose bid is above its ask, raises
  a specific `PricingError` instead of guessing.

The chase is a pure step function: the order manager keeps a `ChaseState` per order, calls
`chase_step(rule, state, quote, now, tick)` from a timer, and does what the answer says
(wait, modify the order to `price`, cancel it, or replace it with a market order).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import Literal

from ibtrader.core.market import Quote

# a price within this many ticks of a grid line is on that line (float noise, not a price)
_GRID_EPS = 1e-6

Direction = Literal["up", "down", "nearest"]


class PricingError(ValueError):
    """A limit price cannot be derived from the market as it is."""


class MissingPrice(PricingError):
    """The quote lacks the price a policy needs (no bid, no ask or no last trade)."""


class CrossedQuote(PricingError):
    """The bid is above the ask: the book is inconsistent, so no price is derived from it."""


# ----- sides and the tick grid --------------------------------------------------------------

def side_sign(side: str) -> int:
    """+1 for a buy, -1 for a sell; anything else is refused by name."""
    upper = side.upper()
    if upper == "BUY":
        return 1
    if upper == "SELL":
        return -1
    raise ValueError(f"side must be BUY or SELL, not {side!r}")


def check_tick(tick: float) -> float:
    if not (isinstance(tick, int | float) and math.isfinite(tick) and tick > 0):
        raise ValueError(f"tick size must be a positive number, not {tick!r}")
    return float(tick)


def _from_ticks(count: int, tick: float) -> float:
    # Dividing by the whole number of ticks per unit (when there is one) gives the float
    # nearest the decimal price: 10101 / 100 == 101.01, while 10101 * 0.01 != 101.01.
    per_unit = 1.0 / tick
    if abs(per_unit - round(per_unit)) < 1e-9:
        return count / round(per_unit)
    return round(count * tick, 12)


def round_to_tick(price: float, tick: float, direction: Direction = "nearest") -> float:
    """`price` on the grid of `tick`: the line below, above, or the nearest one. A price
    already on a line (within float noise) stays there whatever the direction."""
    check_tick(tick)
    if not math.isfinite(price):
        raise ValueError(f"cannot round {price!r} to the tick")
    ticks = price / tick
    nearest = round(ticks)
    if direction == "nearest" or abs(ticks - nearest) < _GRID_EPS:
        return _from_ticks(nearest, tick)
    count = math.floor(ticks) if direction == "down" else math.ceil(ticks)
    return _from_ticks(count, tick)


def passive_round(price: float, tick: float, sign: int) -> float:
    """Round away from crossing: down for a buy (sign +1), up for a sell (sign -1)."""
    return round_to_tick(price, tick, "down" if sign > 0 else "up")


def aggressive_round(price: float, tick: float, sign: int) -> float:
    return round_to_tick(price, tick, "up" if sign > 0 else "down")


def add_ticks(price: float, count: int, tick: float) -> float:
    """`price` (on the grid) moved by `count` ticks, computed in whole ticks so that many
    small steps never drift off the grid."""
    return _from_ticks(round(price / tick) + count, tick)


def _present(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _book(quote: Quote) -> tuple[float, float]:
    """(bid, ask) with missing sides as NaN; raises `CrossedQuote` for bid > ask.
    A locked book (bid == ask) is allowed: it happens and is still a price."""
    bid = quote.bid if _present(quote.bid) else math.nan
    ask = quote.ask if _present(quote.ask) else math.nan
    if bid > ask:  # False when either is NaN
        raise CrossedQuote(f"{quote.symbol}: crossed quote, bid {bid} above ask {ask}")
    return bid, ask


def _need(value: float, what: str, quote: Quote) -> float:
    if not _present(value):
        raise MissingPrice(f"{quote.symbol}: no {what} in the quote")
    return value


# ----- price policies ------------------------------------------------------------------------

class PolicyKind(enum.Enum):
    JOIN = "join"  # our side of the book: the bid for a buy, the ask for a sell
    MID = "mid"  # the midpoint, rounded toward the passive side
    MARKETABLE = "marketable"  # the far side crossed by N ticks: ask + N for a buy
    LAST = "last"  # the last trade moved N ticks toward aggressive (negative: passive)


@dataclass(frozen=True, slots=True)
class PricePolicy:
    """How a limit price follows the market. `ticks` is for MARKETABLE (>= 0) and LAST
    (any sign; positive pays more for a buy and asks less for a sell, like MARKETABLE)."""

    kind: PolicyKind
    ticks: int = 0

    def __post_init__(self) -> None:
        if self.kind in (PolicyKind.JOIN, PolicyKind.MID) and self.ticks:
            raise ValueError(f"price policy {self.kind.value} takes no tick offset")
        if self.kind is PolicyKind.MARKETABLE and self.ticks < 0:
            raise ValueError("marketable crosses the spread: its ticks must be 0 or more")

    def __str__(self) -> str:
        if self.kind in (PolicyKind.JOIN, PolicyKind.MID):
            return self.kind.value
        return f"{self.kind.value}:{self.ticks}"

    def price(self, side: str, quote: Quote, tick: float) -> float:
        """The limit price for an order on `side` now; raises `PricingError` when the
        quote cannot give one, and never returns a price at or below zero."""
        sign = side_sign(side)
        check_tick(tick)
        if self.kind is PolicyKind.LAST:
            last = _need(quote.last, "last trade price", quote)
            price = add_ticks(passive_round(last, tick, sign), sign * self.ticks, tick)
        else:
            bid, ask = _book(quote)
            near, far = (bid, ask) if sign > 0 else (ask, bid)
            if self.kind is PolicyKind.JOIN:
                price = passive_round(_need(near, _SIDE_NAME[sign], quote), tick, sign)
            elif self.kind is PolicyKind.MID:
                _need(bid, "bid (for the midpoint)", quote)
                _need(ask, "ask (for the midpoint)", quote)
                price = passive_round((bid + ask) / 2, tick, sign)
            else:
                far = _need(far, _SIDE_NAME[-sign], quote)
                price = add_ticks(aggressive_round(far, tick, sign), sign * self.ticks, tick)
        if price <= 0:
            raise PricingError(f"{quote.symbol}: policy {self} gives a price of {price}, "
                               "not above zero")
        return price


_SIDE_NAME = {1: "bid", -1: "ask"}
_POLICY_FORMS = "join, mid, marketable[:N] (N >= 0) or last[:N] (N may be negative)"


def parse_policy(text: str) -> PricePolicy:
    """A policy from its text: "join", "mid", "marketable:2", "last:-1" (also "last+1").
    Bare "marketable" and "last" mean 0 ticks."""
    raw = text.strip().lower()
    name, offset = raw, ""
    for sep in (":", "+", "-"):
        head, found, tail = raw.partition(sep)
        if found and head:
            name, offset = head.strip(), (tail if sep != "-" else "-" + tail).strip()
            break
    try:
        kind = PolicyKind(name)
    except ValueError:
        raise ValueError(f"unknown price policy {text!r}: use {_POLICY_FORMS}") from None
    if not offset:
        return PricePolicy(kind)
    try:
        ticks = int(offset)
    except ValueError:
        raise ValueError(f"price policy {text!r}: {offset!r} is not a whole number of "
                         "ticks") from None
    return PricePolicy(kind, ticks)


# ----- the chase -----------------------------------------------------------------------------

ChaseThen = Literal["cancel", "market"]


@dataclass(frozen=True, slots=True)
class ChaseRule:
    """Reprice an unfilled limit order every `every_seconds` by `ticks` toward the far side,
    never beyond `max_slippage` from the price it was placed at (in ticks, or in % of that
    price when `slippage_in_percent`); once there and still unfilled, `then` happens."""

    every_seconds: float
    ticks: int
    max_slippage: float
    then: ChaseThen = "cancel"
    slippage_in_percent: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.every_seconds) and self.every_seconds > 0):
            raise ValueError(f"chase interval must be above 0 s, not {self.every_seconds}")
        if not isinstance(self.ticks, int) or self.ticks < 1:
            raise ValueError(f"chase step must be a whole number of ticks >= 1, not "
                             f"{self.ticks!r}")
        if not (math.isfinite(self.max_slippage) and self.max_slippage >= 0):
            raise ValueError(f"chase max slippage must be 0 or more, not {self.max_slippage}")
        if self.slippage_in_percent and self.max_slippage >= 100:
            raise ValueError(f"chase max slippage of {self.max_slippage}% is not a bound")
        if self.then not in ("cancel", "market"):
            raise ValueError(f"chase must end in 'cancel' or 'market', not {self.then!r}")

    def __str__(self) -> str:
        unit = "%" if self.slippage_in_percent else ""
        return f"{self.every_seconds:g}:{self.ticks}:{self.max_slippage:g}{unit}:{self.then}"

    def bound(self, side: str, placed_price: float, tick: float) -> float:
        """The furthest price the chase may reach, on the grid and never beyond the
        allowed slippage (rounded back toward the placed price)."""
        sign = side_sign(side)
        if self.slippage_in_percent:
            slip = placed_price * self.max_slippage / 100
        else:
            slip = self.max_slippage * tick
        return passive_round(placed_price + sign * slip, tick, sign)


def parse_chase(text: str) -> ChaseRule:
    """A rule from "EVERY:TICKS:MAX[%][:THEN]", e.g. "5:1:10:market" (every 5 s by one tick,
    at most 10 ticks, then at market) or "10:2:0.5%" (at most 0.5 %, then cancel)."""
    parts = [p.strip() for p in text.strip().split(":")]
    if len(parts) not in (3, 4):
        raise ValueError(f"chase {text!r}: write EVERY_SECONDS:TICKS:MAX_SLIPPAGE[%]"
                         "[:cancel|market], e.g. 5:1:10:market")
    every, ticks, slip = parts[:3]
    then = parts[3].lower() if len(parts) == 4 else "cancel"
    percent = slip.endswith("%")
    try:
        return ChaseRule(float(every), int(ticks), float(slip.rstrip("%")),
                         then,  # type: ignore[arg-type]  # checked by ChaseRule
                         percent)
    except ValueError as exc:
        raise ValueError(f"chase {text!r}: {exc}") from None


class ChaseAction(enum.Enum):
    WAIT = "wait"  # nothing to do before `next_at`
    REPRICE = "reprice"  # modify the order to `price`
    CANCEL = "cancel"  # the bound is reached: cancel the order
    MARKET = "market"  # the bound is reached: replace it with a market order


@dataclass(frozen=True, slots=True)
class ChaseState:
    """One chased order: where it was placed and when, and where it is now."""

    side: str
    placed_price: float
    placed_at: float
    price: float  # the order's current limit price
    moved_at: float  # when it was placed or last repriced
    moves: int = 0

    @classmethod
    def start(cls, side: str, price: float, now: float) -> ChaseState:
        side_sign(side)
        if not (math.isfinite(price) and price > 0):
            raise ValueError(f"a chased order needs a positive limit price, not {price}")
        return cls(side.upper(), price, now, price, now)


@dataclass(frozen=True, slots=True)
class ChaseStep:
    action: ChaseAction
    state: ChaseState  # the state after this step (unchanged unless REPRICE)
    price: float = math.nan  # the new limit price, for REPRICE
    next_at: float = math.nan  # when to ask again, for WAIT and REPRICE
    reason: str = ""


def chase_step(rule: ChaseRule, state: ChaseState, quote: Quote, now: float,
               tick: float) -> ChaseStep:
    """The next move for an unfilled chased order at time `now`.

    Every `every_seconds` after the last move the price goes `ticks` toward the far side,
    capped by the bound from the placed price and by the far side of the book itself (a buy
    never bids above the ask: that would only pay more for the same fill). An order already
    at the bound when its time comes ends with the rule's `then`. A missing or crossed far
    side holds the order where it is (WAIT): no reprice is made from a broken book.
    """
    sign = side_sign(state.side)
    check_tick(tick)
    due = state.moved_at + rule.every_seconds
    if now < due:
        return ChaseStep(ChaseAction.WAIT, state, next_at=due, reason="not yet due")
    bound = rule.bound(state.side, state.placed_price, tick)
    if sign * (state.price - bound) >= -_GRID_EPS * tick:
        final = ChaseAction.MARKET if rule.then == "market" else ChaseAction.CANCEL
        return ChaseStep(final, state, reason=f"bound {bound} reached at {state.price}")
    try:
        bid, ask = _book(quote)
    except CrossedQuote as exc:
        return ChaseStep(ChaseAction.WAIT, state, next_at=now + rule.every_seconds,
                         reason=str(exc))
    far = ask if sign > 0 else bid
    if not _present(far):
        return ChaseStep(ChaseAction.WAIT, state, next_at=now + rule.every_seconds,
                         reason=f"{quote.symbol}: no {_SIDE_NAME[-sign]} to chase toward")
    target = add_ticks(state.price, sign * rule.ticks, tick)
    far_on_grid = aggressive_round(far, tick, sign)
    capped = min(target, bound, far_on_grid) if sign > 0 else max(target, bound, far_on_grid)
    if sign * (capped - state.price) <= _GRID_EPS * tick:
        # already at (or through) the far side: the order is marketable and waits in line
        return ChaseStep(ChaseAction.WAIT, state, next_at=now + rule.every_seconds,
                         reason=f"already at the {_SIDE_NAME[-sign]} {far}")
    moved = replace(state, price=capped, moved_at=now, moves=state.moves + 1)
    return ChaseStep(ChaseAction.REPRICE, moved, price=capped, next_at=now + rule.every_seconds,
                     reason=f"step {moved.moves} toward bound {bound}")
