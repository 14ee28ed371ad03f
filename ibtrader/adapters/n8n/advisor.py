"""N8nAdvisor: asks an n8n workflow for a decision over its webhook (the Advisor port of
core/advice.py).

    advisor = N8nAdvisor(settings.n8n_decision_url, timeout=20, secret=..., chart_url=links)
    reply = await advisor.ask(question)     # the decoded JSON answer, or AdviceError

The question is POSTed as JSON with the link to the symbol's chart image added under
`chart` ({"url": ..., "note": ...}; the url is null, and the note says why, when there is
no object store to serve one). The body is signed like the notifications: header
`X-Ibtrader-Signature: sha256=<hex HMAC-SHA256 of the body>` when a secret is set, so the
workflow can refuse posts that are not ours (webhook.py's `sign`). The POST runs in a
thread (requests is blocking); the engine bounds the wait, and requests' own timeout ends
the thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import requests

from ibtrader.adapters.n8n.webhook import SIGNATURE_HEADER, sign
from ibtrader.core.advice import AdviceError

log = logging.getLogger(__name__)

QUESTION_HEADER = "X-Ibtrader-Question-Id"
MAX_REPLY = 64 * 1024  # an answer is a few fields: anything much larger is a wrong workflow

ChartUrl = Callable[[str, str], Awaitable[str | None]]
NO_STORE = "no chart image: no object store is configured (minio_endpoint)"


class N8nAdvisor:
    def __init__(self, url: str, timeout: float = 20.0, secret: str = "",
                 chart_url: ChartUrl | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"n8n_decision_url must be an http(s) URL, got {url!r}")
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._chart_url = chart_url

    def __repr__(self) -> str:
        return f"N8nAdvisor({self.url}, timeout={self.timeout:g})"

    async def ask(self, question: Mapping[str, Any]) -> Any:
        chart = await self._chart(str(question.get("symbol", "")),
                                  str(question.get("bar_size", "")))
        body = json.dumps({**question, "chart": chart}, separators=(",", ":"),
                          allow_nan=False, default=str).encode()
        ident = f"{question.get('symbol')}:{question.get('bar_size')}:{question.get('time')}"
        return await asyncio.to_thread(self._post, body, ident)

    async def _chart(self, symbol: str, bar_size: str) -> dict[str, Any]:
        if self._chart_url is None:
            return {"url": None, "note": NO_STORE}
        try:
            url = await self._chart_url(symbol, bar_size)
        except Exception as exc:  # no chart is no reason to miss the decision
            log.warning("chart image for %s %s not made: %s", symbol, bar_size, exc)
            return {"url": None, "note": f"no chart image: {type(exc).__name__}: {exc}"}
        return {"url": url, "note": "" if url else "no chart image: no bars yet"}

    def _post(self, body: bytes, ident: str) -> Any:
        headers = {"Content-Type": "application/json", QUESTION_HEADER: ident}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, body)
        try:
            response = requests.post(self.url, data=body, headers=headers,
                                     timeout=(min(5.0, self.timeout), self.timeout))
        except requests.Timeout:
            raise AdviceError(f"no answer within {self.timeout:g} s from {self.url}") from None
        except requests.RequestException as exc:
            raise AdviceError(f"n8n is unreachable at {self.url}: {exc}") from None
        text = response.text
        if not response.ok:
            raise AdviceError(f"n8n answered HTTP {response.status_code}: {text[:200]!r}")
        if len(text) > MAX_REPLY:
            raise AdviceError(f"the answer is {len(text)} bytes long (at most {MAX_REPLY})")
        try:
            return json.loads(text) if text.strip() else None
        except ValueError as exc:
            raise AdviceError(f"the answer is not JSON ({exc}): {text[:200]!r}") from None
