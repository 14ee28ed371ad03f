"""An offline ib_async client: requests are captured as bytes, replies fed to its decoder.

Nothing here opens a socket. The client's `Connection.sendMsg` is replaced by a list, so
every request is encoded by ib_async's own `Client`; replies go through the client's own
framing (`Client._onSocketHasData`) into its real `Decoder` and `Wrapper`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from ib_async import IB
from ib_async.client import Client

from ibtrader.sim.protocol.codec import FrameReader, frame, split_fields
from ibtrader.sim.protocol.requests import Request, parse_request

VERSIONS = (157, 163, 166, 170, 176, 177, 178)


class DecoderErrors(logging.Handler):
    """Collects what ib_async logs when it swallows an exception while decoding."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.name == "ib_async.Decoder":
            self.records.append(record)

    def take(self) -> list[str]:
        found = [r.getMessage() + "\n" + logging.Formatter().formatException(r.exc_info)
                 if r.exc_info else r.getMessage() for r in self.records]
        self.records.clear()
        return found


class OfflineClient:
    """An ib_async IB whose client is 'connected' at `version` without a socket."""

    def __init__(self, version: int, errors: DecoderErrors, client_id: int = 7) -> None:
        self.version = version
        self.errors = errors
        self.ib = IB()
        self.client: Client = self.ib.client
        self.wrapper = self.ib.wrapper
        self.sent: list[bytes] = []
        client = self.client
        client.conn.sendMsg = self.sent.append  # the only way out of the client
        client.MaxRequests = 0  # no throttling: tests send bursts
        client.clientId = client_id
        self.wrapper.clientId = client_id
        client._serverVersion = version
        client.decoder.serverVersion = version
        client.connState = Client.CONNECTED
        client._apiReady = True
        client.updateReqId(100)

    # ----- client → server ---------------------------------------------------------------
    def requests(self) -> list[Request]:
        """Every request sent since the last call, parsed by the simulator."""
        reader = FrameReader()
        payloads = reader.feed(b"".join(self.sent))
        assert reader.pending == 0
        self.sent.clear()
        return [parse_request(split_fields(p), self.version) for p in payloads]

    def request(self) -> Request:
        (only,) = self.requests()
        return only

    def raw_fields(self) -> list[list[str]]:
        payloads = FrameReader().feed(b"".join(self.sent))
        self.sent.clear()
        return [split_fields(p) for p in payloads]

    # ----- server → client ---------------------------------------------------------------
    def feed(self, *messages: list[object]) -> None:
        """Deliver messages as one TCP chunk; fail on anything the decoder swallowed."""
        self.client._onSocketHasData(b"".join(frame(m) for m in messages))
        problems = self.errors.take()
        assert not problems, "ib_async failed to decode:\n" + "\n".join(problems)


@pytest.fixture
def event_loop_set() -> Iterator[asyncio.AbstractEventLoop]:
    # ib_async creates futures for pending requests; give them a loop of their own
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def decoder_errors() -> Iterator[DecoderErrors]:
    handler = DecoderErrors()
    logger = logging.getLogger("ib_async")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    assert not handler.take(), "ib_async logged decoding errors"


@pytest.fixture
def offline(event_loop_set, decoder_errors):
    """Factory: offline(version) -> OfflineClient."""

    def make(version: int, client_id: int = 7) -> OfflineClient:
        return OfflineClient(version, decoder_errors, client_id)

    return make
