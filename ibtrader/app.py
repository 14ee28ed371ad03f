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
from ibtrader.core.advice import Advisor
from ibtrader.core.broker import MarketDataPort
from ibtrader.core.market import Instrument
from ibtrader.core.outbox import JournalMirror, OutboxSink
from ibtrader.core.ports import AccountPort, BarSource, ObjectStore, OrderSubmissionPort
from ibtrader.services.chart_recorder import ChartRecorder
from ibtrader.services.delivery import DeliveryWorker
from ibtrader.services.history_cache import HistoryCache
from ibtrader.services.market_data import MarketDataService, parse_lookback
from ibtrader.services.order_manager import OrderManager
from ibtrader.services.performance import DailyPerformanceService
from ibtrader.services.trading_engine import TradingEngine

if TYPE_CHECKING:
    from ibtrader.adapters.objects.minio_store import MinioObjectStore
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
                read_timeout: float = 30.0, retries: int = 1) -> MinioObjectStore:
    """A MinIO bucket as the settings describe the server (imported only when used)."""
    from ibtrader.adapters.objects.minio_store import MinioObjectStore

    return MinioObjectStore(settings.minio_endpoint, settings.minio_access_key,
                            settings.minio_secret_key, bucket, secure=settings.minio_secure,
                            region=settings.minio_region, connect_timeout=connect_timeout,
                            read_timeout=read_timeout, retries=retries)


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
        # a hung server is given up on after 10 s (twice), not 30: its lane waits that long
        sinks.append(ObjectSink({b: minio_store(settings, b, read_timeout=10.0)
                                 for b in dict.fromkeys(buckets)}))
    if settings.nocodb_url:  # the journal mirror: rows upserted by our id
        from ibtrader.adapters.nocodb import NocoClient, NocoSink

        sinks.append(NocoSink(NocoClient(settings.nocodb_url, settings.nocodb_api_token),
                              settings.nocodb_base))
    if settings.n8n_webhook_url:  # notifications: signed events, an id per event
        from ibtrader.adapters.n8n.webhook import N8nSink

        sinks.append(N8nSink(settings.n8n_webhook_url, settings.n8n_webhook_secret,
                             settings.n8n_timeout))
    return sinks


def journal_mirrors(settings: Settings) -> list[JournalMirror]:
    """What describes each journal write's remote copies, per configured service (each
    adds its own); their records go out through `remote_sinks`."""
    mirrors: list[JournalMirror] = []
    if settings.nocodb_url:
        from ibtrader.adapters.nocodb.journal_mirror import NocoMirror

        mirrors.append(NocoMirror())
    if settings.n8n_webhook_url:  # signals, decisions, fills... as n8n events
        from ibtrader.services.notifier import NotificationMirror

        mirrors.append(NotificationMirror())
    return mirrors


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
    options.setdefault("advisors", decision_advisors(settings))
    return TradingEngine(bars, journal, account, orders, settings, **options)  # type: ignore[arg-type]


def decision_advisors(settings: Settings,
                      charts: ChartRecorder | None = None) -> dict[str, Advisor]:
    """Who answers the asking strategies: the n8n webhook of `n8n_decision_url`, sent a
    presigned link to a chart image of the symbol when charts go to MinIO."""
    if not settings.n8n_decision_url:
        return {}
    from ibtrader.adapters.n8n.advisor import N8nAdvisor

    links = charts.latest_chart_url if charts is not None and charts.files.uploads else None
    return {"n8n_decision": N8nAdvisor(settings.n8n_decision_url, settings.n8n_decision_timeout,
                                       settings.n8n_webhook_secret, links)}


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
    performance: DailyPerformanceService | None = None  # equity samples, the daily row
    charts: ChartRecorder | None = None  # chart PNGs of decisions, fills, equity curves

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
        journal = SqliteOrderJournal(settings.journal_file, journal_mirrors(settings))
        remote = delivery(settings, journal.path)
        manager = None
        if orders is None:  # the order manager carries accepted decisions to the broker
            manager = order_manager(settings, broker, journal)
            orders = manager
        charts = chart_recorder(settings, market, journal)
        trading = TradingEngine(market, journal, broker.account, orders, settings,
                                symbols=symbols, strategies=strategies,
                                instruments=market.instruments,
                                advisors=decision_advisors(settings, charts))
        if manager is not None:
            manager.auto_trade_disabled += lambda _why: disable_auto_trade(trading)
        attach_notifier(settings, broker, journal, manager)
        try:
            if remote is not None:  # a previous run's undelivered records go out first
                await asyncio.to_thread(remote.start)
            if manager is not None:
                await manager.start()
            await trading.start()
            performance = await performance_service(settings, broker, journal, manager)
            if charts is not None:
                charts.start()
                attach_charts(charts, trading, manager, performance)
            subscribed = asyncio.create_task(_subscribe_then_settle(market, symbols),
                                             name="subscribe")
            try:
                yield Engine(broker, market, trading, journal, subscribed, manager, remote,
                             performance, charts)
            finally:
                subscribed.cancel()
                await asyncio.gather(subscribed, return_exceptions=True)
                await trading.stop()
                await performance.stop()  # before the journal closes
                await market.stop()
        finally:
            if manager is not None:
                await manager.stop()  # open orders stay at the broker
            if charts is not None:  # what is rendered queues its upload, then no more
                await charts.stop()
            if remote is not None:  # before the journal closes
                await asyncio.to_thread(remote.stop)
            journal.close()


def chart_recorder(settings: Settings, market: MarketDataService,
                   journal: SqliteJournal) -> ChartRecorder | None:
    """A PNG per decision and fill and the daily equity curve, in the object folder and,
    with MinIO, queued for the charts bucket; neither started nor attached yet
    (`attach_charts`). None when `charts_enabled` is off. Matplotlib is imported here,
    only when charts are on."""
    if not settings.charts_enabled:
        return None
    from ibtrader.adapters.charts.files import ChartFiles
    from ibtrader.adapters.charts.render import render_bars_png, render_equity_png

    remote = minio_store(settings, settings.minio_bucket_charts) \
        if settings.minio_endpoint else None
    files = ChartFiles(settings.objects_dir, settings.minio_bucket_charts,
                       journal=journal if remote is not None else None, remote=remote)
    # a render process: drawing holds the GIL, a thread would make the loop late
    return ChartRecorder(market, files, render_bars_png, render_equity_png, in_process=True)


def attach_charts(recorder: ChartRecorder, trading: TradingEngine,
                  manager: OrderManager | None,
                  performance: DailyPerformanceService | None) -> None:
    """Chart the engine's decisions and fills, and each day's equity curve."""

    def bar_size_for(symbol: str, strategy: str) -> str:
        # the deciding strategy's bars; for a fill, those of a strategy trading the symbol
        running = trading.status()
        for status in running:
            if status.name == strategy or (not strategy and symbol in status.symbols):
                return status.bar_size
        return running[0].bar_size if running else "1 min"

    recorder.bar_size_for = bar_size_for
    recorder.attach(trading, manager)
    if performance is not None:
        performance.daily_computed += lambda row, curve: recorder.publish_equity_curve(
            row.session_date, curve)


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


async def performance_service(settings: Settings, broker: IBBroker, journal: SqliteOrderJournal,
                              manager: OrderManager | None) -> DailyPerformanceService:
    """The account's equity sampled through the day (and on each fill) and its daily row
    at the session close, saved in the journal (and so mirrored); started."""
    book = manager.portfolio if manager is not None else None
    service = DailyPerformanceService(
        broker.account, journal, settings, account=account_name(settings, broker),
        pnl=None if book is None else lambda: _realized_unrealized(book.totals()),
        multipliers=None if book is None else lambda: {
            s: book.multiplier(s) for s in book.symbols()},
        fills=None if manager is None else manager.fill_received,
        reader=lambda: SqliteOrderJournal(journal.path))  # a day is read off the loop
    await service.start()
    return service


def _realized_unrealized(totals: tuple[float, float, float]) -> tuple[float, float]:
    _daily, unrealized, realized = totals
    return realized, unrealized


def account_name(settings: Settings, broker: IBBroker) -> str:
    """The account the broker session trades: the configured one, else the only managed
    one the broker named at login."""
    if settings.ib_account:
        return settings.ib_account
    managed = broker.connection.ib.managedAccounts()
    return managed[0] if managed else "default"


def attach_notifier(settings: Settings, broker: IBBroker, journal: SqliteOrderJournal,
                    manager: OrderManager | None) -> None:
    """The notifications that are no journal row (kill switch, connection, an order refused
    by a risk rule): to n8n when its webhook is set, else to the log only."""
    from ibtrader.services.notifier import ConnectionNotifier

    sink = "n8n" if settings.n8n_webhook_url else None
    ConnectionNotifier(journal, sink).attach(
        state_changed=broker.state_changed,
        auto_trade_disabled=None if manager is None else manager.auto_trade_disabled,
        risk_event=None if manager is None else manager.risk_event,
        refused=None if manager is None else manager.refused)


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
        journal = SqliteOrderJournal(settings.journal_file, journal_mirrors(settings))
        remote = delivery(settings, journal.path)
        manager = order_manager(settings, broker, journal)
        try:
            if remote is not None:  # the mirror's records go out while the manager runs
                await asyncio.to_thread(remote.start)
            await manager.start()
            yield manager
        finally:
            await manager.stop()
            if remote is not None:  # what is left goes out at the next start
                await asyncio.to_thread(remote.stop)
            journal.close()
