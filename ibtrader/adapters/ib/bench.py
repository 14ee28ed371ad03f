"""How much Python time each inbound message costs: ib_async's decode and our dispatch.

`measure_dispatch` connects an `IBBroker` to a running gateway, streams quotes for the
given symbols and, for `seconds`, times three nested layers with perf_counter wrappers:

- the whole socket read (ib_async's framing + decode + ticker events + our handler),
- ib_async's `Decoder.interpret`, once per message (decode and wrapper update),
- ib_async's per-read bookkeeping (`tcpDataArrived`, `tcpDataProcessed`: resetting the
  tickers' tick lists, one `updateEvent` per changed ticker, `pendingTickersEvent`),
- our `pendingTickersEvent` handler, once per socket read (Ticker → Quote, one emit).

Timer overhead is measured and subtracted. Run the gateway in another process (as
`ibtrader bench gateway` does): in-process, its thread competes for the GIL and the
timings include its work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ibtrader.adapters.ib.broker import IBBroker
from ibtrader.adapters.ib.connection import ConnectionConfig
from ibtrader.core.market import Instrument, Quote


@dataclass(frozen=True)
class DispatchMeasurement:
    symbols: int
    seconds: float
    messages: int
    socket_reads: int
    quotes: int
    read_us_per_message: float  # everything done per message, all layers together
    decode_us_per_message: float  # ib_async's decode + wrapper update
    framing_us_per_message: float  # ib_async's split of the byte stream into messages
    ib_async_events_us_per_message: float  # ib_async's per-read ticker bookkeeping, events
    dispatch_us_per_message: float  # our share: Ticker → Quote and the emit
    dispatch_us_per_quote: float

    def lines(self) -> list[str]:
        return [
            f"symbols streamed              {self.symbols}",
            f"measured for                  {self.seconds:.1f} s",
            f"messages / socket reads       {self.messages:,} / {self.socket_reads:,}",
            f"quotes emitted                {self.quotes:,}",
            f"per message, whole read       {self.read_us_per_message:.2f} µs",
            f"  ib_async framing            {self.framing_us_per_message:.2f} µs",
            f"  ib_async decode             {self.decode_us_per_message:.2f} µs",
            f"  ib_async ticker events      {self.ib_async_events_us_per_message:.2f} µs",
            f"  our dispatch                {self.dispatch_us_per_message:.2f} µs",
            f"per quote, our dispatch       {self.dispatch_us_per_quote:.2f} µs",
        ]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Timer:
    """Total perf_counter time and calls of one wrapped function."""

    def __init__(self) -> None:
        self.calls = 0
        self.total = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter

        def timed(*args: Any) -> Any:
            start = clock()
            try:
                return fn(*args)
            finally:
                self.total += clock() - start
                self.calls += 1

        return timed


def _timer_overhead(samples: int = 100_000) -> float:
    """Seconds a `_Timer` wrapper adds to each call."""
    timer = _Timer()
    timed = timer.wrap(lambda *_: None)
    start = time.perf_counter()
    for _ in range(samples):
        timed(None)
    wrapped = time.perf_counter() - start
    bare = lambda *_: None  # noqa: E731
    start = time.perf_counter()
    for _ in range(samples):
        bare(None)
    return max(0.0, (wrapped - (time.perf_counter() - start)) / samples)


async def measure_dispatch(
    host: str, port: int, symbols: Sequence[str], *, seconds: float = 5.0,
    warmup: float = 1.0, client_id: int = 901,
) -> DispatchMeasurement:
    """Stream `symbols` from the gateway at host:port and time each layer per message."""
    broker = IBBroker(ConnectionConfig(host=host, port=port, client_id=client_id, timeout=20))
    await broker.start()
    try:
        found = await broker.market_data.qualify_many(symbols)
        instruments = [r for r in found.values() if isinstance(r, Instrument)]
        for instrument in instruments:
            broker.market_data.subscribe_quotes(instrument)
        await asyncio.sleep(warmup)
        return await _measure(broker, len(instruments), seconds)
    finally:
        await broker.stop()


async def _measure(broker: IBBroker, symbols: int, seconds: float) -> DispatchMeasurement:
    ib, market_data = broker.connection.ib, broker.market_data
    client = ib.client
    timers = {name: _Timer() for name in ("read", "decode", "arrived", "processed", "dispatch")}
    quotes = 0

    def count(batch: list[Quote]) -> None:
        nonlocal quotes
        quotes += len(batch)

    originals = (client.decoder.interpret, client._tcpDataArrived, client._tcpDataProcessed)
    timed_read = timers["read"].wrap(client._onSocketHasData)
    timed_dispatch = timers["dispatch"].wrap(market_data._on_tickers)
    # Swap the timed wrappers in, measure, then put the originals back.
    client.decoder.interpret = timers["decode"].wrap(originals[0])
    client._tcpDataArrived = timers["arrived"].wrap(originals[1])
    client._tcpDataProcessed = timers["processed"].wrap(originals[2])
    client.conn.hasData -= client._onSocketHasData
    client.conn.hasData += timed_read
    ib.pendingTickersEvent -= market_data._on_tickers
    ib.pendingTickersEvent += timed_dispatch
    market_data.quotes_updated += count
    before = client.connectionStats().numMsgRecv
    await asyncio.sleep(seconds)
    messages = client.connectionStats().numMsgRecv - before
    market_data.quotes_updated -= count
    ib.pendingTickersEvent -= timed_dispatch
    ib.pendingTickersEvent += market_data._on_tickers
    client.conn.hasData -= timed_read
    client.conn.hasData += client._onSocketHasData
    client.decoder.interpret, client._tcpDataArrived, client._tcpDataProcessed = originals
    return _result(timers, symbols, seconds, messages, quotes)


def _result(timers: dict[str, _Timer], symbols: int, seconds: float, messages: int,
            quotes: int) -> DispatchMeasurement:
    overhead = _timer_overhead()
    # Each timer's own cost, and that of the timers nested in it, comes off its total.
    own = {name: t.total - t.calls * overhead for name, t in timers.items()}
    nested_calls = sum(timers[n].calls for n in ("decode", "arrived", "processed", "dispatch"))
    read = own["read"] - nested_calls * overhead
    events = (own["arrived"] + own["processed"] - own["dispatch"]
              - timers["dispatch"].calls * overhead)
    per_message = 1e6 / max(messages, 1)
    return DispatchMeasurement(
        symbols=symbols, seconds=seconds, messages=messages, socket_reads=timers["read"].calls,
        quotes=quotes, read_us_per_message=read * per_message,
        decode_us_per_message=own["decode"] * per_message,
        framing_us_per_message=(read - own["decode"] - own["arrived"] - own["processed"])
        * per_message,
        ib_async_events_us_per_message=events * per_message,
        dispatch_us_per_message=own["dispatch"] * per_message,
        dispatch_us_per_quote=own["dispatch"] * 1e6 / max(quotes, 1),
    )
