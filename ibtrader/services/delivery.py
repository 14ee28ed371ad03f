"""`DeliveryWorker`: sends the outbox's records to their remote sinks, off the engine's loop.

One thread per sink (a lane), so a slow or dead NocoDB never holds back MinIO or n8n, and
none of them ever touches the asyncio loop: the engine's only cost is the local INSERT of
`journal.enqueue`. A lane claims due records, calls `sink.deliver(record)` with no database
lock held, then marks the record delivered, or reschedules it with exponential backoff and
jitter (`core.outbox.Backoff`). After a failure the lane leaves its sink alone for that
delay, and the rest of the batch is postponed by it without counting an attempt: a service
that is down gets one probe per backoff step, not one request per waiting record.

Delivery is at least once: a kill between send and mark sends again on the next start
(`start()` releases the dead worker's claims), which the sinks absorb by being idempotent.
At start every waiting record is due at once: a backoff from the last run is not waited out.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ibtrader.core.outbox import Backoff, OutboxRecord, OutboxSink, UndeliverableRecord

log = logging.getLogger(__name__)

KEEP_DELIVERED = 7 * 86_400.0  # seconds a delivered record stays in the table (diagnostics)
# a service back from an outage waits at most a minute for its first record
DEFAULT_BACKOFF = Backoff(first=1.0, cap=60.0)


class OutboxQueue(Protocol):
    """The delivery side of the outbox (adapters.journal.outbox.SqliteOutbox)."""

    def release_claims(self) -> int: ...
    def retry_now(self) -> int: ...
    def claim(self, sink: str, limit: int = 20, lease: float = 60.0) -> list[OutboxRecord]: ...
    def mark_delivered(self, record: OutboxRecord) -> bool: ...
    def reschedule(self, record: OutboxRecord, error: str, delay: float) -> None: ...
    def postpone(self, record: OutboxRecord, delay: float) -> None: ...
    def mark_failed(self, record: OutboxRecord, error: str) -> None: ...
    def next_due(self, sinks: Iterable[str]) -> float | None: ...
    def purge_delivered(self, older_than: float) -> int: ...


class DeliveryWorker:
    def __init__(self, queue: OutboxQueue, sinks: Sequence[OutboxSink], *,
                 backoff: Backoff | None = None, batch: int = 20, lease: float = 60.0,
                 idle_wait: float = 0.5, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ValueError(f"delivery sinks must have distinct names, got {names}")
        if batch < 1 or lease <= 0 or idle_wait <= 0:
            raise ValueError("delivery needs batch >= 1, lease > 0 and idle_wait > 0")
        self.queue = queue
        self.sinks = {s.name: s for s in sinks}
        self.backoff = backoff or DEFAULT_BACKOFF
        self.batch, self.lease, self.idle_wait = batch, lease, idle_wait
        self.clock = clock
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = {name: threading.Event() for name in self.sinks}
        self._threads: list[threading.Thread] = []
        # per sink, for diagnostics and tests
        self.delivered = dict.fromkeys(self.sinks, 0)
        self.failures = dict.fromkeys(self.sinks, 0)
        self.failing: dict[str, str] = {}  # sink -> last error, while it is failing

    def start(self) -> DeliveryWorker:
        released = self.queue.release_claims()
        if released:
            log.info("outbox: %d record(s) claimed by a previous run go out again", released)
        waiting = self.queue.retry_now()
        if waiting:
            log.info("outbox: %d record(s) waiting from before go out now", waiting)
        self.queue.purge_delivered(self.clock() - KEEP_DELIVERED)
        for name in self.sinks:
            thread = threading.Thread(target=self._lane, args=(name,), daemon=True,
                                      name=f"outbox-{name}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the deliveries in flight (bounded by the sinks' own timeouts)."""
        self._stop.set()
        for event in self._wake.values():
            event.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wake(self, sink: str | None = None) -> None:
        """Look for due records now rather than at the next poll (after an enqueue)."""
        for name, event in self._wake.items():
            if sink is None or sink == name:
                event.set()

    # --- one lane per sink ---------------------------------------------------------------------

    def _lane(self, name: str) -> None:
        sink, wake = self.sinks[name], self._wake[name]
        while not self._stop.is_set():
            try:
                records = self.queue.claim(name, self.batch, self.lease)
                if records:
                    pause = self._send(sink, records)
                    if pause:  # the sink is failing: leave it alone for the backoff delay
                        self._stop.wait(pause)
                    continue
                due = self.queue.next_due([name])
            except Exception:  # the database busy or closing: never let the lane die
                log.exception("outbox %s: queue error; retrying", name)
                due = None
            wait = self.idle_wait if due is None else due - self.clock()
            wake.wait(min(max(wait, 0.005), self.idle_wait))
            wake.clear()

    def _send(self, sink: OutboxSink, records: list[OutboxRecord]) -> float:
        """Deliver a batch in order; on a failure, the delay to wait before the next."""
        for i, record in enumerate(records):
            if self._stop.is_set():  # the rest keep their claim: released at the next start
                return 0.0
            try:
                sink.deliver(record)
            except UndeliverableRecord as exc:
                log.error("outbox %s: record %s (%s) cannot be delivered: %s", sink.name,
                          record.record_id, record.kind, exc)
                self.queue.mark_failed(record, str(exc))
                continue
            except Exception as exc:
                delay = self.backoff.delay(record.attempts + 1, self._rng)
                error = f"{type(exc).__name__}: {exc}"
                self.queue.reschedule(record, error, delay)
                for later in records[i + 1:]:
                    self.queue.postpone(later, delay)
                self.failures[sink.name] += 1
                self._failing(sink.name, error, record, delay)
                return delay
            self.queue.mark_delivered(record)
            self.delivered[sink.name] += 1
            if self.failing.pop(sink.name, None) is not None:
                log.warning("outbox %s: delivering again", sink.name)
        return 0.0

    def _failing(self, name: str, error: str, record: OutboxRecord, delay: float) -> None:
        # one warning when a sink starts failing, details at debug level after that
        level = logging.DEBUG if name in self.failing else logging.WARNING
        self.failing[name] = error
        log.log(level, "outbox %s: delivery failed (%s); record %s retries in %.2f s "
                "(attempt %d)", name, error, record.record_id, delay, record.attempts + 1)
