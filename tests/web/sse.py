"""A small Server-Sent Events client for tests: a real HTTP connection, read as bytes
arrive (no buffering of its own), parsed into (kind, id, data) messages and comments."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Message:
    kind: str  # "comment" for a `: ...` line
    id: int | None
    data: Any
    received: float  # time.perf_counter() when its bytes arrived


class SseClient:
    def __init__(self, host: str, port: int, headers: dict[str, str], *,
                 path: str = "/api/v1/events", timeout: float = 5.0) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.connection.connect()
        self.sock = self.connection.sock  # kept: http.client lets go of it once answered
        self.connection.request("GET", path, headers=headers)
        self.response = self.connection.getresponse()
        self._buffer = b""
        self._parsed: list[Message] = []
        self.ended = False

    @property
    def status(self) -> int:
        return self.response.status

    def body(self) -> Any:
        return json.loads(self.response.read())

    def read(self, timeout: float = 5.0) -> list[Message]:
        """The messages complete in the next bytes to arrive ([] at the end of the stream)."""
        self.sock.settimeout(timeout)
        chunk = self.response.read1(65536)
        now = time.perf_counter()
        if not chunk:
            self.ended = True
            return []
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n\n")
        return [parse(block.decode(), now) for block in complete if block.strip()]

    def until(self, predicate, timeout: float = 10.0) -> list[Message]:
        """Read until a message satisfies `predicate`; every message read, that one last."""
        seen: list[Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._parsed:
                self._parsed.extend(self.read(max(0.05, deadline - time.monotonic())))
            while self._parsed:  # the rest of a chunk waits for the next call
                message = self._parsed.pop(0)
                seen.append(message)
                if predicate(message):
                    return seen
            if self.ended:
                break
        raise AssertionError(f"no such message in {len(seen)} read "
                             f"(kinds: {sorted({m.kind for m in seen})})")

    def close(self) -> None:
        self.response.close()
        self.connection.close()
        self.sock.close()


def parse(block: str, received: float) -> Message:
    kind, event_id, data = "message", None, []
    for line in block.split("\n"):
        if line.startswith(":"):
            return Message("comment", None, line[1:].strip(), received)
        name, _, value = line.partition(": ")
        if name == "event":
            kind = value
        elif name == "id":
            event_id = int(value)
        elif name == "data":
            data.append(value)
    return Message(kind, event_id, json.loads("\n".join(data)) if data else None, received)
