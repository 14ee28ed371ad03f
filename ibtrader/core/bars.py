"""Bars of 1m, 5m, 15m, 1h and 1d from trade ticks and 5-second bars, for one symbol.

This is on the per-tick hot path, so the common case (a trade inside every forming bar's
period) touches only a few slots per bar size; working out a new period (time zones,
session open) happens once per period, on the slow path.

Choices, once:
- Periods. Intraday bars are aligned on the clock of the exchange's time zone
  (`Instrument.time_zone`): 15-minute bars start at :00/:15/:30/:45 local time, 1-hour bars
  on the hour. When a session open is given (09:30 for US stocks trading regular hours),
  the bar that contains it starts at the open instead, as IB does: the first RTH hour bar
  is 09:30–10:00. Without one (24-hour sessions, the simulator's default) bars stay on the
  hour. Daily bars cover one local calendar day of the exchange and are labelled, as
  `core.market` says, with midnight UTC of that date; so on a DST change day a New York
  daily bar covers 23 or 25 real hours.
- Quiet periods make no bar (as IB's own bars): the next trade opens the period it is in.
- Trade size from quotes: a quote carries `last`, `last_size` and the day's cumulative
  `volume`. Quotes are snapshots (IB sends one per 250 ms for stocks), so several trades may
  hide behind one update and `last_size` names only the latest, while a quote re-sent with an
  unchanged last trade repeats it. The increase of the cumulative volume since the previous
  quote is exact over any number of trades, so it is the trade size; `last_size` is not used.
  The first quote only sets the baseline (the history already holds the volume before it);
  a cumulative volume that drops means a new trading day, and the new value is all new.
- Ticks and 5-second bars together: prices merge from both (high/low are maxima/minima, so
  seeing a trade twice changes nothing; the close is the newest by time). Volume would be
  counted twice, so it comes from one source: `volume_from_bars=True` when the symbol also
  streams 5-second bars (they are complete and exact), else from the ticks.
- Late data: a tick older than a forming bar's period (clock skew between the feed and the
  bar stream) still updates that forming bar, as it is the latest price known; a 5-second
  bar for an already closed period is dropped (a closed bar is never re-sent), and so is one
  already covered by the history the series was seeded with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
import time as _time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from ibtrader.core.events import Event
from ibtrader.core.market import NAN, Bar, Quote

DAY = 86_400
REALTIME_BAR_SECONDS = 5
# IB's bar-size names (what strategies and the broker port use) and their lengths.
BAR_SECONDS: dict[str, int] = {
    "1 min": 60, "5 mins": 300, "15 mins": 900, "1 hour": 3600, "1 day": DAY,
}
DEFAULT_BAR_SIZES: tuple[str, ...] = tuple(BAR_SECONDS)


def bar_seconds(bar_size: str) -> int:
    """Seconds per bar of a supported bar size; ValueError naming the supported ones."""
    try:
        return BAR_SECONDS[bar_size]
    except KeyError:
        raise ValueError(f"unsupported bar size {bar_size!r}: use one of "
                         f"{', '.join(BAR_SECONDS)}") from None


def parse_session_open(text: str) -> dt.time:
    """"09:30" as a time of day; ValueError with the expected form otherwise."""
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"session open {text!r} must be a local time such as 09:30") from None


def _bar_builder() -> Callable[[float, float, float, float, float, float, int], Bar]:
    """Bar(time, open, high, low, close, volume, count=count) in ~half the time.

    Bar is a frozen slots dataclass, whose __init__ sets each field through
    object.__setattr__ (~0.95 us a bar); setting the slots through their descriptors
    skips those calls (~0.5 us). It is one bar per close and per forming-bar read, on the
    path from a tick to a signal. Should Bar ever gain a field or lose its slots, the
    plain constructor is used instead of building a bar with a field left unset.
    """
    names = ("time", "open", "high", "low", "close", "volume", "wap", "count")
    if tuple(f.name for f in dataclasses.fields(Bar)) != names or not hasattr(Bar, "__slots__"):
        return lambda t, o, h, low, c, v, n: Bar(t, o, h, low, c, v, count=n)
    new = object.__new__
    setters = tuple(getattr(Bar, name).__set__ for name in names)

    def build(t: float, o: float, h: float, low: float, c: float, v: float, n: int) -> Bar:
        bar = new(Bar)
        s_time, s_open, s_high, s_low, s_close, s_volume, s_wap, s_count = setters
        s_time(bar, t)
        s_open(bar, o)
        s_high(bar, h)
        s_low(bar, low)
        s_close(bar, c)
        s_volume(bar, v)
        s_wap(bar, NAN)
        s_count(bar, n)
        return bar

    return build


make_bar = _bar_builder()


class SessionClock:
    """Where the period of a bar size containing an instant starts and ends, in one zone.

    `period(t, seconds)` returns (label, start, end): `label` is the bar's time as stored
    (the start for intraday bars, midnight UTC of the session date for daily bars); `start`
    and `end` are the real instants the period covers, end excluded.

    Converting an instant to the zone's local time costs ~0.8 us (~3.5 us for a daily
    period), and every bar size's period rolls at a minute boundary; so the local day
    last seen is kept, with its UTC offset, and reused while `t` stays inside it. A day
    in which the offset changes (DST) is never kept: each call then converts afresh.
    """

    def __init__(self, time_zone: str = "UTC", session_open: dt.time | None = None) -> None:
        try:
            self.zone = ZoneInfo(time_zone or "UTC")
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"unknown time zone {time_zone!r}: use an IANA name such as "
                             f"America/New_York") from exc
        self.session_open = session_open
        self._open_seconds = (None if session_open is None else
                              session_open.hour * 3600 + session_open.minute * 60
                              + session_open.second)
        # the local day last seen: [start, end) in UTC, its UTC offset and daily period
        self._day_start = self._day_end = math.nan  # nan: nothing kept (no t is inside)
        self._offset = 0.0
        self._day_period = (math.nan, math.nan, math.nan)

    def _local_day(self, t: float) -> tuple[float, tuple[float, float, float]]:
        """UTC offset at `t` and the daily period holding it; kept if the offset holds
        for the whole day."""
        local = dt.datetime.fromtimestamp(t, self.zone)
        offset = local.utcoffset().total_seconds()  # type: ignore[union-attr]
        day = self._day(local.date())
        _, start, end = day
        if self._offset_at(start) == offset == self._offset_at(end - 1):
            self._day_start, self._day_end = start, end
            self._offset, self._day_period = offset, day
        return offset, day

    def _offset_at(self, t: float) -> float:
        offset = dt.datetime.fromtimestamp(t, self.zone).utcoffset()
        assert offset is not None  # a ZoneInfo always knows its offset
        return offset.total_seconds()

    def period(self, t: float, seconds: int) -> tuple[float, float, float]:
        if self._day_start <= t < self._day_end:
            offset, day = self._offset, self._day_period
        else:
            offset, day = self._local_day(t)
        if seconds >= DAY:
            return day
        local_t = t + offset
        day_start = local_t - local_t % DAY
        start = local_t - local_t % seconds
        end = start + seconds
        opening = self._open_seconds
        if opening is not None:
            open_t = day_start + opening
            if start < open_t < end:  # this bar holds the session open: split it there
                if local_t >= open_t:
                    start = open_t
                else:
                    end = open_t
        return start - offset, start - offset, end - offset

    def _day(self, date: dt.date) -> tuple[float, float, float]:
        label = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp()
        start = dt.datetime(date.year, date.month, date.day, tzinfo=self.zone).timestamp()
        following = date + dt.timedelta(days=1)
        end = dt.datetime(following.year, following.month, following.day,
                          tzinfo=self.zone).timestamp()
        return label, start, end

    def period_of_bar(self, bar_time: float, seconds: int) -> tuple[float, float, float]:
        """The period of a stored bar: for daily bars its label names a date, not an instant."""
        if seconds >= DAY:
            date = dt.datetime.fromtimestamp(bar_time, dt.UTC).date()
            return self._day(date)
        return self.period(bar_time, seconds)


class _Series:
    """The forming bar of one bar size and the closed bars kept behind it."""

    __slots__ = (
        "bar_size",
        "close",
        "closed",
        "count",
        "end",
        "forming",
        "high",
        "label",
        "low",
        "open",
        "seconds",
        "start",
        "volume",
        "watermark",
    )

    def __init__(self, bar_size: str, keep: int) -> None:
        self.bar_size = bar_size
        self.seconds = bar_seconds(bar_size)
        self.closed: deque[Bar] = deque(maxlen=keep)
        self.forming = False  # a forming bar exists (has seen at least one price)
        self.label = self.start = self.end = -math.inf
        self.open = self.high = self.low = self.close = math.nan
        self.volume = 0.0
        self.count = 0
        self.watermark = -math.inf  # 5-second bars ending at or before this are in history

    def snapshot(self) -> Bar:
        return make_bar(self.label, self.open, self.high, self.low, self.close, self.volume,
                        self.count)


class BarAggregator:
    """Closed and forming bars of several sizes for one symbol.

    Feed it with `on_trade`, `on_quote` and `on_realtime_bar`; call `close_due(now)` from a
    timer so that a quiet symbol's bars still close. It publishes:
    - `forming_updated(aggregator)` once per input that changed the forming bars (read them
      with `forming(bar_size)`: a `Bar` is built only when someone asks);
    - `bar_closed(symbol, bar_size, bar)` once per final bar, in time order per bar size.
    """

    def __init__(self, symbol: str, bar_sizes: Iterable[str] = DEFAULT_BAR_SIZES, *,
                 time_zone: str = "UTC", session_open: dt.time | None = None,
                 volume_from_bars: bool = False, price_from_mid: bool = False,
                 keep: int = 5_000) -> None:
        sizes = tuple(dict.fromkeys(bar_sizes))
        if not sizes:
            raise ValueError(f"{symbol}: give at least one bar size")
        self.symbol = symbol
        self.clock = SessionClock(time_zone, session_open)
        self.volume_from_bars = volume_from_bars
        self.price_from_mid = price_from_mid  # currencies: no trades, the midpoint moves
        self.bar_sizes = sizes  # fixed for the aggregator's life
        self._series = tuple(_Series(size, keep) for size in sizes)
        self._by_size = {s.bar_size: s for s in self._series}
        self._last_time = -math.inf  # time of the newest price seen (ticks or bar closes)
        self._cum_volume = math.nan  # the previous quote's cumulative day volume
        self._last_price = math.nan
        self.late_bars = 0  # 5-second bars dropped because their period had closed
        self.forming_updated: Event[[BarAggregator]] = Event("forming_updated")
        self.bar_closed: Event[[str, str, Bar]] = Event("bar_closed")

    # ----- reading ------------------------------------------------------------------------
    def forming(self, bar_size: str) -> Bar | None:
        """The forming bar of `bar_size` now, or None between periods."""
        series = self._series_of(bar_size)
        return series.snapshot() if series.forming else None

    def closed(self, bar_size: str) -> list[Bar]:
        """The closed bars kept, oldest first (the seeded history, then live ones)."""
        return list(self._series_of(bar_size).closed)

    def _series_of(self, bar_size: str) -> _Series:
        try:
            return self._by_size[bar_size]
        except KeyError:
            raise ValueError(f"{self.symbol}: no {bar_size!r} bars here; this aggregator "
                             f"makes {', '.join(self._by_size)}") from None

    # ----- input: ticks -------------------------------------------------------------------
    def on_quote(self, quote: Quote) -> bool:
        """Take a quote as a trade when it shows one; True if the forming bars changed."""
        _, bid, ask, last, _, _, _, volume, t = quote  # one unpack: cheaper than 5 lookups
        size = 0.0
        if volume == volume:  # not nan
            previous = self._cum_volume
            if previous == previous:
                size = volume - previous
                if size < 0:  # the broker's day rolled over: the count starts again
                    size = volume
            self._cum_volume = volume
        price = (bid + ask) * 0.5 if self.price_from_mid else last
        if price != price or (size <= 0 and price == self._last_price):
            return False  # no price yet, or a quote that re-sends the same last trade
        self._last_price = price
        self.on_trade(price, size, t)
        return True

    def on_trade(self, price: float, size: float, t: float) -> None:
        """One trade (or a price update of an untraded instrument) at epoch time `t`."""
        if self.volume_from_bars:
            size = 0.0
        if t > self._last_time:
            self._last_time = t
        for s in self._series:
            if t >= s.end or not s.forming:
                if t >= s.end:
                    self._roll(s, t)
                elif t < s.start:
                    continue  # its period closed already and nothing has opened since
                self._open(s, price)
                s.volume = size
                s.count = 1
                continue
            # Inside the period, or a late tick (t < start): both update the forming bar.
            if price > s.high:
                s.high = price
            elif price < s.low:
                s.low = price
            s.close = price
            s.volume += size
            s.count += 1
        self.forming_updated.emit(self)

    # ----- input: 5-second bars -----------------------------------------------------------
    def on_realtime_bar(self, bar: Bar) -> None:
        """A complete 5-second bar (`bar.time` is its start)."""
        t = bar.time
        bar_end = t + REALTIME_BAR_SECONDS
        newest = bar_end >= self._last_time  # else a tick already gave a newer close
        if newest:
            self._last_time = bar_end
        volume = bar.volume if self.volume_from_bars else 0.0
        changed = False
        for s in self._series:
            if bar_end <= s.watermark:
                continue  # the seeded history already holds it
            if t >= s.end:
                self._roll(s, t)
            elif t < s.start:
                self.late_bars += 1
                continue
            changed = True
            if not s.forming:
                self._open(s, bar.open)
            if bar.high > s.high:
                s.high = bar.high
            if bar.low < s.low:
                s.low = bar.low
            if newest:
                s.close = bar.close
            s.volume += volume
            s.count += bar.count
        if changed:
            self.forming_updated.emit(self)

    # ----- closing ------------------------------------------------------------------------
    def close_due(self, now: float) -> int:
        """Close every forming bar whose period ended by `now`; returns how many closed.

        Call it from a timer with the clock the data uses (minus a grace for data in
        flight), so that a bar closes even when no tick of the next period comes."""
        closed = 0
        for s in self._series:
            if s.forming and now >= s.end:
                self._close(s)
                s.start = s.end  # anything older is late from now on
                closed += 1
        return closed

    def _roll(self, s: _Series, t: float) -> None:
        if s.forming:
            self._close(s)
        s.label, s.start, s.end = self.clock.period(t, s.seconds)

    def _close(self, s: _Series) -> None:
        bar = s.snapshot()
        s.forming = False
        s.closed.append(bar)
        self.bar_closed.emit(self.symbol, s.bar_size, bar)

    @staticmethod
    def _open(s: _Series, price: float) -> None:
        s.forming = True
        s.open = s.high = s.low = s.close = price
        s.volume = 0.0
        s.count = 0

    # ----- seeding ------------------------------------------------------------------------
    def seed(self, bar_size: str, bars: Sequence[Bar], as_of: float) -> None:
        """History fetched at `as_of` becomes the closed bars of `bar_size`.

        IB's last history bar is the current period up to `as_of`: if its period has not
        ended by `as_of`, it becomes the forming bar and live data continues it, with
        5-second bars ending by `as_of` skipped (they are in it already). Replaces whatever
        the series held; bars must be in time order."""
        s = self._series_of(bar_size)
        ordered = list(bars)
        for earlier, later in itertools.pairwise(ordered):
            if later.time <= earlier.time:
                raise ValueError(f"{self.symbol} {bar_size}: history is not in time order "
                                 f"at {later.time:.0f}")
        s.closed.clear()
        s.forming = False
        s.label = s.start = s.end = -math.inf
        s.watermark = as_of
        if not ordered:
            return
        last = ordered[-1]
        label, start, end = self.clock.period_of_bar(last.time, s.seconds)
        if as_of < end:
            ordered.pop()
            s.forming = True
            s.label, s.start, s.end = label, start, end
            s.open, s.high, s.low, s.close = last.open, last.high, last.low, last.close
            s.volume, s.count = last.volume, max(last.count, 1)
            self._last_price = last.close
        else:
            s.label, s.start, s.end = label, end, end  # anything before `end` is late
        s.closed.extend(ordered)


def feed_quotes(aggregators: Mapping[str, BarAggregator],
                quotes: Iterable[Quote]) -> dict[str, BarAggregator]:
    """A batch of quotes (one socket read) to their symbols' aggregators; returns the
    aggregators whose forming bars changed, so that each is published once per batch."""
    touched: dict[str, BarAggregator] = {}
    for quote in quotes:
        agg = aggregators.get(quote.symbol)
        if agg is not None and agg.on_quote(quote):
            touched[quote.symbol] = agg
    return touched


def publish_forming(agg: BarAggregator,
                    emit: Callable[[str, str, Bar], object]) -> None:
    """Every forming bar of `agg` to `emit(symbol, bar_size, bar)`."""
    for size in agg.bar_sizes:
        bar = agg.forming(size)
        if bar is not None:
            emit(agg.symbol, size, bar)


def bench_aggregator(ticks: int = 200_000, bar_sizes: Sequence[str] = DEFAULT_BAR_SIZES,
                     time_zone: str = "America/New_York",
                     timer: Callable[[], int] = _time.perf_counter_ns) -> float:
    """Nanoseconds per trade tick through one symbol's aggregator (`bar_sizes` bars).

    Ticks come 4 a second (IB's 250 ms stock snapshots) as a bounded random walk, with
    one subscriber on each event, so periods roll and bars close as they would live."""
    agg = BarAggregator("BENCH", bar_sizes, time_zone=time_zone,
                        session_open=dt.time(9, 30))
    agg.forming_updated += lambda _agg: None
    agg.bar_closed += lambda _sym, _size, _bar: None
    start_t = dt.datetime(2026, 3, 6, 14, 30, tzinfo=dt.UTC).timestamp()
    steps = [((i * 7919) % 13 - 6) * 0.01 for i in range(1024)]  # cheap, repeatable moves
    prices = []
    price = 100.0
    for i in range(ticks):
        price += steps[i & 1023]
        prices.append(price)
    on_trade = agg.on_trade
    began = timer()
    for i, p in enumerate(prices):
        on_trade(p, 100.0, start_t + i * 0.25)
    return (timer() - began) / ticks
