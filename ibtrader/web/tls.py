"""HTTPS for the web server, terminated in-process.

Waitress speaks plain HTTP only. With a certificate and key configured, waitress listens
on an internal loopback port and `TlsFront` listens on the configured address: it does
the TLS handshake (TLS 1.2 or newer) and pipes the bytes both ways, on an asyncio loop of
its own thread (the engine's loop is never involved). Waitress is told the scheme is
https, so URLs and the session cookie (Secure) are right.

Waitress sees every connection come from the front (127.0.0.1); `ClientAddresses` puts the
real client's address back into the request (the front records which client each of its
loopback connections carries), so the login rate limit and the audit log see the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ibtrader.config import Settings

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
BACKEND_HOST = "127.0.0.1"
HANDSHAKE_TIMEOUT = 10.0


class TlsError(ValueError):
    """The TLS settings cannot be used; the message names the setting to fix."""


def tls_wanted(settings: Settings) -> bool:
    """True when HTTPS is configured; TlsError when only half of it is."""
    cert, key = settings.web_tls_certfile, settings.web_tls_keyfile
    if bool(cert) != bool(key):
        missing = "web_tls_keyfile" if cert else "web_tls_certfile"
        raise TlsError(f"{missing} is not set: HTTPS needs both web_tls_certfile and "
                       "web_tls_keyfile (PEM files), or neither for plain HTTP")
    return bool(cert)


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A server-side context from the PEM files, TLS 1.2 at least. TlsError names the
    setting whose file is missing or unusable."""
    for name, path in (("web_tls_certfile", certfile), ("web_tls_keyfile", keyfile)):
        if not Path(path).is_file():
            raise TlsError(f"{name}: no such file: {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def no_password() -> str:  # never prompt on the terminal of a headless server
        raise TlsError(f"web_tls_keyfile: {keyfile} is encrypted; give an unencrypted key")

    try:
        context.load_cert_chain(certfile, keyfile, password=no_password)
    except ssl.SSLError as exc:
        raise TlsError(f"web_tls_certfile / web_tls_keyfile: cannot use {certfile} with "
                       f"{keyfile}: {exc.reason or exc}") from None
    return context


class ClientAddresses:
    """WSGI middleware: a request that came through the front gets its client's address
    (REMOTE_ADDR, REMOTE_PORT) instead of the front's loopback one."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        # the front's loopback port -> the client (ip, port) it carries; written by the
        # front before the connection's first byte reaches waitress
        self.peers: dict[int, tuple[str, int]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("REMOTE_ADDR") == BACKEND_HOST:
            peer = self.peers.get(int(environ.get("REMOTE_PORT") or 0))
            if peer is not None:
                environ["REMOTE_ADDR"] = environ["REMOTE_HOST"] = peer[0]
                environ["REMOTE_PORT"] = str(peer[1])
        return self.app(environ, start_response)


class TlsFront:
    """Accepts TLS on host:port and forwards each connection to the backend port."""

    def __init__(self, context: ssl.SSLContext, *, host: str, port: int,
                 backend_port: int, peers: dict[int, tuple[str, int]] | None = None) -> None:
        self.context = context
        self.host = host
        self.requested_port = port
        self.backend_port = backend_port
        self.peers = {} if peers is None else peers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the TLS front is not started")
        return int(self._server.sockets[0].getsockname()[1])

    def start(self) -> TlsFront:
        """Listen (OSError here when the port is taken), then serve on a daemon thread."""
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_handshake_errors)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._connection, self.host, self.requested_port, ssl=self.context,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT, reuse_address=True))
        except BaseException:
            loop.close()
            raise
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="web-tls", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
        if not loop.is_running():
            loop.close()

    async def _connection(self, client_r: asyncio.StreamReader,
                          client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        backend_w = None
        carried = None
        try:
            backend_r, backend_w = await asyncio.open_connection(BACKEND_HOST,
                                                                 self.backend_port)
            carried = backend_w.get_extra_info("sockname")[1]
            self.peers[carried] = client_w.get_extra_info("peername")[:2]
            # either side ending ends both: HTTP never half-closes on purpose, and the
            # server must see a browser that left (its stream's slot comes back)
            pipes = [asyncio.ensure_future(_pipe(client_r, backend_w)),
                     asyncio.ensure_future(_pipe(backend_r, client_w))]
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except OSError as exc:
            log.warning("TLS front: cannot reach the web server on port %d: %s",
                        self.backend_port, exc)
        finally:
            self._connections.discard(task)
            if carried is not None:
                self.peers.pop(carried, None)
            for writer in (backend_w, client_w):
                if writer is not None:
                    writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):
        while data := await source.read(CHUNK):
            sink.write(data)
            await sink.drain()


def _quiet_handshake_errors(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # a client that speaks plain HTTP to the HTTPS port, or drops mid-handshake, is its
    # problem, not the server's: one debug line, not a traceback at ERROR
    exc = context.get("exception")
    if isinstance(exc, (ssl.SSLError, OSError, asyncio.TimeoutError)):
        log.debug("TLS front: %s: %s", context.get("message"), exc)
        return
    loop.default_exception_handler(context)
