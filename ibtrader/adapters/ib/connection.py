"""`IBConnection`: one ib_async session with TWS / IB Gateway, kept alive.

The one rule: everything here runs on the engine's asyncio loop and uses only ib_async's
`*Async` calls. Never call ib_async's blocking methods from this code or from handlers of
its events: they nest the loop and freeze the app.

After `start()` the connection looks after itself: when the socket drops, when the
gateway stays cut off from IB (error 1100) longer than `lost_grace`, or when an idle
gateway stops answering a probe, it reconnects with exponential backoff and jitter, and
emits `session_started` so that the market data can restore its subscriptions.

Outbound pacing: ib_async's `Client.sendMsg` queues every outbound message (orders,
cancels, data requests alike; only the handshake bypasses it) and sends at most
`MaxRequests` per `RequestsInterval`. The adapter relies on it, with a finer grain than
ib_async's default of 45 per second: that default sends in bursts of 45 on one-second
boundaries, so any delay of one burst relative to the next (network, a busy gateway)
puts 90 messages inside IB's one-second window and IB answers error 100. Bursts of 5
every 125 ms still allow 40 messages/s, and any 1.25 s then holds at most 50 messages:
a quarter of a second of jitter stays within IB's limit. `check_throttle` refuses an `IB`
whose throttle is off or faster than 45/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from ib_async import IB, IBDefaults

from ibtrader.adapters.ib import errors as codes
from ibtrader.adapters.ib.errors import broker_error
from ibtrader.core.broker import BrokerError, BrokerUnavailable, ConnectionState
from ibtrader.core.events import Event

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_SECOND = 45  # IB allows 50; keep a margin
THROTTLE_BURST = 5
THROTTLE_INTERVAL = 0.125


@dataclass(frozen=True)
class ConnectionConfig:
    host: str = "127.0.0.1"
    port: int = 4002
    client_id: int = 1
    account: str = ""
    readonly: bool = False
    timeout: float = 10.0  # per connection attempt, and per start-up request inside it
    retry_first: float = 0.25  # seconds before the first reconnection attempt
    retry_max: float = 30.0
    retry_factor: float = 2.0
    retry_jitter: float = 0.25  # ± this fraction of each delay, so clients don't stampede
    lost_grace: float = 60.0  # how long an IB-side outage (1100) may last before we reconnect
    idle_probe: float = 15.0  # after this long without a message, check the gateway answers
    probe_timeout: float = 5.0


def new_ib() -> IB:
    """An `IB` set up for the adapter: nan for missing prices and sizes (the app's
    convention), and request errors raised as exceptions rather than empty results."""
    ib = IB(defaults=IBDefaults(emptyPrice=math.nan, emptySize=math.nan))
    ib.RaiseRequestErrors = True
    ib.client.MaxRequests = THROTTLE_BURST
    ib.client.RequestsInterval = THROTTLE_INTERVAL
    return ib


def check_throttle(ib: IB) -> None:
    """Refuse an `IB` whose outbound throttle is off or faster than 45 messages/s."""
    client = ib.client
    if not (client.MaxRequests > 0 and client.RequestsInterval > 0
            and client.MaxRequests / client.RequestsInterval <= MAX_MESSAGES_PER_SECOND):
        raise ValueError(
            f"ib_async's outbound throttle must stay on, at most {MAX_MESSAGES_PER_SECOND} "
            f"messages/s (it is MaxRequests={client.MaxRequests} per "
            f"RequestsInterval={client.RequestsInterval:g} s)")


class IBConnection:
    """Connects, publishes state and errors, reconnects; see the module's docstring."""

    def __init__(self, config: ConnectionConfig, *, ib: IB | None = None,
                 rng: Callable[[], float] = random.random) -> None:
        self.config = config
        self.ib = ib or new_ib()
        check_throttle(self.ib)
        self.state_changed: Event[[ConnectionState, str]] = Event("state_changed")
        self.error_received: Event[[BrokerError]] = Event("error_received")
        # (session number, fresh): fresh means ib_async's state was reset (a new socket),
        # not fresh that the same socket lost its subscriptions at IB (error 1101).
        self.session_started: Event[[int, bool]] = Event("session_started")
        self.session = 0
        self._state = ConnectionState.DISCONNECTED
        self._rng = rng
        self._trouble: asyncio.Future[str] | None = None
        self._supervisor: asyncio.Task | None = None
        self._lost_timer: asyncio.TimerHandle | None = None
        self._attempt_errors: list[BrokerError] = []
        self.ib.errorEvent += self._on_error
        self.ib.disconnectedEvent += self._on_disconnected

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def is_ready(self) -> bool:
        """Requests can be sent now (the state may still be LOST: IB queues them)."""
        return self._state in (ConnectionState.CONNECTED, ConnectionState.LOST)

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.config.port} (client id {self.config.client_id})"

    # ----- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Connect once; raise `BrokerUnavailable` if that fails. Reconnects by itself after."""
        if self._supervisor is not None:
            raise RuntimeError("the connection is already started")
        self._set_state(ConnectionState.CONNECTING, f"connecting to {self.address}")
        try:
            await self._connect_once()
        except BrokerUnavailable as exc:
            self._set_state(ConnectionState.DISCONNECTED, str(exc))
            raise
        self._supervisor = asyncio.get_running_loop().create_task(
            self._supervise(), name="ib-connection")
        self._begin_session(fresh=True, reason=f"connected to {self.address}")

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        task, self._supervisor = self._supervisor, None
        self._cancel_lost_timer()
        self._set_state(ConnectionState.DISCONNECTED, "stopped")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ib.disconnect()

    async def _connect_once(self) -> None:
        cfg = self.config
        self._attempt_errors.clear()
        # ib_async waits out its whole timeout when the gateway closes the socket during
        # the handshake (a client id in use); its `apiError` tells us at once.
        closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_api_error(message: str) -> None:
            if not closed.done():
                closed.set_result(message)

        connect = asyncio.ensure_future(self.ib.connectAsync(
            cfg.host, cfg.port, clientId=cfg.client_id, timeout=cfg.timeout,
            readonly=cfg.readonly, account=cfg.account))
        self.ib.client.apiError += on_api_error
        try:
            await asyncio.wait((connect, closed), return_when=asyncio.FIRST_COMPLETED)
            if not connect.done():
                connect.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connect
                raise ConnectionError(closed.result())
            connect.result()
        except (OSError, TimeoutError, ConnectionError) as exc:
            raise BrokerUnavailable(self._why_not_connected(exc)) from exc
        finally:
            self.ib.client.apiError -= on_api_error
            if not connect.done():  # we were cancelled (stop) while connecting
                connect.cancel()

    def _why_not_connected(self, exc: BaseException) -> str:
        if any(e.code == codes.CLIENT_ID_IN_USE for e in self._attempt_errors):
            return (f"client id {self.config.client_id} is already in use at "
                    f"{self.config.host}:{self.config.port}: choose another client id")
        if isinstance(exc, ConnectionRefusedError):
            return (f"nothing accepts connections at {self.config.host}:{self.config.port}: "
                    "is TWS / IB Gateway running with its API enabled on that port?")
        if isinstance(exc, TimeoutError):
            return f"no answer from {self.address} within {self.config.timeout:g} s"
        return f"cannot connect to {self.address}: {exc or type(exc).__name__}"

    # ----- staying connected --------------------------------------------------------------
    async def _supervise(self) -> None:
        while True:
            reason = await self._wait_for_trouble()
            await self._reconnect(reason)

    async def _wait_for_trouble(self) -> str:
        """Why the session must be replaced; probes the gateway whenever it falls silent."""
        trouble = self._trouble
        assert trouble is not None
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(trouble), self.config.idle_probe)
            except TimeoutError:
                if not await self._gateway_answers():
                    return f"the gateway did not answer for {self.config.probe_timeout:g} s"

    async def _gateway_answers(self) -> bool:
        # ib_async stamps every socket read with wall time in `wrapper.time`.
        if time.time() - self.ib.wrapper.time < self.config.idle_probe:
            return True
        try:
            await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self.config.probe_timeout)
        except (TimeoutError, ConnectionError):
            return False
        return True

    async def _reconnect(self, reason: str) -> None:
        self._cancel_lost_timer()
        self._set_state(ConnectionState.RECONNECTING, reason)
        self.ib.disconnect()
        attempt = 0
        while True:
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1
            try:
                await self._connect_once()
            except BrokerUnavailable as exc:
                log.warning("reconnection attempt %d to %s failed: %s", attempt, self.address, exc)
                continue
            self._begin_session(fresh=True, reason=f"reconnected after {attempt} attempt(s)")
            return

    def _backoff(self, attempt: int) -> float:
        cfg = self.config
        delay = min(cfg.retry_max, cfg.retry_first * cfg.retry_factor ** attempt)
        return delay * (1 + cfg.retry_jitter * (2 * self._rng() - 1))

    def _begin_session(self, *, fresh: bool, reason: str) -> None:
        self.session += 1
        if fresh:
            self._trouble = asyncio.get_running_loop().create_future()
        # Subscriptions are re-sent before CONNECTED is published, so that a listener
        # seeing CONNECTED can count on them.
        self.session_started.emit(self.session, fresh)
        self._set_state(ConnectionState.CONNECTED, reason)

    def _raise_trouble(self, reason: str) -> None:
        if self._trouble is not None and not self._trouble.done():
            self._trouble.set_result(reason)

    def _on_disconnected(self) -> None:
        if self.is_ready:
            self._raise_trouble("the connection to the gateway dropped")

    # ----- errors -------------------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, message: str, contract: object) -> None:
        error = broker_error(req_id, code, message, contract)  # type: ignore[arg-type]
        if self._state in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING):
            self._attempt_errors.append(error)
        if code == codes.CONNECTIVITY_LOST:
            self._connectivity_lost(message)
        elif code in (codes.RESTORED_DATA_LOST, codes.RESTORED_DATA_KEPT):
            self._connectivity_restored(code, message)
        self.error_received.emit(error)

    def _connectivity_lost(self, message: str) -> None:
        if self._state is not ConnectionState.CONNECTED:
            return
        self._set_state(ConnectionState.LOST, message)
        self._lost_timer = asyncio.get_running_loop().call_later(
            self.config.lost_grace, self._raise_trouble,
            f"IB connectivity stayed lost for {self.config.lost_grace:g} s")

    def _connectivity_restored(self, code: int, message: str) -> None:
        if self._state is not ConnectionState.LOST:
            return
        self._cancel_lost_timer()
        if code == codes.RESTORED_DATA_LOST:
            # IB dropped this session's subscriptions: send them again on the same socket.
            self._begin_session(fresh=False, reason=message)
        else:
            self._set_state(ConnectionState.CONNECTED, message)

    def _cancel_lost_timer(self) -> None:
        if self._lost_timer is not None:
            self._lost_timer.cancel()
            self._lost_timer = None

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        if state is self._state:
            return
        self._state = state
        log.info("IB connection %s: %s", state.value, reason)
        self.state_changed.emit(state, reason)
