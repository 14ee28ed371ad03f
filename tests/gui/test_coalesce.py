"""The coalescer: many puts become one flush per interval, newest value per key."""

from __future__ import annotations

import pytest

from ibtrader.gui.coalesce import Coalescer


def test_many_puts_become_one_flush_with_the_newest_values(qtbot):
    seen: list[dict[str, int]] = []
    c = Coalescer(seen.append, hz=20)
    for i in range(1_000):
        c.put("AAPL", i)
        c.put_many([("MSFT", i), ("SPY", -i)])
    assert seen == [] and c.pending == 3  # nothing shown until the timer fires
    qtbot.waitUntil(lambda: len(seen) == 1, timeout=1_000)
    assert seen == [{"AAPL": 999, "MSFT": 999, "SPY": -999}] and c.flushes == 1
    c.put("AAPL", 1)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=1_000)
    assert seen[1] == {"AAPL": 1}


def test_a_failing_view_does_not_stop_later_flushes(qtbot):
    calls: list[dict[str, int]] = []

    def view(batch: dict[str, int]) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("a bug in a view")

    c = Coalescer(view, hz=100)
    c.put("A", 1)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=1_000)
    c.put("A", 2)
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=1_000)
    assert calls[1] == {"A": 2}


def test_a_rate_of_zero_is_refused():
    with pytest.raises(ValueError, match="hz must be above 0"):
        Coalescer(print, hz=0)
