"""IB's pacing rules, enforced by the simulated gateway the way TWS enforces them.

- at most 50 messages per second from one client (TWS answers error 100);
- historical data: at most 60 requests in any 10 minutes, no identical request within
  15 seconds, and no six or more requests for the same contract, exchange and data type
  within 2 seconds (TWS answers error 162, "pacing violation").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class PacingRules:
    messages_per_second: int = 50
    historical_per_window: int = 60
    historical_window: float = 600.0
    identical_within: float = 15.0
    same_contract_max: int = 5
    same_contract_within: float = 2.0
    enabled: bool = True


class MessageRate:
    """One client's inbound message rate, as a token bucket of `limit` per second.

    A bucket rather than a strict sliding window: a client that sends its allowance in
    bursts once a second (ib_async does) must not be punished for network jitter, while
    a sustained rate above the limit, or one burst bigger than it, still is.
    """

    def __init__(self, limit: int, enabled: bool = True) -> None:
        self.limit = limit
        self.enabled = enabled
        self._tokens = float(limit)
        self._last = 0.0
        self.last_second_count = 0
        self._recent: deque[float] = deque()

    def allow(self, now: float) -> bool:
        recent = self._recent
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        recent.append(now)
        self.last_second_count = len(recent)
        if self._last:
            self._tokens = min(self.limit, self._tokens + (now - self._last) * self.limit)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return not self.enabled


class HistoricalPacer:
    """Decides whether a historical request breaks IB's rules; remembers it if not."""

    def __init__(self, rules: PacingRules) -> None:
        self.rules = rules
        self._all: deque[float] = deque()
        self._by_request: dict[tuple, float] = {}
        self._by_contract: dict[tuple, deque[float]] = {}

    def check(self, now: float, request_key: tuple, contract_key: tuple) -> str | None:
        """None when the request may go ahead, else why it is a pacing violation."""
        if not self.rules.enabled:
            return None
        rules = self.rules
        while self._all and now - self._all[0] >= rules.historical_window:
            self._all.popleft()
        if len(self._all) >= rules.historical_per_window:
            return f"more than {rules.historical_per_window} requests within 10 minutes"
        last_identical = self._by_request.get(request_key)
        if last_identical is not None and now - last_identical < rules.identical_within:
            return "identical historical request within 15 seconds"
        recent = self._by_contract.setdefault(contract_key, deque())
        while recent and now - recent[0] >= rules.same_contract_within:
            recent.popleft()
        if len(recent) >= rules.same_contract_max:
            return "six or more historical requests for the same contract within 2 seconds"
        self._all.append(now)
        self._by_request[request_key] = now
        recent.append(now)
        return None


class Pacing:
    """The gateway-wide pacing state: one message rate per client, one historical pacer."""

    def __init__(self, rules: PacingRules | None = None) -> None:
        self.rules = rules or PacingRules()
        self.historical = HistoricalPacer(self.rules)

    def for_client(self) -> MessageRate:
        return MessageRate(self.rules.messages_per_second, self.rules.enabled)
