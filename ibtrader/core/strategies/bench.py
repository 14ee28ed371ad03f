"""What a strategy's `on_bar` costs per bar, for each built-in (indicators not included).

    python -m ibtrader.core.strategies.bench [BARS]

Per strategy, with its default parameters, on BARS (default 100,000) synthetic one-minute bars:
1. the indicators are run once and each bar's values kept, so the timing below is the
   strategy's decision alone (the indicator costs are measured in indicators/bench.py);
2. one pass as an engine would make it (the position follows the signals) finds the
   bars where a signal comes and the position held on every bar;
3. `on_bar` is timed over the quiet bars and, separately, over the signal bars (repeated
   until at least MIN_CALLS calls), with the context filled as an engine fills it. The
   same loop calling a function that does nothing is timed too and taken off, so the
   `*_net_ns` numbers are the strategy's own cost. Best of `repeat` rounds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ibtrader.core.indicators.frames import iter_bars
from ibtrader.core.indicators.sample import random_ohlcv
from ibtrader.core.market import Bar
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Signal, Strategy

from . import BUILT_INS

MIN_CALLS = 20_000
FOLLOW = {"buy": 1.0, "sell": -1.0, "exit": 0.0}


def sample_bars(n: int, seed: int = 7) -> list[Bar]:
    return [Bar(b.time, b.open, b.high, b.low, b.close, b.volume)
            for b in iter_bars(random_ohlcv(n, seed=seed))]


def _values_per_bar(strategy: Strategy, bars: Sequence[Bar]) -> list[dict[str, Any]]:
    indicators = tuple(strategy.indicators().items())
    return [{name: ind.update(bar) for name, ind in indicators} for bar in bars]


def _loop(call: Callable[[BarContext], Sequence[Signal]], ctx: BarContext,
          bars: Sequence[Bar], values: Sequence[dict[str, Any]], positions: Sequence[float],
          indices: Sequence[int]) -> int:
    """ns for calling `call` once per index, the context rewritten per call."""
    start = time.perf_counter_ns()
    for i in indices:
        ctx.bar = bars[i]
        ctx.values = values[i]
        ctx.prev = values[i - 1]
        ctx.position = positions[i]
        call(ctx)
    return time.perf_counter_ns() - start


def _nothing(ctx: BarContext) -> Sequence[Signal]:
    return NO_SIGNALS


def bench_strategy(strategy: Strategy, bars: Sequence[Bar], repeat: int = 3) -> dict[str, Any]:
    values = _values_per_bar(strategy, bars)
    ctx = BarContext("BENCH")
    held, positions, signal_bars = 0.0, [0.0], []
    for i in range(1, len(bars)):
        positions.append(held)
        ctx.bar, ctx.values, ctx.prev, ctx.position = bars[i], values[i], values[i - 1], held
        out = strategy.on_bar(ctx)
        if out:
            signal_bars.append(i)
            held = FOLLOW[out[-1].side]
    chosen = set(signal_bars)
    quiet = [i for i in range(1, len(bars)) if i not in chosen]
    loud = signal_bars * max(1, -(-MIN_CALLS // max(1, len(signal_bars)))) if signal_bars else []
    row: dict[str, Any] = {"strategy": strategy.name, "bars": len(bars),
                           "signal_bars": len(signal_bars)}
    for label, indices in (("quiet", quiet), ("signal", loud)):
        if not indices:
            row[f"{label}_ns"] = row[f"{label}_net_ns"] = None
            continue
        args = (ctx, bars, values, positions, indices)
        raw = min(_loop(strategy.on_bar, *args) for _ in range(repeat)) / len(indices)
        empty = min(_loop(_nothing, *args) for _ in range(repeat)) / len(indices)
        row[f"{label}_ns"] = round(raw, 1)
        row[f"{label}_net_ns"] = round(raw - empty, 1)
    return row


def run_strategy_bench(n_bars: int = 100_000, repeat: int = 3) -> list[dict[str, Any]]:
    bars = sample_bars(n_bars)
    return [bench_strategy(cls(), bars, repeat) for cls in BUILT_INS]


def main(argv: Sequence[str]) -> None:
    n = int(argv[0]) if argv else 100_000
    print(f"on_bar per bar, {n:,} synthetic one-minute bars, default parameters; "
          "net = minus the same loop around an empty function")
    print(f"{'strategy':<20}{'signal bars':>12}{'quiet ns':>10}{'net':>8}"
          f"{'signal ns':>11}{'net':>8}")
    for r in run_strategy_bench(n):
        print(f"{r['strategy']:<20}{r['signal_bars']:>12,}{r['quiet_ns']:>10}"
              f"{r['quiet_net_ns']:>8}{r['signal_ns']:>11}{r['signal_net_ns']:>8}")


if __name__ == "__main__":
    main(sys.argv[1:])
