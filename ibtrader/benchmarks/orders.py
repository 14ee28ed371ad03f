"""`ibtrader bench orders`: order round-trip latency through the app vs bare ib_async.

One process, one loop, one simulated gateway (in-process, on its own thread, as the app
runs it by default). Two clients of the same gateway take turns, order by order:

- ibtrader: `OrderManager.place` — validation, price policy, pre-trade risk, the
  journal written before sending, the IB adapter — timed from the call to the manager's
  `order_changed` reporting the order working (acknowledged) and then filled;
- the peer: `IB.placeOrder` of ib_async with nothing around it, timed from the call to
  its first working status (PreSubmitted/Submitted) and to Filled.

Market orders and marketable limits (5 ticks through the far side), alternating buy and
sell so the position stays flat, at most ORDERS_PER_SECOND a client: below IB's 50
messages a second (ib_async throttles itself at 45, our adapter at 40), so what is timed
is the round trip, not a throttle's queue. Legs: submit -> acknowledged, acknowledged -> filled,
and submit -> filled; p50/p99/max in milliseconds, and our p50 over the peer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ib_async import IB, Contract, Ticker

    from ibtrader.config import Settings
    from ibtrader.core.orders.lifecycle import Order
    from ibtrader.services.order_manager import OrderManager

SYMBOL = "AAPL"
KINDS = ("market", "marketable limit")
MARKETABLE_TICKS = 5
WARMUP = 5  # orders of each kind and path not counted: connections, caches, first quotes
ORDER_TIMEOUT = 10.0  # seconds for one round trip before the bench gives up
ORDERS_PER_SECOND = 30.0
ACK_STATUSES = frozenset({"PreSubmitted", "Submitted"})


@dataclass(frozen=True)
class Leg:
    """Latencies of one leg in milliseconds."""

    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, samples: list[float]) -> Leg:
        ms = sorted(s * 1000 for s in samples)
        return cls(p50=statistics.median(ms), p99=_quantile(ms, 0.99), max=ms[-1])


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between the closest ranks."""
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class _Samples:
    ack: list[float] = field(default_factory=list)
    fill: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)

    def add(self, submitted: float, acked: float, filled: float) -> None:
        self.ack.append(acked - submitted)
        self.fill.append(filled - acked)
        self.total.append(filled - submitted)


@dataclass(frozen=True)
class RoundTrips:
    path: str  # "ibtrader" | "ib_async"
    kind: str  # one of KINDS
    orders: int
    ack: Leg  # submit -> acknowledged (first working status)
    fill: Leg  # acknowledged -> filled
    total: Leg  # submit -> filled

    @classmethod
    def of(cls, path: str, kind: str, samples: _Samples) -> RoundTrips:
        return cls(path, kind, len(samples.total), Leg.of(samples.ack), Leg.of(samples.fill),
                   Leg.of(samples.total))


@dataclass(frozen=True)
class OrdersBenchResult:
    orders: int  # per kind and path, after the warm-up
    seconds: float  # the whole run, gateway start to stop
    runs: tuple[RoundTrips, ...]

    def run(self, path: str, kind: str) -> RoundTrips:
        return next(r for r in self.runs if r.path == path and r.kind == kind)

    def ratio(self, kind: str) -> float:
        """Our submit -> filled p50 over bare ib_async's."""
        return self.run("ibtrader", kind).total.p50 / self.run("ib_async", kind).total.p50

    def lines(self) -> list[str]:
        out = [f"{self.orders} orders of each kind through each client, {SYMBOL}, "
               f"one in-process simulated gateway ({self.seconds:.1f} s)",
               f"{'':27}{'submit->ack':>21}{'ack->filled':>21}{'submit->filled':>21}",
               f"{'ms':27}" + "    p50    p99    max" * 3]
        for r in self.runs:
            legs = "".join(f"{leg.p50:7.2f}{leg.p99:7.2f}{leg.max:7.2f}"
                           for leg in (r.ack, r.fill, r.total))
            out.append(f"{r.kind + ', ' + r.path:27}{legs}")
        out += [f"ibtrader / ib_async, {kind}: {self.ratio(kind):.2f}x p50 submit->filled"
                for kind in KINDS]
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio_p50_total": {k: self.ratio(k) for k in KINDS}}


def bench_settings(data_dir: str, sim_port: int) -> Settings:
    """The simulator on a known loopback port (the peer connects to it too) and the risk
    rules that would stop a benchmark by design switched off: its hundreds of orders a
    minute, and the commissions it pays adding up to a daily loss."""
    from ibtrader.config import load_settings

    return load_settings(env={
        "IBTRADER_DATA_DIR": data_dir, "IBTRADER_SIM_PORT": str(sim_port),
        "IBTRADER_LOG_LEVEL": "WARNING", "IBTRADER_MAX_ORDERS_PER_MINUTE": "0",
        "IBTRADER_DAILY_LOSS_LIMIT": "0"})


def run_orders_bench(orders: int = 200, *, progress: Callable[[str], None] | None = None
                     ) -> OrdersBenchResult:
    if orders < 1:
        raise ValueError(f"orders must be at least 1, got {orders}")
    return asyncio.run(_bench(orders, progress or (lambda _text: None)))


async def _bench(orders: int, progress: Callable[[str], None]) -> OrdersBenchResult:
    from ibtrader.benchmarks.gateway import free_port

    started = time.perf_counter()
    samples = {(path, kind): _Samples() for path in ("ibtrader", "ib_async") for kind in KINDS}
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(tmp, free_port())
        async with _clients(settings) as (ours, peer):
            for kind in KINDS:
                progress(f"{kind}: {orders} + {WARMUP} warm-up orders per client")
                loop = asyncio.get_running_loop()
                for i in range(orders + WARMUP):
                    next_turn = loop.time() + 1 / ORDERS_PER_SECOND
                    side = "buy" if i % 2 == 0 else "sell"
                    # Turns, so that both see the same market and the same machine load.
                    times_ours = await ours.round_trip(side, kind)
                    times_peer = await peer.round_trip(side, kind)
                    if i >= WARMUP:
                        samples["ibtrader", kind].add(*times_ours)
                        samples["ib_async", kind].add(*times_peer)
                    await asyncio.sleep(max(next_turn - loop.time(), 0))
    runs = tuple(RoundTrips.of(path, kind, s) for (path, kind), s in samples.items())
    return OrdersBenchResult(orders, time.perf_counter() - started, runs)


@contextlib.asynccontextmanager
async def _clients(settings: Settings) -> AsyncIterator[tuple[_OurClient, _PeerClient]]:
    from ib_async import IB

    from ibtrader.app import open_order_manager

    async with open_order_manager(settings) as manager:
        ib = IB()
        await ib.connectAsync("127.0.0.1", settings.sim_port,
                              clientId=settings.ib_client_id + 100, timeout=20)
        try:
            peer = await _PeerClient.connect(ib)
            ours = _OurClient(manager)
            yield ours, peer
        finally:
            ib.disconnect()


class _OurClient:
    """Round trips through the Order Manager, timed by its `order_changed` event."""

    def __init__(self, manager: OrderManager) -> None:
        self.manager = manager
        self._acked: dict[str, float] = {}
        self._done: dict[str, asyncio.Future[float]] = {}
        manager.order_changed += self._on_changed

    def _on_changed(self, order: Order, *_: object) -> None:
        now = time.perf_counter()
        key = order.client_key
        if key not in self._done:
            return
        if order.state.value != "sent" and order.state.value != "new":
            self._acked.setdefault(key, now)  # the first word of the broker that it works
        done = self._done[key]
        if order.is_final and not done.done():
            if order.state.value == "filled":
                done.set_result(now)
            else:
                done.set_exception(RuntimeError(f"bench order {key} ended {order.state.value}"
                                                f": {order.last_error}"))

    async def round_trip(self, side: str, kind: str) -> tuple[float, float, float]:
        from ibtrader.core.orders.request import parse_request

        request = parse_request(SYMBOL, side, "1", now=time.time(),
                                order_type="mkt" if kind == "market" else "lmt",
                                policy=None if kind == "market" else
                                f"marketable:{MARKETABLE_TICKS}", tif="day", source="api")
        key = request.client_key
        self._done[key] = asyncio.get_running_loop().create_future()
        try:
            submitted = time.perf_counter()
            await self.manager.place(request)
            filled = await asyncio.wait_for(self._done[key], ORDER_TIMEOUT)
            return submitted, self._acked.get(key, filled), filled
        finally:
            del self._done[key]
            self._acked.pop(key, None)


class _PeerClient:
    """Round trips through bare ib_async: `placeOrder` and its trade's status events."""

    def __init__(self, ib: IB, contract: Contract, ticker: Ticker) -> None:
        self.ib = ib
        self.contract = contract
        self.ticker = ticker

    @classmethod
    async def connect(cls, ib: IB) -> _PeerClient:
        from ib_async import Stock

        contract = (await ib.qualifyContractsAsync(Stock(SYMBOL, "SMART", "USD")))[0]
        ticker = ib.reqMktData(contract)
        deadline = time.monotonic() + ORDER_TIMEOUT
        while not (ticker.bid > 0 and ticker.ask > 0):  # a quote to price the limits from
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {SYMBOL} quote from the gateway")
            await ticker.updateEvent
        return cls(ib, contract, ticker)

    def _order(self, side: str, kind: str) -> Any:
        from ib_async import LimitOrder, MarketOrder

        action = side.upper()
        if kind == "market":
            return MarketOrder(action, 1)
        tick = 0.01
        price = self.ticker.ask + MARKETABLE_TICKS * tick if action == "BUY" \
            else self.ticker.bid - MARKETABLE_TICKS * tick
        return LimitOrder(action, 1, round(price, 2))

    async def round_trip(self, side: str, kind: str) -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[float] = loop.create_future()
        acked: list[float] = []

        def on_status(trade: Any) -> None:
            now = time.perf_counter()
            status = trade.orderStatus.status
            if status in ACK_STATUSES or status == "Filled":
                acked.append(now)
            if status == "Filled" and not done.done():
                done.set_result(now)
            elif status in ("Cancelled", "Inactive", "ApiCancelled") and not done.done():
                done.set_exception(RuntimeError(f"peer order ended {status}"))

        submitted = time.perf_counter()
        trade = self.ib.placeOrder(self.contract, self._order(side, kind))
        trade.statusEvent += on_status
        try:
            filled = await asyncio.wait_for(done, ORDER_TIMEOUT)
        finally:
            trade.statusEvent -= on_status
        return submitted, acked[0], filled
