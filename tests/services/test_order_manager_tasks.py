"""Price management against the real simulated gateway: a chase that reprices within its
bound and then cancels or goes to market; a bracket's stop moved to break-even and trailed
by an ATR of 5-second bars. Every move is an order event and reaches the gateway."""

from __future__ import annotations

import itertools
from pathlib import Path

from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.core.orders.pricing import parse_chase
from ibtrader.core.orders.tickets import stop_loss_ref
from ibtrader.services.order_tasks import MARKET_SUFFIX
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from tests.adapters.conftest import GATEWAY_PACING
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
_ids = itertools.count(601)


def test_a_chase_reprices_up_to_its_bound_then_cancels(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path), next(_ids)).start()
        bid, _, _ = await quoted(rig)
        placed = cents(bid - 0.5)  # far below: the chase cannot reach the market
        order = await rig.manager.place(rig.request(
            order_type="lmt", limit=placed, chase=parse_chase("0.3:1:3:cancel")))
        final = await rig.final(order, timeout=10)
        assert final.state is S.CANCELLED
        events = rig.journal.order_events(order.client_key)
        reprices = [e.detail["after"]["limit"] for e in events
                    if e.kind == "modify_requested" and e.detail["reason"] == "reprice"]
        assert reprices == [cents(placed + 0.01), cents(placed + 0.02), cents(placed + 0.03)]
        [ended] = [e for e in events if e.kind == "chase_ended"]
        assert ended.detail["then"] == "cancel"
        [at_gw] = gateway_orders(gateway, order.client_key)
        assert at_gw["lmt_price"] == cents(placed + 0.03) and at_gw["status"] == "Cancelled"
        await rig.stop()

    run(scenario())


def test_a_chase_that_ends_at_market_sends_the_rest_once(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path), next(_ids)).start()
        bid, _, _ = await quoted(rig)
        order = await rig.manager.place(rig.request(
            quantity=8, order_type="lmt", limit=cents(bid - 0.5),
            chase=parse_chase("0.2:1:2:market")))
        assert (await rig.final(order, timeout=10)).state is S.CANCELLED
        market_key = order.client_key + MARKET_SUFFIX
        await until(lambda: rig.manager.order(market_key) is not None)
        market = await rig.final(rig.manager.order(market_key))
        assert market.state is S.FILLED and market.filled == 8
        assert market.request.order_type == "mkt"
        assert len(gateway_orders(gateway, market_key)) == 1
        assert gateway_positions(gateway) == {"AAPL": 8}
        await rig.stop()

    run(scenario())


def fast_gateway(tmp_path: Path) -> SimulatedGateway:
    # 30 simulated seconds per real second: the market moves enough to test stops quickly
    return SimulatedGateway(GatewayConfig(port=0, seed=11, state_file=tmp_path / "gw.sqlite",
                                          tick_interval=0.05, speed=30.0,
                                          pacing=GATEWAY_PACING)).start()


def test_the_stop_moves_to_break_even_after_the_price_moves_in_favour(run, tmp_path) -> None:
    gw = fast_gateway(tmp_path)

    async def scenario() -> None:
        # R is a dollar; break-even comes after +0.02 R (2 cents); the initial stops a dollar
        # away do not fire meanwhile. A long and a short bracket: whichever way this random
        # market goes first, one of them is in favour, so the test never waits on luck.
        rig = await Rig(gw, settings_for(tmp_path, breakeven_r=0.02, breakeven_buffer_ticks=0,
                                         trail_stop_atr_multiple=0.0), next(_ids)).start()
        bid, ask, _ = await quoted(rig)
        entries = [await rig.final(await rig.manager.place(rig.request(
            side, quantity=10, order_type="lmt", limit=cents(limit),
            take_profit=cents(limit + 5 * way), stop_loss=cents(limit - 1 * way))))
            for side, limit, way in (("buy", ask + 0.05, 1), ("sell", bid - 0.05, -1))]
        moves: dict[str, list] = {}

        def moved() -> bool:
            for entry in entries:
                sl = stop_loss_ref(entry.client_key)
                found = [e for e in rig.journal.order_events(sl) if e.kind == "modify_requested"]
                if found:
                    moves[entry.client_key] = found
            return bool(moves)

        await until(moved, timeout=20)
        key, found = next(iter(moves.items()))
        entry = rig.manager.order(key)
        assert found[0].detail["reason"] == "stop_breakeven"
        new_stop = found[0].detail["after"]["stop"]
        way = 1 if entry.request.side == "buy" else -1
        # at the entry (rounded toward profit), or a tick inside the market if that is short
        # of it; in any case far better than the initial stop a dollar away
        assert way * (new_stop - entry.request.stop_loss) > 0.9
        assert way * (new_stop - entry.avg_price) <= 0.01 + 1e-9
        sl = stop_loss_ref(key)
        await until(lambda: gateway_orders(gw, sl)[0]["aux_price"] == new_stop, timeout=5)
        await rig.manager.cancel_all()
        await rig.stop()

    try:
        run(scenario(), 40)
    finally:
        gw.stop()


def test_the_stop_trails_by_an_atr_of_five_second_bars(run, tmp_path) -> None:
    gw = fast_gateway(tmp_path)

    async def scenario() -> None:
        rig = await Rig(gw, settings_for(tmp_path, breakeven_r=0.0, trail_stop_atr_multiple=1.0,
                                         stop_atr_period=2), next(_ids)).start()
        bid, ask, _ = await quoted(rig)
        initial = cents(bid - 3)
        entry = await rig.final(await rig.manager.place(rig.request(
            quantity=10, order_type="lmt", limit=cents(ask + 0.05),
            take_profit=cents(ask + 5), stop_loss=initial)))
        sl = stop_loss_ref(entry.client_key)

        def trailed() -> list[float]:
            return [e.detail["after"]["stop"] for e in rig.journal.order_events(sl)
                    if e.kind == "modify_requested" and e.detail["reason"] == "stop_trail"]

        await until(lambda: bool(trailed()), timeout=20)
        stops = trailed()
        assert stops[0] > initial and stops == sorted(stops)  # only ever up, for a long
        await until(lambda: gateway_orders(gw, sl)[0]["aux_price"] in stops, timeout=5)
        await rig.manager.cancel_all()
        await rig.stop()

    try:
        run(scenario(), 40)
    finally:
        gw.stop()


def test_a_chase_resumed_after_a_restart_keeps_its_original_bound(gateway, run,
                                                                  tmp_path) -> None:
    async def scenario() -> None:
        settings = settings_for(tmp_path)
        first = await Rig(gateway, settings, 650).start()
        bid, _, _ = await quoted(first)
        placed = cents(bid - 0.5)
        order = await first.manager.place(first.request(
            order_type="lmt", limit=placed, chase=parse_chase("0.4:1:3:cancel")))
        key = order.client_key
        await until(lambda: first.manager.order(key).request.limit == cents(placed + 0.01))
        await first.stop()  # the app stops mid-chase; the order works on at the gateway
        again = await Rig(gateway, settings, 650).start()
        final = await again.final(again.manager.order(key), timeout=10)
        assert final.state is S.CANCELLED
        [at_gw] = gateway_orders(gateway, key)
        assert at_gw["lmt_price"] == cents(placed + 0.03)  # the bound, not 3 ticks more
        reprices = [e for e in again.journal.order_events(key)
                    if e.kind == "modify_requested"]
        assert [e.detail["after"]["limit"] for e in reprices] == [
            cents(placed + 0.01), cents(placed + 0.02), cents(placed + 0.03)]
        await again.stop()

    run(scenario())
