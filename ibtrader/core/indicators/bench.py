"""How much an incremental update costs, against recomputing `ta` per new bar.

    from ibtrader.core.indicators.bench import run_indicator_bench
    for row in run_indicator_bench(): print(row)

Per indicator (default parameters):
- incremental_ns: `update(bar)` in a tight loop over pre-built `core.market.Bar`s, after
  warm-up; the loop runs in chunks of CHUNK bars and the fastest chunk is reported (the
  least disturbed by other work on the machine, as timeit does), with the median chunk
  beside it (incremental_ns_median); both include the loop's own ~5-10 ns per bar and the
  garbage collector, which stays on;
- ta_recompute_us: ta over the last 500 bars, once per new bar (what an app without
  incremental indicators would do), averaged over a few hundred bars: the window is
  sliced from a float frame and given a RangeIndex (ta needs one with pandas 3), then
  the batch function runs; compute_batch's checks and conversions (~+50-200 µs) are
  left out, so the speedup is not flattered.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from ..market import Bar
from .batch import BATCH_FUNCTIONS
from .frames import OHLCV, bar_times, iter_bars
from .registry import INDICATORS, make_indicator
from .sample import random_ohlcv

RECOMPUTE_WINDOW = 500
CHUNK = 10_000


def _bars(n: int, seed: int) -> list[Bar]:
    return [
        Bar(time=b.time, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume)
        for b in iter_bars(random_ohlcv(n, seed=seed))
    ]


def _incremental_ns(name: str, warm: list[Bar], bars: list[Bar], n_updates: int) -> list[float]:
    """ns per update of each chunk of `bars`, until `n_updates` updates have run."""
    indicator = make_indicator(name)
    for bar in warm:
        indicator.update(bar)
    update = indicator.update
    samples = []
    for _ in range(max(1, round(n_updates / len(bars)))):
        start = time.perf_counter_ns()
        for bar in bars:
            update(bar)
        samples.append((time.perf_counter_ns() - start) / len(bars))
    return samples


def _ta_recompute_us(name: str, frame: Any, recomputes: int) -> float:
    data = frame[list(OHLCV)].astype(float)
    data["time"] = bar_times(frame)
    batch, params = BATCH_FUNCTIONS[name], make_indicator(name).params()
    start = time.perf_counter_ns()
    for end in range(RECOMPUTE_WINDOW, RECOMPUTE_WINDOW + recomputes):
        batch(data.iloc[end - RECOMPUTE_WINDOW : end].reset_index(drop=True), params)
    return (time.perf_counter_ns() - start) / recomputes / 1_000.0


def run_indicator_bench(n_updates: int = 200_000, recomputes: int = 300) -> list[dict]:
    """Rows {name, incremental_ns, ta_recompute_us, speedup}, one per registered indicator."""
    warm = _bars(1_000, seed=1)
    bars = _bars(min(CHUNK, n_updates), seed=2)
    frame = random_ohlcv(RECOMPUTE_WINDOW + recomputes, seed=3)
    rows = []
    for name in INDICATORS:
        samples = _incremental_ns(name, warm, bars, n_updates)
        inc_ns = min(samples)
        ta_us = _ta_recompute_us(name, frame, recomputes)
        rows.append({
            "name": name,
            "incremental_ns": round(inc_ns, 1),
            "incremental_ns_median": round(statistics.median(samples), 1),
            "ta_recompute_us": round(ta_us, 1),
            "speedup": round(ta_us * 1_000.0 / inc_ns),
        })
    return rows


if __name__ == "__main__":
    for row in run_indicator_bench():
        print(row)
