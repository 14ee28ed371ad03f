"""DailyPerformanceService over a real journal: equity sampled on a timer and on each fill,
the day's row computed once when a (fake) clock crosses the session close, and on demand."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.config import Settings
from ibtrader.core.broker import BrokerFill
from ibtrader.core.events import Event
from ibtrader.core.performance import day_bounds, session_zone
from ibtrader.core.ports import AccountSnapshot
from ibtrader.services.performance import DailyPerformanceService
from tests.loops import loop_runner

run = pytest.fixture(loop_runner, name="run")
NY = session_zone("America/New_York")
DAY = dt.date(2026, 11, 27)
CLOSE = dt.datetime.combine(DAY, dt.time(16), NY).timestamp()


class Account:
    """The AccountPort: the equity the test sets (NaN: not reported yet)."""

    def __init__(self, equity: float) -> None:
        self.equity = equity

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(self.equity, self.equity * 2)


class Clock:
    """Wall-clock time from `start`, moving with real time: the loop's timers fire on real
    time while the service reads this clock."""

    def __init__(self, start: float) -> None:
        self.offset = start - time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def journal(tmp_path):
    with SqliteOrderJournal(tmp_path / "j.sqlite") as j:
        yield j


def service(journal, account, clock, fills=None, every=0.05, apart=False):
    settings = Settings(data_dir=journal.path.parent, equity_sample_seconds=every)
    reader = (lambda: SqliteOrderJournal(journal.path)) if apart else None
    return DailyPerformanceService(account, journal, settings, account="DU1",
                                   pnl=lambda: (-4.0, 12.5), fills=fills, reader=reader,
                                   clock=clock)


def test_crossing_the_close_computes_the_day_once_and_emits_its_curve(run, journal):
    account = Account(100_000.0)
    svc = service(journal, account, Clock(CLOSE - 0.5), apart=True)  # read in a thread
    journal.record_execution(BrokerFill("a", "k", 1, 1, "X", "BUY", 1, 10.0, CLOSE - 3600, 0.0),
                             "k")
    journal.record_execution(BrokerFill("b", "k", 2, 2, "X", "SELL", 1, 12.0, CLOSE - 60, 0.0),
                             "k")
    emitted = []
    svc.daily_computed += lambda row, curve: emitted.append((row, curve))

    async def session() -> None:
        await svc.start()
        await asyncio.sleep(0.1)
        account.equity = 99_900.0  # a dip before the close
        await asyncio.sleep(0.1)
        account.equity = 100_050.0
        await asyncio.sleep(0.6)  # the close passes at 0.5 s
        await svc.stop()

    run(session())
    [(row, curve)] = emitted
    assert (row.id, row.trades, row.win_rate, row.realized_pnl) == ("DU1:2026-11-27", 1, 1.0, 2.0)
    assert row.max_drawdown == pytest.approx(100.0)  # 100,000 -> 99,900
    assert row.equity == 100_050.0 and row.unrealized_pnl == 12.5
    assert row.computed >= CLOSE
    start, end = day_bounds(DAY, NY)
    samples = journal.equity_samples("DU1", start, end)  # sampling goes on after the close
    assert curve == [(s.time, s.equity) for s in samples if s.time <= row.computed]
    assert len(curve) >= 5  # every 0.05 s, and the one taken at the close
    assert journal.daily_performances() == [row]


def test_a_fill_is_sampled_at_once_and_stop_ends_the_timers(run, journal):
    fills: Event[[BrokerFill]] = Event("fill_received")
    svc = service(journal, Account(50_000.0), Clock(CLOSE - 7200), fills, every=60)

    async def session() -> int:
        await svc.start()  # one sample at start; the next would be a minute later
        fills.emit(BrokerFill("a", "k", 1, 1, "X", "BUY", 1, 10.0, CLOSE - 7200, 0.0))
        await svc.stop()
        count = len(journal.equity_samples("DU1", 0, 2e9))
        fills.emit(BrokerFill("b", "k", 1, 1, "X", "BUY", 1, 10.0, CLOSE - 7100, 0.0))
        await asyncio.sleep(0.05)
        return count

    assert run(session()) == 2
    assert len(journal.equity_samples("DU1", 0, 2e9)) == 2  # nothing after stop


def test_on_demand_the_day_is_computed_again_into_the_same_row(run, journal):
    account = Account(float("nan"))  # the broker has not reported the equity yet
    svc = service(journal, account, Clock(CLOSE - 7200), every=60)
    emitted = []
    svc.daily_computed += lambda row, curve: emitted.append(row)

    async def session() -> tuple:
        await svc.start()
        first = await svc.compute_now()
        account.equity = 75_000.0
        second = await svc.compute_now()
        await svc.stop()
        return first, second

    first, second = run(session())
    assert (first.equity, first.unrealized_pnl, first.trades) == (None, None, 0)
    assert second.equity == 75_000.0 and second.id == first.id == "DU1:2026-11-27"
    assert journal.daily_performances() == [second] and emitted == [first, second]


def test_a_long_history_is_computed_off_the_loop(run, journal):
    """10,000 executions (months of active trading) take ~0.5 s to read and replay: on a
    reader of its own in a worker thread, the loop keeps ticking meanwhile."""
    with journal.atomic():
        for n in range(10_000):
            side = "BUY" if (n // 20) % 2 == 0 else "SELL"
            journal.record_execution(BrokerFill(f"e{n}", "k", n, n, f"S{n % 20}", side, 10,
                                                100.0 + n % 7, CLOSE - (10_000 - n) * 250,
                                                1.0), "k")
    svc = service(journal, Account(100_000.0), Clock(CLOSE - 60), every=60, apart=True)

    async def session() -> tuple[float, float]:
        await svc.start()
        gaps: list[float] = []

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        began = time.perf_counter()
        await svc.compute_now()
        took = time.perf_counter() - began
        ticker.cancel()
        await svc.stop()
        return took, max(gaps)

    took, worst = run(session())
    # on the loop it would be one gap of all of `took`; apart, the thread shares the GIL
    # (measured: worst gap ~0.1 s of ~0.55 s)
    assert worst < 0.6 * took, (took, worst)
    [row] = journal.daily_performances()
    assert row.trades > 0


def test_a_close_missed_while_the_app_was_down_is_computed_at_the_next_start(run, journal):
    from ibtrader.core.performance import EquitySample

    for minutes, equity in ((300, 100_000.0), (120, 99_800.0), (10, 100_020.0)):
        journal.record_equity_sample("DU1", EquitySample(CLOSE - minutes * 60, equity,
                                                         0.0, 0.0))
    long_ago = CLOSE - 100 * 86_400.0  # older than the samples are kept
    journal.record_equity_sample("DU1", EquitySample(long_ago, 90_000.0, 0.0, 0.0))
    emitted = []

    async def start_and_stop(clock: Clock) -> None:
        svc = service(journal, Account(100_020.0), clock, every=60.0)
        svc.daily_computed += lambda row, curve: emitted.append(row)
        await svc.start()
        await asyncio.sleep(0.2)
        await svc.stop()

    run(start_and_stop(Clock(CLOSE + 3 * 3600)))  # the evening after: the close was missed
    [row] = emitted
    assert row.id == "DU1:2026-11-27" and row.equity == 100_020.0
    assert row.max_drawdown == pytest.approx(200.0)  # 100,000 -> 99,800 that day
    assert journal.daily_performance("DU1", "2026-11-27") is not None
    start, _end = day_bounds(DAY, NY)
    assert journal.equity_samples("DU1", long_ago - 1, start) == []  # pruned: > 90 days
    run(start_and_stop(Clock(CLOSE + 4 * 3600)))  # again: the row is there, nothing new
    assert len(emitted) == 1


def test_no_row_is_made_for_a_day_the_app_never_saw(run, journal):
    emitted = []

    async def start_and_stop() -> None:
        svc = service(journal, Account(100_000.0), Clock(CLOSE + 3600), every=60.0)
        svc.daily_computed += lambda row, curve: emitted.append(row)
        await svc.start()
        await asyncio.sleep(0.2)
        await svc.stop()

    run(start_and_stop())
    assert emitted == [] and journal.daily_performance("DU1", "2026-11-27") is None
