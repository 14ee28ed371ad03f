"""Contract details, streaming quotes, real-time bars and historical bars for one client."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ibtrader.sim.contracts import contract_details, describe, resolve
from ibtrader.sim.handlers.base import Desk
from ibtrader.sim.market.history import (
    HistoryRequestError,
    format_bar_time,
    historical_bars,
    parse_bar_size,
    parse_duration,
    parse_end_date_time,
)
from ibtrader.sim.market.instruments import Instrument
from ibtrader.sim.market.prices import Bar, Quote
from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.responses import HistBar
from ibtrader.sim.protocol.wire import WireContract

log = logging.getLogger(__name__)

# tick type ids: (live, delayed)
BID_SIZE, BID, ASK, ASK_SIZE, LAST, LAST_SIZE = (0, 69), (1, 66), (2, 67), (3, 70), (4, 68), (5, 71)
HIGH, LOW, VOLUME, CLOSE, OPEN = (6, 72), (7, 73), (8, 74), (9, 75), (14, 76)
LAST_TIMESTAMP = 45
NO_SECURITY = "No security definition has been found for the request"
HMDS_ERROR = "Historical Market Data Service error message:"


@dataclass
class QuoteStream:
    req_id: int
    instrument: Instrument
    delayed: bool
    sent: dict[int, float] = field(default_factory=dict)


@dataclass
class RealTimeBarStream:
    req_id: int
    instrument: Instrument
    what_to_show: str
    next_end: int


@dataclass
class BarUpdates:
    """A keepUpToDate historical request: the forming bar is re-sent while it changes."""

    req_id: int
    instrument: Instrument
    bar_seconds: int
    format_date: int
    use_rth: bool
    what_to_show: str
    last_sent: tuple = ()
    next_check: float = 0.0


class MarketDataDesk(Desk):
    def __init__(self, session: Any, server: Any) -> None:
        super().__init__(session, server)
        self.market_data_type = 1
        self.quotes: dict[int, QuoteStream] = {}
        self.rt_bars: dict[int, RealTimeBarStream] = {}
        self.bar_updates: dict[int, BarUpdates] = {}

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            rq.ReqContractDetails: self.contract_details,
            rq.ReqMarketDataType: self.set_market_data_type,
            rq.ReqMktData: self.subscribe_quotes,
            rq.CancelMktData: lambda r: self.quotes.pop(r.req_id, None),
            rq.ReqRealTimeBars: self.subscribe_rt_bars,
            rq.CancelRealTimeBars: lambda r: self.rt_bars.pop(r.req_id, None),
            rq.ReqHistoricalData: self.historical_data,
            rq.CancelHistoricalData: lambda r: self.bar_updates.pop(r.req_id, None),
            rq.ReqHeadTimeStamp: self.head_timestamp,
        }

    def watched_con_ids(self) -> set[int]:
        ids = {s.instrument.con_id for s in self.quotes.values()}
        ids.update(s.instrument.con_id for s in self.rt_bars.values())
        return ids

    # ----- contracts -------------------------------------------------------------------
    def _one_instrument(self, req_id: int, contract: WireContract) -> Instrument | None:
        found = resolve(self.exchange.universe, contract)
        if len(found) == 1:
            return found[0]
        if not found:
            self.session.error(req_id, 200, NO_SECURITY)
        else:
            self.session.error(req_id, 200, f"The contract description specified for "
                                            f"{describe(contract)} is ambiguous.")
        return None

    def contract_details(self, req: rq.ReqContractDetails) -> None:
        found = resolve(self.exchange.universe, req.contract)
        if not found:
            self.session.error(req.req_id, 200, NO_SECURITY)
            return
        now = self.server.clock()
        for instrument in found:
            details = contract_details(instrument, self.exchange.calendar(instrument.con_id), now)
            self.send(out.contract_data(self.version, req.req_id, details))
        self.send(out.contract_data_end(req.req_id))

    # ----- quotes ----------------------------------------------------------------------
    def set_market_data_type(self, req: rq.ReqMarketDataType) -> None:
        if req.market_data_type not in (1, 2, 3, 4):
            self.session.error(-1, 321, f"Invalid market data type {req.market_data_type}")
            return
        self.market_data_type = req.market_data_type

    def subscribe_quotes(self, req: rq.ReqMktData) -> None:
        instrument = self._one_instrument(req.req_id, req.contract)
        if instrument is None:
            return
        delayed = self.market_data_type in (3, 4)
        self.send(out.tick_req_params(req.req_id, instrument.min_tick, "9c0001", 3))
        if self.market_data_type != 1:
            self.send(out.market_data_type(req.req_id, self.market_data_type))
        stream = QuoteStream(req.req_id, instrument, delayed)
        now = self.server.clock()
        self._send_quote(stream, self.exchange.quote(instrument.con_id, now), now)
        if req.snapshot or req.regulatory_snapshot:
            self.send(out.tick_snapshot_end(req.req_id))
        else:
            self.quotes[req.req_id] = stream

    def _send_quote(self, stream: QuoteStream, q: Quote, now: float) -> None:
        d = 1 if stream.delayed else 0
        sent = stream.sent
        req_id = stream.req_id
        send = self.send
        for tick, price, size in ((BID, q.bid, q.bid_size), (ASK, q.ask, q.ask_size)):
            size_tick = BID_SIZE if tick is BID else ASK_SIZE
            if sent.get(tick[d]) != price:
                sent[tick[d]] = price
                sent[size_tick[d]] = size
                send(out.tick_price(req_id, tick[d], price, size, 0))
            elif sent.get(size_tick[d]) != size:
                sent[size_tick[d]] = size
                send(out.tick_size(req_id, size_tick[d], size))
        if sent.get(LAST[d]) != q.last or sent.get(VOLUME[d]) != q.day_volume:
            sent[LAST[d]] = q.last
            sent[VOLUME[d]] = q.day_volume
            send(out.tick_price(req_id, LAST[d], q.last, q.last_size, 0))
            send(out.tick_size(req_id, LAST_SIZE[d], q.last_size))
            send(out.tick_size(req_id, VOLUME[d], q.day_volume))
            send(out.tick_string(req_id, LAST_TIMESTAMP, str(int(now))))
        for tick, value in ((HIGH, q.day_high), (LOW, q.day_low), (CLOSE, q.prev_close),
                            (OPEN, q.day_open)):
            if sent.get(tick[d]) != value:
                sent[tick[d]] = value
                send(out.tick_price(req_id, tick[d], value, 0, 0))

    # ----- real-time bars --------------------------------------------------------------
    def subscribe_rt_bars(self, req: rq.ReqRealTimeBars) -> None:
        instrument = self._one_instrument(req.req_id, req.contract)
        if instrument is None:
            return
        if req.bar_size != 5:
            self.session.error(req.req_id, 420, "Invalid Real-time Query: bar size must be 5")
            return
        now = int(self.server.clock())
        self.rt_bars[req.req_id] = RealTimeBarStream(
            req.req_id, instrument, req.what_to_show.upper(), now - now % 5 + 5
        )

    def _send_rt_bars(self, now: float) -> None:
        for stream in self.rt_bars.values():
            while stream.next_end <= now:
                start = stream.next_end - 5
                model = self.exchange.model(stream.instrument.con_id)
                for bar in model.bars(start, stream.next_end, 5):
                    self.send(out.realtime_bar(stream.req_id, bar.time, bar.open, bar.high,
                                               bar.low, bar.close, bar.volume, bar.wap, bar.count))
                stream.next_end += 5

    # ----- historical bars -------------------------------------------------------------
    def historical_data(self, req: rq.ReqHistoricalData) -> None:
        instrument = self._one_instrument(req.req_id, req.contract)
        if instrument is None:
            return
        now = self.server.clock()
        violation = self._pacing_violation(req, instrument, time.monotonic())
        if violation:
            self.server.stats.historical_pacing_violations += 1
            self.session.error(req.req_id, 162, f"{HMDS_ERROR}Historical data request pacing "
                                                f"violation ({violation})")
            return
        try:
            bar_seconds = parse_bar_size(req.bar_size)
            duration = parse_duration(req.duration)
            end = now if req.keep_up_to_date else parse_end_date_time(req.end_date_time, now)
            bars = historical_bars(
                self.exchange.model(instrument.con_id), self.exchange.calendar(instrument.con_id),
                end=min(end, now), duration=duration, bar_seconds=bar_seconds,
                use_rth=req.use_rth, what_to_show=req.what_to_show.upper(),
            )
        except HistoryRequestError as exc:
            self.session.error(req.req_id, 162, f"{HMDS_ERROR}{exc}")
            return
        tz = instrument.time_zone_id
        rows = [self._hist_bar(b, bar_seconds, req.format_date, tz) for b in bars]
        start_text = format_bar_time(int(end - duration), 1, 1, tz)
        end_text = format_bar_time(int(end), 1, 1, tz)
        self.send(out.historical_data(req.req_id, start_text, end_text, rows))
        if req.keep_up_to_date:
            self.bar_updates[req.req_id] = BarUpdates(
                req.req_id, instrument, bar_seconds, req.format_date, req.use_rth,
                req.what_to_show.upper(), next_check=now + 1.0,
            )

    def _pacing_violation(self, req: rq.ReqHistoricalData, instrument: Instrument,
                          now: float) -> str | None:
        if self.server.faults.take_pacing():
            return "injected fault"
        request_key = (instrument.con_id, req.end_date_time, req.duration, req.bar_size,
                       req.what_to_show, req.use_rth)
        contract_key = (instrument.con_id, instrument.exchange, req.what_to_show)
        return self.server.pacing.historical.check(now, request_key, contract_key)

    @staticmethod
    def _hist_bar(bar: Bar, bar_seconds: int, format_date: int, tz: str) -> HistBar:
        return HistBar(format_bar_time(bar.time, bar_seconds, format_date, tz), bar.open,
                       bar.high, bar.low, bar.close, bar.volume, bar.wap, bar.count)

    def _send_bar_updates(self, now: float) -> None:
        for sub in self.bar_updates.values():
            if now < sub.next_check:
                continue
            sub.next_check = now + 1.0
            start = int(now) - int(now) % sub.bar_seconds if sub.bar_seconds < 86400 else None
            bars = historical_bars(
                self.exchange.model(sub.instrument.con_id),
                self.exchange.calendar(sub.instrument.con_id), end=now,
                duration=sub.bar_seconds if start is not None else 86400,
                bar_seconds=sub.bar_seconds, use_rth=sub.use_rth, what_to_show=sub.what_to_show,
            )
            if not bars:
                continue
            bar = bars[-1]
            key = (bar.time, bar.close, bar.high, bar.low, bar.volume)
            if key == sub.last_sent:
                continue
            sub.last_sent = key
            date_text = format_bar_time(bar.time, sub.bar_seconds, sub.format_date,
                                        sub.instrument.time_zone_id)
            self.send(out.historical_data_update(sub.req_id, bar.count, date_text, bar.open,
                                                 bar.close, bar.high, bar.low, bar.wap,
                                                 bar.volume))

    def head_timestamp(self, req: rq.ReqHeadTimeStamp) -> None:
        instrument = self._one_instrument(req.req_id, req.contract)
        if instrument is None:
            return
        first = self.exchange.model(instrument.con_id).first_time()
        text = str(int(first)) if req.format_date == 2 else format_bar_time(
            int(first), 60, 1, instrument.time_zone_id)
        self.send(out.head_timestamp(req.req_id, text))

    # ----- the market loop -------------------------------------------------------------
    def on_market(self, now: float, quiet: bool) -> None:
        if quiet:
            return
        firehose = self.server.firehose
        for stream in self.quotes.values():
            if firehose:
                stream.sent.clear()
            self._send_quote(stream, self.exchange.quote(stream.instrument.con_id, now), now)
        if self.rt_bars:
            self._send_rt_bars(now)
        if self.bar_updates:
            self._send_bar_updates(now)
