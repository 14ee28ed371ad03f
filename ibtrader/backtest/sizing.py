"""How many units an entry buys or sells in a backtest.

- all-in: all the cash available in whole units, commission included, as backtesting.py
  sizes `buy()` (so that runs can be compared trade for trade). Its default size shows as
  ".9999" but is 1 - machine epsilon since 0.4 (a float subclass whose repr says .9999);
  sizing at a true 99.99% buys one unit less whenever cash / price has a fraction below
  1e-4 of the units, so parity needs the real value;
- risk: `risk_pct` of equity lost if the stop is hit, i.e. risk / |price - stop| units;
  a signal without a stop is sized as if its stop sat `fallback_stop_pct` of the price
  away; never more than all-in allows.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

from ibtrader.sim.commissions import CommissionSchedule, NoCommission

ALL_IN_FRACTION = 1.0 - sys.float_info.epsilon  # backtesting.py's default order size


@dataclass(frozen=True)
class Sizer:
    mode: str  # "all-in" | "risk"
    commissions: CommissionSchedule
    instrument: object
    risk_pct: float = 1.0
    fallback_stop_pct: float = 2.0
    # looked up once: sizing runs on every entry of a backtest
    _mult: float = field(init=False, repr=False, compare=False)
    _fee: Any = field(init=False, repr=False, compare=False)
    _free: bool = field(init=False, repr=False, compare=False)  # no commission at all

    def __post_init__(self) -> None:
        if self.mode not in ("all-in", "risk"):
            raise ValueError(f"sizing must be all-in or risk, not {self.mode!r}")
        if not 0 < self.risk_pct <= 100:
            raise ValueError(f"risk must be a percent in (0, 100], got {self.risk_pct:g}")
        if not 0 < self.fallback_stop_pct < 100:
            raise ValueError(f"the fallback stop must be a percent in (0, 100), got "
                             f"{self.fallback_stop_pct:g}")
        object.__setattr__(self, "_mult", float(getattr(self.instrument, "multiplier", 1.0)))
        object.__setattr__(self, "_fee", self.commissions.commission)
        object.__setattr__(self, "_free", isinstance(self.commissions, NoCommission))

    def size(self, price: float, cash: float, equity: float, stop: float | None) -> float:
        """Whole units to trade at `price` with `cash` free and `equity` in the account."""
        most = self.all_in(price, cash)
        if self.mode == "all-in":
            return most
        distance = abs(price - stop) if stop is not None else 0.0
        if distance <= 0.0:
            distance = price * self.fallback_stop_pct / 100.0
        wanted = math.floor(equity * self.risk_pct / 100.0 / (distance * self._mult))
        return float(max(0, min(wanted, most)))

    def all_in(self, price: float, cash: float) -> float:
        budget = max(cash, 0.0) * ALL_IN_FRACTION
        unit = price * self._mult
        if unit <= 0:
            return 0.0
        # commission per unit at about the final size: exact for a percent of value (the
        # formula is then backtesting.py's) and for none; with minimums the loop trims
        fee, instrument = self._fee, self.instrument
        size = float(int(budget // unit))
        if self._free:  # the general steps below with a commission of 0.0, which adds nothing
            while size > 0 and size * unit > budget:
                size -= 1.0
            return size
        if size > 0:
            size = float(int(budget // (unit + fee(instrument, size, price) / size)))
        while size > 0 and (size * unit + fee(instrument, size, price)) > budget:
            size -= 1.0
        return size
