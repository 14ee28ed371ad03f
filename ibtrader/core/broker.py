"""What the services need from a broker, in broker-neutral words.

The connection publishes its state and the broker's errors; the market-data port
qualifies symbols, streams quotes and bars, and fetches history. Subscriptions are
identified by the port's own handles, which survive reconnects: a port restores every
subscription by itself after the connection comes back. The order side comes later.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ibtrader.core.events import Event
from ibtrader.core.market import Bar, BarUpdate, Instrument, Quote


class ConnectionState(enum.Enum):
    """Where the link to the broker stands.

    DISCONNECTED  not connected and not trying: before `start`, after `stop`
    CONNECTING    the first connection is being made
    CONNECTED     the session is up and data flows
    LOST          the session is up but the broker's gateway lost its own link to the
                  broker (IB error 1100): prices are stale until it comes back
    RECONNECTING  the session dropped (or stayed LOST too long); retrying with backoff
    """

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True)
class BrokerError:
    """An error or warning message from the broker, with its own code and text kept."""

    code: int
    message: str
    req_id: int = -1  # the request it answers; -1 when it concerns the whole session
    symbol: str = ""  # the instrument it concerns, when the broker said
    is_warning: bool = False  # informational: nothing failed because of it

    def __str__(self) -> str:
        kind = "warning" if self.is_warning else "error"
        about = f" ({self.symbol})" if self.symbol else ""
        return f"broker {kind} {self.code}{about}: {self.message}"


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached, or the connection went away during a request."""


class UnknownSymbol(LookupError):
    """The broker knows no instrument (or more than one) by this symbol."""

    def __init__(self, symbol: str, reason: str = "no such instrument at the broker") -> None:
        super().__init__(f"{symbol}: {reason}")
        self.symbol = symbol
        self.reason = reason


class MarketDataLinesExhausted(RuntimeError):
    """Every market-data line the account has is in use; cancel a subscription first."""


class BrokerRequestFailed(RuntimeError):
    """The broker answered a request with an error."""

    def __init__(self, error: BrokerError) -> None:
        super().__init__(str(error))
        self.error = error


class BrokerConnection(Protocol):
    state_changed: Event[[ConnectionState, str]]  # the new state and why
    error_received: Event[[BrokerError]]

    @property
    def state(self) -> ConnectionState: ...

    async def start(self) -> None:
        """Connect once; raise `BrokerUnavailable` if that fails. Reconnects by itself after."""

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""


class MarketDataPort(Protocol):
    """`what_to_show` is the broker's data kind (TRADES, MIDPOINT, BID, ASK, …); None
    means the instrument's natural one: trades, or midpoints for currencies."""

    quotes_updated: Event[[list[Quote]]]  # one list per batch of updates from the broker
    bar_received: Event[[BarUpdate]]
    bars_reloaded: Event[[int, list[Bar]]]  # a kept-up-to-date history, reloaded after a reconnect

    async def qualify(self, symbol: str) -> Instrument:
        """The instrument a trader means by `symbol` ("AAPL", "EURUSD", "ES");
        raises `UnknownSymbol` (with the reason) or `BrokerUnavailable`."""

    async def qualify_many(self, symbols: Sequence[str]) -> dict[str, Instrument | UnknownSymbol]:
        """Every symbol mapped to its instrument, or to why it is unknown."""

    def subscribe_quotes(self, instrument: Instrument) -> int:
        """Stream quotes into `quotes_updated`; returns a handle for `unsubscribe`."""

    def subscribe_realtime_bars(
        self, instrument: Instrument, what_to_show: str | None = None, use_rth: bool = False
    ) -> int:
        """Stream complete 5-second bars into `bar_received`; returns a handle."""

    async def subscribe_bars(
        self, instrument: Instrument, bar_size: str, duration: str,
        what_to_show: str | None = None, use_rth: bool = False,
    ) -> tuple[int, list[Bar]]:
        """History up to now, then the forming bar kept up to date through `bar_received`."""

    def unsubscribe(self, subscription: int) -> None: ...

    async def historical_bars(
        self, instrument: Instrument, bar_size: str, duration: str,
        what_to_show: str | None = None, use_rth: bool = True, end: float | None = None,
    ) -> list[Bar]:
        """Bars ending at `end` (epoch seconds; None: now), paced to the broker's rules."""
