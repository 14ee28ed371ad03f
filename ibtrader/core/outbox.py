"""The outbox's pure parts: what a queued record is, what a sink promises, when to retry.

A record for a remote service (NocoDB, MinIO, n8n) is written to the journal's outbox in the
same transaction as the local row it mirrors, then delivered by a worker off the engine's
loop. Delivery is at least once: a crash between "sent" and "marked delivered" sends the
record again on the next start, so every sink must be idempotent by `record_id`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# A record's payload is kept in SQLite: blobs above this go by local file path instead.
MAX_PAYLOAD_BYTES = 1_000_000
MAX_RECORD_ID = 512
_SINK_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


class UndeliverableRecord(Exception):
    """Raised by a sink for a record that no retry can deliver (its file is gone, the
    service refuses its content). The record is kept, marked failed, and counted."""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One queued record for one sink, as the worker hands it to `OutboxSink.deliver`."""

    sink: str
    record_id: str  # our stable id: the remote side keys on it (row id, object key, event id)
    kind: str  # what it is for the sink: "decision", "order", "chart", ...
    payload: dict[str, Any]
    created: float  # when it was first queued (epoch seconds)
    attempts: int  # failed deliveries so far
    next_attempt: float
    last_error: str
    delivered: float | None
    rev: int = 0  # bumped when the record is queued again with a newer payload


class OutboxSink(Protocol):
    """A remote service the delivery worker sends records to.

    `deliver(record)` blocks until the service has the record (it runs on the worker's
    thread, never on the engine's loop) and raises on failure: any exception means "try
    again later", `UndeliverableRecord` means "never". It MUST be idempotent by
    `record.record_id`: the same record may arrive twice (a crash after sending, before
    marking) and must leave the service as one delivery would (an update keyed by our id,
    an object at a deterministic key, an event id the receiver de-duplicates on).
    """

    name: str

    def deliver(self, record: OutboxRecord) -> None: ...


def check_sink(sink: str) -> str:
    if not isinstance(sink, str) or not _SINK_NAME.fullmatch(sink):
        raise ValueError(f"outbox sink name {sink!r} must be 1-32 lowercase letters, digits "
                         f"or '_', starting with a letter")
    return sink


def encode_payload(sink: str, record_id: str, kind: str, payload: Mapping[str, Any]) -> str:
    """The record's payload as JSON text, after checking the record's names; raises
    ValueError with the reason for a bad sink, id, kind or payload."""
    check_sink(sink)
    if not isinstance(record_id, str) or not record_id.strip():
        raise ValueError(f"outbox record id must be non-empty text, got {record_id!r}")
    if len(record_id) > MAX_RECORD_ID:
        raise ValueError(f"outbox record id is {len(record_id)} characters long, "
                         f"more than {MAX_RECORD_ID}")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"outbox record kind must be non-empty text, got {kind!r}")
    if not isinstance(payload, Mapping):
        raise ValueError(f"outbox payload for {sink}/{record_id} must be a mapping, "
                         f"got {type(payload).__name__}")
    try:
        text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"outbox payload for {sink}/{record_id} is not plain JSON: "
                         f"{exc}") from None
    if len(text) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"outbox payload for {sink}/{record_id} is {len(text):,} bytes, more "
                         f"than {MAX_PAYLOAD_BYTES:,}: write the blob to a local file and "
                         f"queue its path")
    return text


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: the n-th failure waits about first * 2**(n-1)
    seconds, capped at `cap`, drawn from [delay * (1 - jitter), delay] so that records
    which failed together do not all retry in the same instant."""

    first: float = 1.0
    cap: float = 300.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.first <= self.cap:
            raise ValueError(f"backoff needs 0 < first <= cap, got first={self.first}, "
                             f"cap={self.cap}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"backoff jitter must be in [0, 1), got {self.jitter}")

    def ceiling(self, attempts: int) -> float:
        """The delay before jitter after `attempts` failures (attempts >= 1)."""
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        # 2**60 already dwarfs any cap: no float overflow for a record failing for weeks
        return min(self.cap, self.first * 2.0 ** min(attempts - 1, 60))

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        ceiling = self.ceiling(attempts)
        draw = (rng or random).random()
        return ceiling * (1.0 - self.jitter * draw)


@dataclass(frozen=True, slots=True)
class SinkStats:
    """The queue as the app, the health endpoint and `services check` show it."""

    sink: str
    depth: int  # records waiting (not yet delivered, not failed)
    oldest_created: float | None  # when the oldest waiting record was queued
    failed: int  # records a sink declared undeliverable

    def oldest_age(self, now: float) -> float | None:
        return None if self.oldest_created is None else max(0.0, now - self.oldest_created)


# (sink, record_id, kind, payload): what `journal.enqueue` takes
MirrorRecord = tuple[str, str, str, dict[str, Any]]


class JournalMirror(Protocol):
    """Describes, for one journal write, the outbox records that mirror it remotely.

    The journal calls every mirror inside the write's transaction and queues what it
    returns, so a local row and its remote copies commit together or not at all. Tables:
    "signals", "decisions" (each new state too), "orders" (each save), "order_events",
    "executions" (again when the commission arrives), "daily_performance"; `values` are the
    row's columns as plain JSON values. A mirror must be cheap and do no I/O: it runs on
    the engine's loop, and an exception rolls the write back.
    """

    def records(self, table: str, our_id: str,
                values: Mapping[str, Any]) -> Iterable[MirrorRecord]: ...
