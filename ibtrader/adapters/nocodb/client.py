"""`NocoClient`: NocoDB's REST API (v2 data and meta API) over `requests`, with an API token.

Every call authenticates with the `xc-token` header. Failures come out as errors that say
what to fix: `NocoUnavailable` (cannot connect, timeout, 5xx: try again later),
`NocoAuthError` (the token is refused), `NocoRequestError` (NocoDB refused the request
itself: a bug or a schema mismatch). Calls block on the network: the delivery worker's
thread calls them, never the asyncio loop.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import requests

_ID_VALUE = re.compile(r"[^(),~]+")  # what a `where=(col,eq,value)` filter can carry


class NocoError(RuntimeError):
    """A NocoDB call failed; the message names the server, the call and the reason."""


class NocoUnavailable(NocoError):
    """NocoDB cannot be reached, timed out, or answered with a server error."""


class NocoAuthError(NocoError):
    """NocoDB refused the API token (missing, wrong, revoked, or without rights)."""


class NocoRequestError(NocoError):
    """NocoDB refused the request (4xx other than authentication)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_url(url: str) -> str:
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"NocoDB URL {url!r} must look like http://host:port")
    return text


class NocoClient:
    def __init__(self, url: str, token: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None) -> None:
        if not token:
            raise ValueError("NocoDB API token is empty: create one in NocoDB (Team & "
                             "Settings > API Tokens) and set IBTRADER_NOCODB_API_TOKEN")
        self.url = check_url(url)
        self.timeout = timeout
        self._http = session or requests.Session()
        self._http.headers.update({"xc-token": token, "accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def ping(self) -> None:
        """Reachable? (NocoDB's health endpoint needs no token: a wrong token still pings.)"""
        self.call("GET", "/api/v1/health")

    # --- meta API: bases, tables, columns -----------------------------------------------------

    def bases(self) -> list[dict[str, Any]]:
        return self._list("GET", "/api/v2/meta/bases")

    def create_base(self, title: str) -> dict[str, Any]:
        return self.call("POST", "/api/v2/meta/bases", json={"title": title})

    def tables(self, base_id: str) -> list[dict[str, Any]]:
        return self._list("GET", f"/api/v2/meta/bases/{base_id}/tables")

    def create_table(self, base_id: str, name: str,
                     columns: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("POST", f"/api/v2/meta/bases/{base_id}/tables",
                         json={"table_name": name, "title": name, "columns": columns})

    def table(self, table_id: str) -> dict[str, Any]:
        """The table's metadata with its `columns`."""
        return self.call("GET", f"/api/v2/meta/tables/{table_id}")

    def add_column(self, table_id: str, column: dict[str, Any]) -> None:
        self.call("POST", f"/api/v2/meta/tables/{table_id}/columns", json=column)

    # --- data API: records -------------------------------------------------------------------

    def find(self, table_id: str, column: str, value: str,
             fields: str | None = None) -> list[dict[str, Any]]:
        """The rows whose `column` equals `value` (exact text match)."""
        if not _ID_VALUE.fullmatch(value):
            raise ValueError(f"cannot look up {value!r} in NocoDB: ids must not contain "
                             f"'(', ')', ',' or '~'")
        params: dict[str, Any] = {"where": f"({column},eq,{value})", "limit": 2}
        if fields:
            params["fields"] = fields
        return self._list("GET", f"/api/v2/tables/{table_id}/records", params=params)

    def rows(self, table_id: str, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every row of a table (paged)."""
        rows: list[dict[str, Any]] = []
        while True:
            body = self.call("GET", f"/api/v2/tables/{table_id}/records",
                             params={"limit": page_size, "offset": len(rows), "sort": "Id"})
            rows.extend(body.get("list", []))
            if body.get("pageInfo", {}).get("isLastPage", True):
                return rows

    def count(self, table_id: str) -> int:
        return int(self.call("GET", f"/api/v2/tables/{table_id}/records/count")["count"])

    def insert(self, table_id: str, row: dict[str, Any]) -> Any:
        return self.call("POST", f"/api/v2/tables/{table_id}/records", json=row)

    def update(self, table_id: str, row_id: Any, row: dict[str, Any]) -> None:
        self.call("PATCH", f"/api/v2/tables/{table_id}/records", json={**row, "Id": row_id})

    # --- transport ---------------------------------------------------------------------------

    def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        body = self.call(method, path, **kwargs)
        items = body.get("list") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise NocoRequestError(f"NocoDB {method} {path} answered without a list: "
                                   f"{str(body)[:200]}", 200)
        return items

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = f"NocoDB at {self.url}: {method} {path}"
        try:
            response = self._http.request(method, self.url + path, timeout=self.timeout,
                                          **kwargs)
        except requests.Timeout as exc:
            raise NocoUnavailable(f"{where} timed out after {self.timeout} s") from exc
        except requests.RequestException as exc:
            raise NocoUnavailable(f"{where} failed: cannot connect ({exc.__class__.__name__})"
                                  f"; is NocoDB running?") from exc
        status = response.status_code
        if status < 400:
            return response.json() if response.content else None
        reason = _reason(response)
        if status in (401, 403):
            raise NocoAuthError(f"{where}: the API token is refused ({status}: {reason}); "
                                f"check IBTRADER_NOCODB_API_TOKEN")
        if status >= 500:
            raise NocoUnavailable(f"{where}: server error {status}: {reason}")
        raise NocoRequestError(f"{where}: refused ({status}): {reason}", status)


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    if isinstance(body, dict):
        return str(body.get("msg") or body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]
