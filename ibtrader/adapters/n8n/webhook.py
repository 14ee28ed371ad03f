"""`N8nSink`: the outbox sink ("n8n") that posts notification events to an n8n webhook.

The body is the event as compact JSON, `{"id", "kind", "time", "data"}`; two headers let the
workflow trust and de-duplicate it: `X-Ibtrader-Event-Id` (the outbox record's id, stable
across retries) and `X-Ibtrader-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>`.

What an answer means for the outbox:
- 2xx: n8n has it (the workflow answers at once and runs on its own);
- 404: the webhook is not registered: the workflow is inactive or n8n is still starting;
  kept and retried (n8n answers 404 for a few seconds after every start, and a record
  dropped then would be lost: `services init` activates the workflow);
- 408, 429 and 5xx, a timeout, a refused connection: retried with backoff;
- any other 4xx: the request itself is wrong, no retry can help: `UndeliverableRecord`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any

import requests

from ibtrader.core.outbox import OutboxRecord, UndeliverableRecord

EVENT_ID_HEADER = "X-Ibtrader-Event-Id"
SIGNATURE_HEADER = "X-Ibtrader-Signature"
_RETRIED_4XX = frozenset({404, 408, 429})


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(record: OutboxRecord) -> bytes:
    """The JSON the workflow receives; the event id is the record's."""
    event: dict[str, Any] = {"id": record.record_id, "kind": record.kind, **record.payload}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


class N8nSink:
    def __init__(self, url: str, secret: str, timeout: float = 10.0,
                 name: str = "n8n") -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"n8n_webhook_url must be an http(s) URL, got {url!r}")
        if not secret:
            raise ValueError("n8n_webhook_url is set but n8n_webhook_secret is empty: the "
                             "workflow refuses unsigned events; set IBTRADER_N8N_WEBHOOK_SECRET "
                             "(and run `ibtrader services init`)")
        if timeout <= 0:
            raise ValueError(f"n8n webhook timeout must be positive, got {timeout}")
        self.name = name
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._local = threading.local()  # a Session per thread: requests' are not shared

    def deliver(self, record: OutboxRecord) -> None:
        body = event_body(record)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   EVENT_ID_HEADER: record.record_id, SIGNATURE_HEADER: sign(self._secret, body)}
        # errors other than the answer's status propagate: the worker retries them
        response = self._session().post(self.url, data=body, headers=headers,
                                        timeout=self.timeout, allow_redirects=False)
        status = response.status_code
        if 200 <= status < 300:
            return
        text = response.text[:300]
        if 400 <= status < 500 and status not in _RETRIED_4XX:
            raise UndeliverableRecord(f"n8n refused event {record.record_id}: HTTP {status} "
                                      f"{text}")
        raise RuntimeError(f"n8n webhook answered HTTP {status} for event "
                           f"{record.record_id}: {text}")

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session
