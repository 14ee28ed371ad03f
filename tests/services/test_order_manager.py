"""The order manager against the real simulated gateway (ib_async over loopback, a real
journal file): every order type from request to fill, cancel or reject; brackets; modify;
write-ahead; refusals with nothing sent."""

from __future__ import annotations

import itertools

import pytest

from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.core.orders.pricing import parse_policy
from ibtrader.core.orders.tickets import stop_loss_ref, take_profit_ref
from ibtrader.services.order_reports import OrderRefused
from tests.services import order_rig
from tests.services.order_rig import (
    Rig,
    book,
    cents,
    gateway_orders,
    gateway_positions,
    quoted,
    settings_for,
    until,
)

gateway, run = order_rig.gateway, order_rig.run  # fixtures

S = OrderState
_ids = itertools.count(301)


async def rig_for(gateway, tmp_path, **settings) -> Rig:
    return await Rig(gateway, settings_for(tmp_path, **settings), next(_ids)).start()


def test_every_order_type_goes_from_request_to_fill_with_its_history(gateway, run,
                                                                     tmp_path) -> None:
    async def scenario() -> None:
        rig = await rig_for(gateway, tmp_path)
        fills_seen = []
        rig.manager.fill_received += fills_seen.append
        bid, ask, _ = await quoted(rig)
        requests = [
            rig.request(),
            rig.request(order_type="lmt", limit=cents(ask + 0.05)),
            rig.request(order_type="lmt", price_policy=parse_policy("marketable:2")),
            rig.request("sell", order_type="stp", stop=cents(bid - 0.05)),
            rig.request("buy", order_type="stp-lmt", stop=cents(ask + 0.01),
                        limit=cents(ask + 0.5)),
            rig.request("sell", order_type="trail", trail_amount=0.05),
        ]
        orders = [await rig.manager.place(r) for r in requests]
        # the sell stop sits below the bid and the buy stop above the ask until the market
        # reaches them; the trailing stop follows; give them a few seconds of ticks
        done = {}
        for order in orders[:3]:
            done[order.client_key] = await rig.final(order)
        for order in done.values():
            assert order.state is S.FILLED and order.filled == 10 and order.avg_price > 0
            # the commission report comes a moment after the execution, and is journalled
            await until(lambda k=order.client_key: rig.journal.order(k).commission > 0)
            kinds = rig.kinds(order.client_key)
            assert kinds[:2] == ["created", "sent"] and "fill" in kinds
            [at_gw] = gateway_orders(gateway, order.client_key)
            assert at_gw["status"] == "Filled"
        # each execution is news once: its commission report does not announce it again
        exec_ids = [f.exec_id for f in fills_seen]
        assert len(exec_ids) == len(set(exec_ids))
        assert {f.order_ref for f in fills_seen} >= set(done)
        policy = done[requests[2].client_key]
        assert policy.request.limit == pytest.approx(cents(policy.request.limit))
        for order in orders[3:]:
            await until(lambda k=order.client_key: rig.manager.order(k).state in (
                S.WORKING, S.FILLED, S.PARTIALLY_FILLED))
            assert len(gateway_orders(gateway, order.client_key)) == 1
        await rig.manager.cancel_all()
        for order in orders[3:]:
            assert (await rig.final(order)).state in (S.CANCELLED, S.FILLED)
        await rig.stop()

    run(scenario(), 40)


def test_write_ahead_the_order_is_journalled_before_the_broker_sees_it(gateway, run,
                                                                       tmp_path) -> None:
    async def scenario() -> None:
        rig = await rig_for(gateway, tmp_path)
        bid, _, _ = await quoted(rig)
        seen_in_journal = []
        real_place = rig.broker.orders.place

        def place(ticket):  # what the journal holds at the moment the ticket goes out
            stored = rig.journal.order(ticket.order_ref)
            seen_in_journal.append(None if stored is None else stored.state)
            return real_place(ticket)

        rig.broker.orders.place = place
        order = await rig.manager.place(rig.request(order_type="lmt", limit=cents(bid - 1),
                                                    tif="gtc"))
        assert seen_in_journal == [S.NEW]
        await until(lambda: rig.manager.order(order.client_key).state is S.WORKING)
        stored = rig.journal.order(order.client_key)
        assert stored.state is S.WORKING and stored.broker_id == order.broker_id > 0
        # the same key again returns the same order: nothing is sent twice
        again = await rig.manager.place(order.request)
        assert again.client_key == order.client_key
        assert len(gateway_orders(gateway, order.client_key)) == 1
        await rig.manager.cancel(order.client_key)
        cancelled = await rig.final(order)
        assert cancelled.state is S.CANCELLED
        assert rig.kinds(order.client_key)[:3] == ["created", "sent", "status"]
        assert "cancel_requested" in rig.kinds(order.client_key)
        await rig.stop()

    run(scenario())


def test_a_rejection_keeps_the_brokers_reason(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        import asyncio
        rig = await rig_for(gateway, tmp_path)
        await quoted(rig)
        await asyncio.to_thread(gateway.inject, "reject:Trading halted")
        order = await rig.manager.place(rig.request())
        final = await rig.final(order)
        assert final.state is S.REJECTED and "Trading halted" in final.last_error
        assert rig.journal.order(order.client_key).state is S.REJECTED
        await rig.stop()

    run(scenario())


def test_modify_changes_the_same_order_at_the_gateway(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await rig_for(gateway, tmp_path)
        bid, ask, _ = await quoted(rig)
        order = await rig.manager.place(rig.request(quantity=20, order_type="lmt",
                                                    limit=cents(bid - 1)))
        await until(lambda: rig.manager.order(order.client_key).state is S.WORKING)
        await rig.manager.modify(order.client_key, quantity=30, limit=cents(bid - 1.5))
        await until(lambda: gateway_orders(gateway, order.client_key)[0]["lmt_price"]
                    == cents(bid - 1.5))
        [held] = gateway_orders(gateway, order.client_key)
        assert held["total_quantity"] == 30
        events = rig.journal.order_events(order.client_key)
        [modify] = [e for e in events if e.kind == "modify_requested"]
        assert modify.detail["before"] == {"quantity": 20, "limit": cents(bid - 1)}
        # a modification that breaks the rules is refused and nothing changes at the gateway
        with pytest.raises(OrderRefused) as refused:
            await rig.manager.modify(order.client_key, limit=cents(bid - 1) - 0.005)
        assert "off_tick" in refused.value.codes
        await rig.manager.modify(order.client_key, limit=cents(ask + 0.5))
        assert (await rig.final(order)).state is S.FILLED
        assert len(gateway_orders(gateway, order.client_key)) == 1
        await rig.stop()

    run(scenario())


def test_a_bracket_take_profit_fill_cancels_the_stop(gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await rig_for(gateway, tmp_path, breakeven_r=0.0)
        bid, ask, _ = await quoted(rig)
        request = rig.request(quantity=50, order_type="lmt", limit=cents(ask + 0.02),
                              take_profit=cents(ask + 1), stop_loss=cents(bid - 2))
        entry = await rig.manager.place(request)
        tp, sl = take_profit_ref(entry.client_key), stop_loss_ref(entry.client_key)
        assert rig.manager.order(tp).parent_key == entry.client_key
        assert (await rig.final(entry)).state is S.FILLED
        # the trader takes profit now: the take-profit moved to a marketable price
        bid, _, _ = book(gateway)
        await rig.manager.modify(tp, limit=cents(bid - 0.05))
        await until(lambda: rig.manager.order(tp).state is S.FILLED)
        await until(lambda: rig.manager.order(sl).state is S.CANCELLED)
        assert rig.manager.order(entry.client_key).state is S.FILLED
        assert gateway_positions(gateway).get("AAPL", 0) == 0
        assert rig.journal.order(sl).state is S.CANCELLED
        for key in (entry.client_key, tp, sl):
            assert len(gateway_orders(gateway, key)) == 1
        await rig.stop()

    run(scenario(), 40)


def test_bad_requests_are_refused_with_reasons_and_nothing_is_sent(gateway, run,
                                                                   tmp_path) -> None:
    async def scenario() -> None:
        rig = await rig_for(gateway, tmp_path)
        bid, ask, _ = await quoted(rig)
        cases = [
            (rig.request(symbol="NOSUCH"), "unknown_contract"),
            (rig.request(quantity=2.5), "lot_size"),
            (rig.request(order_type="lmt", limit=cents(bid) + 0.003), "off_tick"),
            (rig.request(order_type="stp", stop=cents(bid - 1)), "stop_wrong_side"),
            (rig.request(order_type="lmt", limit=cents(ask), take_profit=cents(ask - 1),
                         stop_loss=cents(ask - 2)), "bracket_inconsistent"),
        ]
        seen = []
        rig.manager.refused += lambda request, problems: seen.append(request.client_key)
        for request, code in cases:
            with pytest.raises(OrderRefused) as refused:
                await rig.manager.place(request)
            assert code in refused.value.codes, refused.value
            assert rig.manager.order(request.client_key) is None
            assert gateway_orders(gateway, request.client_key) == []
        recorded = {r.client_key: r for r in rig.journal.refusals()}
        assert set(recorded) == {r.client_key for r, _ in cases} == set(seen)
        assert recorded[cases[1][0].client_key].problems[0][0] == "lot_size"
        await rig.stop()

    run(scenario())


def test_placing_while_disconnected_is_refused_and_recorded_as_never_sent(gateway, run,
                                                                          tmp_path) -> None:
    async def scenario() -> None:
        import asyncio

        from ibtrader.core.broker import ConnectionState
        rig = await rig_for(gateway, tmp_path)
        await quoted(rig)
        states = []
        rig.broker.state_changed += lambda state, _why: states.append(state)
        await asyncio.to_thread(gateway.inject, "drop")
        await until(lambda: ConnectionState.RECONNECTING in states, timeout=5)
        request = rig.request()
        with pytest.raises(OrderRefused) as refused:
            await rig.manager.place(request)
        assert refused.value.codes == ["broker_unavailable"]
        order = rig.journal.order(request.client_key)
        assert order.state is S.CANCELLED and rig.kinds(request.client_key) == [
            "created", "not_sent"]
        await until(lambda: rig.broker.state is ConnectionState.CONNECTED, timeout=15)
        assert gateway_orders(gateway, request.client_key) == []
        await rig.stop()

    run(scenario(), 40)
