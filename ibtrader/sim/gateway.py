"""`SimulatedGateway`: the simulated IB Gateway on its own thread and event loop.

The gateway never shares a loop with its clients: a client that blocks its own loop
(ib_async's synchronous API does) must not freeze the market it is waiting on.
Every public method here is safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ibtrader.sim.control import start_control
from ibtrader.sim.exchange import ExchangeConfig, SimExchange
from ibtrader.sim.faults import Fault, parse_fault
from ibtrader.sim.pacing import PacingRules
from ibtrader.sim.server import GatewayServer, GatewayStats

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 4002  # 0 picks a free port
    seed: int = 42
    state_file: Path | None = None
    around_the_clock: bool = True
    tick_interval: float = 0.25
    pacing: PacingRules = field(default_factory=PacingRules)
    starting_cash: float = 1_000_000.0
    control_port: int | None = None  # a loopback port for `ibtrader fault`; None: no control
    extra_symbols: int = 0  # synthetic stocks SIM000… for load tests
    firehose: bool = False  # benchmarks: every quote field re-sent on every tick
    speed: float = 1.0  # simulated seconds per real second (tests and demos run faster)


class SimulatedGateway:
    """Start with `start()` (returns once it listens), stop with `stop()`; or use `with`."""

    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = config or GatewayConfig()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: GatewayServer | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        return self._server.port

    @property
    def server(self) -> GatewayServer:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        return self._server

    def start(self, timeout: float = 30.0) -> SimulatedGateway:
        if self._thread is not None:
            raise RuntimeError("the gateway is already running")
        self._thread = threading.Thread(target=self._run, name="sim-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the simulated gateway did not start in time")
        if self._startup_error is not None:
            self._thread.join(5)
            self._thread = None
            raise self._startup_error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start_server())
        except BaseException as exc:  # report to the starting thread, then end
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _start_server(self) -> None:
        cfg = self.config
        clock = accelerated_clock(cfg.speed)
        exchange = SimExchange(ExchangeConfig(
            seed=cfg.seed, state_file=cfg.state_file, around_the_clock=cfg.around_the_clock,
            starting_cash=cfg.starting_cash, extra_symbols=cfg.extra_symbols,
        ), clock=clock)
        server = GatewayServer(exchange, cfg.host, cfg.port, tick_interval=cfg.tick_interval,
                               firehose=cfg.firehose, pacing=cfg.pacing, clock=clock)
        await server.start()
        if cfg.control_port is not None:
            server.control = await start_control(server, cfg.control_port)
        self._server = server

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._server is not None:
            self.call(self._server.stop, timeout=timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._thread = None
        self._server = None
        self._ready.clear()

    def __enter__(self) -> SimulatedGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- control -----------------------------------------------------------------------
    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run `fn(*args)` on the gateway's loop (awaiting it if it is a coroutine)."""
        if self._loop is None:
            raise RuntimeError("the gateway is not running")

        async def invoke() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        future: Future = asyncio.run_coroutine_threadsafe(invoke(), self._loop)
        return future.result(timeout)

    def inject(self, fault: Fault | str) -> None:
        """Produce a fault now: see `ibtrader.sim.faults` for the kinds."""
        if isinstance(fault, str):
            fault = parse_fault(fault)
        self.call(self.server.inject, fault)

    def stats(self) -> GatewayStats:
        return self.call(lambda: GatewayStats(**vars(self.server.stats)))

    def connected_clients(self) -> list[int]:
        return self.call(lambda: sorted(self.server.by_client_id))

    def wait_for_clients(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.connected_clients()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} clients connected")
            time.sleep(0.05)


def accelerated_clock(speed: float) -> Callable[[], float]:
    """Wall-clock time, running `speed` times faster from now on."""
    if speed == 1.0:
        return time.time
    if speed <= 0:
        raise ValueError("speed must be above 0")
    origin = time.time()
    return lambda: origin + (time.time() - origin) * speed
