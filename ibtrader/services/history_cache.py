"""History through the cache: load the cached bars, fetch only the gap, save the merge.

The first time, a bounded look-back is fetched (`lookback`, IB's duration text); after
that only the span since the last cached bar, whose own bar is fetched again because the
broker may have sent it while it was still forming. A gap longer than the look-back is
fetched as the look-back and replaces the cache, so the cache never holds a hole.
A corrupt cache file is reported (logged and in the result) and fetched again in full; a
failed fetch falls back to the cached bars (reported too), or raises when there are none.
Parquet reads and writes run in a worker thread: the loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from ibtrader.core.bars import DAY, bar_seconds
from ibtrader.core.broker import BrokerRequestFailed, BrokerUnavailable, MarketDataPort
from ibtrader.core.market import Bar, Instrument
from ibtrader.core.ports import BarStore, CorruptData

log = logging.getLogger(__name__)

_DURATION = re.compile(r"(\d+)\s*([SDWMY])")
_UNIT_SECONDS = {"S": 1, "D": DAY, "W": 7 * DAY, "M": 30 * DAY, "Y": 365 * DAY}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SECONDS_DURATION = DAY  # IB takes "N S" durations up to a day; longer ones in days


def bars_key(symbol: str, bar_size: str, what_to_show: str, use_rth: bool) -> str:
    """The object key, e.g. "history/AAPL/1min/TRADES-rth.parquet"."""
    def part(text: str) -> str:
        return _UNSAFE.sub("_", text.strip()) or "_"
    hours = "rth" if use_rth else "all"
    return (f"history/{part(symbol)}/{part(bar_size.replace(' ', ''))}/"
            f"{part(what_to_show.upper())}-{hours}.parquet")


def duration_seconds(text: str) -> int:
    """Seconds in an IB duration ("3600 S", "2 D", "1 W", "6 M", "1 Y")."""
    match = _DURATION.fullmatch(text.strip().upper())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"duration {text!r} must be a whole number and a unit S, D, W, M "
                         f"or Y, as in '2 D' or '3600 S'")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def gap_duration(seconds: float, bar_size: str) -> str:
    """The shortest IB duration covering `seconds` back from now for `bar_size` bars."""
    whole = max(1, math.ceil(seconds))
    if bar_seconds(bar_size) < DAY and whole <= MAX_SECONDS_DURATION:
        return f"{max(whole, bar_seconds(bar_size))} S"
    return f"{math.ceil(whole / DAY) + 1} D"  # daily bars: one more day for the partial one


@dataclass(frozen=True, slots=True)
class HistoryResult:
    bars: list[Bar]
    as_of: float  # when the broker's answer (or the cache) was current
    cached: int  # bars that came from the cache
    fetched: int  # bars the broker sent now
    requests: int  # historical requests sent to the broker
    problems: tuple[str, ...] = ()  # cache or broker problems worked around, for the report


class HistoryCache:
    """Cached history per (symbol, bar size, data kind, RTH) over a `MarketDataPort`."""

    def __init__(self, bars: BarStore, lookback: dict[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        for bar_size, duration in lookback.items():
            bar_seconds(bar_size)
            duration_seconds(duration)
        self.bars = bars
        self.lookback = dict(lookback)
        self.clock = clock

    async def history(self, port: MarketDataPort, instrument: Instrument, bar_size: str,
                      what_to_show: str, use_rth: bool) -> HistoryResult:
        key = bars_key(instrument.symbol, bar_size, what_to_show, use_rth)
        lookback = self.lookback.get(bar_size)
        if lookback is None:
            raise ValueError(f"no look-back configured for {bar_size!r} bars")
        problems: list[str] = []
        try:
            cached = await asyncio.to_thread(self.bars.load, key) or []
        except (CorruptData, OSError) as exc:
            log.warning("%s; fetching it again", exc)
            cached = []
            problems.append(str(exc))
        now = self.clock()
        if cached and now - cached[-1].time < duration_seconds(lookback):
            duration = gap_duration(now - cached[-1].time, bar_size)
        else:
            duration, cached = lookback, []
        try:
            fresh = await port.historical_bars(instrument, bar_size, duration, what_to_show,
                                               use_rth)
        except (BrokerRequestFailed, BrokerUnavailable) as exc:
            if not cached:
                raise
            # Stale history beats none: the trader sees why, and the next start fetches it.
            problem = f"{instrument.symbol} {bar_size}: using cached bars only ({exc})"
            log.warning("%s", problem)
            return HistoryResult(cached, self.clock(), len(cached), 0, 1, (problem,))
        as_of = self.clock()
        merged = _merge(cached, fresh)
        kept = len(merged) - len(fresh)
        try:
            await asyncio.to_thread(self.bars.save, key, merged)
        except OSError as exc:  # a full or read-only disk costs the cache, not the data
            problem = f"{instrument.symbol} {bar_size}: history not cached ({exc})"
            log.warning("%s", problem)
            problems.append(problem)
        return HistoryResult(merged, as_of, kept, len(fresh), 1, tuple(problems))


def _merge(cached: list[Bar], fresh: list[Bar]) -> list[Bar]:
    """Cached bars older than the first fresh one, then the fresh ones (they win)."""
    if not fresh:
        return cached
    first = fresh[0].time
    return [b for b in cached if b.time < first] + fresh
