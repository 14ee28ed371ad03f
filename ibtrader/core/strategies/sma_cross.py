"""sma_cross: long on the golden cross of two moving averages, short on the death cross."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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

    def candidate_bars(self, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """The bars where the averages cross strictly: the only bars that signal."""
        fast, slow = values.get("fast"), values.get("slow")
        if fast is None or slow is None:
            return None
        return strict_crosses(fast, slow)

    def _cross(self, ctx: BarContext, side: str, reason: str, fast: float, slow: float,
               same_way: bool) -> list[Signal]:
        bar = ctx.bar
        values = {"fast": fast, "slow": slow, "close": bar.close}
        # Signal itself rather than self.signal(): one call less per trade in a backtest
        entry = Signal(ctx.symbol, side, 1.0, reason, values, None, None, bar.time)
        if same_way:
            return [Signal(ctx.symbol, "exit", 1.0, reason, values, None, None, bar.time),
                    entry]
        return [entry]


def strict_crosses(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bars i where `a` crossed `b` strictly, either way, between bar i-1 and bar i, as
    `on_bar` decides it (NaN, i.e. warm-up, compares false there as here)."""
    with np.errstate(invalid="ignore"):
        up = (a[:-1] < b[:-1]) & (a[1:] > b[1:])
        down = (a[:-1] > b[:-1]) & (a[1:] < b[1:])
    return np.flatnonzero(up | down) + 1
