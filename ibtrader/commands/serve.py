"""`ibtrader serve`: the engine and the web layer (API, dashboard, event stream), no Qt.

For a server or a container. The web server listens first (the API answers 503 while the
engine starts), then the engine comes up and is attached. SIGINT or SIGTERM stops it in
order: the web server (streams end, requests in flight finish), the bridge, the engine
(open orders stay at the broker; the journal is closed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ibtrader.commands.broker_options import add_broker_options, broker_settings

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.web.runtime import WebRuntime

PROG = "ibtrader serve"
log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="run the engine with the web dashboard and API, without a window",
        description="Run the engine headless with the web layer: the REST API, the live "
                    "event stream and the dashboard. Stops cleanly on SIGINT or SIGTERM; "
                    "open orders stay at the broker.")
    p.add_argument("--host", metavar="HOST", help="listen on HOST (default: the web_host "
                                                  "setting, 127.0.0.1)")
    p.add_argument("--port", type=_port, metavar="PORT",
                   help="listen on PORT (default: the web_port setting, 8050)")
    p.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="default: the watchlist")
    add_broker_options(p)
    p.set_defaults(handler=run)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, got {port}")
    return port


def run(args: argparse.Namespace) -> int:
    settings = broker_settings(args)
    if settings is None:
        return 2
    changes: dict[str, object] = {}
    if args.host:
        changes["web_host"] = args.host
    if args.port is not None:
        changes["web_port"] = args.port
    settings = dataclasses.replace(settings, **changes) if changes else settings
    symbols = [s.upper() for s in args.symbols] if args.symbols else None
    return asyncio.run(serve(settings, symbols, sys.stdout))


async def serve(settings: Settings, symbols: Sequence[str] | None, out: TextIO) -> int:
    from ibtrader.backtest.jobs import BacktestJobs
    from ibtrader.web.runtime import WebRuntime
    from ibtrader.web.tls import TlsError

    stop = asyncio.Event()
    _on_signals(stop)
    with BacktestJobs(settings) as jobs:  # closed last: backtest workers end with the app
        try:
            web = WebRuntime(settings, jobs=jobs)
            await asyncio.to_thread(web.start)
        except TlsError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"{PROG}: cannot listen on {settings.web_host}:{settings.web_port}: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 2
        code = await _serve_engine(settings, symbols, web, stop, out)
    if code == 0:
        say(out, "stopped (open orders stay at the broker; the journal is closed)")
        log.info("ibtrader serve stopped")
    return code


async def _serve_engine(settings: Settings, symbols: Sequence[str] | None, web: WebRuntime,
                        stop: asyncio.Event, out: TextIO) -> int:
    from ibtrader.app import open_engine
    from ibtrader.core.broker import BrokerUnavailable

    say(out, f"web dashboard and API at {web.url} (engine starting)")
    await asyncio.to_thread(_print_access_hints, web, out)
    try:
        async with open_engine(settings, symbols=symbols) as engine:
            web.attach(engine)
            say(out, "engine running; Ctrl-C or SIGTERM stops")
            await stop.wait()
            say(out, "stopping: web server first, then the engine")
            await asyncio.to_thread(web.stop)
            web.detach()
    except BrokerUnavailable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    finally:
        await asyncio.to_thread(web.stop)  # again, harmless: for an engine that failed
    return 0


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))


def _print_access_hints(web: WebRuntime, out: TextIO) -> None:
    """How to get in when no credential exists yet (nothing secret is printed)."""
    store = web.credentials
    if not any(k.active for k in store.list_keys()):
        say(out, "no API key yet: `ibtrader apikey create NAME` makes one "
                 "(send it as X-API-Key or a Bearer token)")
    if not store.has_password():
        say(out, "no dashboard password yet: `ibtrader web set-password` sets one")


def say(out: TextIO, text: str) -> None:
    out.write(f"{PROG}: {text}\n")
    with contextlib.suppress(ValueError, OSError):
        out.flush()
