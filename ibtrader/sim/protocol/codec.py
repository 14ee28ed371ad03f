"""TWS API framing and field text, server side.

Every message in both directions is a 4-byte big-endian length and a payload of
NUL-terminated text fields. The one exception is the client's opening: the raw bytes
``API\\0`` followed by a framed, NUL-less ``v<min>..<max>[ options]`` text.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from collections.abc import Sequence

HANDSHAKE_PREFIX = b"API\0"
MIN_SERVER_VERSION = 157
MAX_SERVER_VERSION = 178
# No real message comes near this; a larger length means a desynchronised or hostile peer.
MAX_FRAME_LENGTH = 16 * 1024 * 1024

UNSET_DOUBLE = sys.float_info.max
UNSET_INTEGER = 2**31 - 1

_LENGTH = struct.Struct(">I")
_VERSION_RANGE = re.compile(r"v(\d+)(?:\.\.(\d+))?(?:\s+(.*))?", re.DOTALL)


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API."""


class VersionMismatch(ProtocolError):
    """The client's version range and ours do not overlap."""


class FrameReader:
    """Turns a TCP byte stream into complete payloads, keeping partial frames."""

    def __init__(self, max_length: int = MAX_FRAME_LENGTH) -> None:
        self._buffer = bytearray()
        self._max_length = max_length

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        payloads: list[bytes] = []
        offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > self._max_length:
                raise ProtocolError(
                    f"frame length {length} exceeds the limit of {self._max_length} bytes"
                )
            end = offset + _LENGTH.size + length
            if len(buffer) < end:
                break
            payloads.append(bytes(buffer[offset + _LENGTH.size : end]))
            offset = end
        # one slice deletion per feed, not per frame: bursts of ticks stay linear
        del buffer[:offset]
        return payloads

    @property
    def pending(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buffer)


def split_fields(payload: bytes) -> list[str]:
    """The fields of one payload, decoded as the client does it."""
    fields = payload.decode("utf-8", errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


def encode_field(value: object) -> str:
    """One field's wire text, in a form every client's number parsing accepts."""
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "1" if value else "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, str):
        return value
    item = getattr(value, "item", None)
    if callable(item):  # numpy scalars: their repr is "np.float64(1.5)", not a number
        return encode_field(item())
    return str(value)


def _encode_float(value: float) -> str:
    if math.isnan(value) or value == UNSET_DOUBLE:
        return ""
    if math.isinf(value):
        # "Infinite" (what clients send) is rejected by Python's float(); this is not
        return "Infinity" if value > 0 else "-Infinity"
    # the shortest text that round-trips; float's own repr, as subclasses may override it
    return float.__repr__(value)


def frame(fields: Sequence[object]) -> bytes:
    """A complete length-prefixed message."""
    payload = "".join(encode_field(f) + "\0" for f in fields).encode("utf-8")
    return _LENGTH.pack(len(payload)) + payload


def parse_version_range(payload: bytes) -> tuple[int, int, str]:
    """The client's ``v<min>..<max>[ options]`` as (min, max, options)."""
    text = payload.decode("ascii", errors="replace").rstrip("\0")
    match = _VERSION_RANGE.fullmatch(text)
    if match is None:
        raise ProtocolError(f"expected a version range like 'v157..178', got {text[:40]!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if low > high:
        raise ProtocolError(f"empty version range {text!r}")
    return low, high, (match.group(3) or "").strip()


def negotiate(client_min: int, client_max: int) -> int:
    """The server version to answer: the highest both sides speak."""
    version = min(client_max, MAX_SERVER_VERSION)
    if version < max(client_min, MIN_SERVER_VERSION):
        raise VersionMismatch(
            f"client speaks versions {client_min}..{client_max}; this gateway supports "
            f"{MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}"
        )
    return version
