"""StrategyRunner: one strategy on one symbol, fed bar by bar - the live hot path.

    runner = StrategyRunner(load_strategy("sma_cross"), "AAPL")
    runner.warm(history_bars)          # indicators only: no signals from the past
    signals = runner.on_bar(closed)    # update indicators once, then strategy.on_bar
    signals = runner.on_forming(bar)   # preview values, state untouched (sees_forming only)

The indicators are built once; each closed bar updates every one of them once (O(1)),
the values of the bar before are kept as `prev`, and one BarContext is rewritten per bar.
Two value dicts are swapped rather than allocated per bar: after a bar, the dict that
held the older values is overwritten with the newest ones.

Warm start feeds history through the indicators without calling the strategy: a signal
from a bar that closed before the engine started is no decision a trader can act on, and
the strategy's `position` logic would see a position it never took.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ibtrader.core.market import Bar
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Signal, Strategy


class StaleBar(ValueError):
    """A closed bar that does not start after the last one: a re-send (e.g. after a
    reconnect) that would count a bar twice in every indicator."""


class StrategyRunner:
    __slots__ = ("_ctx", "_items", "_last_time", "_on_bar", "_prev", "_scratch", "_values",
                 "bars_seen", "position", "strategy", "symbol")

    def __init__(self, strategy: Strategy, symbol: str) -> None:
        if not symbol:
            raise ValueError("a strategy runner needs a symbol")
        self.strategy = strategy
        self.symbol = symbol
        indicators = strategy.indicators()
        self._items = tuple(indicators.items())
        self._values: dict[str, Any] = dict.fromkeys(indicators)
        self._prev: dict[str, Any] = dict.fromkeys(indicators)
        self._scratch: dict[str, Any] = dict.fromkeys(indicators)  # forming-bar previews
        self._ctx = BarContext(symbol)
        self._on_bar = strategy.on_bar
        self._last_time = float("-inf")
        self.bars_seen = 0
        self.position = 0.0  # signed quantity held, set by whoever knows (engine, backtest)

    @property
    def values(self) -> dict[str, Any]:
        """Indicator values after the last closed bar (None while warming up)."""
        return self._values

    @property
    def prev(self) -> dict[str, Any]:
        """Indicator values after the closed bar before the last."""
        return self._prev

    @property
    def last_time(self) -> float:
        """Start time of the last closed bar seen, -inf before the first."""
        return self._last_time

    def _advance(self, bar: Bar) -> None:
        time = bar.time
        if time <= self._last_time:
            raise StaleBar(f"{self.symbol}: bar at {time} does not start after the last "
                           f"closed bar at {self._last_time}")
        self._last_time = time
        values = self._prev  # the older dict is recycled for the newest values
        for name, indicator in self._items:
            values[name] = indicator.update(bar)
        self._prev = self._values
        self._values = values
        self.bars_seen += 1

    def warm(self, bars: Iterable[Bar]) -> int:
        """Feed closed history bars (oldest first) through the indicators without calling
        the strategy; bars not after the last one seen are skipped. Returns bars used."""
        used = 0
        for bar in bars:
            if bar.time > self._last_time:
                self._advance(bar)
                used += 1
        return used

    def on_bar(self, bar: Bar) -> Sequence[Signal]:
        """A closed bar: indicators updated, then the strategy's signals for it.
        Raises StaleBar for a bar that does not start after the last one."""
        # _advance inlined (keep the two in step): this runs for every strategy on every
        # symbol at each close, all in the same moment, so a call less each is latency saved
        time = bar.time
        if time <= self._last_time:
            raise StaleBar(f"{self.symbol}: bar at {time} does not start after the last "
                           f"closed bar at {self._last_time}")
        self._last_time = time
        values = self._prev  # the older dict is recycled for the newest values
        for name, indicator in self._items:
            values[name] = indicator.update(bar)
        prev = self._prev = self._values
        self._values = values
        self.bars_seen += 1
        ctx = self._ctx
        ctx.bar = bar
        ctx.values = values
        ctx.prev = prev
        ctx.position = self.position
        ctx.forming = False
        return self._on_bar(ctx)

    def on_forming(self, bar: Bar) -> Sequence[Signal]:
        """The forming bar, for strategies with `sees_forming`: values as if it closed
        now (indicator `preview`), `prev` the values of the last closed bar. Nothing is
        committed, so the next closed bar sees exactly what it would have seen."""
        if not self.strategy.sees_forming or bar.time <= self._last_time:
            return NO_SIGNALS
        values = self._scratch
        for name, indicator in self._items:
            values[name] = indicator.preview(bar)
        ctx = self._ctx
        ctx.bar = bar
        ctx.values = values
        ctx.prev = self._values
        ctx.position = self.position
        ctx.forming = True
        return self._on_bar(ctx)

    def __repr__(self) -> str:
        return (f"StrategyRunner({self.strategy.describe()}, {self.symbol!r}, "
                f"bars_seen={self.bars_seen})")


def bench_runner(strategy: Strategy, bars: Sequence[Bar]) -> float:
    """Nanoseconds per closed bar through `on_bar` (indicators + strategy), bars fed in
    order to a fresh runner; the hot-path number the engine's benchmark reports."""
    from time import perf_counter_ns

    runner = StrategyRunner(strategy, "BENCH")
    on_bar = runner.on_bar
    start = perf_counter_ns()
    for bar in bars:
        on_bar(bar)
    return (perf_counter_ns() - start) / max(1, len(bars))
