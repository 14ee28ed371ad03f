"""A real engine for web tests: simulator, market data, trading engine and order manager on
an asyncio loop of their own thread (as in `ibtrader serve`, where the server's threads and
the engine's loop are apart), with the bridge attached on that loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ibtrader.app import Engine, open_engine
from ibtrader.config import Settings
from ibtrader.core.strategy import Signal
from ibtrader.web.bridge import EngineBridge

T = TypeVar("T")
FAST_HISTORY = ("1 min=1 D", "5 mins=1 D", "15 mins=2 D", "1 hour=5 D", "1 day=1 M")


def web_settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {"data_dir": tmp_path / "data", "watchlist": ("AAPL", "MSFT"),
                            "strategies": (), "history_lookback": FAST_HISTORY}
    return Settings(**{**base, **values})


class LoopThread:
    """An asyncio loop running in a daemon thread; `run(coro)` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="engine-loop",
                                       daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel_rest(), 30.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextlib.contextmanager
def running_engine(settings: Settings, *, wait_for_data: bool = True,
                   **options: Any) -> Iterator[tuple[Engine, EngineBridge, LoopThread]]:
    """The engine started on a loop thread, its symbols backfilled and streaming (unless
    `wait_for_data` is False), and an attached bridge; all stopped afterwards."""
    runner = LoopThread()
    context = open_engine(settings, **options)
    engine = runner.run(context.__aenter__())
    bridge = EngineBridge(engine)
    try:
        if wait_for_data:
            runner.run(asyncio.wait_for(asyncio.shield(engine.subscribed), 60.0))

        async def attach() -> None:
            bridge.attach()

        runner.run(attach())
        yield engine, bridge, runner
    finally:
        async def close() -> None:
            bridge.detach()
            await context.__aexit__(None, None, None)

        try:
            runner.run(close(), 60.0)
        finally:
            runner.close()


def signal_now(engine: Engine, bridge: EngineBridge, symbol: str, side: str,
               reason: str = "test", strategy: str = "sma_cross") -> None:
    """The running `strategy` signals now on `symbol`, through the engine's own decision
    path (journal, sizing, the pending list and its events), on the engine's loop. It
    reaches into the engine's slots: no public call makes a strategy signal on demand."""
    trading, market = engine.trading, engine.market_data

    def emit() -> None:
        [slot] = [s for group in trading._slots.values() for s in group
                  if s.symbol == symbol and s.name == strategy]
        bar = market.history(symbol, slot.bar_size)[-1]
        stop = round(bar.close * (0.98 if side == "buy" else 1.02), 2)
        trading._on_signals(slot, [Signal(symbol, side, reason=reason, stop=stop,
                                          time=bar.time)],
                            bar, engine.broker.account.account())

    bridge.call(emit)
