"""Ports: the small Protocols through which services meet each other and the adapters.

Each block below belongs to the part that consumes it; a provider satisfies a port by
shape (attributes and methods), never by inheriting from it. Keep each block small and
add new ports as new blocks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ibtrader.core.events import Event
from ibtrader.core.market import Bar

if TYPE_CHECKING:
    from ibtrader.core.broker import BrokerFill
    from ibtrader.core.decisions import Decision, DecisionState, SignalRecord
    from ibtrader.core.orders.lifecycle import Order, OrderEvent
    from ibtrader.core.orders.request import OrderRequest


# --- trading engine: what it consumes ------------------------------------------------------

class BarSource(Protocol):
    """Closed and forming bars per (symbol, bar size): the Market Data Service's face to
    the trading engine.

    - `bar_size` is IB's bar-size text, as strategies name it in `Strategy.bar_size`:
      "1 min", "5 mins", "15 mins", "1 hour", "1 day".
    - `bar_closed(symbol, bar_size, bar)` fires once per bar, when it is final, in time
      order per (symbol, bar_size); a bar is never re-sent as closed.
    - `bar_forming(symbol, bar_size, bar)` fires when the forming bar changes (its
      `time` is the start of the period, after the last closed bar's).
    - `history(symbol, bar_size)` returns the closed bars held now, oldest first (the
      backfilled history plus the live bars closed since). The engine calls it once per
      (symbol, bar_size), on the first bar (closed or forming) it sees, to warm its
      indicators; bars not older than that bar are ignored, so an overlap is harmless.
    - optional: `history_ready(symbol)` fires when a symbol's history is in, so that the
      engine can warm its strategies at once rather than on the first live bar.
    Events fire on the engine's asyncio loop thread.
    """

    bar_closed: Event[[str, str, Bar]]
    bar_forming: Event[[str, str, Bar]]

    def history(self, symbol: str, bar_size: str) -> Sequence[Bar]: ...


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account as the engine sizes against it (in the account's base currency)."""

    equity: float  # net liquidation value
    buying_power: float
    positions: dict[str, float] = field(default_factory=dict)  # symbol -> signed quantity


class AccountPort(Protocol):
    """The latest known account values; a cheap synchronous read of a kept snapshot."""

    def account(self) -> AccountSnapshot: ...


class OrderSubmissionPort(Protocol):
    """Where accepted decisions go to become orders (the order manager, issue 4).

    `submit` returns once the order is recorded on the order side (not when it is
    filled); raising means it was refused, and the message is shown to the trader."""

    def submit(self, decision: Decision) -> Awaitable[object]: ...


class SignalJournal(Protocol):
    """Durable record of signals and decisions; writes are small and synchronous, each
    committed when it returns, or all at the end of an `atomic()` block."""

    def atomic(self) -> AbstractContextManager[object]: ...

    def record_signal(self, record: SignalRecord) -> None: ...
    def record_decision(self, decision: Decision) -> None: ...
    def update_decision(self, decision: Decision) -> None: ...
    def decision(self, decision_id: str) -> Decision | None: ...
    def decisions(self, state: DecisionState | None = None,
                  limit: int = 100) -> list[Decision]: ...
    def close(self) -> None: ...


# --- order manager: its write-ahead journal -------------------------------------------------

class OrderJournal(Protocol):
    """Orders, their append-only events, executions and refusals. Each call is committed
    when it returns (or at the end of an `atomic()` block): the order manager saves an
    order before it sends it, and every broker report before it acts on it."""

    def atomic(self) -> AbstractContextManager[object]: ...
    def save_order(self, order: Order, events: Sequence[OrderEvent] = ()) -> None: ...
    def record_execution(self, fill: BrokerFill, client_key: str) -> None: ...
    def record_refusal(self, request: OrderRequest, problems: Sequence[tuple[str, str]],
                       now: float) -> None: ...
    def load_orders(self, open_only: bool = False) -> list[Order]: ...
    def executions(self, since: float = 0.0) -> list[BrokerFill]: ...
    def last_execution_time(self) -> float: ...
    def order_events(self, client_key: str) -> list[OrderEvent]: ...


# --- object store: chart images, the market-data cache ---------------------------------------

class ObjectStore(Protocol):
    """Blobs by key ("history/AAPL/1 min/TRADES.parquet"): a local folder by default,
    MinIO when configured. Keys use "/" and no "..": they are the same in every store.
    `get` raises KeyError for a missing key; a `put` is all or nothing."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def delete(self, key: str) -> None: ...


# --- history cache: where bar series are kept -------------------------------------------------

class CorruptData(ValueError):
    """Stored data that cannot be read back (truncated, foreign, damaged): the caller
    reports it and fetches the data again; it never stops the app."""


class BarStore(Protocol):
    """Bar series by key, oldest first; blocking I/O (call it from a worker thread).
    `load` returns None when nothing is stored and raises `CorruptData` for a file that
    cannot be read back."""

    def load(self, key: str) -> list[Bar] | None: ...
    def save(self, key: str, bars: list[Bar]) -> None: ...
