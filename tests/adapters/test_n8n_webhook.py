"""N8nSink against a local HTTP endpoint: the body, the event id and the signature it sends,
and what each answer means for the outbox (delivered, retried, never deliverable)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from ibtrader.adapters.n8n.webhook import N8nSink
from ibtrader.core.outbox import OutboxRecord, UndeliverableRecord

SECRET = "s3cret"


class Endpoint(ThreadingHTTPServer):
    """Answers every POST with `status` (and sleeps `delay` first), keeping what came."""

    status = 200
    delay = 0.0

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhook/ibtrader-events"


class _Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b'{"message":"Workflow was started"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def record(record_id: str = "order_filled:ibt-7") -> OutboxRecord:
    return OutboxRecord("n8n", record_id, "order_filled",
                        {"time": 1000.5, "data": {"symbol": "NESN", "price": 1e-05,
                                                  "note": "Zürich"}},
                        990.0, 0, 0.0, "", None)


def test_an_event_goes_out_signed_with_its_id(endpoint):
    N8nSink(endpoint.url, SECRET).deliver(record())
    [(headers, body)] = endpoint.received
    assert json.loads(body) == {"id": "order_filled:ibt-7", "kind": "order_filled",
                                "time": 1000.5, "data": {"symbol": "NESN", "price": 1e-05,
                                                         "note": "Zürich"}}
    assert headers["X-Ibtrader-Event-Id"] == "order_filled:ibt-7"
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Ibtrader-Signature"] == f"sha256={expected}"  # of the bytes sent


@pytest.mark.parametrize("status", [400, 401, 403, 413, 422])
def test_a_refused_request_is_undeliverable(endpoint, status):
    endpoint.status = status
    with pytest.raises(UndeliverableRecord, match=f"HTTP {status}"):
        N8nSink(endpoint.url, SECRET).deliver(record())


@pytest.mark.parametrize("status", [404, 408, 429, 500, 503])
def test_a_passing_failure_is_retried(endpoint, status):
    # 404: the workflow is inactive, or n8n has only just started
    endpoint.status = status
    with pytest.raises(RuntimeError, match=f"HTTP {status}") as caught:
        N8nSink(endpoint.url, SECRET).deliver(record())
    assert not isinstance(caught.value, UndeliverableRecord)


def test_a_slow_or_absent_n8n_is_retried(endpoint):
    endpoint.delay = 1.0
    with pytest.raises(requests.exceptions.Timeout):
        N8nSink(endpoint.url, SECRET, timeout=0.2).deliver(record())
    url = endpoint.url
    endpoint.shutdown()
    endpoint.server_close()
    with pytest.raises(requests.exceptions.ConnectionError):
        N8nSink(url, SECRET, timeout=1).deliver(record())


def test_bad_settings_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="IBTRADER_N8N_WEBHOOK_SECRET"):
        N8nSink("http://127.0.0.1:5678/webhook/x", "")
    with pytest.raises(ValueError, match="http"):
        N8nSink("127.0.0.1:5678/webhook/x", SECRET)


def test_the_shipped_workflow_verifies_dedupes_and_leaves_notifiers_disabled():
    from ibtrader.adapters.n8n.workflow import credential_name, default_workflow

    workflow = default_workflow()
    nodes = {n["name"]: n for n in workflow["nodes"]}
    [hook] = [n for n in nodes.values() if n["type"] == "n8n-nodes-base.webhook"]
    assert hook["parameters"]["path"] == "ibtrader-events"
    assert hook["parameters"]["httpMethod"] == "POST"
    assert hook["parameters"]["options"]["rawBody"] is True  # the HMAC is of the exact bytes
    assert credential_name(workflow) == "ibtrader webhook secret"
    [dedupe] = [n for n in nodes.values() if n["type"] == "n8n-nodes-base.removeDuplicates"]
    assert dedupe["parameters"]["operation"] == "removeItemsSeenInPreviousExecutions"
    assert "x-ibtrader-event-id" in dedupe["parameters"]["dedupeValue"]
    for name in ("Telegram", "Send Email"):
        assert nodes[name]["disabled"] is True and "credentials" not in nodes[name]
    linked = {link["node"] for outputs in workflow["connections"].values()
              for branch in outputs["main"] for link in branch}
    assert linked | {hook["name"]} == set(nodes)  # every node is wired in
