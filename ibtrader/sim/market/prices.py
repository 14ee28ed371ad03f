"""The seeded, reproducible price path of one instrument: last prices, quotes and bars.

The last price of every second is a function of (seed, symbol, second) alone: a daily
process fixes each session day's close, and a day's seconds are generated from that day's
own seed when first needed (and kept in a small LRU). Bars of every size, the quotes'
day figures and history are aggregations of those seconds, so they always agree. Quotes
change QUOTE_HZ times a second: spread, sizes and where the last trade sits in the spread
come from a hash of (seed, symbol, tenth of a second), so they too are reproducible.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ibtrader.sim.market import aggregate as agg
from ibtrader.sim.market import paths
from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.instruments import Instrument
from ibtrader.sim.market.intraday import DayInputs, Grid, Workspace, activity_profile, generate_day
from ibtrader.sim.market.paths import ANCHOR, HORIZON_DAYS, PathParams
from ibtrader.sim.market.quotes import QUOTE_HZ, BookMaker, DayRunning

DAY = 86_400
WEEK = 7 * DAY
MONTH = 30 * DAY  # "1 month" bars are calendar months; this is only their code
TRADE_SERIES = ("TRADES", "ADJUSTED_LAST")
SERIES = (*TRADE_SERIES, "MIDPOINT", "BID", "ASK", "BID_ASK")
_VOLUME_UNIT = {"CASH": 1000.0}
_QUOTE_STREAM = 0x0B00C
SUMMARY_CACHE = 50_000  # day summaries kept (a few hundred bytes each)


@dataclass(frozen=True, slots=True)
class Bar:
    time: int  # epoch second of the bar's start
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


@dataclass(frozen=True, slots=True)
class Quote:
    time: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    last_size: float
    day_volume: float
    day_open: float
    day_high: float
    day_low: float
    prev_close: float


@dataclass(frozen=True, eq=False)
class DayData:
    """One session day's seconds, from `start`."""

    index: int  # session days since ANCHOR
    start: int
    prices: np.ndarray
    volumes: np.ndarray
    counts: np.ndarray


class PriceModel:
    def __init__(self, instrument: Instrument, seed: int, calendar: TradingCalendar,
                 params: PathParams | None = None, cache_days: int = 16) -> None:
        self.instrument = instrument
        self.seed = seed
        self.calendar = calendar
        self.params = params or PathParams()
        self.cache_days = cache_days
        # futures contract months share one path, so the symbol (not the local symbol) counts
        key = f"{instrument.symbol}:{instrument.sec_type}:{instrument.currency}"
        self._key_hash = paths.stable_hash(key)
        self._unit = _VOLUME_UNIT.get(instrument.sec_type, 1.0)
        self._grid = Grid(
            min_tick=instrument.min_tick,
            sub_dollar_tick=instrument.tick_size_at(0.5) if instrument.sec_type == "STK" else None,
            volume_unit=self._unit,
            trade_size=max(instrument.typical_size / 3, self._unit),
        )
        self._ws = Workspace()
        self._books = BookMaker(instrument, paths.generator(seed, self._key_hash,
                                                            _QUOTE_STREAM))
        self._daily: paths.DailyPath | None = None
        self._norm: float | None = None
        self._profiles: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._days: OrderedDict[int, DayData] = OrderedDict()
        self._running: OrderedDict[int, DayRunning] = OrderedDict()
        self._summaries: OrderedDict[tuple[int, bool, str], agg.Row | None] = OrderedDict()
        self._first = calendar.day_start(ANCHOR)
        self._end = calendar.day_start(ANCHOR + dt.timedelta(days=HORIZON_DAYS))

    # ----- the time range ---------------------------------------------------------------
    def first_time(self) -> int:
        """The first second with a price (the head timestamp)."""
        return self._first

    def regime(self, day: dt.date) -> str:
        """The daily process's regime on a session day: 'up', 'down' or 'range'."""
        return paths.REGIME_NAMES[int(self._daily_path().regime[self._index(day)])]

    # ----- prices -----------------------------------------------------------------------
    def last_at(self, t: float) -> float:
        second = math.floor(t)
        data = self._data_at(second)
        return float(data.prices[second - data.start])

    def seconds(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Prices and volumes of each second in [start, end), open or not."""
        self._check(start)
        if end > start:
            self._check(end - 1)
        prices, volumes = [], []
        second = start
        while second < end:
            data = self._data_at(second)
            stop = min(end, data.start + len(data.prices))
            prices.append(data.prices[second - data.start:stop - data.start])
            volumes.append(data.volumes[second - data.start:stop - data.start])
            second = stop
        if not prices:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(prices), np.concatenate(volumes)

    def bars(self, start: int, end: int, bar_seconds: int, rth: bool = False,
             what: str = "TRADES") -> list[Bar]:
        """Bars over the open seconds in [start, end), aligned to multiples of bar_seconds
        (UTC); a bar still forming at `end` holds the seconds up to end - 1. Daily bars
        (86400) are session days timed at their start; WEEK and MONTH group those."""
        if what not in SERIES:
            raise ValueError(f"unknown series {what!r}")
        if bar_seconds < DAY:
            parts = [self._reduce(data, lo, hi, what, bar_seconds)
                     for data, lo, hi in self._pieces(start, end, rth)]
            return to_bars(agg.regroup(agg.concat(parts)), what)
        daily = self._daily_rows(start, end, rth, what)
        if bar_seconds == DAY:
            return to_bars(daily, what)
        if bar_seconds in (WEEK, MONTH):
            return to_bars(agg.regroup(daily, self._period_keys(daily, bar_seconds)), what)
        raise ValueError(f"unsupported bar length {bar_seconds} s")

    def quote_at(self, t: float) -> Quote:
        second = math.floor(t)
        slot = min(max(math.floor(t * QUOTE_HZ), second * QUOTE_HZ), second * QUOTE_HZ + 9)
        cal = self.calendar
        if not cal.around_the_clock and not cal.is_open(second, rth=False):
            # a closed market shows its last quote, frozen
            last_open = cal.last_open_second(second)
            if last_open is not None:
                second, slot = last_open, last_open * QUOTE_HZ
        data = self._data_at(second)
        i = second - data.start
        price = float(data.prices[i])
        bid, ask, bid_size, ask_size = self._books.book_one(price, slot)
        running = self._running_for(data)
        prev_close = self._prev_close(data.index)
        if running.first < 0 or i < running.first:
            day_open = day_high = day_low = prev_close
            day_volume = 0.0
        else:
            day_open = float(data.prices[running.first])
            day_high, day_low = float(running.high[i]), float(running.low[i])
            day_volume = float(running.volume[i])
        volume, count = float(data.volumes[i]), max(int(data.counts[i]), 1)
        last_size = max(math.floor(volume / count / self._unit + 0.5), 1) * self._unit
        return Quote(t, bid, ask, bid_size, ask_size, price, last_size, day_volume, day_open,
                     day_high, day_low, prev_close)

    # ----- bars -------------------------------------------------------------------------
    def _pieces(self, start: int, end: int, rth: bool) -> Iterator[tuple[DayData, int, int]]:
        """(day, lo, hi) for each open stretch [lo, hi) of [start, end)."""
        start, end = max(start, self._first), min(end, self._end)
        if start >= end:
            return
        day, last = self.calendar.session_day(start), self.calendar.session_day(end - 1)
        while day <= last:
            for a, b in self.calendar.sessions(day, rth):
                lo, hi = max(a, start), min(b, end)
                if lo < hi:
                    yield self._data(self._index(day)), lo, hi
            day += dt.timedelta(days=1)

    def _reduce(self, data: DayData, lo: int, hi: int, what: str, bar_seconds: int | None,
                key: int = 0) -> agg.Agg:
        i0, i1 = lo - data.start, hi - data.start
        prices = data.prices[i0:i1]
        volume, count = data.volumes[i0:i1], data.counts[i0:i1]
        averages = what == "BID_ASK"
        if what in TRADE_SERIES:
            series = agg.Series(prices, prices, prices, prices, volume, count)
        else:
            bid, ask, _, _ = self._books.book(prices, np.arange(lo, hi) * QUOTE_HZ)
            if what == "MIDPOINT":
                mid = (bid + ask) / 2
                series = agg.Series(mid, mid, mid, mid, volume, count)
            else:
                lows = ask if what == "ASK" else bid
                highs = bid if what == "BID" else ask
                series = agg.Series(lows, highs, lows, highs, volume, count)
        if bar_seconds is None:
            return agg.reduce_whole(lo, series, key, averages)
        return agg.reduce_span(lo, series, bar_seconds, averages)

    def _daily_rows(self, start: int, end: int, rth: bool, what: str) -> agg.Agg:
        start, end = max(start, self._first), min(end, self._end)
        if start >= end:
            return agg.empty()
        rth = rth and not self.calendar.around_the_clock  # one cache entry when it's all one
        rows: list[agg.Row] = []
        day, last = self.calendar.session_day(start), self.calendar.session_day(end - 1)
        while day <= last:
            begin = self.calendar.day_start(day)
            if begin >= start:
                complete = self.calendar.day_end(day) <= end
                row = self._day_summary(day, rth, what) if complete else \
                    self._day_row(day, rth, what, end)
                if row is not None:
                    rows.append(row)
            day += dt.timedelta(days=1)
        return agg.from_rows(rows)

    def _day_summary(self, day: dt.date, rth: bool, what: str) -> agg.Row | None:
        key = (self._index(day), rth, what)
        if key not in self._summaries:
            self._summaries[key] = self._day_row(day, rth, what, self.calendar.day_end(day))
            if len(self._summaries) > SUMMARY_CACHE:
                self._summaries.popitem(last=False)
        return self._summaries[key]

    def _day_row(self, day: dt.date, rth: bool, what: str, end: int) -> agg.Row | None:
        begin = self.calendar.day_start(day)
        spans = [(a, min(b, end)) for a, b in self.calendar.sessions(day, rth) if a < end]
        if not spans:
            return None
        data = self._data(self._index(day))
        parts = [self._reduce(data, a, b, what, None, key=begin) for a, b in spans]
        row = agg.regroup(agg.concat(parts))
        return agg.only_row(row._replace(time=row.key))

    def _period_keys(self, daily: agg.Agg, bar_seconds: int) -> np.ndarray:
        days = [self.calendar.session_day(int(t)) for t in daily.time]
        if bar_seconds == WEEK:
            labels = [d.toordinal() - d.weekday() for d in days]
        else:
            labels = [d.year * 12 + d.month for d in days]
        return np.array(labels, dtype=np.int64)

    # ----- quotes -----------------------------------------------------------------------
    def _running_for(self, data: DayData) -> DayRunning:
        running = self._running.get(data.index)
        if running is None:
            n = len(data.prices)
            mask = np.zeros(n, dtype=bool)
            day = ANCHOR + dt.timedelta(days=data.index)
            for a, b in self.calendar.sessions(day, rth=False):
                mask[max(a - data.start, 0):max(b - data.start, 0)] = True
            running = DayRunning.over(data.prices, data.volumes, mask)
            self._running[data.index] = running
            if len(self._running) > 4:
                self._running.popitem(last=False)
        return running

    def _prev_close(self, index: int) -> float:
        """The close of the last earlier session day that traded."""
        for back in range(1, 15):
            if index - back < 0:
                break
            day = ANCHOR + dt.timedelta(days=index - back)
            row = self._day_summary(day, False, "TRADES")
            if row is not None:
                return float(row[agg.CLOSE])
        return self.instrument.round_to_tick(self.instrument.start_price)

    # ----- generation -------------------------------------------------------------------
    def _index(self, day: dt.date) -> int:
        index = (day - ANCHOR).days
        if not 0 <= index < HORIZON_DAYS:
            raise ValueError(f"{day} is outside the simulated history ({ANCHOR} on, "
                             f"{HORIZON_DAYS} days)")
        return index

    def _check(self, second: int) -> None:
        self._index(self.calendar.session_day(second))

    def _data_at(self, second: int) -> DayData:
        return self._data(self._index(self.calendar.session_day(second)))

    def _data(self, index: int) -> DayData:
        data = self._days.get(index)
        if data is None:
            data = self._generate(index)
            self._days[index] = data
            if len(self._days) > self.cache_days:
                self._days.popitem(last=False)
        else:
            self._days.move_to_end(index)
        return data

    def _generate(self, index: int) -> DayData:
        daily = self._daily_path()
        day = ANCHOR + dt.timedelta(days=index)
        start = self.calendar.day_start(day)
        n = self.calendar.day_end(day) - start
        inst = self.instrument
        log_prev = float(daily.log_close[index - 1]) if index else math.log(inst.start_price)
        profile, share = self._profile(day, start, n)
        inputs = DayInputs(
            n=n, log_prev=log_prev, log_close=float(daily.log_close[index]),
            sigma=float(daily.sigma[index]), activity=float(daily.activity[index]),
            profile=profile, profile_share=share, profile_norm=self._profile_norm(),
            daily_volume=inst.daily_volume,
        )
        rng = paths.generator(self.seed, self._key_hash, index)
        prices, volumes, counts = generate_day(rng, inputs, self._grid, self.params, self._ws)
        for array in (prices, volumes, counts):
            array.setflags(write=False)  # shared with every caller through the cache
        return DayData(index, start, prices, volumes, counts)

    def _daily_path(self) -> paths.DailyPath:
        if self._daily is None:
            weekdays = (ANCHOR.weekday() + np.arange(HORIZON_DAYS)) % 7
            trading = np.isin(weekdays, list(self.calendar.schedule.weekdays))
            closed = self.params.quiet_activity * DAY / self._profile_norm()
            inst = self.instrument
            self._daily = paths.daily_path(
                paths.generator(self.seed, self._key_hash, paths.DAILY_STREAM),
                inst.start_price, inst.annual_vol, np.where(trading, 1.0, closed),
                self.params,
            )
        return self._daily

    def _profile(self, day: dt.date, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The day's activity profile and its cumulative share (cached: most days share
        one of a handful of shapes)."""
        spans = tuple((a - start, b - start)
                      for a, b in self.calendar.real_sessions(day, rth=False))
        busy = self.calendar.busy_span(day)
        busy_offsets = None if busy is None else (busy[0] - start, busy[1] - start)
        key = (n, spans, busy_offsets)
        found = self._profiles.get(key)
        if found is None:
            profile = activity_profile(n, list(spans), busy_offsets, self.params)
            share = np.cumsum(profile) / profile.sum()
            profile.setflags(write=False)
            share.setflags(write=False)
            found = self._profiles[key] = (profile, share)
        return found

    def _profile_norm(self) -> float:
        """The activity of a normal trading day (a Wednesday), against which every day's
        variance share and volume are measured."""
        if self._norm is None:
            day = dt.date(2015, 1, 7)
            start = self.calendar.day_start(day)
            profile, _ = self._profile(day, start, self.calendar.day_end(day) - start)
            self._norm = float(profile.sum())
        return self._norm


def to_bars(rows: agg.Agg, what: str) -> list[Bar]:
    """Bar values from aggregated rows; like IB, only trades have volume, WAP and count."""
    if what == "BID_ASK":
        opens = np.round(rows.sum_open / rows.seconds, 8)
        closes = np.round(rows.sum_close / rows.seconds, 8)
    else:
        opens, closes = rows.open, rows.close
    columns = (rows.time.tolist(), opens.tolist(), rows.high.tolist(), rows.low.tolist(),
               closes.tolist())
    if what in TRADE_SERIES:
        waps = np.round(rows.pv / np.maximum(rows.volume, 1e-12), 8).tolist()
        return [Bar(t, o, h, lo, c, v, w, n) for t, o, h, lo, c, v, w, n in zip(
            *columns, rows.volume.tolist(), waps, rows.count.tolist(), strict=True)]
    return [Bar(t, o, h, lo, c, -1.0, -1.0, -1) for t, o, h, lo, c in zip(*columns, strict=True)]
