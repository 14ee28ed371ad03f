"""The outbox's pure rules: retries back off exponentially with jitter up to a cap, and a
record that cannot be stored or delivered is refused at once with the reason."""

from __future__ import annotations

import json
import math
import random

import pytest

from ibtrader.core.outbox import MAX_PAYLOAD_BYTES, Backoff, SinkStats, encode_payload


def test_backoff_doubles_from_one_second_and_stops_at_five_minutes():
    b = Backoff(first=1.0, cap=300.0)
    assert [b.ceiling(n) for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert b.ceiling(10_000) == 300.0  # a record failing for weeks: no overflow


def test_jitter_spreads_retries_below_the_ceiling():
    b = Backoff(first=1.0, cap=300.0, jitter=0.5)
    rng = random.Random(7)
    for attempts in (1, 4, 12):
        delays = [b.delay(attempts, rng) for _ in range(500)]
        ceiling = b.ceiling(attempts)
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling * 0.4  # really spread, not one value
    # on average each failure waits longer than the one before, until the cap
    means = [sum(b.delay(n, rng) for _ in range(200)) / 200 for n in range(1, 9)]
    assert means == sorted(means)


def test_no_jitter_is_exact_and_bad_policies_are_refused():
    assert Backoff(first=0.5, cap=10.0, jitter=0.0).delay(3) == 2.0
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first=10.0, cap=1.0)
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.0)
    with pytest.raises(ValueError, match="at least 1"):
        Backoff().ceiling(0)


def test_payload_is_compact_json():
    text = encode_payload("nocodb", "D-1", "decision", {"symbol": "AAPL", "qty": 10})
    assert json.loads(text) == {"symbol": "AAPL", "qty": 10} and " " not in text


@pytest.mark.parametrize(("args", "message"), [
    (("MinIO", "k", "object", {}), "sink name"),
    (("minio", "", "object", {}), "record id"),
    (("minio", "x" * 600, "object", {}), "characters long"),
    (("minio", "k", "", {}), "kind"),
    (("minio", "k", "object", ["not", "a", "mapping"]), "must be a mapping"),
    (("minio", "k", "object", {"price": math.nan}), "not plain JSON"),
    (("minio", "k", "object", {"when": object()}), "not plain JSON"),
    (("minio", "k", "object", {"blob": "x" * MAX_PAYLOAD_BYTES}), "write the blob to a local"),
])
def test_bad_records_are_refused_with_the_reason(args, message):
    with pytest.raises(ValueError, match=message):
        encode_payload(*args)


def test_oldest_age_never_negative():
    s = SinkStats("minio", 2, 100.0, 0)
    assert s.oldest_age(130.0) == 30.0 and s.oldest_age(90.0) == 0.0
    assert SinkStats("minio", 0, None, 1).oldest_age(130.0) is None
