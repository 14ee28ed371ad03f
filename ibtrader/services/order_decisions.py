"""An engine decision as an order request: entry limit by the settings' price policy
(chased if configured), bracketed by the decision's stop and target on the tick grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ibtrader.core.decisions import Decision
from ibtrader.core.orders.pricing import parse_chase, parse_policy, round_to_tick
from ibtrader.core.orders.request import OrderRequest

if TYPE_CHECKING:
    from ibtrader.config import Settings

CLOSE_SUFFIX = "-close"  # the closing half of a reversal, keyed after its opening half


def decision_request(decision: Decision, settings: Settings, *, key: str, quantity: float,
                     bracket: bool, tick: float, now: float) -> OrderRequest:
    """The request carrying out `decision` (or its closing part: `bracket` False). The
    sizing's stop is rounded away from the entry, so the risk taken is never more than
    sized; the target to the nearest tick."""
    long = decision.side == "buy"
    stop = target = None
    if bracket and decision.stop is not None:
        stop = round_to_tick(decision.stop, tick, "down" if long else "up")
    if bracket and decision.target is not None:
        target = round_to_tick(decision.target, tick, "nearest")
    chase = settings.limit_chase
    return OrderRequest(
        symbol=decision.symbol, side=decision.side, quantity=quantity, client_key=key,
        order_type="lmt", price_policy=parse_policy(settings.limit_price_policy),
        chase=parse_chase(chase) if chase else None, stop_loss=stop, take_profit=target,
        tif="day", decision_id=decision.id, source="decision", created=now)
