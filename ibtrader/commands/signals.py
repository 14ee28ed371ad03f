"""`ibtrader signals [SYMBOL…]`: the engine headless, printing what it does as it happens.

Connects to the configured broker (the simulator, started in-process, when no IB host is
configured), backfills history with progress, then streams: every closed bar of the
strategies' bar sizes, a periodic status of the forming bars and the indicators, and
each signal and decision (all journalled to `journal_file`). Decisions stay pending:
there is no order manager here, so nothing is ever sent to the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ibtrader.commands.broker_options import add_broker_options, broker_settings

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.config import Settings
    from ibtrader.core.broker import ConnectionState
    from ibtrader.core.decisions import Decision, SignalRecord
    from ibtrader.core.market import Bar
    from ibtrader.services.market_data import BackfillProgress

PROG = "ibtrader signals"
STATUS_BAR_SIZE = "1 min"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "signals", help="run the strategies headless and print signals and decisions",
        description="Backfill history, stream live bars through the strategies and print "
                    "signals and decisions as they happen (journalled; nothing is ordered).")
    p.add_argument("symbols", nargs="*", metavar="SYMBOL", help="default: the watchlist")
    p.add_argument("--strategy", action="append", metavar="SPEC", dest="strategies",
                   help="NAME or NAME:param=value;…;bar_size=1 min (repeatable); "
                        "default: the `strategies` setting")
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds")
    p.add_argument("--every", type=float, default=10.0, metavar="N",
                   help="seconds between status lines (default 10; 0: none)")
    add_broker_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = broker_settings(args)
    if settings is None:
        return 2
    symbols = [s.upper() for s in args.symbols] or list(settings.watchlist)
    if not symbols:
        print(f"{PROG}: no symbols given and the watchlist is empty", file=sys.stderr)
        return 2
    try:
        return asyncio.run(watch_signals(settings, symbols, args.strategies, args.seconds,
                                         args.every, sys.stdout))
    except KeyboardInterrupt:
        return 0


async def watch_signals(settings: Settings, symbols: Sequence[str],
                        strategies: Sequence[str] | None, seconds: float | None, every: float,
                        out: TextIO) -> int:
    from ibtrader.app import open_engine
    from ibtrader.core.broker import BrokerUnavailable

    try:
        async with open_engine(settings, symbols=symbols, strategies=strategies) as engine:
            printer = Printer(out, engine)
            printer.listen()
            if not engine.trading.status():
                print(f"{PROG}: no strategy can run (see the errors above)", file=sys.stderr)
                return 1
            try:
                await printer.run_for(seconds, every)
            finally:
                printer.summary()
    except BrokerUnavailable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    return 0


class Printer:
    """Turns the engine's events into lines; one line per event, a time stamp first."""

    def __init__(self, out: TextIO, engine: Engine) -> None:
        self.out = out
        self.engine = engine
        self.signals = 0
        self.decisions = 0
        self._done = -1
        self._bar_sizes = {s.bar_size for s in engine.trading.status()}

    def listen(self) -> None:
        market, trading = self.engine.market_data, self.engine.trading
        market.progress_changed += self.progress
        market.bar_closed += self.bar_closed
        trading.signal_emitted += self.signal
        trading.decision_made += self.decision
        trading.decision_changed += self.decision
        trading.strategy_failed += self.strategy_failed
        self.engine.broker.state_changed += self.connection
        for status in trading.status():
            self.line(f"strategy {status.name} on {status.bar_size} bars: "
                      f"{', '.join(status.symbols)}")

    async def run_for(self, seconds: float | None, every: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = math.inf if seconds is None else loop.time() + seconds
        next_status = loop.time() + every if every > 0 else math.inf
        subscribed = self.engine.subscribed
        while loop.time() < deadline:
            await asyncio.sleep(max(0.0, min(deadline, next_status, loop.time() + 1.0)
                                    - loop.time()))
            if subscribed is not None and subscribed.done():
                self._report_subscription(subscribed)
                subscribed = None
            if loop.time() >= next_status:
                self.status()
                next_status += every

    def _report_subscription(self, task: asyncio.Task[object]) -> None:
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            self.line(f"subscription failed: {exc}")
            return
        for symbol, reason in self.engine.market_data.progress.unknown.items():
            self.line(f"{symbol} is not subscribed: {reason}")

    # --- events ----------------------------------------------------------------------------

    def progress(self, p: BackfillProgress) -> None:
        if p.symbols_done == self._done:
            return
        self._done = p.symbols_done
        self.line(f"backfill {p.symbols_done}/{p.symbols_total} symbols, "
                  f"{p.bars_received:,} bars received, {p.bars_cached:,} from the cache, "
                  f"{p.requests} requests")
        if p.finished and p.symbols_total:
            for problem in p.problems:
                self.line(f"backfill problem: {problem}")

    def bar_closed(self, symbol: str, bar_size: str, bar: Bar) -> None:
        if bar_size not in self._bar_sizes:
            return
        values = _values(self._indicators(symbol, bar_size))
        self.line(f"{symbol} {bar_size} bar {_clock(bar.time)} closed {_ohlcv(bar)}"
                  + (f" | {values}" if values else ""))

    def signal(self, record: SignalRecord) -> None:
        self.signals += 1
        s = record.signal
        extra = "".join(f" {k} {_num(v)}" for k, v in (("stop", s.stop), ("target", s.target))
                        if v is not None)
        self.line(f"SIGNAL {record.strategy} {s.symbol} {s.side} strength {s.strength:.2f}"
                  f"{extra}: {s.reason} | {_values(s.values)}")

    def decision(self, d: Decision) -> None:
        self.decisions += 1
        head = f"DECISION {d.state.value} {d.strategy} {d.symbol}"
        if d.state.value == "refused" or not d.side:
            self.line(f"{head}: {d.reason}")
            return
        parts = [f"{d.action} {d.side} {d.quantity:g} @ {_num(d.entry_price)}"]
        parts += [f"{k} {_num(v)}" for k, v in (("stop", d.stop), ("target", d.target))
                  if v is not None]
        if d.risk_amount:
            parts.append(f"risk {d.risk_amount:,.2f}")
        if d.expires:
            parts.append(f"expires {_clock(d.expires)}")
        if d.reason:
            parts.append(f"({d.reason})")
        self.line(f"{head}: {' '.join(parts)}")

    def strategy_failed(self, name: str, symbol: str, error: str) -> None:
        self.line(f"strategy {name} failed on {symbol} and is off there: {error}")

    def connection(self, state: ConnectionState, reason: str) -> None:
        self.line(f"connection {state.value}: {reason}")

    # --- periodic status ---------------------------------------------------------------

    def status(self) -> None:
        market = self.engine.market_data
        for symbol in market.instruments:
            try:
                forming = market.forming(symbol, STATUS_BAR_SIZE)
            except KeyError:  # still backfilling
                continue
            bar = f"{STATUS_BAR_SIZE} forming {_clock(forming.time)} {_ohlcv(forming)}" \
                if forming else "no live bar yet"
            values = "; ".join(f"{name}: {_values(v)}"
                               for name, v in self.engine.trading.indicator_values(symbol).items())
            self.line(f"{symbol} {bar}" + (f" | {values}" if values else ""))

    def summary(self) -> None:
        self.line(f"{self.signals} signals, {self.decisions} decision events, journalled in "
                  f"{self.engine.journal.path}")

    def _indicators(self, symbol: str, bar_size: str) -> dict[str, Any]:
        wanted = {s.name for s in self.engine.trading.status() if s.bar_size == bar_size}
        merged: dict[str, Any] = {}
        for name, values in self.engine.trading.indicator_values(symbol).items():
            if name in wanted:
                merged.update({f"{name}.{k}": v for k, v in values.items()})
        return merged

    def line(self, text: str) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.out.write(f"{stamp} {text}\n")
        self.out.flush()


def _clock(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def _ohlcv(bar: Bar) -> str:
    return (f"O {_num(bar.open)} H {_num(bar.high)} L {_num(bar.low)} C {_num(bar.close)} "
            f"V {bar.volume:,.0f}")


def _num(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _values(values: Mapping[str, Any]) -> str:
    """Indicator values as `name=value`; a value with fields (MACD, bands) as a/b/c."""
    parts = []
    for name, value in values.items():
        if value is None:
            parts.append(f"{name}=warming up")
        elif hasattr(value, "_fields"):
            parts.append(f"{name}=" + "/".join(_num(v) for v in value))
        else:
            parts.append(f"{name}={_num(value)}")
    return " ".join(parts)
