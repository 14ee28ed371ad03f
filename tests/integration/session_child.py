"""A trading session through the app's own composition (`open_engine`, simulated broker,
auto-trade on), in the test's process or, for the test that kills it with SIGKILL, in one
of its own: `python -m tests.integration.session_child DATA_DIR NOCODB_URL TOKEN BASE`.

The strategy trades on demand: `signal_now` hands the running sma_cross a signal on its
symbol's latest bar through the engine's own decision path (journal, sizing, risk checks,
auto-trade, the order manager), as tests/web/harness.py does. The simulator's bars close
once a real minute; waiting for crosses would make a session last hours.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ibtrader.app import Engine, open_engine
from ibtrader.config import Settings
from ibtrader.core.strategy import Signal

STRATEGY = "sma_cross"
SYMBOL = "AAPL"
FAST_HISTORY = ("1 min=1 D", "5 mins=1 D", "15 mins=2 D", "1 hour=5 D", "1 day=1 M")


def session_settings(data_dir: Path, nocodb_url: str, token: str, base: str) -> Settings:
    # sizing capped at 5,000 a position so the risk limits let every entry through
    return Settings(data_dir=data_dir, watchlist=(SYMBOL,), strategies=(STRATEGY,),
                    auto_trade=(STRATEGY,), history_lookback=FAST_HISTORY,
                    max_position_value=5_000, limit_price_policy="marketable:2",
                    breakeven_r=0.0, nocodb_url=nocodb_url, nocodb_api_token=token,
                    nocodb_base=base)


def signal_now(engine: Engine, side: str, reason: str) -> None:
    """The running strategy signals `side` now (call it on the engine's loop)."""
    trading, market = engine.trading, engine.market_data
    [slot] = [s for group in trading._slots.values() for s in group
              if s.symbol == SYMBOL and s.name == STRATEGY]
    bar = market.history(SYMBOL, slot.bar_size)[-1]
    stop = round(bar.close * (0.98 if side == "buy" else 1.02), 2)
    trading._on_signals(slot, [Signal(SYMBOL, side, reason=reason, stop=stop, time=bar.time)],
                        bar, engine.broker.account.account())


def side_of(i: int) -> str:
    return "buy" if i % 2 == 0 else "sell"  # in, out, in, out: orders and fills each time


async def main(data_dir: str, url: str, token: str, base: str) -> None:
    async with open_engine(session_settings(Path(data_dir), url, token, base)) as engine:
        await asyncio.wait_for(asyncio.shield(engine.subscribed), 60)
        print("started", flush=True)
        i = 0
        while True:  # until killed
            signal_now(engine, side_of(i), f"child {i}")
            i += 1
            print(f"signals {i}", flush=True)
            await asyncio.sleep(0.3)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
