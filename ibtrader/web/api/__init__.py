"""REST API v1: one blueprint mounted at /api/v1; each module adds its routes to it."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__)

# the modules register their views on `blueprint` when imported
from ibtrader.web.api import (  # noqa: E402,F401
    account,
    backtests,
    decisions,
    market,
    openapi_doc,
    orders,
    strategies,
    stream,
)
