"""The object folder, the Parquet bar files and the history cache over a real simulated gateway.

The gateway runs fast (`speed`) and its historical pacing is tightened the same way the
adapter tests do it, so that a few dozen requests fit in seconds. Historical requests are
counted by a thin wrapper that forwards every call to the real IB adapter.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ibtrader.adapters.ib import ConnectionConfig, IBBroker
from ibtrader.adapters.ib.pacing import HistoricalPacingRules
from ibtrader.adapters.objects import FolderObjectStore, InvalidKey
from ibtrader.adapters.objects.parquet_bars import (
    CorruptBarFile,
    ParquetBarStore,
    decode_bars,
    encode_bars,
)
from ibtrader.core.market import Bar, Instrument
from ibtrader.services.history_cache import (
    HistoryCache,
    bars_key,
    duration_seconds,
    gap_duration,
)
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from ibtrader.sim.pacing import PacingRules
from tests.loops import loop_runner

SPEED = 30.0  # simulated seconds per real second: a 1-minute bar every 2 s
LOOKBACK = {"1 min": "7200 S", "5 mins": "1 D", "15 mins": "2 D", "1 hour": "5 D",
            "1 day": "30 D"}
_client_ids = itertools.count(61)


# ----- fixtures shared with test_market_data_service ---------------------------------------

def running_gateway(tmp_path: Path) -> Iterator[SimulatedGateway]:
    """A fast simulated gateway on a free port (a fixture's body)."""
    pacing = PacingRules(historical_per_window=40, historical_window=0.5, identical_within=0.5,
                         same_contract_max=10, same_contract_within=0.5)
    gw = SimulatedGateway(GatewayConfig(port=0, seed=7, state_file=tmp_path / "gw.sqlite",
                                        tick_interval=0.05, speed=SPEED,
                                        pacing=pacing)).start()
    yield gw
    gw.stop()


run = pytest.fixture(loop_runner, name="run")
gateway = pytest.fixture(running_gateway, name="gateway")


def sim_clock(gateway: SimulatedGateway) -> Callable[[], float]:
    """The gateway's accelerated clock, read on our side: the service's `clock`."""
    sim_now, wall_now = gateway.call(gateway.server.clock), time.time()
    return lambda: sim_now + (time.time() - wall_now) * SPEED


def new_broker(gateway: SimulatedGateway) -> IBBroker:
    rules = HistoricalPacingRules(per_window=40, window=0.5, identical_within=0.5,
                                  same_contract_max=10, same_contract_within=0.5)
    return IBBroker(ConnectionConfig(host="127.0.0.1", port=gateway.port,
                                     client_id=next(_client_ids), timeout=10.0),
                    historical_rules=rules)


class CountingPort:
    """The real market-data port, with its historical requests recorded on the way."""

    def __init__(self, port: object) -> None:
        self._port = port
        self.requests: list[tuple[str, str, str]] = []  # (symbol, bar size, duration)

    def __getattr__(self, name: str) -> object:
        return getattr(self._port, name)

    async def historical_bars(self, instrument: Instrument, bar_size: str, duration: str,
                              *args: object, **kwargs: object) -> list[Bar]:
        self.requests.append((instrument.symbol, bar_size, duration))
        return await self._port.historical_bars(instrument, bar_size, duration,  # type: ignore[attr-defined]
                                                *args, **kwargs)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


# ----- the object folder ------------------------------------------------------------------

def test_folder_store_puts_gets_lists_and_deletes(tmp_path: Path):
    store = FolderObjectStore(tmp_path / "objects")
    assert store.list() == [] and not store.exists("a/b.bin")
    store.put("history/AAPL/x.parquet", b"one")
    store.put("charts/eq.png", b"png")
    store.put("history/AAPL/x.parquet", b"two")  # replaced whole
    assert store.get("history/AAPL/x.parquet") == b"two"
    assert store.list() == ["charts/eq.png", "history/AAPL/x.parquet"]
    assert store.list("history/") == ["history/AAPL/x.parquet"]
    assert (tmp_path / "objects" / "charts" / "eq.png").read_bytes() == b"png"
    store.delete("charts/eq.png")
    store.delete("charts/eq.png")
    assert not store.exists("charts/eq.png")
    with pytest.raises(KeyError):
        store.get("charts/eq.png")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "a/../../b", "a//b", "./a"])
def test_folder_store_refuses_keys_that_leave_the_folder(tmp_path: Path, key: str):
    with pytest.raises(InvalidKey, match="must be relative"):
        FolderObjectStore(tmp_path).put(key, b"x")


def test_a_failed_write_leaves_the_old_object_and_no_temp_file(tmp_path: Path):
    store = FolderObjectStore(tmp_path)
    store.put("k/v", b"old")
    with pytest.raises(TypeError):
        store.put("k/v", "not bytes")  # type: ignore[arg-type]
    assert store.get("k/v") == b"old"
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["v"]


# ----- Parquet bar files ------------------------------------------------------------------

def test_bars_survive_a_parquet_round_trip():
    bars = [Bar(60.0 * i, 10 + i, 11 + i, 9 + i, 10.5 + i, 100.0 * i, 10.2 + i, i)
            for i in range(500)]
    assert decode_bars("k", encode_bars(bars)) == bars
    assert bars_key("BRK B", "1 min", "trades", True) == "history/BRK_B/1min/TRADES-rth.parquet"


@pytest.mark.parametrize(("data", "reason"), [
    (b"not parquet at all", "not a Parquet file"),
    (None, "out of order"),
])
def test_unreadable_bar_files_are_reported_as_corrupt(data: bytes | None, reason: str):
    if data is None:
        data = encode_bars([Bar(120.0, 1, 1, 1, 1, 1), Bar(60.0, 1, 1, 1, 1, 1)])
    with pytest.raises(CorruptBarFile, match=reason):
        decode_bars("history/X/1min/TRADES-all.parquet", data)
    truncated = encode_bars([Bar(60.0, 1, 1, 1, 1, 1)])[:-20]
    with pytest.raises(CorruptBarFile, match="not a Parquet file"):
        decode_bars("k", truncated)


def test_gap_durations_use_seconds_up_to_a_day_then_days():
    assert gap_duration(125.2, "1 min") == "126 S"
    assert gap_duration(10, "1 hour") == "3600 S"
    assert gap_duration(3 * 86_400 + 1, "5 mins") == "5 D"
    assert gap_duration(100, "1 day") == "2 D"
    with pytest.raises(ValueError, match="'2 days' must be a whole number and a unit"):
        duration_seconds("2 days")


# ----- the cache over the real gateway ------------------------------------------------------

def test_the_second_load_fetches_only_the_gap_and_a_corrupt_file_is_refetched(
        run, gateway: SimulatedGateway, tmp_path: Path):
    async def scenario() -> None:
        broker = new_broker(gateway)
        await broker.start()
        try:
            port = CountingPort(broker.market_data)
            aapl = await broker.market_data.qualify("AAPL")
            store = FolderObjectStore(tmp_path / "objects")
            cache = HistoryCache(ParquetBarStore(store), LOOKBACK, clock=sim_clock(gateway))

            first = await cache.history(port, aapl, "1 min", "TRADES", False)
            assert port.requests == [("AAPL", "1 min", "7200 S")]
            assert first.cached == 0 and first.fetched == len(first.bars) >= 100
            key = bars_key("AAPL", "1 min", "TRADES", False)
            assert store.exists(key)

            await asyncio.sleep(0.5)  # 15 simulated seconds pass
            second = await cache.history(port, aapl, "1 min", "TRADES", False)
            symbol, size, duration = port.requests[-1]
            assert (symbol, size) == ("AAPL", "1 min")
            assert duration_seconds(duration) < 300  # the gap, not the look-back
            assert second.cached >= len(first.bars) - 1 and 1 <= second.fetched <= 3
            times = [b.time for b in second.bars]
            assert times == sorted(set(times))  # no duplicate, no disorder
            assert times[: len(first.bars) - 1] == [b.time for b in first.bars[:-1]]

            store.put(key, b"garbage, as after a disk fault")
            third = await cache.history(port, aapl, "1 min", "TRADES", False)
            assert "unreadable" in third.problems[0]
            assert port.requests[-1] == ("AAPL", "1 min", "7200 S")
            assert third.cached == 0 and len(third.bars) >= 100
            assert len(ParquetBarStore(store).load(key) or []) == len(third.bars)
        finally:
            await broker.stop()

    run(scenario())


def test_a_cache_that_cannot_be_written_costs_the_cache_not_the_history(
        run, gateway: SimulatedGateway, tmp_path: Path):
    (tmp_path / "objects").mkdir()
    (tmp_path / "objects" / "history").write_text("a file where the cache folder should be")

    async def scenario() -> None:
        broker = new_broker(gateway)
        await broker.start()
        try:
            aapl = await broker.market_data.qualify("AAPL")
            cache = HistoryCache(ParquetBarStore(FolderObjectStore(tmp_path / "objects")),
                                 LOOKBACK, clock=sim_clock(gateway))
            result = await cache.history(broker.market_data, aapl, "1 hour", "TRADES", False)
            assert len(result.bars) >= 100 and result.fetched == len(result.bars)
            assert len(result.problems) == 1 and "history not cached" in result.problems[0]
        finally:
            await broker.stop()

    run(scenario())
