"""The Market Data Service against the real simulated gateway, through the real IB adapter:
backfill with progress, live forming and closed bars, and a second start from the cache."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.parquet_bars import ParquetBarStore
from ibtrader.app import market_data_service
from ibtrader.config import Settings
from ibtrader.core.market import Bar
from ibtrader.services.history_cache import HistoryCache, duration_seconds
from ibtrader.services.market_data import (
    BackfillProgress,
    MarketDataService,
    parse_lookback,
)
from ibtrader.sim.gateway import SimulatedGateway
from tests.services.test_market_data_cache import (
    LOOKBACK,
    CountingPort,
    loop_runner,
    new_broker,
    running_gateway,
    sim_clock,
    until,
)

run = pytest.fixture(loop_runner, name="run")
gateway = pytest.fixture(running_gateway, name="gateway")

SYMBOLS = ["AAPL", "MSFT", "EURUSD"]
SIZES = ("1 min", "5 mins", "15 mins", "1 hour", "1 day")


def make_service(port: CountingPort, gateway: SimulatedGateway, folder: Path
                 ) -> MarketDataService:
    clock = sim_clock(gateway)
    cache = HistoryCache(ParquetBarStore(FolderObjectStore(folder)), LOOKBACK, clock=clock)
    return MarketDataService(port, cache, clock=clock)  # type: ignore[arg-type]


def assert_continuous(bars: list[Bar], step: float) -> None:
    times = [b.time for b in bars]
    assert times == sorted(set(times)), "duplicate or out-of-order bars"
    assert all((b - a) % step == 0 for a, b in itertools.pairwise(times))


def test_backfill_then_live_bars_then_a_restart_fetches_only_the_gap(
        run, gateway: SimulatedGateway, tmp_path: Path):
    folder = tmp_path / "objects"

    async def first_start() -> list[Bar]:
        broker = new_broker(gateway)
        await broker.start()
        port = CountingPort(broker.market_data)
        service = make_service(port, gateway, folder)
        progress: list[BackfillProgress] = []
        forming: list[Bar] = []
        closed: list[Bar] = []
        service.progress_changed += progress.append
        service.bar_forming += lambda s, size, bar: (s, size) == ("AAPL", "1 min") and \
            forming.append(bar)
        service.bar_closed += lambda s, size, bar: (s, size) == ("AAPL", "1 min") and \
            closed.append(bar)
        try:
            found = await service.subscribe([*SYMBOLS, "NOSUCH"])
            assert set(found) == {*SYMBOLS, "NOSUCH"}
            done = service.progress
            assert (done.symbols_done, done.symbols_total) == (3, 3) and done.finished
            assert done.bars_received > 300 and done.bars_cached == 0
            assert "NOSUCH" in done.unknown
            assert done.requests == len(port.requests) == 3 * len(SIZES)
            counts = [p.symbols_done for p in progress]
            assert counts == sorted(counts) and set(counts) == {0, 1, 2, 3}
            received = [p.bars_received for p in progress]
            assert received == sorted(received) and received[-1] == done.bars_received
            assert {duration for _, _, duration in port.requests} == set(LOOKBACK.values())
            seeded = service.history("AAPL", "1 min")
            assert len(seeded) > 100

            # Live: the forming minute changes as data streams, then closes (2 s real time).
            await until(lambda: len({(b.high, b.low, b.close, b.volume) for b in forming}) >= 3)
            await until(lambda: len(closed) >= 1, timeout=8)
            first_live = closed[0]
            held = service.history("AAPL", "1 min")
            at = held.index(first_live)
            assert held[at - 1].time == first_live.time - 60  # no gap after the history
            assert held[at + 1:] == closed[1:]  # live bars follow it, each once
            assert first_live.volume > 0 and first_live.low <= first_live.close
            assert_continuous(held, 60)
            # The next minute forms (it may be empty for a moment if the timer closed the bar).
            await until(lambda: service.forming("AAPL", "1 min") is not None)
            assert service.forming("AAPL", "1 min").time >= first_live.time + 60
            for size in SIZES:
                assert service.history("EURUSD", size), f"no {size} EURUSD history"
            return held
        finally:
            await service.stop()
            await broker.stop()

    async def second_start(before: list[Bar]) -> None:
        broker = new_broker(gateway)
        await broker.start()
        port = CountingPort(broker.market_data)
        service = make_service(port, gateway, folder)
        try:
            await service.subscribe(SYMBOLS)
            done = service.progress
            assert (done.symbols_done, done.symbols_total) == (3, 3)
            assert done.bars_cached > done.bars_received > 0
            assert len(port.requests) == 3 * len(SIZES)
            for symbol, size, duration in port.requests:  # only the gap since the cache
                assert duration_seconds(duration) < duration_seconds(LOOKBACK[size]), \
                    (symbol, size, duration)
            after = service.history("AAPL", "1 min")
            assert_continuous(after, 60)
            # What the broker's history held before is still there, now from the cache.
            assert {b.time for b in before[:-2]} <= {b.time for b in after}
        finally:
            await service.stop()
            await broker.stop()

    held = run(first_start())
    run(second_start(held))


def test_lookback_setting_errors_name_the_entry():
    assert parse_lookback(["1 min=2 D", " 1 hour = 30 D "]) == {"1 min": "2 D",
                                                                "1 hour": "30 D"}
    with pytest.raises(ValueError, match="'1 min 2 D' must read BAR SIZE=DURATION"):
        parse_lookback(["1 min 2 D"])
    with pytest.raises(ValueError, match="unsupported bar size '3 mins'"):
        parse_lookback(["3 mins=1 D"])


def test_a_failed_history_request_is_reported_and_the_symbol_still_streams(
        run, gateway: SimulatedGateway, tmp_path: Path):
    async def scenario() -> None:
        broker = new_broker(gateway)
        await broker.start()
        port = CountingPort(broker.market_data)
        service = make_service(port, gateway, tmp_path / "objects")
        try:
            gateway.inject("pacing")  # the next historical request gets IB's error 162
            await service.subscribe(["MSFT"])
            done = service.progress
            assert (done.symbols_done, done.symbols_total) == (1, 1)
            assert len(done.problems) == 1 and "162" in done.problems[0]
            assert done.requests == len(SIZES)
            empty = [size for size in SIZES if not service.history("MSFT", size)]
            assert len(empty) <= 1  # the refused request's series starts from live data
            await until(lambda: all(service.forming("MSFT", s) is not None for s in SIZES))
        finally:
            await service.stop()
            await broker.stop()

    run(scenario())


def test_a_failed_refresh_falls_back_to_the_cached_bars(
        run, gateway: SimulatedGateway, tmp_path: Path):
    async def scenario() -> None:
        broker = new_broker(gateway)
        await broker.start()
        port = CountingPort(broker.market_data)
        try:
            msft = await broker.market_data.qualify("MSFT")
            folder = tmp_path / "objects"
            cache = HistoryCache(ParquetBarStore(FolderObjectStore(folder)), LOOKBACK,
                                 clock=sim_clock(gateway))
            first = await cache.history(port, msft, "1 hour", "TRADES", False)
            gateway.inject("pacing")
            again = await cache.history(port, msft, "1 hour", "TRADES", False)
            assert again.bars == first.bars and again.fetched == 0
            assert len(again.problems) == 1
            assert "using cached bars only" in again.problems[0] and "162" in again.problems[0]
        finally:
            await broker.stop()

    run(scenario())


def test_every_bar_size_needs_a_look_back(tmp_path: Path):
    cache = HistoryCache(ParquetBarStore(FolderObjectStore(tmp_path)), {"1 min": "1 D"})
    with pytest.raises(ValueError, match="no history look-back set for 1 day"):
        MarketDataService(object(), cache, bar_sizes=("1 min", "1 day"))  # type: ignore[arg-type]


def test_the_service_is_built_from_settings_with_its_cache_under_the_data_dir(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, bar_close_grace=3.0)
    service = market_data_service(settings, object())  # type: ignore[arg-type]
    assert service.history_cache.bars.store.root == tmp_path / "objects"
    assert service.history_cache.lookback["1 min"] == "2 D"
    assert service.close_grace == 3.0
    bad = Settings(data_dir=tmp_path, history_lookback=("1 min=2 days",))
    with pytest.raises(ValueError, match="duration '2 days' must be a whole number"):
        market_data_service(bad, object())  # type: ignore[arg-type]
