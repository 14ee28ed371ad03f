"""`MarketDataService`: a watchlist's history and live bars of 1m, 5m, 15m, 1h and 1d.

`subscribe(symbols)` qualifies the symbols (unknown ones are reported, the others go on),
backfills each one's history through the history cache (the broker port paces the
requests to IB's rules: nothing here waits on a timer), reports progress, then streams
quotes and 5-second bars into one `BarAggregator` per symbol. It is the trading engine's
`BarSource`: `bar_closed` and `bar_forming` per (symbol, bar size), and `history`.

Per-tick work stays in the aggregator. The port delivers quotes in batches (one list per
socket read); the forming bars of a batch are published once per symbol after the whole
batch, and only built when someone listens to `bar_forming`. A timer closes the bars of
quiet symbols once their period has ended (plus a grace for 5-second bars in flight).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ibtrader.core.bars import (
    DEFAULT_BAR_SIZES,
    BarAggregator,
    bar_seconds,
    feed_quotes,
    publish_forming,
)
from ibtrader.core.broker import (
    BrokerRequestFailed,
    BrokerUnavailable,
    MarketDataLinesExhausted,
    MarketDataPort,
    UnknownSymbol,
)
from ibtrader.core.events import Event
from ibtrader.core.market import Bar, BarUpdate, Instrument, Quote
from ibtrader.services.history_cache import HistoryCache, duration_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """Where the history backfill stands; an immutable snapshot, safe to hand to views."""

    symbols_done: int = 0
    symbols_total: int = 0
    bars_received: int = 0  # bars the broker sent (cached ones not counted)
    bars_cached: int = 0  # bars loaded from the cache
    requests: int = 0  # historical requests sent to the broker
    unknown: dict[str, str] = field(default_factory=dict)  # symbol -> why it is unknown
    problems: tuple[str, ...] = ()  # failed requests, corrupt cache files worked around

    @property
    def finished(self) -> bool:
        return self.symbols_done >= self.symbols_total


def parse_lookback(entries: Iterable[str]) -> dict[str, str]:
    """`("1 min=2 D", …)` as {bar size: IB duration}; ValueError naming the bad entry."""
    lookback: dict[str, str] = {}
    for entry in entries:
        size, sep, duration = entry.partition("=")
        if not sep:
            raise ValueError(f"history look-back {entry!r} must read BAR SIZE=DURATION, "
                             f"as in '1 min=2 D'")
        size, duration = size.strip(), duration.strip()
        bar_seconds(size)
        duration_seconds(duration)
        lookback[size] = duration
    return lookback


class MarketDataService:
    """History, live bars and their events for the subscribed symbols (one asyncio loop)."""

    def __init__(self, port: MarketDataPort, history: HistoryCache, *,
                 bar_sizes: Sequence[str] = DEFAULT_BAR_SIZES, use_rth: bool = False,
                 session_open: dt.time | None = None, realtime_bars: bool = True,
                 close_grace: float = 2.0, close_check: float = 1.0,
                 clock: Callable[[], float] = time.time) -> None:
        for size in bar_sizes:
            bar_seconds(size)
        if missing := [size for size in bar_sizes if size not in history.lookback]:
            raise ValueError(f"no history look-back set for {', '.join(missing)}: add "
                             f"them to history_lookback, as in '1 min=2 D'")
        self.port = port
        self.history_cache = history
        self.bar_sizes = tuple(dict.fromkeys(bar_sizes))
        self.use_rth = use_rth
        self.session_open = session_open  # None: bars on the clock (24-hour sessions)
        self.realtime_bars = realtime_bars
        self.close_grace = close_grace
        self.close_check = close_check
        self.clock = clock
        self.progress_changed: Event[[BackfillProgress]] = Event("progress_changed")
        self.bar_closed: Event[[str, str, Bar]] = Event("bar_closed")
        self.bar_forming: Event[[str, str, Bar]] = Event("bar_forming")
        self.history_ready: Event[[str]] = Event("history_ready")  # a symbol's backfill is in
        self.instruments: dict[str, Instrument] = {}
        self._aggregators: dict[str, BarAggregator] = {}
        self._by_bar_handle: dict[int, BarAggregator] = {}
        self._handles: list[int] = []
        self._requested: set[str] = set()
        self._progress = BackfillProgress()
        self._timer: asyncio.Task | None = None
        self._listening = False

    # ----- the BarSource face -------------------------------------------------------------
    @property
    def progress(self) -> BackfillProgress:
        return self._progress

    def history(self, symbol: str, bar_size: str) -> list[Bar]:
        """Closed bars held now, oldest first: the backfill, then live bars closed since."""
        return self.aggregator(symbol).closed(bar_size)

    def forming(self, symbol: str, bar_size: str) -> Bar | None:
        return self.aggregator(symbol).forming(bar_size)

    def aggregator(self, symbol: str) -> BarAggregator:
        try:
            return self._aggregators[symbol]
        except KeyError:
            raise KeyError(f"{symbol} is not subscribed") from None

    # ----- subscribing --------------------------------------------------------------------
    async def subscribe(self, symbols: Sequence[str]) -> dict[str, Instrument | UnknownSymbol]:
        """Qualify, backfill and stream `symbols`; returns each one's instrument or why
        it is unknown. Symbols already subscribed are left as they are."""
        wanted = [s for s in dict.fromkeys(x.strip().upper() for x in symbols)
                  if s and s not in self._requested]
        self._requested.update(wanted)  # a second call while this one runs skips them
        found = await self.port.qualify_many(wanted)
        unknown = {s: r.reason for s, r in found.items() if isinstance(r, UnknownSymbol)}
        self._requested.difference_update(unknown)  # may be retried later
        for symbol, reason in unknown.items():
            log.warning("%s is not subscribed: %s", symbol, reason)
        # keyed by the broker's name for it (ES -> ESZ6): the quotes and bars carry it
        known = list({i.symbol: i for i in found.values() if isinstance(i, Instrument)
                      and i.symbol not in self._aggregators}.items())
        self._update(symbols_total=self._progress.symbols_total + len(known),
                     unknown={**self._progress.unknown, **unknown})
        self._listen()
        await asyncio.gather(*(self._backfill_and_stream(s, i) for s, i in known))
        return found

    async def _backfill_and_stream(self, symbol: str, instrument: Instrument) -> None:
        agg = BarAggregator(symbol, self.bar_sizes, time_zone=instrument.time_zone,
                            session_open=self.session_open,
                            volume_from_bars=self.realtime_bars,
                            price_from_mid=instrument.sec_type == "CASH")
        agg.bar_closed += self.bar_closed.emit
        self.instruments[symbol] = instrument
        await asyncio.gather(*(self._backfill(agg, instrument, size) for size in self.bar_sizes))
        self._update(symbols_done=self._progress.symbols_done + 1)
        # Streams start after the seeding (which replaces a series): the seed's watermark
        # keeps 5-second bars already in the history from being counted twice.
        self._aggregators[symbol] = agg
        self.history_ready.emit(symbol)
        try:
            self._handles.append(self.port.subscribe_quotes(instrument))
            if self.realtime_bars:
                handle = self.port.subscribe_realtime_bars(instrument, None, self.use_rth)
                self._handles.append(handle)
                self._by_bar_handle[handle] = agg
        except MarketDataLinesExhausted as exc:
            self._report(f"{symbol}: no live data, history only ({exc})")

    async def _backfill(self, agg: BarAggregator, instrument: Instrument, bar_size: str) -> None:
        kind = "MIDPOINT" if instrument.sec_type == "CASH" else "TRADES"
        try:
            result = await self.history_cache.history(self.port, instrument, bar_size, kind,
                                                      self.use_rth)
        except (BrokerRequestFailed, BrokerUnavailable) as exc:
            self._update(requests=self._progress.requests + 1)
            self._report(f"{instrument.symbol} {bar_size}: no history ({exc})")
            return
        agg.seed(bar_size, result.bars, result.as_of)
        p = self._progress
        self._update(bars_received=p.bars_received + result.fetched,
                     bars_cached=p.bars_cached + result.cached,
                     requests=p.requests + result.requests,
                     problems=(*p.problems, *result.problems))

    def _update(self, **changes: object) -> None:
        self._progress = dataclasses.replace(self._progress, **changes)  # type: ignore[arg-type]
        self.progress_changed.emit(self._progress)

    def _report(self, problem: str) -> None:
        log.warning("%s", problem)
        self._update(problems=(*self._progress.problems, problem))

    # ----- streaming ----------------------------------------------------------------------
    def _listen(self) -> None:
        if self._listening:
            return
        self._listening = True
        self.port.quotes_updated += self._on_quotes
        self.port.bar_received += self._on_bar
        self._timer = asyncio.get_running_loop().create_task(self._close_quiet_bars())

    def _on_quotes(self, quotes: list[Quote]) -> None:
        touched = feed_quotes(self._aggregators, quotes)
        if touched and self.bar_forming:
            for agg in touched.values():
                publish_forming(agg, self.bar_forming.emit)

    def _on_bar(self, update: BarUpdate) -> None:
        agg = self._by_bar_handle.get(update.subscription)
        if agg is None or not update.complete:
            return
        agg.on_realtime_bar(update.bar)
        if self.bar_forming:
            publish_forming(agg, self.bar_forming.emit)

    async def _close_quiet_bars(self) -> None:
        while True:
            await asyncio.sleep(self.close_check)
            due = self.clock() - self.close_grace
            for agg in list(self._aggregators.values()):
                agg.close_due(due)

    async def stop(self) -> None:
        """End the streams and the timer; history and bars held stay readable."""
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
            self._timer = None
        if self._listening:
            self.port.quotes_updated -= self._on_quotes
            self.port.bar_received -= self._on_bar
            self._listening = False
        for handle in self._handles:
            self.port.unsubscribe(handle)
        self._handles.clear()
        self._by_bar_handle.clear()
