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


# --- the order side -----------------------------------------------------------------------
# Broker-level facts, in broker-neutral words: what is sent (`OrderTicket`) and what the
# broker reports back (`BrokerOrderStatus`, `BrokerFill`, `BrokerOrder`). The app's own
# order model (requests, validation, risk, the lifecycle) lives in core/orders and speaks
# to a broker only through `OrderPort`. Every ticket carries our client key in `order_ref`
# (IB's orderRef), which the broker echoes in every report: it is how a reconnect or a
# restart matches the broker's orders to the journal's, so nothing is ever sent twice.

ORDER_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL")
TIME_IN_FORCE = ("DAY", "GTC", "IOC")


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """One order as sent to the broker. Prices are already on the instrument's tick grid.

    - `order_type` one of ORDER_TYPES; `limit_price` for LMT and STP LMT; `stop_price` for
      STP and STP LMT (and optionally the initial stop of a TRAIL);
    - TRAIL: exactly one of `trail_amount` (price units) or `trail_percent`;
    - brackets: the children name their parent's `order_ref` in `parent_ref` and share an
      `oca_group`; a bracket is sent parent first with `transmit=False` on all but the last
      leg, as IB requires, so that no leg works before the whole bracket has arrived.
    """

    order_ref: str  # our client key: unique, stable across retries and restarts
    instrument: Instrument
    side: str  # "BUY" or "SELL"
    quantity: float
    order_type: str = "MKT"
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: str = "DAY"
    outside_rth: bool = False
    parent_ref: str = ""
    oca_group: str = ""
    transmit: bool = True


@dataclass(frozen=True, slots=True)
class BrokerOrderStatus:
    """The broker's word on one order. `status` is IB's text (PendingSubmit, PreSubmitted,
    Submitted, Filled, Cancelled, ApiCancelled, Inactive, ...); quantities are totals."""

    order_ref: str  # "" for an order placed outside the app without a ref
    broker_id: int  # IB's orderId (per client)
    perm_id: int  # IB's permanent id, the same for every client and across restarts
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    time: float  # epoch seconds when we received it
    why_held: str = ""


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution. `commission` is NaN until the broker's commission report arrives;
    the same `exec_id` is then reported again with it (a fill is never counted twice)."""

    exec_id: str
    order_ref: str
    broker_id: int
    perm_id: int
    symbol: str
    side: str  # "BUY" or "SELL"
    quantity: float
    price: float
    time: float  # epoch seconds of the execution
    commission: float = float("nan")
    realized_pnl: float = float("nan")


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An open order as the broker lists it (for reconciliation): the ticket it holds
    (instrument, prices, quantities, refs) and its status."""

    ticket: OrderTicket
    status: BrokerOrderStatus
    placed_by_us: bool  # False: placed by another client (TWS, another app)


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    symbol: str
    quantity: float  # signed: short below zero
    avg_cost: float  # per unit, as the broker reports it (IB: incl. commissions, x multiplier)


class OrderRejected(RuntimeError):
    """The broker refused an order; `error` keeps its code and text."""

    def __init__(self, order_ref: str, error: BrokerError) -> None:
        super().__init__(f"order {order_ref} rejected: {error}")
        self.order_ref = order_ref
        self.error = error


class OrderPort(Protocol):
    """Orders at the broker. Reports arrive as events on the engine's loop, in the order
    the broker sent them; `order_error` carries the order's ref with the broker's error.
    After a reconnect the port re-raises nothing by itself: the order manager reconciles
    with `open_orders`, `fills_since` and `positions`."""

    order_status: Event[[BrokerOrderStatus]]
    fill_received: Event[[BrokerFill]]
    order_error: Event[[str, BrokerError]]  # order_ref, error

    def place(self, ticket: OrderTicket) -> int:
        """Send a new order (never awaits the broker); returns its broker id. Raises
        `BrokerUnavailable` when not connected: nothing was sent then."""

    def modify(self, ticket: OrderTicket) -> None:
        """Send changed prices/quantity for the order with this `order_ref` (same ids)."""

    def cancel(self, order_ref: str) -> None: ...

    def cancel_all(self) -> None:
        """Cancel every open order of the account, including ones placed elsewhere."""

    async def open_orders(self) -> list[BrokerOrder]:
        """Every open order of the account, with the status the broker holds."""

    async def fills_since(self, since: float) -> list[BrokerFill]:
        """Executions at or after `since` (epoch seconds), with commissions where known."""

    async def positions(self) -> list[BrokerPosition]: ...
