"""What the order manager reports back: refusals, reconciliations, the kill switch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.portfolio import Discrepancy

# Refusal codes of the order manager itself (validation and risk have their own).
DUPLICATE_DECISION = "duplicate_decision"
BROKER_UNAVAILABLE = "broker_unavailable"
BROKER_REFUSED = "broker_refused"
NO_QUOTE = "no_quote"
PRICING = "pricing"
NOT_OURS = "not_ours"
UNKNOWN_ORDER = "unknown_order"
NOT_MODIFIABLE = "not_modifiable"


class OrderRefused(Exception):
    """Nothing was sent (or changed at the broker); `problems` lists (code, message)."""

    def __init__(self, problems: Sequence[tuple[str, str]], key: str = "") -> None:
        self.problems = list(problems)
        self.key = key
        what = f"order {key} refused: " if key else "refused: "
        super().__init__(what + "; ".join(message for _, message in self.problems))

    @property
    def codes(self) -> list[str]:
        return [code for code, _ in self.problems]


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """One merge of the journal with the broker (at start and after every reconnect).

    - adopted: orders at the broker the journal did not know (placed in TWS, say);
    - updated: journal orders the broker's word changed (status, fills);
    - missing: orders the journal had open that the broker no longer lists;
    - unsent: orders journalled but never sent (cancelled, or re-sent when very recent);
    - new_fills: executions we had not seen; discrepancies: our positions vs the broker's;
    - problems: what could not be merged (an order the app cannot represent, ...).
    """

    time: float
    adopted: tuple[Order, ...] = ()
    updated: tuple[Order, ...] = ()
    missing: tuple[Order, ...] = ()
    unsent: tuple[Order, ...] = ()
    new_fills: int = 0
    discrepancies: tuple[Discrepancy, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.missing or self.discrepancies or self.problems)


@dataclass(frozen=True, slots=True)
class KillSwitchReport:
    """What the kill switch did: orders it cancelled, closing orders it sent, and what is
    still open afterwards (empty unless the broker did not answer in time)."""

    time: float
    cancelled: tuple[str, ...] = ()
    flattening: tuple[Order, ...] = ()
    still_open: tuple[Order, ...] = ()
    positions_after: dict[str, float] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
