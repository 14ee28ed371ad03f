"""`ibtrader quotes SYMBOL…`: stream live quotes in the terminal until Ctrl-C or --seconds.

Connects to the configured broker (the simulator, started in-process, when no IB host is
configured), qualifies the symbols, subscribes, and shows a table of bid/ask/last/volume:
refreshed in place a few times a second on a terminal, printed as repeated snapshots
when the output is a file or a pipe.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ibtrader.commands.broker_options import add_broker_options, broker_settings
from ibtrader.commands.quote_table import QuoteTable

if TYPE_CHECKING:
    from ibtrader.adapters.ib import IBBroker
    from ibtrader.config import Settings
    from ibtrader.core.broker import BrokerError, ConnectionState
    from ibtrader.core.market import Instrument

TERMINAL_REFRESH = 0.25  # seconds between repaints on a terminal
SNAPSHOT_EVERY = 1.0  # seconds between snapshots to a file or pipe
PROG = "ibtrader quotes"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "quotes", help="stream live quotes in the terminal",
        description="Stream live quotes (bid, ask, last, volume) until Ctrl-C or --seconds. "
                    "Without an IB host configured, the simulated gateway is started in-process.")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL",
                   help="AAPL, SPY, EURUSD, ES (front month), ESZ6 …; default: the watchlist")
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds")
    add_broker_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = broker_settings(args)
    if settings is None:
        return 2
    symbols = list(args.symbols) or list(settings.watchlist)
    if not symbols:
        print(f"{PROG}: no symbols given and the watchlist is empty", file=sys.stderr)
        return 2
    try:
        return asyncio.run(stream_quotes(settings, symbols, args.seconds, sys.stdout))
    except KeyboardInterrupt:  # asyncio.run has cancelled the stream and disconnected
        return 0


async def stream_quotes(settings: Settings, symbols: Sequence[str], seconds: float | None,
                        out: TextIO) -> int:
    from ibtrader.app import open_broker
    from ibtrader.core.broker import BrokerUnavailable

    try:
        async with open_broker(settings) as broker:
            instruments = await _qualify(broker, symbols)
            if not instruments:
                print(f"{PROG}: none of the symbols is known to the broker", file=sys.stderr)
                return 1
            await _show(broker, instruments, seconds, out)
    except BrokerUnavailable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _qualify(broker: IBBroker, symbols: Sequence[str]) -> list[Instrument]:
    from ibtrader.core.market import Instrument

    found = await broker.market_data.qualify_many(list(dict.fromkeys(symbols)))
    instruments: dict[str, Instrument] = {}
    for result in found.values():
        if isinstance(result, Instrument):
            instruments.setdefault(result.symbol, result)
        else:
            print(f"{PROG}: skipping {result}", file=sys.stderr)
    return list(instruments.values())


async def _show(broker: IBBroker, instruments: list[Instrument], seconds: float | None,
                out: TextIO) -> None:
    table = QuoteTable(instruments)
    address = broker.connection.address

    def on_state(state: ConnectionState, reason: str) -> None:
        table.status = f"{state.value}: {reason}"
        table.changed = True

    def on_error(error: BrokerError) -> None:
        if not error.is_warning:
            table.status = str(error)
            table.changed = True

    table.status = f"connected to {address}"
    broker.market_data.quotes_updated += table.update
    broker.state_changed += on_state
    broker.error_received += on_error
    for instrument in instruments:
        broker.market_data.subscribe_quotes(instrument)
    painter = _Painter(out)
    try:
        await _repaint_until(table, painter, seconds)
    finally:
        broker.market_data.quotes_updated -= table.update
        broker.state_changed -= on_state
        broker.error_received -= on_error
        painter.close(table)


async def _repaint_until(table: QuoteTable, painter: _Painter, seconds: float | None) -> None:
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    interval = TERMINAL_REFRESH if painter.in_place else SNAPSHOT_EVERY
    while deadline is None or loop.time() < deadline:
        wait = interval if deadline is None else min(interval, deadline - loop.time())
        await asyncio.sleep(max(wait, 0))
        if table.changed:
            table.changed = False
            painter.paint(table.lines())


class _Painter:
    """Repaints the table in place on a terminal; appends snapshots elsewhere."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.in_place = out.isatty()
        self._painted = 0  # lines on screen from the last paint
        self._last: list[str] = []

    def paint(self, lines: list[str]) -> None:
        self._last = lines
        if not self.in_place:
            self.out.write("\n".join(lines) + "\n\n")
        else:
            up = f"\x1b[{self._painted}F" if self._painted else "\x1b[?25l"  # hide the cursor
            self.out.write(up + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
            self._painted = len(lines)
        self.out.flush()

    def close(self, table: QuoteTable) -> None:
        """A last paint if anything changed since, so the final numbers are always shown."""
        if table.changed or not self._last:
            table.changed = False
            self.paint(table.lines())
        if self.in_place:
            self.out.write("\x1b[?25h")
            self.out.flush()
