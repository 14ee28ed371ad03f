"""Stop management for an open position: break-even after +1R, then an ATR trail.

`next_stop` is pure: given the position and the market since the last call it says where
the protective stop should go, or None to leave it. The stop only ever moves in the
position's favour (up for a long, down for a short), and it always stays on the right side
of the last price, so the broker accepts the modified order and it does not fire at once.

Rounding "on the safe side": each rule promises a level, and rounding never breaks it.
- Break-even promises no loss: the entry is rounded to the tick toward profit (up for a
  long), then the buffer is added.
- The trail promises room of `multiple` x ATR: it is rounded away from the market (down
  for a long), never tighter than the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ibtrader.core.orders.pricing import add_ticks, check_tick, round_to_tick

_SIDES = {"long": 1, "buy": 1, "short": -1, "sell": -1}


@dataclass(frozen=True, slots=True)
class StopRules:
    """`breakeven_r`: move the stop to break-even once price has gone this many R in favour
    (0 turns it off); `breakeven_buffer_ticks`: ticks beyond the entry (toward profit) so the
    exit also pays the commissions; `trail_atr_multiple`: trail the stop this many ATRs
    behind the best price (0 turns it off); `trail_after_breakeven`: trail only once the stop
    is at break-even, so the initial risk is not cut before the trade has room."""

    breakeven_r: float = 1.0
    breakeven_buffer_ticks: int = 0
    trail_atr_multiple: float = 0.0
    trail_after_breakeven: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.breakeven_r) and self.breakeven_r >= 0):
            raise ValueError(f"break-even trigger must be 0 or more R, not {self.breakeven_r}")
        if not isinstance(self.breakeven_buffer_ticks, int):
            raise ValueError("break-even buffer must be a whole number of ticks, not "
                             f"{self.breakeven_buffer_ticks!r}")
        if not (math.isfinite(self.trail_atr_multiple) and self.trail_atr_multiple >= 0):
            raise ValueError(f"ATR trail multiple must be 0 or more, not "
                             f"{self.trail_atr_multiple}")


def position_sign(side: str) -> Literal[1, -1]:
    """+1 for a long ("long" or its entry side "BUY"), -1 for a short."""
    sign = _SIDES.get(side.lower())
    if sign is None:
        raise ValueError(f"position side must be long or short (or BUY/SELL), not {side!r}")
    return 1 if sign > 0 else -1


def breakeven_level(side: str, entry: float, buffer_ticks: int, tick: float) -> float:
    sign = position_sign(side)
    base = round_to_tick(entry, tick, "up" if sign > 0 else "down")
    return add_ticks(base, sign * buffer_ticks, tick)


def next_stop(side: str, entry: float, initial_stop: float, current_stop: float,
              high: float, low: float, last: float, atr: float, rules: StopRules,
              tick: float) -> float | None:
    """The new stop for a position, or None to keep `current_stop`.

    `high`/`low` are the best prices since the last call (a bar's, or since entry: the
    stop never moves back, so either works) and `last` the latest trade; `atr` the current
    ATR in price units (NaN: no trail yet). R is the distance from `entry` to `initial_stop`.
    """
    sign = position_sign(side)
    check_tick(tick)
    for name, value in (("entry", entry), ("initial stop", initial_stop),
                        ("current stop", current_stop)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive price, not {value}")
    risk = sign * (entry - initial_stop)
    if risk <= 0:
        where = "below" if sign > 0 else "above"
        raise ValueError(f"the initial stop {initial_stop} must be {where} the entry {entry}"
                         f" for a {'long' if sign > 0 else 'short'}")
    if not math.isnan(atr) and atr < 0:
        raise ValueError(f"ATR cannot be negative ({atr})")
    best = high if sign > 0 else low
    candidates: list[float] = []
    at_breakeven = False
    if math.isfinite(best):
        if rules.breakeven_r > 0:
            level = breakeven_level(side, entry, rules.breakeven_buffer_ticks, tick)
            at_breakeven = sign * (current_stop - level) >= 0
            if sign * (best - entry) >= rules.breakeven_r * risk:
                candidates.append(level)
                at_breakeven = True
        trail_on = not rules.trail_after_breakeven or at_breakeven
        if rules.trail_atr_multiple > 0 and math.isfinite(atr) and atr > 0 and trail_on:
            trail = best - sign * rules.trail_atr_multiple * atr
            candidates.append(round_to_tick(trail, tick, "down" if sign > 0 else "up"))
    if not candidates:
        return None
    stop = max(candidates) if sign > 0 else min(candidates)
    if math.isfinite(last) and last > 0 and sign * (stop - last) >= 0:
        # a sell stop at or above the last trade would fire at once (and IB may refuse it):
        # keep it one tick inside the market instead
        stop = add_ticks(round_to_tick(last, tick, "down" if sign > 0 else "up"), -sign, tick)
    if sign * (stop - current_stop) <= 1e-9 * tick or stop <= 0:
        return None
    return stop
