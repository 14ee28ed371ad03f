"""The trading panels' rig: one qasync loop (as the app runs) and a real engine against the
simulated gateway started in-process, with its data folder under tmp_path.

The loop is made with `already_running=True`, so qtbot's waits drive asyncio too; a test
runs a coroutine with `drive(qtbot, coro)` (the loop is never stopped: see STACK_NOTES).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync

from ibtrader.app import Engine, open_engine
from ibtrader.config import Settings
from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.request import OrderRequest, new_client_key

T = TypeVar("T")


def drive(qtbot: Any, coro: Awaitable[T], timeout: float = 20.0) -> T:
    """Run `coro` on the shared loop while Qt processes events; its result or its error."""
    task = asyncio.ensure_future(asyncio.wait_for(coro, timeout))
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000) + 2_000)
    return task.result()


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    # a plain thread pool, joined at the end: qasync's own leaves QThreads running at exit
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gui-test")
    loop.set_default_executor(pool)
    asyncio.set_event_loop(loop)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    pool.shutdown(wait=True, cancel_futures=True)
    asyncio.set_event_loop(None)


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    values = {"watchlist": ("AAPL",), "strategies": (), **values}
    return Settings(data_dir=tmp_path / "data", **values)


EngineFactory = Callable[..., Engine]


@pytest.fixture
def engine_for(qtbot: Any, qloop: asyncio.AbstractEventLoop,
               tmp_path: Path) -> Iterator[EngineFactory]:
    """Opens the real engine (simulator, market data, trading engine, order manager);
    closes it after the test."""
    opened: list[Any] = []

    def make(settings: Settings | None = None, **options: Any) -> Engine:
        context = open_engine(settings or settings_for(tmp_path), **options)
        engine = drive(qtbot, context.__aenter__(), 30.0)
        opened.append(context)
        return engine

    yield make
    for context in reversed(opened):
        drive(qtbot, context.__aexit__(None, None, None), 30.0)


def limit_request(symbol: str, side: str, quantity: float, limit: float) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, quantity=quantity, order_type="lmt",
                        limit=limit, client_key=new_client_key(time.time()))


def quote_of(qtbot: Any, engine: Engine, symbol: str = "AAPL") -> Quote:
    """The symbol's quote as the order manager holds it (subscribing first). The manager
    waits `order_quote_timeout` for a first quote; on a loaded machine (other suites on
    the same two cores) the first one can come later, so this waits longer."""
    drive(qtbot, engine.orders.current_quote(symbol))
    qtbot.waitUntil(lambda: engine.orders.quote(symbol) is not None, timeout=20_000)
    return engine.orders.quote(symbol)


def resting_buy(qtbot: Any, engine: Engine, quantity: float = 5) -> Order:
    """A buy limit 2% under the bid: it works and does not fill."""
    quote = quote_of(qtbot, engine)
    price = round(quote.bid * 0.98, 2)
    return drive(qtbot, engine.orders.place(limit_request("AAPL", "buy", quantity, price)))
