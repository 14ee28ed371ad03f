"""`ibtrader bench api`: what the REST API gives, and what it costs the engine.

The server side is the app as `ibtrader serve` runs it, in this process: the simulated
gateway streaming `symbols` symbols (default 100) into the engine (market data, the
default strategies, the order manager), and the web runtime (Flask on waitress threads)
attached through the bridge. The load comes from another process on loopback
(`api_load`, standard library only), so the client's work is not the server's.

Phases, each `seconds` long:
The engine runs the default watchlist (8 symbols, backfilled, the default strategies);
synthetic symbols SIM000… add quote streams on top, up to `symbols` or IBKR's 100
market-data lines (8 + 84 = 92 symbols by default: the watchlist's take two lines each).

1. peer: a bare Flask app on the same waitress server, answering the same 100 quotes as a
   fixed JSON document behind the same API-key header check — the framework's floor, so
   "ours / peer" is what the bridge, the snapshots and authentication add;
2. `GET /api/v1/quotes` (every symbol), closed loop over `connections` keep-alive
   connections: requests/s, p50/p99 (goal: >= 1,000 req/s with p99 <= 10 ms);
3. `POST /api/v1/orders`, paced at `order_rate`/s (IBKR takes at most 50 messages a second
   from a client, so placement is paced, not flooded): 1-share limit buys priced 20 ticks
   under the last trade by the order manager's policy, each one journalled and sent;
4. the cost to the engine: `rate` req/s (default 50) of `GET /api/v1/quotes`, paced, for
   `2 * seconds`; the CPU time the web server's threads took in that window, read per
   thread (`pthread_getcpuclockid`, ns resolution). The process has one interpreter lock,
   so that time is at most what the engine's loop lost: as a share of one core it is the
   share of a saturated loop's throughput the API takes (goal: <= 2%). The same for the
   peer gives the framework's floor. (Saturating the loop with a probe instead starves
   the server's threads of the lock — the convoy effect — and the load never arrives.)
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ibtrader.adapters.ib.lines import DEFAULT_LINES
from ibtrader.core.market import Instrument

GOAL_RPS = 1_000
GOAL_P99_MS = 10.0
GOAL_LOOP_COST_PCT = 2.0
FAST_HISTORY = ("1 min=1 D", "5 mins=1 D", "15 mins=2 D", "1 hour=5 D", "1 day=1 M")
ORDER_BODY = {"symbol": "{symbol}", "side": "buy", "quantity": 1, "order_type": "lmt",
              "policy": "last-20", "tif": "day"}


@dataclass
class ApiBenchResult:
    symbols: int
    connections: int
    seconds: float
    peer_quotes: dict[str, Any]
    quotes: dict[str, Any]
    orders: dict[str, Any]
    cost: dict[str, Any] = field(default_factory=dict)  # ours: load + web threads' CPU
    peer_cost: dict[str, Any] = field(default_factory=dict)

    @property
    def loop_cost_pct(self) -> float:
        return float(self.cost.get("cpu_share_pct", float("nan")))

    def lines(self) -> list[str]:
        q, p, o = self.quotes, self.peer_quotes, self.orders
        ratio = q["requests_per_s"] / p["requests_per_s"] if p["requests_per_s"] else 0.0
        quotes_ok = q["requests_per_s"] >= GOAL_RPS and (q["p99_ms"] or 1e9) <= GOAL_P99_MS
        cost = self.loop_cost_pct
        cost_ok = "met" if cost <= GOAL_LOOP_COST_PCT else "MISSED"
        return [
            f"API bench: {self.symbols} symbols streaming, {self.connections} connections, "
            f"{self.seconds:g} s per phase, load from a separate process on loopback",
            _line("peer: bare Flask, same quotes", p),
            _line("GET /api/v1/quotes", q) + f"  = {ratio:.2f}x the peer's req/s  "
            f"[goal >= {GOAL_RPS} req/s, p99 <= {GOAL_P99_MS:g} ms: "
            f"{'met' if quotes_ok else 'MISSED'}]",
            _line(f"POST /api/v1/orders (paced {o.get('rate', 0):g}/s)", o),
            _cost_line("cost to the engine, ours", self.cost)
            + f"  [goal <= {GOAL_LOOP_COST_PCT:g}%: {cost_ok}]",
            _cost_line("the peer, same load", self.peer_cost),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "loop_cost_pct": self.loop_cost_pct}


def _line(name: str, r: dict[str, Any]) -> str:
    return (f"  {name:<38} {r['requests_per_s']:>8,.0f} req/s  p50 {r['p50_ms']} ms  "
            f"p99 {r['p99_ms']} ms  max {r['max_ms']} ms  statuses {r['statuses']}"
            + (f"  errors {r['errors']}" if r.get("errors") else ""))


def _cost_line(name: str, c: dict[str, Any]) -> str:
    return (f"  {name:<38} {c['requests_per_s']:>8,.1f} req/s  web threads' CPU "
            f"{c['cpu_ms_per_request']:.3f} ms/request = {c['cpu_share_pct']:.2f}% of a core"
            f"  (p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_api_bench(*, seconds: float = 5.0, symbols: int = 100, connections: int = 2,
                  rate: float = 50.0, order_rate: float = 20.0,
                  progress: Callable[[str], None] | None = None) -> ApiBenchResult:
    progress = progress or (lambda _line: None)
    with tempfile.TemporaryDirectory(prefix="ibtrader-bench-api-") as folder:
        return asyncio.run(_bench(Path(folder), seconds, symbols, connections, rate,
                                  order_rate, progress))


def _settings(folder: Path, symbols: int) -> Any:
    from ibtrader.config import load_settings

    return load_settings(env={
        "IBTRADER_DATA_DIR": str(folder), "IBTRADER_SIM_EXTRA_SYMBOLS": str(symbols),
        "IBTRADER_HISTORY_LOOKBACK": ",".join(FAST_HISTORY),
        "IBTRADER_WEB_PORT": str(free_port()), "IBTRADER_LOG_LEVEL": "WARNING",
        "IBTRADER_MAX_ORDERS_PER_MINUTE": "0", "IBTRADER_DAILY_LOSS_LIMIT": "0",
        "IBTRADER_MAX_GROSS_EXPOSURE": "0", "IBTRADER_MAX_POSITION_VALUE_PER_SYMBOL": "0"})


async def _bench(folder: Path, seconds: float, symbols: int, connections: int, rate: float,
                 order_rate: float,
                 progress: Callable[[str], None]) -> ApiBenchResult:
    from ibtrader.app import open_engine
    from ibtrader.logging_setup import configure_logging
    from ibtrader.web.credentials import CredentialStore, store_path
    from ibtrader.web.runtime import WebRuntime

    settings = _settings(folder, symbols)
    configure_logging(settings, console=False)  # the log file in the temp folder
    key = CredentialStore(store_path(settings.data_dir)).create_key("bench").key
    runtime = WebRuntime(settings)
    runtime.start()
    try:
        async with open_engine(settings) as engine:
            progress("backfilling the watchlist ...")
            await asyncio.wait_for(asyncio.shield(engine.subscribed), 300)
            runtime.attach(engine)
            bridge = runtime.context.bridge
            symbols = await _stream_quotes(engine, symbols)
            await _until(lambda: len(bridge.quotes()) >= symbols, 120,
                         lambda: f"{len(bridge.quotes())} of {symbols} symbols quoted")
            stocks = [n for n, i in engine.market_data.instruments.items()
                      if i.sec_type == "STK"]
            common = {"key": key, "seconds": seconds, "connections": connections}
            peer = _peer_server(bridge.quotes(), key)
            try:
                progress("peer: bare Flask ...")
                peer_quotes = await _load({**common, "url": peer.url,
                                           "path": "/api/v1/quotes"})
                progress(f"peer at {rate:g} req/s: its threads' CPU ...")
                peer_cost = await _cost(peer.url, key, rate, seconds)
            finally:
                peer.stop()
            progress("GET /api/v1/quotes ...")
            quotes = await _load({**common, "url": runtime.url, "path": "/api/v1/quotes"})
            progress(f"POST /api/v1/orders at {order_rate:g}/s ...")
            placing = {**common, "url": runtime.url, "path": "/api/v1/orders",
                       "method": "POST", "body": ORDER_BODY, "symbols": stocks,
                       "rate": order_rate}
            # the first order of a symbol qualifies it and subscribes its quotes: not timed
            await _load({**placing, "seconds": 0.5, "rate": 2 * len(stocks) or 1.0})
            orders = await _load(placing)
            orders["rate"] = order_rate
            await engine.orders.cancel_all()
            progress(f"GET /api/v1/quotes at {rate:g} req/s: the web threads' CPU ...")
            cost = await _cost(runtime.url, key, rate, seconds)
            runtime.detach()
    finally:
        runtime.stop()
    return ApiBenchResult(symbols, connections, seconds, peer_quotes, quotes, orders,
                          cost, peer_cost)


async def _stream_quotes(engine: Any, count: int) -> int:
    """Quote streams of synthetic symbols on top of the watchlist's, up to `count` symbols
    streaming in all or IBKR's 100 market-data lines (each watchlist symbol holds two: its
    quotes and its 5-s bars). Backfilling 100 symbols' five bar sizes instead would take
    IBKR's historical pacing (60 requests per 10 min) over an hour, and the API reads
    quotes, not history. Returns how many symbols stream."""
    port = engine.broker.market_data
    watched = len(engine.market_data.instruments)
    extra = max(0, min(count - watched, DEFAULT_LINES - 2 * watched))
    found = await port.qualify_many([f"SIM{i:03d}" for i in range(extra)])
    for instrument in found.values():
        if isinstance(instrument, Instrument):
            port.subscribe_quotes(instrument)
    return watched + extra


async def _until(predicate: Callable[[], bool], timeout: float,
                 what: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not in {timeout:g} s: {what()}")
        await asyncio.sleep(0.05)


async def _load(spec: dict[str, Any]) -> dict[str, Any]:
    """One load process; the engine's loop goes on while it runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ibtrader.benchmarks.api_load", json.dumps(spec),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the load process failed: {err.decode()[-2000:]}")
    return json.loads(out)


def _peer_server(quotes: dict[str, Any], key: str) -> Any:
    """The same quotes as a fixed document from a bare Flask app on the same server."""
    import hmac

    from flask import Flask, Response, request

    from ibtrader.web.serialize import quote_json
    from ibtrader.web.server import WebServer

    body = json.dumps({"quotes": [quote_json(q) for q in quotes.values()]})
    app = Flask("peer")

    @app.get("/api/v1/quotes")
    def all_quotes() -> Response:
        if not hmac.compare_digest(request.headers.get("X-API-Key", ""), key):
            return Response(status=401)
        return Response(body, content_type="application/json")

    return WebServer(app, port=0).start()


WEB_THREADS = ("waitress-", "web-server", "web-tls")


def web_threads_cpu() -> float:
    """CPU seconds the web server's threads have used so far (any server in the process)."""
    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith(WEB_THREADS) and thread.ident is not None:
            try:
                total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except (OSError, AttributeError):  # a thread that just ended; no such clock
                continue
    return total


async def _cost(url: str, key: str, rate: float, seconds: float) -> dict[str, Any]:
    """Paced reads for 2 * `seconds`; the web threads' CPU in that window, per request and
    as a share of one core."""
    window = 2 * seconds
    before = web_threads_cpu()
    load = await _load({"key": key, "seconds": window, "connections": 2, "url": url,
                        "path": "/api/v1/quotes", "rate": rate})
    used = web_threads_cpu() - before
    requests = max(1, load["requests"])
    return {**load, "cpu_seconds": round(used, 4),
            "cpu_ms_per_request": 1000.0 * used / requests,
            "cpu_share_pct": 100.0 * used / load["seconds"]}
