"""The web app served by waitress on a background thread.

Threads: waitress answers each request on one of its worker threads, and an open event
stream keeps its thread for as long as the browser listens. So the pool is the API's own
threads plus one per allowed stream (`WebContext.max_streams`): streams can never take the
threads the API needs (the stream endpoint refuses one stream too many with 503).

    server = WebServer(app, host="127.0.0.1", port=8050, api_threads=8, streams=8)
    server.start()       # returns once it listens; server.port is the bound port
    server.stop()        # ends the streams, waits for requests in flight, closes
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.server import create_server

log = logging.getLogger(__name__)


class WebServer:
    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 8050,
                 api_threads: int = 8, streams: int = 8, url_scheme: str = "http",
                 on_stop: Callable[[], None] | None = None) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self.threads = api_threads + streams
        self.url_scheme = url_scheme
        self.on_stop = on_stop  # wakes the event streams so their threads come back
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the web server is not started")
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"{self.url_scheme}://{self.host}:{self.port}"

    def start(self) -> WebServer:
        """Bind and serve on a daemon thread. OSError (port taken, say) is raised here."""
        self._server = create_server(
            self.app, host=self.host, port=self.requested_port, threads=self.threads,
            url_scheme=self.url_scheme, ident="ibtrader", clear_untrusted_proxy_headers=True,
            channel_timeout=120, connection_limit=200,
            # keep reading while a request runs: a browser that closes an event stream is
            # seen at once (environ["waitress.client_disconnected"]), not at the next write
            channel_request_lookahead=1)
        self._thread = threading.Thread(target=self._server.run, name="web-server",
                                        daemon=True)
        self._thread.start()
        log.info("web server listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the streams, let requests in flight finish (up to `timeout` s), close."""
        if self._server is None:
            return
        server, self._server = self._server, None
        if self.on_stop is not None:
            self.on_stop()
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout)
        # every socket (listener, channels, trigger) closed on the serving thread itself:
        # closed from here they would race its select() (EBADF); an empty map ends its loop
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:  # the trigger is closed: the serving loop is ending on its own
            log.debug("web server trigger already closed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._thread is not None and self._thread.is_alive():
            wasyncore.close_all(server._map)  # it did not end: close from here after all
            self._thread.join(timeout)
        log.info("web server stopped")
