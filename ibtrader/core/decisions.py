"""Signals become decisions: what to trade, how much, with which stop and take-profit -
or a refusal that says why not. Pure values and functions; the engine stores and
publishes them.

A decision's life (`TRANSITIONS` is the whole table; anything else is a bug):

    pending --accept--> accepted --> submitted        (handed to the order-submission port)
       |                   `-------> refused          (the port refused it)
       |--dismiss--> dismissed
       |--timeout--> expired
    refused (at birth: sizing or rules said no)
    accepted (at birth, with auto-trade) --> submitted | refused
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ibtrader.core.sizing import Refusal, Sizing, SizingRules, size_entry
from ibtrader.core.strategy import Signal

# Refusal codes of the decision rules (sizing has its own in core.sizing).
STRATEGY_DISABLED = "strategy_disabled"
ALREADY_POSITIONED = "already_positioned"
NOTHING_TO_EXIT = "nothing_to_exit"
AUTO_TRADE_UNAVAILABLE = "auto_trade_unavailable"
SUBMISSION_FAILED = "submission_failed"


class DecisionState(StrEnum):
    PENDING = "pending"  # waiting for the trader
    ACCEPTED = "accepted"  # the trader (or auto-trade) said yes; not yet with the order side
    DISMISSED = "dismissed"  # the trader said no
    SUBMITTED = "submitted"  # handed to the order-submission port
    REFUSED = "refused"  # the rules, the sizing or the port said no
    EXPIRED = "expired"  # nobody answered in time, or a newer signal replaced it


S = DecisionState
TRANSITIONS: Mapping[DecisionState, frozenset[DecisionState]] = {
    S.PENDING: frozenset({S.ACCEPTED, S.DISMISSED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.SUBMITTED, S.REFUSED}),
    S.DISMISSED: frozenset(),
    S.SUBMITTED: frozenset(),
    S.REFUSED: frozenset(),
    S.EXPIRED: frozenset(),
}
FINAL = frozenset(s for s, after in TRANSITIONS.items() if not after)


class DecisionError(ValueError):
    """A command a decision cannot take: an impossible transition, an unknown id."""


# Ids need uniqueness, not secrecy: a generator seeded once from the OS draws the random
# part without a system call per id (~0.5 us instead of ~0.8-1.1 us on the signal's
# path). A forked child is reseeded, or parent and child would draw the same ids.
_ids = random.Random(os.urandom(16))
_random_bits = _ids.getrandbits
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(16)))


def new_id(now: float) -> str:
    """A 26-character id that sorts by creation time: 12 hex digits of milliseconds since
    the epoch, then 14 random ones (56 bits: no collision in a trader's lifetime)."""
    return f"{int(now * 1000):012x}{_random_bits(56):014x}"


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A signal as the engine saw it: with our id, the strategy and bar size it came from."""

    id: str
    strategy: str
    bar_size: str
    signal: Signal
    created: float  # epoch seconds when the engine received it


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine concluded from one signal.

    `side` is the order's side, "buy" or "sell" ("" when refused before one was known);
    `action` says what it does to the position: "open", "close" or "reverse" (close the
    opposite position and open this way: `quantity` = `closes` + the new size).
    """

    id: str
    signal_id: str
    strategy: str
    symbol: str
    state: DecisionState
    created: float
    updated: float
    side: str = ""
    action: str = ""
    quantity: float = 0.0
    closes: float = 0.0  # the part of `quantity` that closes an existing position
    entry_price: float = math.nan
    stop: float | None = None
    target: float | None = None
    risk_amount: float = 0.0
    reason: str = ""  # why refused/dismissed/expired, or a note (e.g. which cap cut the size)
    refusal_code: str = ""
    expires: float | None = None  # when a pending decision expires
    detail: Mapping[str, Any] = field(default_factory=dict)  # sizing numbers, for the journal

    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    def moved(self, state: DecisionState, at: float, reason: str = "",
              refusal_code: str = "") -> Decision:
        """This decision in `state`; DecisionError for a transition the table forbids."""
        if state not in TRANSITIONS[self.state]:
            raise DecisionError(f"decision {self.id} is {self.state.value}: it cannot become "
                                f"{state.value}")
        # every field spelled out: dataclasses.replace costs ~5 us on 19 fields
        return Decision(self.id, self.signal_id, self.strategy, self.symbol, state,
                        self.created, at, self.side, self.action, self.quantity, self.closes,
                        self.entry_price, self.stop, self.target, self.risk_amount,
                        reason or self.reason, refusal_code or self.refusal_code,
                        self.expires if state is S.PENDING else None, self.detail)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the rules need to know besides the signal."""

    price: float  # the price to size at: the close of the bar the signal came on
    equity: float
    buying_power: float
    position: float  # signed quantity held in the symbol
    enabled: bool = True
    auto_trade: bool = False
    can_submit: bool = True  # an order-submission port is configured
    ttl: float = 300.0  # seconds a pending decision waits for the trader


def decide(record: SignalRecord, ctx: DecisionContext, rules: SizingRules, now: float,
           decision_id: str | None = None) -> Decision:
    """The decision for one signal: pending (or accepted, with auto-trade), or refused.

    Every outcome is built as one Decision with all its fields: a frozen dataclass of 19
    fields costs ~3 us per construction, so no chain of `replace` on the signal's path."""
    signal = record.signal
    symbol = signal.symbol
    decision_id = decision_id or new_id(now)

    def refused(refusal: Refusal, side: str = "", entry_price: float = math.nan) -> Decision:
        return Decision(decision_id, record.id, record.strategy, symbol, S.REFUSED, now, now,
                        side=side, entry_price=entry_price, reason=refusal.message,
                        refusal_code=refusal.code)

    if not ctx.enabled:
        return refused(Refusal(STRATEGY_DISABLED, f"strategy {record.strategy} is disabled "
                                                  f"for {symbol}"))
    position = ctx.position
    held = abs(position)
    if signal.side == "exit":
        if position == 0:
            return refused(Refusal(NOTHING_TO_EXIT, f"exit signal but no position in "
                                                    f"{symbol}"))
        made: dict[str, Any] = {"side": "sell" if position > 0 else "buy", "action": "close",
                                "quantity": held, "closes": held, "entry_price": ctx.price}
    else:
        side = signal.side
        sign = 1 if side == "buy" else -1
        if position * sign > 0:
            way = "long" if sign > 0 else "short"
            return refused(Refusal(ALREADY_POSITIONED, f"already {way} {held:g} {symbol}"),
                           side=side)
        sizing = size_entry(side, ctx.price, ctx.equity, ctx.buying_power, rules,
                            stop=signal.stop, target=signal.target, values=signal.values)
        if isinstance(sizing, Refusal):
            return refused(sizing, side=side, entry_price=ctx.price)
        made = _entry(side, held, sizing)
    if not ctx.auto_trade:
        return Decision(decision_id, record.id, record.strategy, symbol, S.PENDING, now, now,
                        expires=now + ctx.ttl, **made)
    if not ctx.can_submit:
        made["reason"] = "auto-trade is on but no order-submission port is configured"
        return Decision(decision_id, record.id, record.strategy, symbol, S.REFUSED, now, now,
                        refusal_code=AUTO_TRADE_UNAVAILABLE, **made)
    made["reason"] = "auto-trade"
    return Decision(decision_id, record.id, record.strategy, symbol, S.ACCEPTED, now, now,
                    **made)


def _entry(side: str, closes: float, sizing: Sizing) -> dict[str, Any]:
    """The fields of an entry decision (opening, or reversing `closes` units first)."""
    note = f"size capped by {sizing.capped_by.replace('_', ' ')}" if sizing.capped_by else ""
    detail = {"risk_per_unit": sizing.risk_per_unit, "stop_source": sizing.stop_source,
              "capped_by": sizing.capped_by, "new_quantity": sizing.quantity}
    return {"side": side, "action": "reverse" if closes else "open",
            "quantity": closes + sizing.quantity, "closes": closes, "entry_price": sizing.entry,
            "stop": sizing.stop, "target": sizing.target, "risk_amount": sizing.risk_amount,
            "reason": note, "detail": detail}
