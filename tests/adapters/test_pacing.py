"""The historical-data pacing book and scheduler, checked against the gateway's own rules."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from ibtrader.adapters.ib.pacing import (
    HistoricalPacingBook,
    HistoricalPacingRules,
    HistoricalRequestKey,
    HistoricalScheduler,
)
from ibtrader.sim.pacing import HistoricalPacer, PacingRules

FAST = HistoricalPacingRules(per_window=10, window=3.0, identical_within=1.0,
                             same_contract_max=5, same_contract_within=0.5, max_open=50)
FAST_GATEWAY = PacingRules(historical_per_window=10, historical_window=3.0,
                           identical_within=1.0, same_contract_max=5, same_contract_within=0.5)


def key(con_id: int = 1, duration: str = "1 D", end: str = "") -> HistoricalRequestKey:
    return HistoricalRequestKey(con_id, "SMART", "TRADES", end, duration, "1 min", False)


def test_identical_request_waits_for_the_identical_rule_after_the_first_reply() -> None:
    book = HistoricalPacingBook(FAST)
    first = book.started(key())
    assert book.ready_at(key(), 0.0) == math.inf  # unanswered: it blocks its twin
    book.finished(first, 0.2)
    assert book.ready_at(key(), 0.3) == pytest.approx(0.2 + 1.0 + FAST.safety)
    assert book.ready_at(key(duration="2 D"), 0.3) == 0.3


def test_sixth_request_for_one_contract_waits_but_other_contracts_do_not() -> None:
    book = HistoricalPacingBook(FAST)
    for i in range(5):
        book.finished(book.started(key(duration=f"{i + 1} D")), 0.1 * i)
    assert book.ready_at(key(duration="9 D"), 0.45) == pytest.approx(0.0 + 0.5 + FAST.safety)
    assert book.ready_at(key(con_id=2), 0.45) == 0.45


def test_window_count_and_open_requests_hold_everything_back() -> None:
    book = HistoricalPacingBook(FAST)
    for i in range(10):
        book.finished(book.started(key(con_id=i)), float(i) / 10)
    assert book.window_ready_at(1.0) == pytest.approx(0.0 + 3.0 + FAST.safety)
    assert book.window_ready_at(3.2) == 3.2
    book = HistoricalPacingBook(HistoricalPacingRules(max_open=2))
    book.started(key(con_id=1))
    book.started(key(con_id=2))
    assert book.window_ready_at(0.0) == math.inf


def test_300_requests_paced_by_the_book_break_none_of_the_gateways_rules() -> None:
    """A discrete-time run: requests go when the book allows, reach the gateway after a
    random delay (network, ib_async's throttle), and are answered a little later."""
    rng = random.Random(3)
    requests = [key(con_id=rng.randrange(4), duration=f"{rng.randrange(3) + 1} D")
                for _ in range(300)]
    book = HistoricalPacingBook(FAST)
    arrivals: list[tuple[float, HistoricalRequestKey]] = []
    now = 0.0
    pending = list(requests)
    while pending:
        for request in pending:
            if book.ready_at(request, now) <= now:
                pending.remove(request)
                arrived = now + rng.uniform(0.0, 0.2)
                arrivals.append((arrived, request))
                book.finished(book.started(request), arrived + rng.uniform(0.0, 0.1))
                break
        else:
            now = min(book.ready_at(r, now) for r in pending)
    gateway = HistoricalPacer(FAST_GATEWAY)
    violations = [gateway.check(t, (r.con_id, r.end, r.duration, r.bar_size, r.what_to_show,
                                     r.use_rth), r.contract_key)
                  for t, r in sorted(arrivals, key=lambda a: a[0])]
    assert [v for v in violations if v] == []
    # and no slower than the window allows: 300 requests at 10 per 3 s, plus reply time
    assert now < 300 / 10 * (3.0 + 0.3 + FAST.safety)


def test_scheduler_sends_in_order_and_keeps_to_the_window(run) -> None:
    rules = HistoricalPacingRules(per_window=5, window=0.3, identical_within=0.1,
                                  same_contract_max=50, same_contract_within=0.1, safety=0.0)

    async def scenario() -> list[tuple[float, int]]:
        loop = asyncio.get_running_loop()
        scheduler = HistoricalScheduler(rules, clock=loop.time)
        sent: list[tuple[float, int]] = []

        async def request(i: int) -> int:
            sent.append((loop.time(), i))
            await asyncio.sleep(0.01)
            return i

        results = await asyncio.gather(*(
            scheduler.submit(key(con_id=i), lambda i=i: request(i)) for i in range(20)))
        assert results == list(range(20))
        return sent

    sent = run(scenario())
    assert [i for _, i in sent] == list(range(20))
    times = [t for t, _ in sent]
    # any 6 consecutive sends span at least the window (counted from replies)
    assert all(times[i + 5] - times[i] >= 0.3 for i in range(len(times) - 5))
    assert times[-1] - times[0] < 1.5


def test_a_request_held_by_its_contract_does_not_hold_back_others(run) -> None:
    rules = HistoricalPacingRules(identical_within=0.5, safety=0.0)

    async def scenario() -> list[str]:
        scheduler = HistoricalScheduler(rules)
        order: list[str] = []

        async def request(name: str) -> None:
            order.append(name)

        await asyncio.gather(scheduler.submit(key(1), lambda: request("a")),
                             scheduler.submit(key(1), lambda: request("a again")),
                             scheduler.submit(key(2), lambda: request("b")))
        return order

    assert run(scenario()) == ["a", "b", "a again"]


def test_a_cancelled_waiter_leaves_the_queue(run) -> None:
    async def scenario() -> int:
        scheduler = HistoricalScheduler(FAST, can_send=lambda: False)
        waiter = asyncio.ensure_future(scheduler.submit(key(), asyncio.sleep))
        await asyncio.sleep(0.01)
        assert scheduler.waiting == 1
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        return scheduler.waiting

    assert run(scenario()) == 0
