"""The Flask application factory: one app per web server, over one `WebContext`.

Blueprints: `auth` (login, logout), `api` (REST v1 under /api/v1, its OpenAPI document,
the event stream, health), `dashboard` (the page at / and its assets) and `/metrics`.
`security.install` authenticates every request before any view runs: a view is public
only when it says so (`security.public`), so a new endpoint is never open by mistake.
"""

from __future__ import annotations

from flask import Flask

from ibtrader.web import errors, security
from ibtrader.web.context import EXTENSION, WebContext


def create_app(context: WebContext) -> Flask:
    from ibtrader.web.api import blueprint as api
    from ibtrader.web.auth_views import blueprint as auth
    from ibtrader.web.dashboard import blueprint as dashboard
    from ibtrader.web.monitoring import blueprint as monitoring

    app = Flask("ibtrader.web", static_folder=None)
    app.extensions[EXTENSION] = context
    app.json.sort_keys = False  # type: ignore[attr-defined]  # fields in their documented order
    errors.install(app)
    security.install(app, context)
    app.register_blueprint(auth)
    app.register_blueprint(api, url_prefix="/api/v1")
    app.register_blueprint(monitoring)
    app.register_blueprint(dashboard)
    return app
