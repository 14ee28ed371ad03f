"""The composition root: builds the app's parts from `Settings`, starts and stops them.

- the broker: IB through ib_async, either the configured TWS / IB Gateway or, when
  `settings.broker == "sim"`, the simulated gateway started in-process on a loopback port
  (a free one unless `sim_port` is set); the code path above the socket is the same;
- the engine: the Market Data Service (history cache in the object folder, or in MinIO's
  marketdata bucket when `minio_endpoint` is set) feeding the Trading Engine (strategies,
  decisions, the SQLite journal);
- the backing services, when configured: a delivery worker sends the journal's outbox to
  them off the engine's loop (`remote_sinks`); with none configured, nothing of it runs.

This is the one module that picks adapters for the services' ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ibtrader import runtime_gc
from ibtrader.adapters.ib import ConnectionConfig, IBBroker
from ibtrader.adapters.journal import SqliteJournal, SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.parquet_bars import ParquetBarStore
from ibtrader.core.broker import MarketDataPort
from ibtrader.core.market import Instrument
from ibtrader.core.outbox import OutboxSink
from ibtrader.core.ports import AccountPort, BarSource, ObjectStore, OrderSubmissionPort
from ibtrader.services.delivery import DeliveryWorker
from ibtrader.services.history_cache import HistoryCache
from ibtrader.services.market_data import MarketDataService, parse_lookback
from ibtrader.services.order_manager import OrderManager
from ibtrader.services.trading_engine import TradingEngine

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.sim.gateway import SimulatedGateway

log = logging.getLogger(__name__)
T = TypeVar("T")

SIM_HOST = "127.0.0.1"


def connection_config(settings: Settings, host: str, port: int) -> ConnectionConfig:
    return ConnectionConfig(
        host=host, port=port, client_id=settings.ib_client_id, account=settings.ib_account or "",
        readonly=settings.ib_readonly, timeout=settings.ib_connect_timeout,
    )


def start_simulator(settings: Settings) -> SimulatedGateway:
    """The simulated gateway on its own thread, on loopback port `sim_port` (0: a free one).

    Blocks until it listens: from a running loop, call it through `asyncio.to_thread`.
    """
    from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway

    state_file = settings.sim_state_file
    if state_file is not None:
        Path(state_file).parent.mkdir(parents=True, exist_ok=True)
    config = GatewayConfig(host=SIM_HOST, port=settings.sim_port, seed=settings.sim_seed,
                           state_file=state_file, around_the_clock=settings.sim_around_the_clock,
                           extra_symbols=settings.sim_extra_symbols)
    return SimulatedGateway(config).start()


@contextlib.asynccontextmanager
async def open_broker(settings: Settings) -> AsyncIterator[IBBroker]:
    """A started `IBBroker` for the configured broker; stops it (and the simulator) on exit.

    Raises `BrokerUnavailable` when the first connection fails.
    """
    gateway = None
    if settings.broker == "sim":
        gateway = await asyncio.to_thread(start_simulator, settings)
        host, port = SIM_HOST, gateway.port
        log.info("simulated IB Gateway started on %s:%d", host, port)
    else:
        host, port = settings.ib_host, settings.ib_port
    broker = IBBroker(connection_config(settings, host, port))
    try:
        await broker.start()
        yield broker
    finally:
        await broker.stop()
        if gateway is not None:
            await asyncio.to_thread(gateway.stop)


def minio_store(settings: Settings, bucket: str, *, connect_timeout: float = 3.0,
                read_timeout: float = 30.0) -> ObjectStore:
    """A MinIO bucket as the settings describe the server (imported only when used)."""
    from ibtrader.adapters.objects.minio_store import MinioObjectStore

    return MinioObjectStore(settings.minio_endpoint, settings.minio_access_key,
                            settings.minio_secret_key, bucket, secure=settings.minio_secure,
                            connect_timeout=connect_timeout, read_timeout=read_timeout)


def history_store(settings: Settings) -> ObjectStore:
    """Where the Parquet history cache lives: MinIO's marketdata bucket when an endpoint is
    set, else the local object folder."""
    if not settings.minio_endpoint:
        return FolderObjectStore(settings.objects_dir)
    # a hung server must not hold the backfill for long: cached bars are only a shortcut
    return _CacheOnly(minio_store(settings, settings.minio_bucket_marketdata,
                                  connect_timeout=2.0, read_timeout=10.0))


class _CacheOnly:
    """An object store whose failures cost the cache, never the history: the cache treats
    OSError as "not cached" and fetches from the broker, so a MinIO outage becomes one."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"cache in {self.store!r}"

    def put(self, key: str, data: bytes) -> None:
        self._call(lambda: self.store.put(key, data))

    def get(self, key: str) -> bytes:
        return self._call(lambda: self.store.get(key))

    def exists(self, key: str) -> bool:
        return self._call(lambda: self.store.exists(key))

    def list(self, prefix: str = "") -> list[str]:
        return self._call(lambda: self.store.list(prefix))

    def delete(self, key: str) -> None:
        self._call(lambda: self.store.delete(key))

    @staticmethod
    def _call(call: Callable[[], T]) -> T:
        from ibtrader.adapters.objects.minio_store import ObjectStoreError

        try:
            return call()
        except ObjectStoreError as exc:  # KeyError (not cached) passes through as is
            raise OSError(str(exc)) from exc


def remote_sinks(settings: Settings) -> list[OutboxSink]:
    """The outbox sinks of the configured backing services (none: the embedded defaults).
    Chart images and other objects go to MinIO's buckets by the bucket their record names."""
    sinks: list[OutboxSink] = []
    if settings.minio_endpoint:
        from ibtrader.adapters.objects.object_sink import ObjectSink

        buckets = (settings.minio_bucket_charts, settings.minio_bucket_marketdata)
        sinks.append(ObjectSink({b: minio_store(settings, b) for b in dict.fromkeys(buckets)}))
    return sinks


@dataclass
class Delivery:
    """The outbox of the journal's file and the worker sending it to the services."""

    outbox: SqliteOutbox
    worker: DeliveryWorker

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """Stop the lanes (blocks up to the sinks' timeouts), then close the outbox; what
        still waits goes out at the next start."""
        self.worker.stop()
        self.outbox.close()


def delivery(settings: Settings, journal_file: Path) -> Delivery | None:
    """The outbox's delivery for the configured services, not started; None when no service
    is configured. The journal must be open already (it creates the outbox table)."""
    sinks = remote_sinks(settings)
    if not sinks:
        return None
    outbox = SqliteOutbox(journal_file)
    return Delivery(outbox, DeliveryWorker(outbox, sinks))


def market_data_service(settings: Settings, port: MarketDataPort,
                        clock: Callable[[], float] = time.time) -> MarketDataService:
    """The service as the settings describe it, with its history cache in `history_store`."""
    cache = HistoryCache(ParquetBarStore(history_store(settings)),
                         parse_lookback(settings.history_lookback),
                         clock=clock)
    return MarketDataService(port, cache, close_grace=settings.bar_close_grace, clock=clock)


def trading_engine(settings: Settings, bars: BarSource, account: AccountPort,
                   orders: OrderSubmissionPort | None = None, **options: object) -> TradingEngine:
    """The engine as the settings describe it, journalling to `settings.journal_file`.
    The caller closes `engine.journal` when done with it."""
    journal = SqliteJournal(settings.journal_file)
    return TradingEngine(bars, journal, account, orders, settings, **options)  # type: ignore[arg-type]


@dataclass
class Engine:
    """The running engine's parts, as `open_engine` hands them over."""

    broker: IBBroker
    market_data: MarketDataService
    trading: TradingEngine
    journal: SqliteJournal
    subscribed: asyncio.Task[object]  # qualify + backfill + stream of the symbols
    orders: OrderManager | None = None  # the engine's order port, unless one was given
    delivery: Delivery | None = None  # the outbox's worker, when a service is configured

    def outbox_depth(self) -> tuple[int, float | None]:
        """(records waiting for the backing services, age of the oldest in seconds); (0,
        None) without services. A short SQLite read (any thread)."""
        if self.delivery is None:
            return 0, None
        return self.delivery.outbox.depth()

    def failing_sinks(self) -> dict[str, str]:
        """Sink name -> its last error, for the sinks failing right now."""
        return {} if self.delivery is None else dict(self.delivery.worker.failing)


@contextlib.asynccontextmanager
async def open_engine(settings: Settings, *, symbols: Sequence[str] | None = None,
                      strategies: Sequence[str] | None = None,
                      orders: OrderSubmissionPort | None = None) -> AsyncIterator[Engine]:
    """Broker, market data and trading engine, started: the strategies listen before the
    backfill begins (it runs in `subscribed`), so no closed bar is missed. Everything is
    stopped and the journal closed on exit; open orders stay at the broker."""
    symbols = tuple(settings.watchlist if symbols is None else symbols)
    async with open_broker(settings) as broker:
        symbols = await broker_symbols(broker.market_data, symbols)
        market = market_data_service(settings, broker.market_data)
        journal = SqliteOrderJournal(settings.journal_file)
        remote = delivery(settings, journal.path)
        manager = None
        if orders is None:  # the order manager carries accepted decisions to the broker
            manager = order_manager(settings, broker, journal)
            orders = manager
        trading = TradingEngine(market, journal, broker.account, orders, settings,
                                symbols=symbols, strategies=strategies,
                                instruments=market.instruments)
        if manager is not None:
            manager.auto_trade_disabled += lambda _why: disable_auto_trade(trading)
        try:
            if remote is not None:  # a previous run's undelivered records go out first
                await asyncio.to_thread(remote.start)
            if manager is not None:
                await manager.start()
            await trading.start()
            subscribed = asyncio.create_task(_subscribe_then_settle(market, symbols),
                                             name="subscribe")
            try:
                yield Engine(broker, market, trading, journal, subscribed, manager, remote)
            finally:
                subscribed.cancel()
                await asyncio.gather(subscribed, return_exceptions=True)
                await trading.stop()
                await market.stop()
        finally:
            if manager is not None:
                await manager.stop()  # open orders stay at the broker
            if remote is not None:  # before the journal closes
                await asyncio.to_thread(remote.stop)
            journal.close()


async def broker_symbols(port: MarketDataPort, symbols: Sequence[str]) -> tuple[str, ...]:
    """The broker's names for `symbols` (ES -> ESZ6): quotes and bars are keyed by them.
    Unknown ones stay as given; the Market Data Service reports them."""
    found = await port.qualify_many(list(dict.fromkeys(s.strip().upper() for s in symbols)))
    return tuple(dict.fromkeys(r.symbol if isinstance(r, Instrument) else s
                               for s, r in found.items()))


async def _subscribe_then_settle(market: MarketDataService, symbols: Sequence[str]) -> object:
    """Subscribe, then settle the heap: history and warm strategies live as long as the
    app, so the collector stops walking them (see runtime_gc) before live data flows."""
    found = await market.subscribe(symbols)
    log.info("%s", runtime_gc.settle().describe())
    return found


def order_manager(settings: Settings, broker: IBBroker,
                  journal: SqliteOrderJournal) -> OrderManager:
    """The order manager over the broker's order port, its quotes and the journal; it
    reconciles again whenever the broker's connection comes back."""
    return OrderManager(broker.orders, broker.market_data, journal, settings,
                        account=broker.account, connection=broker)


def disable_auto_trade(trading: TradingEngine) -> None:
    # the kill switch: every strategy stops trading by itself until a trader turns it on
    for status in trading.status():
        if status.auto_trade:
            trading.set_auto_trade(status.name, False)


@contextlib.asynccontextmanager
async def open_order_manager(settings: Settings) -> AsyncIterator[OrderManager]:
    """Broker, journal and a started order manager (for `ibtrader orders` and scripts);
    on exit the manager stops (open orders stay at the broker) and the journal closes."""
    async with open_broker(settings) as broker:
        journal = SqliteOrderJournal(settings.journal_file)
        manager = order_manager(settings, broker, journal)
        try:
            await manager.start()
            yield manager
        finally:
            await manager.stop()
            journal.close()
