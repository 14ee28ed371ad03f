"""Framing, field text and the version handshake."""

from __future__ import annotations

import math
import struct
import sys

import pytest

from ibtrader.sim.protocol.codec import (
    HANDSHAKE_PREFIX,
    MAX_SERVER_VERSION,
    MIN_SERVER_VERSION,
    FrameReader,
    ProtocolError,
    VersionMismatch,
    encode_field,
    frame,
    negotiate,
    parse_version_range,
    split_fields,
)


def framed(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


class TestFrameReader:
    def test_partial_frames_are_buffered(self):
        data = framed(b"49\x001\x00")
        reader = FrameReader()
        assert reader.feed(data[:2]) == []
        assert reader.feed(data[2:5]) == []
        assert reader.pending == 5
        assert reader.feed(data[5:]) == [b"49\x001\x00"]
        assert reader.pending == 0

    def test_byte_by_byte(self):
        data = framed(b"a\x00") + framed(b"bc\x00")
        reader = FrameReader()
        out = [p for i in range(len(data)) for p in reader.feed(data[i : i + 1])]
        assert out == [b"a\x00", b"bc\x00"]

    def test_several_frames_in_one_chunk_and_a_tail(self):
        frames = [framed(b"1\x00"), framed(b"22\x00"), framed(b"333\x00")]
        tail = framed(b"4444\x00")
        reader = FrameReader()
        assert reader.feed(b"".join(frames) + tail[:6]) == [b"1\x00", b"22\x00", b"333\x00"]
        assert reader.feed(tail[6:]) == [b"4444\x00"]

    def test_oversize_length_is_refused(self):
        reader = FrameReader()
        with pytest.raises(ProtocolError, match="exceeds"):
            reader.feed(struct.pack(">I", 17 * 1024 * 1024) + b"x")

    def test_oversize_is_detected_from_the_header_alone(self):
        with pytest.raises(ProtocolError):
            FrameReader().feed(b"\xff\xff\xff\xff")

    def test_handshake_version_frame_has_no_nul(self):
        # what ib_async sends after the raw "API\0" prefix
        data = framed(b"v157..178")
        assert FrameReader().feed(data) == [b"v157..178"]


class TestFields:
    def test_split_drops_the_trailing_empty_field_only(self):
        assert split_fields(b"1\x00\x00x\x00") == ["1", "", "x"]
        assert split_fields(b"") == []
        assert split_fields(b"\x00") == [""]

    def test_split_decodes_utf8_and_escapes_garbage(self):
        assert split_fields("Société\x00".encode()) == ["Société"]
        assert split_fields(b"\xff\x00") == ["\\xff"]

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, ""), (True, "1"), (False, "0"), (0, "0"), (-1, "-1"), (2**31 - 1, ""),
            (100.0, "100.0"), (0.1, "0.1"), (1e-05, "1e-05"), (sys.float_info.max, ""),
            (math.nan, ""), (math.inf, "Infinity"), (-math.inf, "-Infinity"),
            ("DU1", "DU1"), ("", ""),
        ],
    )
    def test_encode_field(self, value, text):
        assert encode_field(value) == text

    @pytest.mark.parametrize("value", [100.0, 0.1, 1e-05, 123456.789, 1e20, -2.5, math.inf])
    def test_floats_parse_back_with_float(self, value):
        assert float(encode_field(value)) == value

    def test_numpy_scalars_encode_as_plain_numbers(self):
        np = pytest.importorskip("numpy")
        assert [encode_field(v) for v in (np.float64(1.5), np.int64(7), np.bool_(True))] == [
            "1.5", "7", "1"]
        assert encode_field(np.float64(np.nan)) == ""

    def test_frame_layout(self):
        data = frame([49, 1, 1735828200, None, True, 1.5])
        assert data == framed(b"49\x001\x001735828200\x00\x001\x001.5\x00")


class TestVersions:
    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            (b"v157..178", (157, 178, "")),
            (b"v100..178 +PACEAPI", (100, 178, "+PACEAPI")),
            (b"v176", (176, 176, "")),
            (b"v157..176\x00", (157, 176, "")),
        ],
    )
    def test_parse_version_range(self, payload, expected):
        assert parse_version_range(payload) == expected

    @pytest.mark.parametrize("payload", [b"", b"157..178", b"vx..178", b"v178..157", b"API"])
    def test_bad_version_range(self, payload):
        with pytest.raises(ProtocolError):
            parse_version_range(payload)

    def test_bounds(self):
        assert (MIN_SERVER_VERSION, MAX_SERVER_VERSION) == (157, 178)
        assert HANDSHAKE_PREFIX == b"API\0"

    @pytest.mark.parametrize(
        ("low", "high", "version"),
        [(157, 178, 178), (157, 176, 176), (100, 178, 178), (157, 225, 178), (100, 157, 157)],
    )
    def test_negotiate(self, low, high, version):
        assert negotiate(low, high) == version

    @pytest.mark.parametrize(("low", "high"), [(100, 156), (179, 225), (201, 201)])
    def test_no_overlap(self, low, high):
        with pytest.raises(VersionMismatch, match=r"157\.\.178"):
            negotiate(low, high)
