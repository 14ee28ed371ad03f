"""IB's market-data lines and the rate of new real-time bar requests.

An account has 100 market-data lines by default; each streamed quote and each real-time
bar subscription holds one. Asking for a 101st makes IB answer with error 101 and no
data, so the adapter refuses it itself, at once and with a message that says what to do.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass

from ibtrader.core.broker import MarketDataLinesExhausted

DEFAULT_LINES = 100


@dataclass(frozen=True)
class Line:
    """One line: `kind` is "quotes" or "realtime bars"; `key` tells two streams apart."""

    kind: str
    key: Hashable


class LineBudget:
    """Counts lines in use; the same stream subscribed twice shares one line."""

    def __init__(self, limit: int = DEFAULT_LINES) -> None:
        self.limit = limit
        self._users: Counter[Line] = Counter()

    @property
    def in_use(self) -> int:
        return len(self._users)

    def by_kind(self) -> dict[str, int]:
        return dict(Counter(line.kind for line in self._users))

    def holds(self, line: Line) -> bool:
        return line in self._users

    def acquire(self, line: Line) -> bool:
        """Take a line (or share it); True if it is a new line. Refuses beyond the limit."""
        if line in self._users:
            self._users[line] += 1
            return False
        if len(self._users) >= self.limit:
            used = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.by_kind().items()))
            raise MarketDataLinesExhausted(
                f"all {self.limit} market-data lines are in use ({used}); "
                "cancel a quote or bar subscription first"
            )
        self._users[line] = 1
        return True

    def release(self, line: Line) -> bool:
        """Give a line back; True if nobody uses it any more."""
        users = self._users.get(line, 0)
        if users <= 1:
            self._users.pop(line, None)
            return users == 1
        self._users[line] = users - 1
        return False


class RequestWindow:
    """At most `limit` requests in any `window` seconds (IB: 60 real-time bar requests per
    10 minutes). Pure: the caller passes the time."""

    def __init__(self, limit: int = 60, window: float = 600.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def ready_at(self, now: float) -> float:
        times = self._times
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            return now
        return times[-self.limit] + self.window

    def record(self, now: float) -> None:
        self._times.append(now)
