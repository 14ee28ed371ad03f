"""One API client connected to the simulated gateway: handshake, framing, dispatch.

Outbound messages are queued and written once per loop iteration, so a burst of ticks
costs one socket write, not one per message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.codec import (
    HANDSHAKE_PREFIX,
    FrameReader,
    ProtocolError,
    VersionMismatch,
    frame,
    negotiate,
    parse_version_range,
    split_fields,
)
from ibtrader.sim.protocol.requests import StartApi, UnknownRequest, parse_request

if TYPE_CHECKING:
    from ibtrader.sim.server import GatewayServer

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class ClientSession:
    """The server side of one TWS API connection."""

    def __init__(
        self, server: GatewayServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self._reader = reader
        self._writer = writer
        self._frames = FrameReader()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._stalled_until = 0.0
        self.version = 0
        self.client_id: int | None = None
        self.peer = writer.get_extra_info("peername")
        self.closed = False
        self.handlers: dict[type, Handler] = {}
        self.pacing = server.pacing.for_client()

    # ----- output ------------------------------------------------------------------------
    def send(self, fields: list[object]) -> None:
        if self.closed:
            return
        self._outbox.append(frame(fields))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.closed or not self._outbox:
            return
        delay = self._stalled_until - time.monotonic()
        if delay > 0:  # a stall fault holds replies back, as a frozen TWS would
            self._flush_scheduled = True
            asyncio.get_running_loop().call_later(delay, self._flush)
            return
        data = b"".join(self._outbox)
        self._outbox.clear()
        self.server.stats.messages_out += 1
        self.server.stats.bytes_out += len(data)
        self._writer.write(data)

    def stall(self, seconds: float) -> None:
        """Hold replies and requests back for `seconds` of real time."""
        self._stalled_until = max(self._stalled_until, time.monotonic() + seconds)

    def error(self, req_id: int, code: int, message: str, advanced_json: str = "") -> None:
        self.send(out.error(self.version, req_id, code, message, advanced_json))

    async def drain(self) -> None:
        self._flush()
        if not self.closed:
            await self._writer.drain()

    # ----- life cycle --------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if not await self._handshake():
                return
            while not self.closed:
                data = await self._reader.read(65536)
                if not data:
                    break
                await self._wait_out_stall()
                for payload in self._frames.feed(data):
                    self._dispatch(split_fields(payload))
                if self._writer.transport.get_write_buffer_size() > 1 << 20:
                    await self._writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except ProtocolError as exc:
            log.warning("client %s sent a malformed message: %s", self.peer, exc)
        finally:
            self.close()

    async def _wait_out_stall(self) -> None:
        delay = self._stalled_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _handshake(self) -> bool:
        prefix = await self._reader.readexactly(len(HANDSHAKE_PREFIX))
        if prefix != HANDSHAKE_PREFIX:
            log.warning("connection from %s did not start with the API prefix", self.peer)
            return False
        payload: bytes | None = None
        while payload is None:
            data = await self._reader.read(4096)
            if not data:
                return False
            payloads = self._frames.feed(data)
            if payloads:
                payload = payloads[0]
                leftover = payloads[1:]
        low, high, _options = parse_version_range(payload)
        try:
            self.version = negotiate(low, high)
        except VersionMismatch as exc:
            log.warning("refused client %s: %s", self.peer, exc)
            # The client expects the 2-field reply first; a version below its own range
            # makes it disconnect with a clear "unsupported version" error of its own.
            self._writer.write(frame(out.handshake_reply(max(low - 1, 1), server_time_text())))
            self._writer.write(frame(out.error(178, -1, 502, str(exc))))
            await self._writer.drain()
            return False
        self.send(out.handshake_reply(self.version, server_time_text()))
        for extra in leftover:
            self._dispatch(split_fields(extra))
        return True

    def _dispatch(self, fields: list[str]) -> None:
        if not fields:
            return
        self.server.stats.messages_in += 1
        if self.client_id is not None and not self.pacing.allow(time.monotonic()):
            self.server.stats.pacing_violations += 1
            self.error(-1, 100, "Max rate of messages per second has been exceeded:"
                                f"max=50 rec={self.pacing.last_second_count}")
            return
        try:
            request = parse_request(fields, self.version)
        except ProtocolError as exc:
            log.warning("client %s: %s", self.client_id, exc)
            self.error(-1, 320, f"Error reading request: {exc}")
            return
        if isinstance(request, StartApi):
            self.server.start_api(self, request)
            return
        if self.client_id is None:
            self.error(-1, 504, "Not connected")
            return
        handler = self.handlers.get(type(request))
        if handler is None:
            if isinstance(request, UnknownRequest):
                log.info("client %s: unsupported message id %s", self.client_id, request.msg_id)
            return
        try:
            handler(request)
        except Exception:  # one bad request must not take the whole session down
            log.exception("client %s: failed to handle %s", self.client_id, type(request).__name__)
            self.error(getattr(request, "req_id", -1), 321, "Error validating request")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._flush_now()
            self._writer.close()
        except (ConnectionError, RuntimeError):
            pass
        self.server.session_closed(self)

    def _flush_now(self) -> None:
        if self._outbox:
            self._writer.write(b"".join(self._outbox))
            self._outbox.clear()


def server_time_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")
