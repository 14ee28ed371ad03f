"""Health and metrics, cheap enough to poll every second.

- `GET /api/v1/health` (public, like a load balancer's probe): broker connection, age of the
  newest quote, the remote-service outbox, the last error. 200 while the engine runs and
  the broker is connected, 503 otherwise, with the same body.
- `GET /metrics` (authenticated: a Prometheus scrape sends its key as a Bearer token):
  Prometheus' text format from the app's own registry.

Every request's time is recorded per endpoint (the API latency histogram).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, jsonify, request

from ibtrader.web import security
from ibtrader.web.context import web_context
from ibtrader.web.metrics import CONTENT_TYPE

blueprint = Blueprint("monitoring", __name__)


@blueprint.before_app_request
def _start_clock() -> None:
    g.started = time.perf_counter()


@blueprint.after_app_request
def _record(response: Response) -> Response:
    started = g.get("started")
    if started is not None and request.endpoint != "api.events":  # a stream is not a latency
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics = web_context().metrics
        metrics.api_latency.labels(request.method, endpoint).observe(
            time.perf_counter() - started)
        metrics.api_requests.labels(request.method, endpoint, str(response.status_code)).inc()
    return response


@blueprint.get("/api/v1/health")
@security.public
def health() -> tuple[Response, int]:
    context = web_context()
    bridge = context.bridge
    engine_running = bridge is not None and bridge.running
    connection = bridge.snapshot.connection if bridge is not None else {
        "state": "disconnected", "reason": "the engine is starting"}
    depth, oldest = bridge.outbox_depth() if bridge is not None else (0, None)
    age = bridge.data_age() if bridge is not None else None
    healthy = engine_running and connection["state"] == "connected"
    body = {
        "status": "ok" if healthy else "degraded",
        "engine": "running" if engine_running else "stopped",
        "broker": connection,
        "data_age_seconds": None if age is None else round(age, 3),
        "outbox": {"depth": depth, "oldest_age_seconds": oldest},
        "last_error": bridge.snapshot.last_error if bridge is not None else None,
        "streams": bridge.hub.listeners if bridge is not None else 0,
        "time": time.time(),
    }
    return jsonify(body), 200 if healthy else 503


@blueprint.get("/metrics")
def metrics() -> Response:
    context = web_context()
    if context.bridge is not None:  # read here, on the scrape's thread, not on the loop
        context.metrics.streams.set(context.bridge.hub.listeners)
        context.metrics.outbox_depth.set(context.bridge.outbox_depth()[0])
    return Response(context.metrics.render(), mimetype=None, content_type=CONTENT_TYPE)
