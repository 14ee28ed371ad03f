"""sma_cross: long on the golden cross of two moving averages, short on the death cross."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy


class SmaCross(Strategy):
    """The classic moving-average crossover, always in the market once it has crossed.

    A cross is strict, as in backtesting.py's `crossover`: the fast average was below the
    slow one on the previous bar and is above it now (or the mirror). Each cross closes
    the open position first, then opens the other way; if an exact tie swallowed the
    opposite cross, a cross in the same direction as the position closes it and opens
    afresh, so every cross is one new trade.
    """

    name = "sma_cross"
    title = "Moving-average crossover"
    params = (
        Param("fast", int, 10, low=1, high=1000, help="fast average period, in bars"),
        Param("slow", int, 20, low=2, high=5000, help="slow average period, in bars"),
        Param("kind", str, "sma", choices=("sma", "ema"), help="simple or exponential"),
    )
    bar_size = "1 day"

    def validate(self) -> None:
        if self.p.fast >= self.p.slow:
            raise ValueError(f"sma_cross: fast must be below slow, got fast={self.p.fast}, "
                             f"slow={self.p.slow}")
        kind = self.p.kind.upper()
        # built once: a reason string per signal would cost more than the decision
        self._up = f"golden cross: {kind}({self.p.fast}) crossed above {kind}({self.p.slow})"
        self._down = f"death cross: {kind}({self.p.fast}) crossed below {kind}({self.p.slow})"

    def indicators(self) -> dict[str, Indicator[Any]]:
        return {"fast": make_indicator(self.p.kind, period=self.p.fast),
                "slow": make_indicator(self.p.kind, period=self.p.slow)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        prev = ctx.prev
        ps = prev["slow"]
        if ps is None:
            return NO_SIGNALS
        pf = prev["fast"]
        now = ctx.values
        f = now["fast"]
        s = now["slow"]
        if pf < ps and f > s:
            return self._cross(ctx, "buy", self._up, f, s, ctx.position > 0)
        if ps < pf and s > f:
            return self._cross(ctx, "sell", self._down, f, s, ctx.position < 0)
        return NO_SIGNALS

    def _cross(self, ctx: BarContext, side: str, reason: str, fast: float, slow: float,
               same_way: bool) -> list[Signal]:
        values = {"fast": fast, "slow": slow, "close": ctx.bar.close}
        entry = self.signal(ctx, side, reason, values=values)
        if same_way:
            return [self.signal(ctx, "exit", reason, values=values), entry]
        return [entry]
