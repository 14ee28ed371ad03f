"""The browser dashboard: the page at `/` and the files it loads from `/assets/`.

The page is static HTML + plain ES modules (no build step); everything it shows comes from the
REST API and the event stream, so the page itself holds no data. It is behind the session
login (the security hook redirects to /login); the assets are public for the same reason they
hold no data. The chart library (TradingView Lightweight Charts, Apache-2.0) comes from the
`lightweight-charts` PyPI package and is served from here: no CDN, the page works offline.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory

from ibtrader.web import security

blueprint = Blueprint("dashboard", __name__)

STATIC = Path(__file__).with_name("static")
CHART_LIBRARY = "lightweight-charts.js"
# Everything from this origin only; connect-src covers fetch and the event stream.
# frame-ancestors 'self': only this origin may frame the page (the desktop tab loads it top-level).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'self'")
OWN_ASSETS_MAX_AGE = 0  # revalidated each load (ETag): they change with the app
VENDOR_MAX_AGE = 86400  # the chart library changes only with its package


@cache
def chart_library_dir() -> Path | None:
    """The package's JS folder, found without importing the package (its __init__ pulls in
    pandas and a desktop web-view library we do not need)."""
    spec = importlib.util.find_spec("lightweight_charts")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "js"
        if (folder / CHART_LIBRARY).is_file():
            return folder
    return None


@blueprint.get("/")
def index() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"  # the page is behind a login
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.get("/assets/vendor/lightweight-charts.js")
@security.public
def chart_library() -> Response:
    folder = chart_library_dir()
    if folder is None:
        abort(404, description="the lightweight-charts package is not installed")
    response = send_from_directory(folder, CHART_LIBRARY, max_age=VENDOR_MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.get("/assets/<path:name>")
@security.public
def asset(name: str) -> Response:
    # send_from_directory refuses paths that leave STATIC (.., absolute) with a 404.
    response = send_from_directory(STATIC, name, max_age=OWN_ASSETS_MAX_AGE)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
