"""ema_pullback: in an uptrend, buy the first close back above the fast EMA after a dip.

Copy this file into your strategies folder (the `strategies_dir` setting) and it runs by
name like a built-in, e.g. `ibtrader backtest --strategy ema_pullback --param fast=8`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy


class EmaPullback(Strategy):
    """Long only. The trend is up while the fast EMA is above a rising slow EMA; a close
    that dipped under the fast EMA and is now back above it is the entry, with a stop
    `stop_atr` ATRs below. The position exits on a close below the slow EMA."""

    name = "ema_pullback"
    title = "EMA pullback in an uptrend"
    bar_size = "1 hour"
    params = (
        Param("fast", int, 10, low=2, high=200, help="EMA the dips go under, in bars"),
        Param("slow", int, 30, low=3, high=1000, help="trend EMA, in bars"),
        Param("stop_atr", float, 2.0, low=0.5, high=10.0, help="stop distance, in ATRs"),
    )

    def validate(self) -> None:
        if self.p.fast >= self.p.slow:
            raise ValueError(f"ema_pullback: fast must be below slow, got "
                             f"fast={self.p.fast}, slow={self.p.slow}")

    def indicators(self) -> dict[str, Indicator[Any]]:
        return {
            "close": make_indicator("sma", period=1),  # the close: ctx.prev has the last one
            "fast": make_indicator("ema", period=self.p.fast),
            "slow": make_indicator("ema", period=self.p.slow),
            "atr": make_indicator("atr", period=14),
        }

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        now, before = ctx.values, ctx.prev
        if before["slow"] is None or now["atr"] is None:
            return NO_SIGNALS  # still warming up
        close, fast, slow = now["close"], now["fast"], now["slow"]
        if ctx.position > 0:
            if close < slow:
                return [self.signal(ctx, "exit", "close fell below the trend EMA",
                                    values={"close": close, "slow": slow})]
            return NO_SIGNALS
        rising = fast > slow > before["slow"]
        if rising and before["close"] < before["fast"] and close > fast:
            atr = now["atr"]
            return [self.signal(ctx, "buy", "dip bought: close back above the fast EMA",
                                values={"close": close, "fast": fast, "slow": slow, "atr": atr},
                                stop=close - self.p.stop_atr * atr)]
        return NO_SIGNALS
