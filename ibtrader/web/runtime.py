"""The web layer as one part the app starts and stops: credentials, context, Flask app,
waitress (and the TLS front when HTTPS is configured).

The server starts before the engine (the API answers 503 until `attach`), and lives on
after it stops (`detach`: 503 again), so a browser sees a state, never a refused
connection:

    web = WebRuntime(settings).start()   # listening; log line with the URL
    web.attach(engine)                    # on the engine's loop
    ...
    web.stop()                            # streams end; requests in flight finish
    web.detach()                          # on the engine's loop, before the engine closes
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ibtrader.web.app import create_app
from ibtrader.web.bridge import EngineBridge
from ibtrader.web.context import WebContext
from ibtrader.web.credentials import CredentialStore, store_path
from ibtrader.web.server import WebServer
from ibtrader.web.tls import (
    BACKEND_HOST,
    ClientAddresses,
    TlsFront,
    server_context,
    tls_wanted,
)

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.config import Settings

log = logging.getLogger(__name__)


class WebRuntime:
    def __init__(self, settings: Settings, *, jobs: Any = None) -> None:
        self.settings = settings
        self.https = tls_wanted(settings)  # TlsError now for half a TLS configuration
        self.credentials = CredentialStore(store_path(settings.data_dir))
        self.context = WebContext(settings, self.credentials, jobs=jobs,
                                  max_streams=settings.web_max_streams)
        self.app = create_app(self.context)
        self.clients: ClientAddresses | None = None
        if self.https:  # requests come through the TLS front: give them the client's address
            self.clients = ClientAddresses(self.app.wsgi_app)
            self.app.wsgi_app = self.clients  # type: ignore[method-assign]
        self.server = WebServer(
            self.app, host=BACKEND_HOST if self.https else settings.web_host,
            port=0 if self.https else settings.web_port,
            api_threads=settings.web_api_threads, streams=settings.web_max_streams,
            url_scheme="https" if self.https else "http", on_stop=self._end_streams)
        self.front: TlsFront | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port it listens on (kept after `stop`, for messages)."""
        if self._port is None:
            raise RuntimeError("the web runtime is not started")
        return self._port

    @property
    def url(self) -> str:
        host = self.settings.web_host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.https else 'http'}://{host}:{self.port}"

    def start(self) -> WebRuntime:
        """Listen. OSError when the address is taken, TlsError for unusable TLS files."""
        tls = None
        if self.https:  # the files first: a bad path fails before anything listens
            tls = server_context(self.settings.web_tls_certfile, self.settings.web_tls_keyfile)
        self.server.start()
        if tls is not None:
            try:
                self.front = TlsFront(tls, host=self.settings.web_host,
                                      port=self.settings.web_port,
                                      backend_port=self.server.port,
                                      peers=self.clients.peers if self.clients else None,
                                      ).start()
            except BaseException:
                self.server.stop()
                raise
        self._port = self.front.port if self.front is not None else self.server.port
        log.info("web dashboard and API at %s", self.url)
        return self

    def attach(self, engine: Engine) -> EngineBridge:
        """Serve this engine (call on its loop); health and metrics show its outbox."""
        bridge = EngineBridge(engine, metrics=self.context.metrics,
                              outbox_depth=engine.outbox_depth)
        bridge.attach()
        self.context.use_bridge(bridge)
        return bridge

    def detach(self) -> None:
        """Stop serving the engine (call on its loop): the API answers 503, streams end."""
        bridge = self.context.bridge
        self.context.use_bridge(None)
        if bridge is not None:
            bridge.detach()

    def stop(self, timeout: float = 5.0) -> None:
        """End the streams, finish requests in flight, close (blocks: not on the loop)."""
        self.server.stop(timeout)
        if self.front is not None:
            self.front.stop(timeout)
        self.credentials.close()

    def _end_streams(self) -> None:
        bridge = self.context.bridge
        if bridge is not None:
            bridge.hub.close()
