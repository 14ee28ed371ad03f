"""The kill switch, carried out: auto-trade off, every open order cancelled (ours, adopted
and other clients'), then, if asked, every position closed at market. It reports what it
did and what is still open, never hiding an order the broker did not confirm in time."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ibtrader.core.broker import BrokerUnavailable
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.risk import kill_switch_plan
from ibtrader.services.order_reports import KillSwitchReport, OrderRefused

if TYPE_CHECKING:
    from ibtrader.services.order_manager import OrderManager

log = logging.getLogger(__name__)


async def engage_kill_switch(m: OrderManager, flatten: bool, timeout: float
                             ) -> KillSwitchReport:
    m.kill_switch_engaged = True  # from here on only reducing orders pass risk
    m.auto_trade_disabled.emit("kill switch engaged")
    m.risk_event.emit("kill switch engaged: every order cancelled, auto-trade off"
                      + (", positions flattened" if flatten else ""))
    errors: list[str] = []
    cancelled: list[str] = []
    try:
        cancelled = [o.client_key for o in await m.cancel_all()]
    except BrokerUnavailable as exc:
        errors.append(f"cancel all not sent: {exc}")
    await _settle(m, timeout, errors)
    flattening: list[Order] = []
    if flatten and not errors:
        flattening = await _flatten(m, timeout, errors)
    after: dict[str, float] = {}
    try:
        after = {p.symbol: p.quantity for p in await m.port.positions()}
    except BrokerUnavailable as exc:
        errors.append(f"positions after the kill switch unknown: {exc}")
    report = KillSwitchReport(m.clock(), tuple(cancelled), tuple(flattening),
                              tuple(m.orders(open_only=True)), after, tuple(errors))
    log.warning("kill switch: %d cancelled, %d closing orders, %d still open, errors: %s",
                len(cancelled), len(flattening), len(report.still_open), errors)
    return report


async def _settle(m: OrderManager, timeout: float, errors: list[str]) -> None:
    """Wait for the broker to confirm the cancels; orders it does not report on (other
    clients') are settled by a reconcile with its list of open orders."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        waiting = m.orders(open_only=True)
        if not waiting or all(o.adopted for o in waiting):
            break
        await asyncio.sleep(0.05)
    try:
        await m.reconcile()
    except BrokerUnavailable as exc:
        errors.append(f"reconcile after cancel all: {exc}")


async def _flatten(m: OrderManager, timeout: float, errors: list[str]) -> list[Order]:
    """A market order closing each position the broker holds; waits for them to end."""
    try:
        held = {p.symbol: p.quantity for p in await m.port.positions()}
    except BrokerUnavailable as exc:
        errors.append(f"positions to flatten unknown: {exc}")
        return []
    closing: list[Order] = []
    for request in kill_switch_plan(held, flatten=True, now=m.clock()).flatten:
        try:
            closing.append(await m.place(request))
        except OrderRefused as exc:
            errors.append(str(exc))
    for order in closing:
        try:
            await m.wait_final(order.client_key, timeout)
        except TimeoutError:
            errors.append(f"closing order {order.client_key} not final in {timeout:g} s")
    return [m.order(o.client_key) or o for o in closing]
