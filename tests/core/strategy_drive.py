"""Drive a strategy the way an engine does, on bars a test builds by hand.

    bars = bars_from_closes([100, 99, 98, ...])
    run = drive(load_strategy("sma_cross", fast=3, slow=5), bars)
    run.signals        -> [(bar index, Signal), ...]

Per bar: every indicator from `strategy.indicators()` is updated, the context gets this
bar's values and the previous bar's, and `on_bar` is called. The position then follows
the signals as if each filled at the close: buy -> +1, sell -> -1 (a reversal when the
other way), exit -> 0; or it stays at a fixed value when `position` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ibtrader.core.market import Bar
from ibtrader.core.strategy import BarContext, Signal, Strategy

START = 1_700_000_000.0  # epoch seconds of the first bar
STEP = 3_600.0  # hourly bars


def bars_from_closes(closes: Sequence[float], volumes: Sequence[float] | float = 1_000.0,
                     wick: float = 0.25) -> list[Bar]:
    """One bar per close: it opens at the previous close, with wicks `wick` beyond the body."""
    vols = [float(volumes)] * len(closes) if isinstance(volumes, int | float) else volumes
    bars = []
    prev = float(closes[0])
    for i, (close, volume) in enumerate(zip(closes, vols, strict=True)):
        high, low = max(prev, close) + wick, min(prev, close) - wick
        bars.append(Bar(START + i * STEP, prev, high, low, float(close), float(volume)))
        prev = float(close)
    return bars


def ramp(start: float, end: float, n: int) -> list[float]:
    """`n` closes from `start` to `end` in equal steps (both ends included)."""
    return [start + (end - start) * i / (n - 1) for i in range(n)]


@dataclass
class Run:
    signals: list[tuple[int, Signal]] = field(default_factory=list)
    values: list[dict[str, Any]] = field(default_factory=list)  # indicator values per bar
    positions: list[float] = field(default_factory=list)  # position after each bar

    def sides(self) -> list[tuple[int, str]]:
        return [(i, s.side) for i, s in self.signals]

    def first(self, side: str) -> tuple[int, Signal]:
        return next((i, s) for i, s in self.signals if s.side == side)


def drive(strategy: Strategy, bars: Sequence[Bar], symbol: str = "TEST",
          position: float | None = None) -> Run:
    indicators = strategy.indicators()
    ctx = BarContext(symbol)
    # two dicts swapped per bar, as an engine does: a strategy that kept a reference to
    # ctx.values instead of copying what it needs would see it overwritten
    values: dict[str, Any] = dict.fromkeys(indicators)
    ctx.values, ctx.prev = dict.fromkeys(indicators), dict.fromkeys(indicators)
    held = 0.0 if position is None else position
    run = Run()
    for i, bar in enumerate(bars):
        values = ctx.prev
        for name, indicator in indicators.items():
            values[name] = indicator.update(bar)
        ctx.prev, ctx.values = ctx.values, values
        ctx.bar, ctx.position = bar, held
        for signal in strategy.on_bar(ctx):
            run.signals.append((i, signal))
            if position is None:
                held = {"buy": 1.0, "sell": -1.0, "exit": 0.0}[signal.side]
        run.values.append(dict(values))
        run.positions.append(held)
    return run
