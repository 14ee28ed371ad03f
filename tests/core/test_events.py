from __future__ import annotations

import logging
import time

import pytest

from ibtrader.core.events import Event


def test_handlers_run_in_subscription_order_with_the_emitted_arguments() -> None:
    seen: list[tuple[str, int, str]] = []
    changed: Event[[int, str]] = Event("changed")
    changed += lambda n, s: seen.append(("first", n, s))
    changed += lambda n, s: seen.append(("second", n, s))
    changed.emit(1, "a")
    assert seen == [("first", 1, "a"), ("second", 1, "a")]


def test_unsubscribe_with_a_fresh_bound_method_stops_delivery() -> None:
    class Listener:
        def __init__(self) -> None:
            self.calls = 0

        def on(self) -> None:
            self.calls += 1

    listener = Listener()
    happened: Event[[]] = Event("happened")
    happened += listener.on
    happened.emit()
    happened -= listener.on
    happened.emit()
    assert listener.calls == 1
    assert len(happened) == 0


def test_unsubscribing_a_handler_that_is_not_subscribed_is_an_error() -> None:
    happened: Event[[]] = Event("happened")
    with pytest.raises(ValueError, match="not subscribed"):
        happened -= print


def test_a_failing_handler_is_logged_and_the_others_still_run(caplog) -> None:
    seen: list[int] = []

    def broken(_: int) -> None:
        raise RuntimeError("boom")

    received: Event[[int]] = Event("received")
    received += broken
    received += seen.append
    with caplog.at_level(logging.ERROR, logger="ibtrader.core.events"):
        received.emit(7)
    assert seen == [7]
    assert "received" in caplog.text and "boom" in caplog.text


def test_a_handler_may_unsubscribe_itself_during_an_emit() -> None:
    seen: list[str] = []
    fired: Event[[]] = Event("fired")

    def once() -> None:
        seen.append("once")
        fired.__isub__(once)

    fired += once
    fired += lambda: seen.append("always")
    fired.emit()
    fired.emit()
    assert seen == ["once", "always", "always"]


def test_emit_with_three_handlers_costs_about_half_a_microsecond() -> None:
    ticked: Event[[int]] = Event("ticked")
    for _ in range(3):
        ticked += lambda _: None
    n = 200_000
    best = min(_time_emits(ticked, n) for _ in range(3))
    assert best / n < 1.5e-6  # ~0.3 µs here; generous for slow CI machines


def _time_emits(event: Event[[int]], n: int) -> float:
    emit = event.emit
    start = time.perf_counter()
    for i in range(n):
        emit(i)
    return time.perf_counter() - start
