"""Pre-trade risk, the kill switch and decisions, through the order manager against the
real simulated gateway: each limit refuses what it must, records why, and sends nothing."""

from __future__ import annotations

import itertools
import math

import pytest

from ibtrader.core.decisions import Decision, DecisionState
from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.core.orders.tickets import stop_loss_ref, take_profit_ref
from ibtrader.services.order_reports import OrderRefused
from tests.services import order_rig
from tests.services.order_rig import (
    Rig,
    cents,
    gateway_orders,
    gateway_positions,
    quoted,
    settings_for,
    until,
)

gateway, run = order_rig.gateway, order_rig.run  # fixtures

S = OrderState
_ids = itertools.count(501)


async def refused_codes(rig: Rig, request) -> list[str]:
    with pytest.raises(OrderRefused) as refused:
        await rig.manager.place(request)
    assert gateway_orders(rig.gateway, request.client_key) == []
    recorded = [r for r in rig.journal.refusals() if r.client_key == request.client_key]
    assert len(recorded) == 1 and [c for c, _ in recorded[0].problems] == refused.value.codes
    return refused.value.codes


# (settings, how many orders to place first, the request that must be refused, its rule)
CASES = {
    "max_order_quantity": dict(max_order_quantity=5),
    "max_order_value": dict(max_order_value=1_000),
    "max_position_value_per_symbol": dict(max_position_value_per_symbol=3_000),
    "max_gross_exposure": dict(max_gross_exposure=2_500),
    "max_orders_per_minute": dict(max_orders_per_minute=2),
    "price_band": dict(price_band_pct=1.0),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_risk_limit_refuses_and_records_why(gateway, run, tmp_path, rule) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path, **CASES[rule]), next(_ids)).start()
        bid, _, _ = await quoted(rig)
        await quoted(rig, "MSFT")
        risk_events = []
        rig.manager.risk_event += risk_events.append
        resting = dict(order_type="lmt", limit=cents(bid - 0.5))
        if rule == "max_order_quantity":
            request = rig.request(quantity=6, **resting)
        elif rule == "max_order_value":  # 10 x ~190 = 1,900
            request = rig.request(quantity=10, **resting)
        elif rule == "max_position_value_per_symbol":  # 10 working, then 10 more
            await rig.manager.place(rig.request(quantity=10, **resting))
            request = rig.request(quantity=10, **resting)
        elif rule == "max_gross_exposure":  # ~1,900 working in AAPL, then ~840 in MSFT
            await rig.manager.place(rig.request(quantity=10, **resting))
            msft_bid, _, _ = await quoted(rig, "MSFT")
            request = rig.request(symbol="MSFT", quantity=2, order_type="lmt",
                                  limit=cents(msft_bid - 0.5))
        elif rule == "max_orders_per_minute":
            for _ in range(2):
                await rig.manager.place(rig.request(quantity=1, **resting))
            request = rig.request(quantity=1, **resting)
        else:  # a limit 3% under the market, with a 1% band
            request = rig.request(quantity=1, order_type="lmt", limit=cents(bid * 0.97))
        codes = await refused_codes(rig, request)
        expected = "price_band" if rule == "price_band" else rule
        assert codes == [expected]
        assert len(risk_events) == 1  # published once, with the reason
        await rig.manager.cancel_all()
        await rig.stop()

    run(scenario())


def test_after_the_daily_loss_limit_only_reducing_orders_pass(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path, daily_loss_limit=0.01), next(_ids)
                        ).start()
        await quoted(rig)
        # a round trip crossing the spread twice, with commissions: a small loss today
        await rig.final(await rig.manager.place(rig.request(quantity=20)))
        await rig.final(await rig.manager.place(rig.request("sell", quantity=10)))
        await until(lambda: rig.manager.portfolio.totals()[0] <= -0.01)
        codes = await refused_codes(rig, rig.request(quantity=5))
        assert codes == ["daily_loss_limit"]
        # an exit still passes: it only reduces the position
        exit_order = await rig.manager.place(rig.request("sell", quantity=10))
        assert (await rig.final(exit_order)).state is S.FILLED
        assert gateway_positions(gateway).get("AAPL", 0) == 0
        await rig.stop()

    run(scenario())


def test_the_kill_switch_leaves_no_open_order_and_flat_positions(gateway, run,
                                                                 tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path, breakeven_r=0.0), next(_ids)).start()
        bid, ask, _ = await quoted(rig)
        disabled = []
        rig.manager.auto_trade_disabled += disabled.append
        await rig.final(await rig.manager.place(rig.request(quantity=15)))
        for offset in (0.5, 0.6):
            await rig.manager.place(rig.request(quantity=5, order_type="lmt",
                                                limit=cents(bid - offset), tif="gtc"))
        bracket = await rig.manager.place(rig.request(
            quantity=5, order_type="lmt", limit=cents(bid - 0.7), take_profit=cents(ask + 2),
            stop_loss=cents(bid - 3)))
        await until(lambda: len(rig.manager.orders(open_only=True)) == 5)
        report = await rig.manager.kill_switch(flatten=True)
        assert disabled and not report.errors
        assert report.still_open == () and rig.manager.orders(open_only=True) == []
        assert {bracket.client_key, take_profit_ref(bracket.client_key),
                stop_loss_ref(bracket.client_key)} <= set(report.cancelled)
        assert [o.request.quantity for o in report.flattening] == [15]
        assert report.positions_after == {} and gateway_positions(gateway) == {}
        open_at_gateway = [o for o in gateway_orders(gateway)
                           if o["status"] not in ("Filled", "Cancelled", "Inactive")]
        assert open_at_gateway == []
        # engaged: a new entry is refused until the trader releases it
        assert await refused_codes(rig, rig.request(quantity=1)) == ["kill_switch"]
        rig.manager.release_kill_switch()
        assert (await rig.final(await rig.manager.place(rig.request(quantity=1)))).filled == 1
        await rig.stop()

    run(scenario(), 40)


def _decision(symbol: str, side: str, quantity: float, price: float, *, stop: float | None,
              target: float | None, action: str = "open", closes: float = 0.0) -> Decision:
    return Decision(id=f"d-{side}-{quantity:g}-{action}", signal_id="s1", strategy="sma_cross",
                    symbol=symbol, state=DecisionState.ACCEPTED, created=0.0, updated=0.0,
                    side=side, action=action, quantity=quantity, closes=closes,
                    entry_price=price, stop=stop, target=target)


def test_a_decision_becomes_a_bracket_linked_by_its_id(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path, limit_price_policy="marketable:2",
                                              breakeven_r=0.0), next(_ids)).start()
        bid, ask, _ = await quoted(rig)
        # a sizing stop off the tick grid is rounded away from the entry
        decision = _decision("AAPL", "buy", 12, ask, stop=bid - 1.234, target=ask + 2.468)
        entry = await rig.manager.submit(decision)
        assert entry.request.decision_id == decision.id and entry.request.source == "decision"
        assert entry.request.limit == cents(ask + 0.02)  # marketable by two ticks
        sl = rig.manager.order(stop_loss_ref(entry.client_key))
        tp = rig.manager.order(take_profit_ref(entry.client_key))
        assert sl.request.stop == math.floor((bid - 1.234) * 100) / 100
        assert tp.request.limit == cents(ask + 2.468)
        assert sl.request.decision_id == tp.request.decision_id == decision.id
        assert (await rig.final(entry)).state is S.FILLED
        # the engine submitting the same decision again gets the same order back
        assert (await rig.manager.submit(decision)).client_key == entry.client_key
        assert len(gateway_orders(gateway, entry.client_key)) == 1
        # a reversal: close the 12 held, then open 5 short with its own bracket
        bid, ask, _ = await quoted(rig)
        reverse = _decision("AAPL", "sell", 17, bid, stop=ask + 1, target=bid - 2,
                            action="reverse", closes=12)
        await rig.manager.cancel_all()  # the first bracket's exits
        new_entry = await rig.manager.submit(reverse)
        assert new_entry.quantity == 5 and new_entry.request.is_bracket
        assert (await rig.final(new_entry)).state is S.FILLED
        linked = [o for o in rig.manager.orders() if o.request.decision_id == reverse.id]
        assert sorted(o.quantity for o in linked if not o.parent_key) == [5, 12]
        assert gateway_positions(gateway) == {"AAPL": -5}
        await rig.manager.cancel_all()
        await rig.stop()

    run(scenario(), 40)
