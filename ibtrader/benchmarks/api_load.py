"""The load side of `ibtrader bench api`: a separate process sending HTTP requests on
loopback and timing each one. It imports nothing of the app (the server's process is
the one measured), only the standard library.

    python -m ibtrader.benchmarks.api_load '{"url": "http://127.0.0.1:8050",
        "path": "/api/v1/quotes", "key": "...", "seconds": 5, "connections": 4}'

Two shapes of load:
- closed loop (`rate` 0): each connection sends its next request as soon as the last
  answer is in — the most the server gives;
- paced (`rate` R): R requests a second in all, on a fixed schedule, whatever the answers
  take — the load of a dashboard or a script, for measuring what it costs the engine.
A POST body can name `{symbol}` and `{n}`: symbols are taken in turn, n counts requests.
Prints one JSON object: requests, errors, status counts, requests/s, latency percentiles.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import urllib.parse
from typing import Any


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _Worker(threading.Thread):
    def __init__(self, spec: dict[str, Any], index: int, start_at: float,
                 stop_at: float) -> None:
        super().__init__(daemon=True)
        self.spec, self.index = spec, index
        self.start_at, self.stop_at = start_at, stop_at
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        spec = self.spec
        url = urllib.parse.urlsplit(spec["url"])
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {"X-API-Key": spec["key"], "Content-Type": "application/json",
                   "Connection": "keep-alive"}
        method = spec.get("method", "GET")
        body_template = spec.get("body")
        symbols = spec.get("symbols") or [""]
        connections = spec.get("connections", 1)
        interval = connections / spec["rate"] if spec.get("rate") else 0.0
        n = self.index
        next_at = self.start_at + (self.index * interval / connections if interval else 0.0)
        while True:
            if interval:
                now = time.perf_counter()
                if next_at > now:
                    time.sleep(next_at - now)
            if time.perf_counter() >= self.stop_at:
                break
            body = None
            if body_template is not None:
                body = json.dumps(body_template).replace(
                    "{symbol}", symbols[n % len(symbols)]).replace("{n}", str(n))
            began = time.perf_counter()
            try:
                connection.request(method, spec["path"], body=body, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                next_at += interval
                n += connections
                continue
            self.latencies.append(time.perf_counter() - began)
            self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            next_at += interval
            n += connections
        connection.close()


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    connections = int(spec.get("connections", 1))
    start_at = time.perf_counter() + 0.2  # every thread ready before the first request
    stop_at = start_at + float(spec["seconds"])
    workers = [_Worker(spec, i, start_at, stop_at) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = max(time.perf_counter(), stop_at) - start_at
    latencies = sorted(x for w in workers for x in w.latencies)
    statuses: dict[str, int] = {}
    for worker in workers:
        for status, count in worker.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    errors = [e for w in workers for e in w.errors]
    ms = 1000.0
    return {
        "requests": len(latencies), "errors": len(errors), "first_errors": errors[:3],
        "statuses": statuses, "seconds": round(elapsed, 3),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": _round(_percentile(latencies, 0.50), ms),
        "p90_ms": _round(_percentile(latencies, 0.90), ms),
        "p99_ms": _round(_percentile(latencies, 0.99), ms),
        "max_ms": _round(latencies[-1] if latencies else None, ms),
    }


def _round(value: float | None, scale: float) -> float | None:
    return None if value is None else round(value * scale, 3)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    print(json.dumps(run_load(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
