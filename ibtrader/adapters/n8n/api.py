"""A small client of n8n's public REST API (`/api/v1`, header X-N8N-API-KEY): the workflows
`ibtrader services init | check` manage, the credential holding the webhook secret, and the
executions the tests read back. Blocking (requests): for commands and worker threads only.

The API key is made in n8n's UI (Settings > n8n API); it needs at least the scopes
workflow:list/read/create/activate, credential:create/list and execution:list/read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

PAGE = 250  # the public API's largest page


class N8nError(RuntimeError):
    """n8n could not do what was asked."""


class N8nUnavailable(N8nError):
    """No answer: n8n is down, the URL is wrong, or it is too slow."""


class N8nAuthError(N8nError):
    """n8n refused the API key (401/403)."""


class N8nRequestError(N8nError):
    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"n8n {method} {path}: HTTP {status}: {text[:300]}")
        self.status = status


class N8nApi:
    def __init__(self, url: str, api_key: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"n8n URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        self._http.headers.update({"X-N8N-API-KEY": api_key, "Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> N8nApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- workflows ---------------------------------------------------------------------------

    def workflows(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every workflow (without archived ones), or those named `name` exactly."""
        params = {"name": name} if name else {}
        found = list(self._pages("/workflows", params))
        return [w for w in found if name is None or w.get("name") == name]

    def workflow(self, workflow_id: str) -> dict[str, Any]:
        return self._call("GET", f"/workflows/{workflow_id}")

    def create_workflow(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """Create a workflow from an exported one; only the fields the API accepts are sent
        (it refuses read-only ones such as `active` or `id`)."""
        body = {k: workflow[k] for k in ("name", "nodes", "connections", "settings")
                if k in workflow}
        body.setdefault("settings", {})
        return self._call("POST", "/workflows", json=body)

    def activate(self, workflow_id: str) -> dict[str, Any]:
        return self._call("POST", f"/workflows/{workflow_id}/activate")

    # --- credentials -------------------------------------------------------------------------

    def credentials(self) -> list[dict[str, Any]]:
        """Every credential's name, type and id (never its data)."""
        return list(self._pages("/credentials", {}))

    def create_credential(self, name: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/credentials", json={"name": name, "type": kind,
                                                        "data": data})

    def update_credential(self, credential_id: str, kind: str,
                          data: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/credentials/{credential_id}",
                          json={"type": kind, "data": data})

    # --- executions --------------------------------------------------------------------------

    def executions(self, workflow_id: str | None = None, include_data: bool = False,
                   status: str | None = None) -> list[dict[str, Any]]:
        """The executions kept, newest first (with each node's output when `include_data`)."""
        params: dict[str, Any] = {"includeData": str(include_data).lower()}
        if workflow_id:
            params["workflowId"] = workflow_id
        if status:
            params["status"] = status
        return list(self._pages("/executions", params))

    # --- plumbing ----------------------------------------------------------------------------

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self._call("GET", path, params={**params, "limit": PAGE,
                                                   **({"cursor": cursor} if cursor else {})})
            yield from page.get("data", [])
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"{self.url}/api/v1{path}",
                                          timeout=self.timeout, **kwargs)
        except requests.exceptions.Timeout as exc:
            raise N8nUnavailable(f"n8n at {self.url}: no answer in {self.timeout:g} s") from exc
        except requests.exceptions.RequestException as exc:
            raise N8nUnavailable(f"n8n at {self.url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise N8nAuthError(f"n8n at {self.url} refused the API key ({response.status_code}"
                               f" {response.text[:200]}): check n8n_api_key")
        if response.status_code >= 400:
            raise N8nRequestError(method, path, response.status_code, response.text)
        return response.json() if response.content else {}
