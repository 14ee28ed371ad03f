"""DailyPerformanceService: the account's equity through the day, and the day's row.

    service = DailyPerformanceService(broker.account, journal, settings, account="DU123",
                                      pnl=lambda: book_pnl(manager.portfolio),
                                      fills=manager.fill_received)
    service.daily_computed += notifier.daily_summary   # (DailyPerformance, [(time, equity)])
    await service.start()
    row = await service.compute_now()                 # on demand (API, CLI)
    await service.stop()

It samples the account (equity from the AccountPort, the book's realized and unrealized
P&L) every `equity_sample_seconds` and on each fill, into the journal. At the session
close (`session_close` in `session_timezone`) it computes the day's row from the day's
executions and samples, saves it (the journal mirrors it) and emits `daily_computed`.
Timers are the loop's (`call_later`), never a sleep loop; a timer checks the clock when
it fires, so a clock that jumps (a suspended laptop, a test's fake clock) is honoured.
A day is read (every execution: a position opened last month realizes against its cost)
and computed in a worker thread on a connection of its own; only the sample and the save,
about a millisecond, run on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from ibtrader.config import Settings
from ibtrader.core.broker import BrokerFill
from ibtrader.core.events import Event
from ibtrader.core.performance import (
    ClosingReader,
    DailyPerformance,
    EquitySample,
    PerformanceJournal,
    PerformanceReader,
    daily_performance,
    day_bounds,
    equity_curve,
    next_close,
    session_date,
    session_zone,
)
from ibtrader.core.ports import AccountPort

log = logging.getLogger(__name__)

Curve = list[tuple[float, float]]
KEEP_SAMPLES_DAYS = 90  # the equity samples behind the curves; the days' rows stay for good


class DailyPerformanceService:
    def __init__(self, account_port: AccountPort, journal: PerformanceJournal,
                 settings: Settings, *, account: str,
                 pnl: Callable[[], tuple[float, float]] | None = None,
                 multipliers: Callable[[], Mapping[str, float]] | None = None,
                 fills: Event[[BrokerFill]] | None = None,
                 reader: Callable[[], ClosingReader] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`pnl` gives the book's (realized, unrealized) P&L now; `multipliers` the
        contract multipliers by symbol (futures); `fills` fires on each new fill.
        `reader` opens a connection of its own to the journal's file, so that a day is
        read and computed in a worker thread (10,000 executions: ~0.5 s); without one
        the reads run on the loop (a small journal, tests)."""
        if not account:
            raise ValueError("the daily performance needs the account's name")
        self.account = account
        self._port = account_port
        self._journal = journal
        self._pnl = pnl
        self._multipliers = multipliers
        self._fills = fills
        self._reader = reader
        self._clock = clock
        self._every = settings.equity_sample_seconds
        self._close = settings.session_close
        self._zone = session_zone(settings.session_timezone)
        self.daily_computed: Event[[DailyPerformance, Curve]] = Event("daily_computed")
        self._sample_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._closing: tuple[dt.date, float] | None = None  # the next close awaited
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._loop is not None:
            raise RuntimeError("the daily performance service is already started")
        self._loop = asyncio.get_running_loop()
        if self._fills is not None:
            self._fills += self._on_fill
        now = self._clock()
        self._closing = next_close(now, self._close, self._zone)
        self._catch_up(now)
        self._on_sample_timer()
        self._arm_close()
        log.info("daily performance of %s: sampled every %g s, computed at %s %s",
                 self.account, self._every, self._close, self._zone.key)

    async def stop(self) -> None:
        if self._loop is None:
            return
        if self._fills is not None:
            self._fills -= self._on_fill
        for timer in (self._sample_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._sample_timer = self._close_timer = None
        self._loop = None
        tasks = list(self._tasks)  # a computation under way finishes: its row is saved
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- sampling ----------------------------------------------------------------------------

    def sample(self) -> EquitySample | None:
        """Record the account now; None when the broker has no equity for it yet."""
        snapshot = self._port.account()
        if not math.isfinite(snapshot.equity):
            return None
        realized = unrealized = math.nan
        if self._pnl is not None:
            realized, unrealized = self._pnl()
        sample = EquitySample(self._clock(), snapshot.equity, realized, unrealized)
        self._journal.record_equity_sample(self.account, sample)
        return sample

    def _on_sample_timer(self) -> None:
        try:
            self.sample()
        except Exception:  # a broken read must not stop the sampling
            log.exception("equity sample of %s failed", self.account)
        if self._loop is not None:
            self._sample_timer = self._loop.call_later(self._every, self._on_sample_timer)

    def _on_fill(self, _fill: BrokerFill) -> None:
        try:
            self.sample()
        except Exception:
            log.exception("equity sample of %s after a fill failed", self.account)

    # --- the day's row -----------------------------------------------------------------------

    async def compute_now(self, day: dt.date | None = None) -> DailyPerformance:
        """Sample, compute the day's row (today in the session's zone by default), save it
        (the journal mirrors it) and emit `daily_computed`."""
        today = session_date(self._clock(), self._zone)
        day = today if day is None else day
        if day == today:
            self.sample()
        now = self._clock()  # after the sample: the row is computed with it
        multipliers = dict(self._multipliers()) if self._multipliers is not None else {}
        if self._reader is None:
            row, curve = self._compute(self._journal, day, multipliers, now)
        else:
            row, curve = await asyncio.to_thread(self._compute_apart, day, multipliers, now)
        self._journal.save_daily_performance(row)  # on the loop: the journal's one writer
        log.info("daily performance %s: equity %s, realized %.2f, %d trades", row.id,
                 row.equity, row.realized_pnl, row.trades)
        self.daily_computed.emit(row, curve)
        return row

    def _compute(self, reader: PerformanceReader, day: dt.date,
                 multipliers: Mapping[str, float], now: float
                 ) -> tuple[DailyPerformance, Curve]:
        start, end = day_bounds(day, self._zone)
        # as of `now`: sampling goes on while a reader in a thread computes
        samples = [s for s in reader.equity_samples(self.account, start, end) if s.time <= now]
        row = daily_performance(self.account, day, self._zone, reader.executions(), samples,
                                multipliers, now)
        return row, equity_curve(samples, day, self._zone)

    def _compute_apart(self, day: dt.date, multipliers: Mapping[str, float],
                       now: float) -> tuple[DailyPerformance, Curve]:
        assert self._reader is not None
        reader = self._reader()
        try:
            return self._compute(reader, day, multipliers, now)
        finally:
            reader.close()

    def _catch_up(self, now: float) -> None:
        """The last close passed while the app was not running (or before the day's first
        sample): compute that day now, if it traded or was sampled and has no row yet."""
        day, _moment = next_close(now - 86_400.0, self._close, self._zone)  # the last close
        if self._journal.daily_performance(self.account, day.isoformat()) is not None:
            return
        start, end = day_bounds(day, self._zone)
        if not self._journal.equity_samples(self.account, start, end):
            return  # nothing of that day here: no row to make
        log.info("daily performance of %s for %s was not computed at its close: now",
                 self.account, day)
        self._spawn_close(day)

    def _spawn_close(self, day: dt.date) -> None:
        task = asyncio.get_running_loop().create_task(self._compute_at_close(day),
                                                      name="daily-performance")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _arm_close(self) -> None:
        if self._loop is None or self._closing is None:
            return
        delay = max(0.0, self._closing[1] - self._clock())
        self._close_timer = self._loop.call_later(delay, self._on_close_timer)

    def _on_close_timer(self) -> None:
        assert self._closing is not None
        day, moment = self._closing
        now = self._clock()
        if now < moment:  # woken early (the clock is not the loop's): wait the rest
            self._arm_close()
            return
        self._closing = next_close(now, self._close, self._zone)
        self._spawn_close(day)
        self._arm_close()

    async def _compute_at_close(self, day: dt.date) -> None:
        try:
            await self.compute_now(day)
            self._journal.prune_equity_samples(self._clock() - KEEP_SAMPLES_DAYS * 86_400.0)
        except Exception:
            log.exception("daily performance of %s for %s failed", self.account, day)
