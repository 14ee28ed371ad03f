"""Faults the simulated gateway can be told to produce, from tests or the command line.

A fault is written as text so that the command line, the control socket and tests share
one syntax:

    drop                  close every client connection at once
    outage[:SECONDS]      send 1100 (connectivity lost), then 1102 after SECONDS (default 3)
    stall[:SECONDS]       hold all replies back for SECONDS (default 3)
    reject[:REASON]       reject the next order placed, with error 201 and REASON
    pacing                answer the next historical request with pacing violation 162
"""

from __future__ import annotations

from dataclasses import dataclass

FAULT_KINDS = ("drop", "outage", "stall", "reject", "pacing")
DEFAULT_SECONDS = 3.0
DEFAULT_REJECT_REASON = "Simulated rejection"


class FaultSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 0.0
    reason: str = ""

    def __str__(self) -> str:
        if self.kind in ("outage", "stall"):
            return f"{self.kind}:{self.seconds:g}"
        if self.kind == "reject":
            return f"reject:{self.reason}"
        return self.kind


def parse_fault(text: str) -> Fault:
    kind, _, arg = text.strip().partition(":")
    kind = kind.lower()
    if kind not in FAULT_KINDS:
        raise FaultSyntaxError(
            f"unknown fault {kind!r}: expected one of {', '.join(FAULT_KINDS)}"
        )
    if kind in ("outage", "stall"):
        try:
            seconds = float(arg) if arg else DEFAULT_SECONDS
        except ValueError:
            raise FaultSyntaxError(f"{kind}: seconds must be a number, got {arg!r}") from None
        if not 0 < seconds <= 3600:
            raise FaultSyntaxError(f"{kind}: seconds must be above 0 and at most 3600")
        return Fault(kind, seconds=seconds)
    if kind == "reject":
        return Fault(kind, reason=arg or DEFAULT_REJECT_REASON)
    if arg:
        raise FaultSyntaxError(f"{kind} takes no argument")
    return Fault(kind)


class PendingFaults:
    """One-shot faults waiting for the request they apply to."""

    def __init__(self) -> None:
        self._rejects: list[str] = []
        self._pacing = 0

    def arm(self, fault: Fault) -> None:
        if fault.kind == "reject":
            self._rejects.append(fault.reason)
        elif fault.kind == "pacing":
            self._pacing += 1

    def take_reject(self) -> str | None:
        return self._rejects.pop(0) if self._rejects else None

    def take_pacing(self) -> bool:
        if self._pacing:
            self._pacing -= 1
            return True
        return False
