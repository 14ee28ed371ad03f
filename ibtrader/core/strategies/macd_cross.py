"""macd_cross: long when the MACD line crosses above its signal line, short below."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy


class MacdCross(Strategy):
    """MACD signal-line crossover, always in the market once it has crossed: a cross up
    buys (reversing a short), a cross down sells (reversing a long).

    With `zero_filter`, only crosses on the far side of the zero line open positions (buy
    below zero, where the move down is stretched; sell above): fewer, earlier-reversal
    trades. A filtered-out cross against the open position still closes it (an "exit"),
    since the momentum it was bought for has turned. No stop: the opposite cross is the
    exit, so risk sizing falls back to the engine's default stop.
    """

    name = "macd_cross"
    title = "MACD signal-line crossover"
    params = (
        Param("fast", int, 12, low=1, high=500, help="fast EMA period"),
        Param("slow", int, 26, low=2, high=1000, help="slow EMA period"),
        Param("signal", int, 9, low=1, high=500, help="signal-line EMA period"),
        Param("zero_filter", bool, False, help="buy only below zero, sell only above"),
    )
    bar_size = "1 hour"

    def validate(self) -> None:
        if self.p.fast >= self.p.slow:
            raise ValueError(f"macd_cross: fast must be below slow, got fast={self.p.fast}, "
                             f"slow={self.p.slow}")

    def indicators(self) -> dict[str, Indicator[Any]]:
        p = self.p
        return {"macd": make_indicator("macd", fast=p.fast, slow=p.slow, signal=p.signal)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        before = ctx.prev["macd"]
        if before is None:
            return NO_SIGNALS
        now = ctx.values["macd"]
        # hist is macd - signal, whose sign is exactly that of the comparison: one field
        # read per bar instead of four (the hot path of every backtest)
        was, hist = before[2], now[2]
        if was < 0.0 < hist:
            if not self.p.zero_filter or now.macd < 0:
                return [self._signal(ctx, "buy", "MACD crossed above its signal line", now)]
            if ctx.position < 0:
                return [self._signal(ctx, "exit", "MACD crossed above its signal line "
                                     "above zero: short closed, no long", now)]
        elif was > 0.0 > hist:
            if not self.p.zero_filter or now.macd > 0:
                return [self._signal(ctx, "sell", "MACD crossed below its signal line", now)]
            if ctx.position > 0:
                return [self._signal(ctx, "exit", "MACD crossed below its signal line "
                                     "below zero: long closed, no short", now)]
        return NO_SIGNALS

    def _signal(self, ctx: BarContext, side: str, reason: str, now: Any) -> Signal:
        values = {**now._asdict(), "close": ctx.bar.close}
        return self.signal(ctx, side, reason, values=values)
