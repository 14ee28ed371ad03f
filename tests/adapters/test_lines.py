from __future__ import annotations

import pytest

from ibtrader.adapters.ib.lines import Line, LineBudget, RequestWindow
from ibtrader.core.broker import MarketDataLinesExhausted


def test_the_101st_line_is_refused_with_a_message_that_says_what_to_do() -> None:
    budget = LineBudget(100)
    for con_id in range(60):
        budget.acquire(Line("quotes", con_id))
    for con_id in range(40):
        budget.acquire(Line("realtime bars", (con_id, "TRADES", False)))
    with pytest.raises(MarketDataLinesExhausted, match=r"all 100 .*quotes: 60.*cancel"):
        budget.acquire(Line("quotes", 999))
    assert budget.in_use == 100


def test_the_same_stream_twice_shares_one_line_until_both_release_it() -> None:
    budget = LineBudget(1)
    line = Line("quotes", 1)
    assert budget.acquire(line) is True
    assert budget.acquire(line) is False
    assert budget.release(line) is False
    assert budget.holds(line)
    assert budget.release(line) is True
    assert budget.in_use == 0
    budget.acquire(Line("quotes", 2))


def test_request_window_allows_a_burst_then_spaces_by_the_window() -> None:
    window = RequestWindow(limit=3, window=10.0)
    for t in (0.0, 1.0, 2.0):
        assert window.ready_at(t) == t
        window.record(t)
    assert window.ready_at(3.0) == 10.0
    assert window.ready_at(10.0) == 10.0
