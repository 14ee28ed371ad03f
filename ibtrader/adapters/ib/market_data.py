"""`IBMarketData`: quotes, bars and history from IB, restored after every reconnect.

Subscriptions are kept here, under our own handles, independently of ib_async (whose
tickers and bar lists vanish with the socket). When the connection starts a session,
every stream is sent again: instruments are already qualified by their permanent con_id,
so restoring costs one request per stream and quotes flow again within a second or two.

Dispatch is batched: ib_async fires `pendingTickersEvent` once per socket read with the
tickers that changed, and this module turns that into one `quotes_updated(list[Quote])`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ib_async import BarDataList, RealTimeBarList, RequestError, Ticker

from ibtrader.adapters.ib.connection import IBConnection
from ibtrader.adapters.ib.contracts import contract_for, front_month, instrument_from, parse_symbol
from ibtrader.adapters.ib.convert import bar_from, ib_end_time, realtime_bar_from
from ibtrader.adapters.ib.errors import broker_error
from ibtrader.adapters.ib.lines import DEFAULT_LINES, Line, LineBudget, RequestWindow
from ibtrader.adapters.ib.pacing import (
    HistoricalPacingRules,
    HistoricalRequestKey,
    HistoricalScheduler,
)
from ibtrader.core.broker import BrokerRequestFailed, BrokerUnavailable, UnknownSymbol
from ibtrader.core.events import Event
from ibtrader.core.market import Bar, BarUpdate, Instrument, Quote

log = logging.getLogger(__name__)
T = TypeVar("T")

QUOTES, REALTIME_BARS, BARS = "quotes", "realtime bars", "bars"
_SEND_ORDER = {QUOTES: 0, REALTIME_BARS: 1, BARS: 2}  # what a trader misses first goes first
_KEEP_REALTIME_BARS = 100  # ib_async's bar lists grow forever; we only need the last bar


def _data_kind(instrument: Instrument, what_to_show: str | None) -> str:
    """IB's `whatToShow`; by default trades, or midpoints where nothing trades (FX)."""
    if what_to_show:
        return what_to_show.upper()
    return "MIDPOINT" if instrument.sec_type == "CASH" else "TRADES"


@dataclass(eq=False)
class _Stream:
    kind: str
    instrument: Instrument
    params: tuple
    line: Line | None = None
    handles: set[int] = field(default_factory=set)
    live: Any = None  # ib_async's Ticker / RealTimeBarList / BarDataList in this session
    requesting: bool = False  # a kept-up-to-date history request is out (or queued)

    @property
    def key(self) -> tuple:
        return (self.kind, self.instrument.con_id, self.params)


class IBMarketData:
    """The market-data port over one `IBConnection`."""

    def __init__(
        self,
        connection: IBConnection,
        *,
        line_limit: int = DEFAULT_LINES,
        historical_rules: HistoricalPacingRules | None = None,
        realtime_bar_window: RequestWindow | None = None,
        request_timeout: float = 60.0,
    ) -> None:
        self.connection = connection
        self.ib = connection.ib
        self.quotes_updated: Event[[list[Quote]]] = Event("quotes_updated")
        self.bar_received: Event[[BarUpdate]] = Event("bar_received")
        self.bars_reloaded: Event[[int, list[Bar]]] = Event("bars_reloaded")
        self.lines = LineBudget(line_limit)
        self.scheduler = HistoricalScheduler(historical_rules,
                                             can_send=lambda: connection.is_ready)
        self._rt_window = realtime_bar_window or RequestWindow(60, 600.0)
        self._rt_backlog: deque[_Stream] = deque()
        self._rt_timer: asyncio.TimerHandle | None = None
        self._timeout = request_timeout
        self._streams: dict[tuple, _Stream] = {}
        self._by_handle: dict[int, _Stream] = {}
        self._ticker_symbols: dict[int, str] = {}  # id(ticker) -> symbol; live keeps it alive
        self._bar_streams: dict[int, _Stream] = {}  # ib_async reqId -> stream
        self._handles = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()
        self.ib.pendingTickersEvent += self._on_tickers
        self.ib.barUpdateEvent += self._on_bar_update
        connection.session_started += self._on_session_started
        connection.state_changed += lambda *_: self.scheduler.wake()

    # ----- instruments --------------------------------------------------------------------
    async def qualify(self, symbol: str) -> Instrument:
        """The instrument a trader means by `symbol`; raises UnknownSymbol if IB has none."""
        try:
            spec = parse_symbol(symbol)
        except ValueError as exc:
            raise UnknownSymbol(symbol, str(exc)) from None
        if not self.connection.is_ready:
            raise BrokerUnavailable(f"{symbol}: not connected to IB")
        try:
            details = await asyncio.wait_for(
                self.ib.reqContractDetailsAsync(spec.contract()), self._timeout)
        except RequestError as exc:
            raise UnknownSymbol(symbol, f"{exc.message} (IB error {exc.code})") from None
        except TimeoutError:
            raise BrokerUnavailable(f"{symbol}: no contract details within "
                                    f"{self._timeout:g} s") from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{symbol}: {exc}") from None
        if spec.front_month:
            chosen = front_month(details, dt.datetime.now(dt.UTC).date())
        else:
            chosen = details[0] if len(details) == 1 else None
        if chosen is None:
            raise UnknownSymbol(symbol, "IB knows no such instrument" if not details else
                                f"ambiguous: {len(details)} instruments match")
        return instrument_from(chosen)

    async def qualify_many(self, symbols: Sequence[str]) -> dict[str, Instrument | UnknownSymbol]:
        """Every symbol mapped to its instrument, or to the reason it is unknown."""
        results = await asyncio.gather(*(self.qualify(s) for s in symbols),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, UnknownSymbol):
                raise result
        return dict(zip(symbols, results, strict=True))  # type: ignore[arg-type]

    # ----- subscriptions ------------------------------------------------------------------
    def subscribe_quotes(self, instrument: Instrument) -> int:
        """Stream quotes into `quotes_updated`; returns a handle for `unsubscribe`."""
        return self._subscribe(QUOTES, instrument, (), Line(QUOTES, instrument.con_id))

    def subscribe_realtime_bars(
        self, instrument: Instrument, what_to_show: str | None = None, use_rth: bool = False
    ) -> int:
        """Stream complete 5-second bars into `bar_received`; returns a handle."""
        params = (_data_kind(instrument, what_to_show), use_rth)
        line = Line(REALTIME_BARS, (instrument.con_id, *params))
        return self._subscribe(REALTIME_BARS, instrument, params, line)

    async def subscribe_bars(
        self, instrument: Instrument, bar_size: str, duration: str,
        what_to_show: str | None = None, use_rth: bool = False,
    ) -> tuple[int, list[Bar]]:
        """History up to now, then the forming bar kept up to date through `bar_received`."""
        handle = next(self._handles)
        stream = _Stream(BARS, instrument, (bar_size, duration,
                                            _data_kind(instrument, what_to_show), use_rth, handle))
        self._register(stream, handle)
        try:
            bars = await self._request_kept_bars(stream)
        except BaseException:
            self.unsubscribe(handle)
            raise
        return handle, [bar_from(b) for b in bars]

    def unsubscribe(self, subscription: int) -> None:
        """End a subscription; unknown or already ended handles are ignored."""
        stream = self._by_handle.pop(subscription, None)
        if stream is None:
            return
        stream.handles.discard(subscription)
        if stream.line is not None:
            self.lines.release(stream.line)
        if not stream.handles:
            del self._streams[stream.key]
            self._cancel_live(stream)

    def _subscribe(self, kind: str, instrument: Instrument, params: tuple, line: Line) -> int:
        if not instrument.is_qualified:
            raise ValueError(f"{instrument.symbol}: qualify the instrument first")
        self.lines.acquire(line)  # refuses before anything changes
        stream = self._streams.get((kind, instrument.con_id, params))
        is_new = stream is None
        if stream is None:
            stream = _Stream(kind, instrument, params, line)
        handle = next(self._handles)
        self._register(stream, handle)
        if is_new and self.connection.is_ready:
            self._send(stream)
        return handle

    def _register(self, stream: _Stream, handle: int) -> None:
        self._streams[stream.key] = stream
        stream.handles.add(handle)
        self._by_handle[handle] = stream

    # ----- history ------------------------------------------------------------------------
    async def historical_bars(
        self, instrument: Instrument, bar_size: str, duration: str,
        what_to_show: str | None = None, use_rth: bool = True, end: float | None = None,
    ) -> list[Bar]:
        """Bars ending at `end` (epoch seconds; None: now), paced to IB's rules."""
        end_text = ib_end_time(end)
        kind = _data_kind(instrument, what_to_show)
        key = HistoricalRequestKey(instrument.con_id, instrument.exchange, kind, end_text,
                                   duration, bar_size, use_rth)
        contract = contract_for(instrument)
        bars = await self._historical(key, instrument, lambda: self.ib.reqHistoricalDataAsync(
            contract, end_text, duration, bar_size, kind, use_rth, formatDate=2,
            timeout=self._timeout))
        return [bar_from(b) for b in bars]

    async def _request_kept_bars(self, stream: _Stream) -> BarDataList:
        bar_size, duration, what_to_show, use_rth, _ = stream.params
        inst = stream.instrument
        key = HistoricalRequestKey(inst.con_id, inst.exchange, what_to_show, "", duration,
                                   bar_size, use_rth)
        contract = contract_for(inst)
        stream.requesting = True
        try:
            bars = await self._historical(key, inst, lambda: self.ib.reqHistoricalDataAsync(
                contract, "", duration, bar_size, what_to_show, use_rth, formatDate=2,
                keepUpToDate=True, timeout=self._timeout))
        finally:
            stream.requesting = False
        if self._streams.get(stream.key) is stream:
            stream.live = bars
            self._bar_streams[bars.reqId] = stream
        else:  # unsubscribed while the request was out
            self.ib.cancelHistoricalData(bars)
        return bars

    async def _historical(self, key: HistoricalRequestKey, instrument: Instrument,
                          request: Callable[[], Awaitable[T]]) -> T:
        try:
            return await self.scheduler.submit(key, request)
        except RequestError as exc:
            raise BrokerRequestFailed(broker_error(exc.reqId, exc.code, exc.message, None,
                                                   instrument.symbol)) from None
        except ConnectionError as exc:
            raise BrokerUnavailable(f"{instrument.symbol}: {exc}") from None

    # ----- sending and restoring ----------------------------------------------------------
    def _on_session_started(self, session: int, fresh: bool) -> None:
        if fresh:  # ib_async forgot every ticker and bar list with the old socket
            self._ticker_symbols.clear()
            self._bar_streams.clear()
            self._rt_backlog.clear()
        streams = sorted(self._streams.values(), key=lambda s: _SEND_ORDER[s.kind])
        for stream in streams:
            if stream.requesting:
                continue  # queued for this session already
            if fresh:
                stream.live = None
            else:
                self._cancel_live(stream)
            self._send(stream)
        if streams:
            log.info("session %d: sent %d market-data subscriptions", session, len(streams))
        self.scheduler.wake()

    def _send(self, stream: _Stream) -> None:
        contract = contract_for(stream.instrument)
        if stream.kind == QUOTES:
            ticker = self.ib.reqMktData(contract)
            stream.live = ticker
            self._ticker_symbols[id(ticker)] = stream.instrument.symbol
        elif stream.kind == REALTIME_BARS:
            self._send_realtime_bars(stream)
        else:
            self._spawn(self._reload_bars(stream))

    def _send_realtime_bars(self, stream: _Stream) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        ready_at = self._rt_window.ready_at(now)
        if ready_at > now:  # IB allows only so many new real-time bar requests
            self._rt_backlog.append(stream)
            if self._rt_timer is None:
                self._rt_timer = loop.call_at(ready_at, self._drain_realtime_backlog)
            return
        self._rt_window.record(now)
        what_to_show, use_rth = stream.params
        bars = self.ib.reqRealTimeBars(contract_for(stream.instrument), 5, what_to_show, use_rth)
        stream.live = bars
        self._bar_streams[bars.reqId] = stream

    def _drain_realtime_backlog(self) -> None:
        self._rt_timer = None
        backlog, self._rt_backlog = self._rt_backlog, deque()
        if not self.connection.is_ready:
            return  # the next session sends them all
        for stream in backlog:
            if self._streams.get(stream.key) is stream and stream.live is None:
                self._send_realtime_bars(stream)

    async def _reload_bars(self, stream: _Stream) -> None:
        try:
            bars = await self._request_kept_bars(stream)
        except (BrokerUnavailable, BrokerRequestFailed) as exc:
            log.warning("could not restore %s bars of %s: %s", stream.params[0],
                        stream.instrument.symbol, exc)
            return
        converted = [bar_from(b) for b in bars]
        for handle in stream.handles:
            self.bars_reloaded.emit(handle, converted)

    def _cancel_live(self, stream: _Stream) -> None:
        live, stream.live = stream.live, None
        if live is None:
            return
        if stream.kind == QUOTES:
            self._ticker_symbols.pop(id(live), None)
        else:
            self._bar_streams.pop(live.reqId, None)
        if not self.ib.isConnected():
            return
        if stream.kind == QUOTES:
            self.ib.cancelMktData(live.contract)
        elif stream.kind == REALTIME_BARS:
            self.ib.cancelRealTimeBars(live)
        else:
            self.ib.cancelHistoricalData(live)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop background work (restores in flight, the scheduler); keeps subscriptions."""
        for task in list(self._tasks):
            task.cancel()
        if self._rt_timer is not None:
            self._rt_timer.cancel()
            self._rt_timer = None
        self.scheduler.close()

    # ----- inbound dispatch: once per socket read -----------------------------------------
    def _on_tickers(self, tickers: set[Ticker]) -> None:
        # The hot path: keyed by id() because Ticker.__hash__ is a Python method, and a
        # comprehension; about 0.4 µs per ticker.
        symbols = self._ticker_symbols
        quotes = [Quote(symbol, t.bid, t.ask, t.last, t.bidSize, t.askSize, t.lastSize,
                        t.volume, t.timestamp)
                  for t in tickers if (symbol := symbols.get(id(t))) is not None]
        if quotes:
            self.quotes_updated.emit(quotes)

    def _on_bar_update(self, bars: RealTimeBarList | BarDataList, has_new_bar: bool) -> None:
        stream = self._bar_streams.get(bars.reqId)
        if stream is None or not bars:
            return
        symbol = stream.instrument.symbol
        if stream.kind == REALTIME_BARS:
            updates = [(realtime_bar_from(bars[-1]), True)]
            if len(bars) > _KEEP_REALTIME_BARS:
                del bars[:-1]
        else:
            updates = [(bar_from(bars[-1]), False)]
            if has_new_bar and len(bars) > 1:  # the bar before the new one is now final
                updates.insert(0, (bar_from(bars[-2]), True))
        for handle in stream.handles:
            for bar, complete in updates:
                self.bar_received.emit(BarUpdate(handle, symbol, bar, complete))
