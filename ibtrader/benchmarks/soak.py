"""`ibtrader bench gateway --soak SECONDS`: the IB adapter against the gateway, for a long
time, with all 100 market-data lines in use and historical requests asked for faster than
IB allows; the gateway counts every pacing violation. The goal is zero.

The adapter's historical scheduler and ib_async's outbound throttle must absorb the
excess: requests wait, nothing is refused by the gateway.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import asdict, dataclass

from ibtrader.benchmarks.gateway import gateway_process
from ibtrader.sim.control import send_command

HISTORY_EVERY = 0.5  # seconds between historical requests asked for: 20x IB's 60 per 10 min


@dataclass(frozen=True)
class SoakResult:
    symbols: int
    seconds: float
    quotes_received: int
    historical_requested: int
    historical_completed: int
    messages_to_gateway: int
    pacing_violations: int
    historical_pacing_violations: int

    def lines(self) -> list[str]:
        return [
            f"soaked for                    {self.seconds:.0f} s with {self.symbols} symbols",
            f"quotes received               {self.quotes_received:,}",
            f"historical requests asked     {self.historical_requested}"
            f" (completed {self.historical_completed}, the rest still queued by the scheduler)",
            f"messages sent to the gateway  {self.messages_to_gateway:,}",
            f"message-rate violations       {self.pacing_violations}",
            f"historical pacing violations  {self.historical_pacing_violations}",
        ]

    def as_dict(self) -> dict:
        return asdict(self)


async def _soak(port: int, symbols: list[str], seconds: float) -> tuple[int, int, int]:
    from ibtrader.adapters.ib.broker import IBBroker
    from ibtrader.adapters.ib.connection import ConnectionConfig

    broker = IBBroker(ConnectionConfig(host="127.0.0.1", port=port, client_id=1, timeout=20))
    await broker.start()
    market = broker.market_data
    found = await market.qualify_many(symbols)
    instruments = [i for i in found.values() if not isinstance(i, Exception)]
    quotes = 0

    def count(batch: list) -> None:
        nonlocal quotes
        quotes += len(batch)

    market.quotes_updated += count
    for instrument in instruments:
        market.subscribe_quotes(instrument)
    requested = 0
    history: set[asyncio.Task] = set()
    rng = random.Random(1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        instrument = rng.choice(instruments)
        bar_size = rng.choice(["1 min", "5 mins", "1 hour"])
        history.add(asyncio.create_task(market.historical_bars(instrument, bar_size, "1 D")))
        requested += 1
        await asyncio.sleep(min(HISTORY_EVERY, max(deadline - time.monotonic(), 0)))
    completed = sum(1 for t in history if t.done() and not t.cancelled() and not t.exception())
    for task in history:
        task.cancel()
    await asyncio.gather(*history, return_exceptions=True)
    await broker.stop()
    return quotes, requested, completed


def run_soak(symbols: int = 100, seconds: float = 60.0) -> SoakResult:
    names = [f"SIM{i:03d}" for i in range(symbols)]
    with gateway_process(symbols, tick_interval=0.25) as (port, _pid, control):
        quotes, requested, completed = asyncio.run(_soak(port, names, seconds))
        reply = send_command(control, "stats")
    stats = json.loads(reply.removeprefix("ok "))
    return SoakResult(
        symbols=symbols, seconds=seconds, quotes_received=quotes,
        historical_requested=requested, historical_completed=completed,
        messages_to_gateway=stats["messages_in"],
        pacing_violations=stats["pacing_violations"],
        historical_pacing_violations=stats["historical_pacing_violations"],
    )
