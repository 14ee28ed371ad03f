"""The garbage-collector policy the app applies once its engine is warm."""

from __future__ import annotations

import gc

import pytest

from ibtrader.runtime_gc import GcPolicy, restore, settle


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector can reclaim it


def test_settle_freezes_the_warm_heap_and_raises_the_threshold():
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    warm = [Node() for _ in range(1_000)]  # long-lived state: history, warmed strategies
    settled = settle(GcPolicy(5_000, 7, 9))
    try:
        assert gc.get_threshold() == (5_000, 7, 9)
        assert settled.previous == before
        assert gc.get_freeze_count() >= frozen_before + len(warm)
        assert "frozen" in settled.describe()
        # no generation holds them any more: collections do not walk them
        walked = {id(o) for g in range(3) for o in gc.get_objects(generation=g)}
        assert not any(id(n) in walked for n in warm)
    finally:
        restore(settled)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_garbage_made_after_settling_is_still_collected():
    settled = settle(GcPolicy(100, 10, 10))
    try:
        for _ in range(50):
            Node()  # unreachable cycles made while the engine runs
        assert gc.collect() >= 50
    finally:
        restore(settled)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "700"])
def test_bad_thresholds_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="gen0 must be a whole number >= 1"):
        GcPolicy(gen0=bad)
