"""IB's historical-data pacing rules, kept by a scheduler that delays requests until allowed.

IB refuses historical requests (error 162, "pacing violation") when a client makes more
than 60 in 10 minutes, repeats an identical request within 15 seconds, or makes six or
more for one contract, exchange and data type within 2 seconds; it also allows at most 50
open at once. `HistoricalScheduler` queues requests and sends each as soon as every rule
allows it, so the app never triggers a violation however hard it is driven.

The gateway times a request when it arrives, which the client cannot see; arrival lies
between our send and the reply. The ledger therefore counts each request from its reply
(or failure), and an unanswered request blocks what it could conflict with: later sends
are spaced from a time no earlier than the gateway's, whatever the network or ib_async's
outbound throttle did to the request on its way.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class HistoricalPacingRules:
    per_window: int = 60
    window: float = 600.0
    identical_within: float = 15.0
    same_contract_max: int = 5
    same_contract_within: float = 2.0
    max_open: int = 50
    safety: float = 0.05  # seconds added to every spacing, against clock granularity


@dataclass(frozen=True)
class HistoricalRequestKey:
    """What IB compares to decide that two historical requests are identical."""

    con_id: int
    exchange: str
    what_to_show: str
    end: str
    duration: str
    bar_size: str
    use_rth: bool

    @property
    def contract_key(self) -> tuple[int, str, str]:
        return (self.con_id, self.exchange, self.what_to_show)


class _Entry:
    """One request in the ledger; `at` is its reply time, infinite while it is open."""

    __slots__ = ("at", "key")

    def __init__(self, key: HistoricalRequestKey) -> None:
        self.key = key
        self.at = math.inf


class HistoricalPacingBook:
    """The ledger of recent historical requests; pure: every method takes `now`."""

    def __init__(self, rules: HistoricalPacingRules | None = None) -> None:
        self.rules = rules or HistoricalPacingRules()
        self.open = 0
        self._recent: list[_Entry] = []
        self._by_contract: dict[tuple, list[_Entry]] = {}
        self._last_identical: dict[HistoricalRequestKey, _Entry] = {}

    def window_ready_at(self, now: float) -> float:
        """The earliest time any request may go, by the per-window count and `max_open`."""
        r = self.rules
        self._recent = [e for e in self._recent if e.at + r.window + r.safety > now]
        at = now
        if len(self._recent) >= r.per_window:
            nth = sorted(e.at for e in self._recent)[-r.per_window]
            at = max(at, nth + r.window + r.safety)
        if self.open >= r.max_open:
            at = math.inf  # until one closes
        return at

    def ready_at(self, key: HistoricalRequestKey, now: float) -> float:
        """The earliest time this request may go; infinite while an open one blocks it."""
        r = self.rules
        at = self.window_ready_at(now)
        last = self._last_identical.get(key)
        if last is not None:
            if last.at + r.identical_within + r.safety > now:
                at = max(at, last.at + r.identical_within + r.safety)
            else:
                del self._last_identical[key]
        same = self._by_contract.get(key.contract_key)
        if same:
            cutoff = now - r.same_contract_within - r.safety
            same[:] = [e for e in same if e.at > cutoff]
            if len(same) >= r.same_contract_max:
                nth = sorted(e.at for e in same)[-r.same_contract_max]
                at = max(at, nth + r.same_contract_within + r.safety)
            elif not same:
                del self._by_contract[key.contract_key]
        return at

    def started(self, key: HistoricalRequestKey) -> _Entry:
        entry = _Entry(key)
        self.open += 1
        self._recent.append(entry)
        self._by_contract.setdefault(key.contract_key, []).append(entry)
        self._last_identical[key] = entry
        return entry

    def finished(self, entry: _Entry, now: float) -> None:
        if entry.at == math.inf:
            entry.at = now
            self.open -= 1


@dataclass
class _Ticket:
    key: HistoricalRequestKey
    granted: asyncio.Future[_Entry]


class HistoricalScheduler:
    """Sends historical requests in arrival order, each when the rules allow it.

    A request held back by a per-contract rule does not hold back requests for other
    contracts. `can_send` says whether a request could go at all (the adapter passes
    "connected"); call `wake()` when that changes.
    """

    def __init__(
        self,
        rules: HistoricalPacingRules | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        can_send: Callable[[], bool] = lambda: True,
    ) -> None:
        self.book = HistoricalPacingBook(rules)
        self._clock = clock
        self._can_send = can_send
        self._queue: deque[_Ticket] = deque()
        self._changed = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def submit(self, key: HistoricalRequestKey, request: Callable[[], Awaitable[T]]) -> T:
        """Wait for the rules to allow `key`, then run `request()` and return its result."""
        ticket = _Ticket(key, asyncio.get_running_loop().create_future())
        self._queue.append(ticket)
        self.wake()
        try:
            entry = await ticket.granted
        except BaseException:
            if ticket in self._queue:
                self._queue.remove(ticket)
                self._changed.set()  # the dispatcher may be waiting on this one alone
            elif ticket.granted.done() and not ticket.granted.cancelled():
                self.book.finished(ticket.granted.result(), self._clock())
            raise
        try:
            return await request()
        finally:
            self.book.finished(entry, self._clock())
            self.wake()

    def wake(self) -> None:
        """Re-examine the queue now (a reply came, the connection came back, …)."""
        self._changed.set()
        if self._queue and (self._dispatcher is None or self._dispatcher.done()):
            self._dispatcher = asyncio.get_running_loop().create_task(
                self._dispatch(), name="historical-scheduler")

    def close(self) -> None:
        """Stop dispatching; requests still queued wait for the next `wake`."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            self._dispatcher = None

    async def _dispatch(self) -> None:
        while self._queue:
            self._changed.clear()
            delay = self._grant_allowed()
            if not self._queue:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), delay)
            except TimeoutError:
                pass

    def _grant_allowed(self) -> float | None:
        """Grant every request allowed now; seconds until one may be (None: until a wake)."""
        while self._queue:
            if not self._can_send():
                return None
            now = self._clock()
            earliest = self.book.window_ready_at(now)
            if earliest > now:
                return None if earliest == math.inf else earliest - now
            earliest = math.inf
            for ticket in list(self._queue):
                if ticket.granted.done():  # its waiter was cancelled and will remove it
                    continue
                at = self.book.ready_at(ticket.key, now)
                if at <= now:
                    self._queue.remove(ticket)
                    ticket.granted.set_result(self.book.started(ticket.key))
                    break
                earliest = min(earliest, at)
            else:
                return None if earliest == math.inf else earliest - now
        return None
