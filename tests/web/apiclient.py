"""The real web app over a running engine, for the API tests: a Flask test client that
sends an API key (made in the app's credential store) with every request."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from flask.testing import FlaskClient

from ibtrader.app import Engine
from ibtrader.web.app import create_app
from ibtrader.web.bridge import EngineBridge
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path
from tests.web.harness import LoopThread, running_engine, web_settings

T = TypeVar("T")


@dataclass
class Api:
    app: Flask
    client: FlaskClient
    key: str
    engine: Engine
    bridge: EngineBridge
    runner: LoopThread
    context: WebContext

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=json, headers=self.headers, **kw)

    def patch(self, url: str, json: Any = None, **kw: Any) -> Any:
        return self.client.patch(url, json=json, headers=self.headers, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.client.delete(url, headers=self.headers, **kw)

    def on_loop(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the engine's loop (the engine's objects live there)."""
        return self.bridge.call(fn)


@contextlib.contextmanager
def running_api(tmp_path: Path, **settings: Any) -> Iterator[Api]:
    values = web_settings(tmp_path, **settings)
    with running_engine(values) as (engine, bridge, runner):
        # backfilled and subscribed: wait for the first quote of each symbol too
        wait_for(lambda: set(values.watchlist) <= set(bridge.quotes()), 20.0)
        credentials = CredentialStore(store_path(values.data_dir))
        context = WebContext(values, credentials, bridge=bridge)
        app = create_app(context)
        key = credentials.create_key("tests").key
        try:
            yield Api(app, app.test_client(), key, engine, bridge, runner, context)
        finally:
            credentials.close()


def wait_for(predicate: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
