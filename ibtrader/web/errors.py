"""One error shape for every API answer that is not a success:

    {"error": {"code": "invalid_field", "message": "quantity: must be above 0, got '-1'",
               "field": "quantity", "problems": [{"code": ..., "message": ...}, ...]}}

`field` names the input to fix (400/422); `problems` lists every refusal at once (an order
refused by validation or risk). Raise `ApiError` from a view; `install` maps it, the
bridge's exceptions and Werkzeug's HTTP errors to this shape under /api/.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ibtrader.web.bridge import EngineTimeout, EngineUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 problems: Sequence[tuple[str, str]] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.problems = list(problems)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.problems:
            error["problems"] = [{"code": c, "message": m} for c, m in self.problems]
        return {"error": error}


def error_response(error: ApiError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def install(app: Flask) -> None:
    app.register_error_handler(ApiError, error_response)

    @app.errorhandler(EngineUnavailable)
    def _unavailable(exc: EngineUnavailable) -> Response:
        return error_response(ApiError(503, "engine_unavailable", str(exc),
                                       headers={"Retry-After": "5"}))

    @app.errorhandler(EngineTimeout)
    def _timeout(exc: EngineTimeout) -> Response:
        return error_response(ApiError(504, "engine_timeout", str(exc)))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException:
        if not request.path.startswith("/api/"):
            return exc  # pages keep Werkzeug's HTML errors
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(ApiError(exc.code or 500, code, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(ApiError(500, "internal_error",
                                       "an unexpected error; the log has the details"))
