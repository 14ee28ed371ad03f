"""The IB adapter's order side against the real simulated gateway over loopback, with
ib_async as the client (no mocks): what a trader relies on when an order is sent."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from ib_async import IB, LimitOrder, Stock

from ibtrader.adapters.ib import IBBroker
from ibtrader.adapters.ib.orders import IBOrders, UnknownOrder
from ibtrader.adapters.ib.orders_convert import InvalidTicket, check_ticket, order_for
from ibtrader.core.broker import (
    BrokerError,
    BrokerFill,
    BrokerOrderStatus,
    BrokerUnavailable,
    ConnectionState,
    OrderTicket,
)
from ibtrader.core.market import Instrument
from ibtrader.sim.gateway import GatewayConfig, SimulatedGateway
from tests.adapters.conftest import GATEWAY_PACING, broker_for, until

AAPL = Instrument("AAPL", "STK", "SMART", "USD", con_id=265598)


class Reports:
    """Everything one order port reported, by ref."""

    def __init__(self, orders: IBOrders) -> None:
        self.statuses: dict[str, list[BrokerOrderStatus]] = defaultdict(list)
        self.fills: list[BrokerFill] = []
        self.errors: list[tuple[str, BrokerError]] = []
        orders.order_status += lambda s: self.statuses[s.order_ref].append(s)
        orders.fill_received += self.fills.append
        orders.order_error += lambda ref, e: self.errors.append((ref, e))

    def status(self, ref: str) -> str:
        return self.statuses[ref][-1].status if self.statuses[ref] else ""

    def priced_fills(self, ref: str) -> list[BrokerFill]:
        return [f for f in self.fills if f.order_ref == ref and not math.isnan(f.commission)]

    def codes(self, ref: str) -> list[int]:
        return [e.code for r, e in self.errors if r == ref]

    def assert_no_repeated_status(self) -> None:
        for ref, seq in self.statuses.items():
            for a, b in itertools.pairwise(seq):
                assert replace(a, time=0) != replace(b, time=0), f"{ref} repeated {a}"


async def started(gateway: SimulatedGateway, **config: object) -> tuple[IBBroker, Reports]:
    broker = broker_for(gateway, **config)
    await broker.start()
    return broker, Reports(broker.orders)


async def book(gateway: SimulatedGateway, symbol: str = "AAPL") -> tuple[Instrument, float, float]:
    """The instrument (qualified at the gateway) and its bid and ask right now."""
    def read() -> tuple[int, float, float, float]:
        exchange = gateway.server.exchange
        [inst] = exchange.universe.by_symbol(symbol)
        quote = exchange.quote(inst.con_id)
        return inst.con_id, inst.min_tick, quote.bid, quote.ask
    con_id, tick, bid, ask = await asyncio.to_thread(gateway.call, read)
    return replace(AAPL, symbol=symbol, con_id=con_id, min_tick=tick), bid, ask


def at_gateway(gateway: SimulatedGateway, client_id: int, order_id: int) -> dict:
    """The gateway's own record of one order (a copy taken on its loop)."""
    def read() -> dict:
        order = gateway.server.exchange.engine.order((client_id, order_id))
        return {} if order is None else dict(vars(order))
    return gateway.call(read)


def gateway_positions(gateway: SimulatedGateway) -> dict[str, float]:
    def read() -> dict[str, float]:
        exchange = gateway.server.exchange
        return {exchange.instrument(p.con_id).symbol: p.quantity
                for p in exchange.account.positions.values() if p.quantity}
    return gateway.call(read)


def cents(price: float) -> float:
    return round(price, 2)


# ----- tickets become IB orders (no gateway) -------------------------------------------------
def test_each_ticket_kind_becomes_the_ib_order_ib_expects() -> None:
    trail = order_for(OrderTicket("t", AAPL, "SELL", 5, "TRAIL", trail_percent=2.5,
                                  stop_price=180.0, tif="GTC", outside_rth=True))
    assert (trail.orderType, trail.trailingPercent, trail.trailStopPrice, trail.tif,
            trail.outsideRth, trail.orderRef) == ("TRAIL", 2.5, 180.0, "GTC", True, "t")
    amount = order_for(OrderTicket("a", AAPL, "SELL", 5, "TRAIL", trail_amount=1.5))
    assert amount.auxPrice == 1.5
    stop_limit = order_for(OrderTicket("s", AAPL, "BUY", 5, "STP LMT", limit_price=101.0,
                                       stop_price=100.0))
    assert (stop_limit.lmtPrice, stop_limit.auxPrice) == (101.0, 100.0)
    child = order_for(OrderTicket("c", AAPL, "SELL", 5, "LMT", limit_price=110.0,
                                  parent_ref="p", oca_group="g", transmit=False), parent_id=41)
    assert (child.parentId, child.ocaGroup, child.ocaType, child.transmit) == (41, "g", 2, False)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"order_type": "LMT"}, "limit price above zero"),
    ({"order_type": "STP", "stop_price": -1.0}, "stop price above zero"),
    ({"order_type": "TRAIL"}, "exactly one of trail_amount or trail_percent"),
    ({"order_type": "TRAIL", "trail_amount": 1.0, "trail_percent": 1.0}, "exactly one"),
    ({"order_type": "TRAIL", "trail_percent": 150.0}, "below 100"),
    ({"quantity": 0.0}, "quantity above zero"),
    ({"side": "buy"}, "BUY or SELL"),
    ({"tif": "FOK"}, "time in force"),
    ({"order_type": "MOC"}, "unknown order type"),
    ({"instrument": replace(AAPL, con_id=0)}, "not qualified"),
    ({"order_ref": " "}, "needs an order_ref"),
])
def test_a_malformed_ticket_is_refused_with_the_reason(changes: dict, reason: str) -> None:
    with pytest.raises(InvalidTicket, match=reason):
        check_ticket(replace(OrderTicket("x", AAPL, "BUY", 10), **changes))


# ----- against the simulated gateway --------------------------------------------------------
def test_every_order_type_reaches_its_fill_with_the_ref_echoed(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, ask = await book(gateway)
        tickets = [
            OrderTicket("mkt", inst, "BUY", 10),
            OrderTicket("lmt", inst, "BUY", 10, "LMT", limit_price=cents(ask + 0.5)),
            # a buy stop below the market triggers at the next quote
            OrderTicket("stp", inst, "BUY", 10, "STP", stop_price=cents(bid - 0.5)),
            OrderTicket("stplmt", inst, "BUY", 10, "STP LMT", stop_price=cents(bid - 0.5),
                        limit_price=cents(ask + 1.0)),
            # a sell trailing stop whose initial stop is above the market: triggers at once
            OrderTicket("trail", inst, "SELL", 10, "TRAIL", trail_amount=0.5,
                        stop_price=cents(ask + 1.0)),
            OrderTicket("trailpct", inst, "SELL", 10, "TRAIL", trail_percent=1.0,
                        stop_price=cents(ask + 1.0), tif="GTC"),
        ]
        ids = {t.order_ref: broker.orders.place(t) for t in tickets}
        refs = set(ids)
        await until(lambda: all(reports.status(r) == "Filled" for r in refs))
        await until(lambda: {f.order_ref for f in reports.fills
                             if not math.isnan(f.commission)} == refs)
        assert len(set(ids.values())) == len(ids)
        sent = {r: at_gateway(gateway, broker.orders.client_id, i) for r, i in ids.items()}
        assert {r: s["order_ref"] for r, s in sent.items()} == {r: r for r in refs}
        assert sent["stplmt"]["order_type"] == "STP LMT"
        assert sent["stplmt"]["aux_price"] == cents(bid - 0.5)
        assert sent["trailpct"]["trailing_percent"] == 1.0 and sent["trailpct"]["tif"] == "GTC"
        assert sent["trail"]["aux_price"] == 0.5
        for ref in refs:
            last = reports.statuses[ref][-1]
            assert (last.filled, last.remaining, last.broker_id) == (10, 0, ids[ref])
            assert last.perm_id > 0 and last.avg_fill_price > 0
        executions = await broker.orders.fills_since(0)
        assert {f.order_ref for f in executions} == refs
        assert all(f.commission > 0 for f in executions)
        reports.assert_no_repeated_status()
        await broker.stop()

    run(scenario())


def test_a_large_order_fills_in_parts_and_each_commission_arrives_once(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, _, _ = await book(gateway)
        broker.orders.place(OrderTicket("big", inst, "BUY", 3000))
        await until(lambda: reports.status("big") == "Filled")
        await until(lambda: sum(f.quantity for f in reports.priced_fills("big")) == 3000)
        partial = [s for s in reports.statuses["big"] if 0 < s.filled < 3000]
        assert partial, "an order larger than the quoted size fills in parts"
        assert all(s.filled + s.remaining == 3000 for s in reports.statuses["big"])
        fills = reports.priced_fills("big")
        assert len(fills) > 1
        # asking for the executions makes IB (and ib_async) repeat every commission report
        await broker.orders.fills_since(0)
        since = fills[-1].time  # IB stamps executions to the second
        later = await broker.orders.fills_since(since)
        assert later and all(f.time >= since for f in later)
        assert {f.exec_id for f in later} == {f.exec_id for f in fills if f.time >= since}
        assert await broker.orders.fills_since(since + 1) == []
        counts = Counter(f.exec_id for f in reports.fills if not math.isnan(f.commission))
        assert set(counts.values()) == {1}
        unpriced = Counter(f.exec_id for f in reports.fills if math.isnan(f.commission))
        assert unpriced == counts  # each execution: once as it happened, once priced
        final = reports.statuses["big"][-1]
        vwap = sum(f.price * f.quantity for f in fills) / 3000
        assert final.avg_fill_price == pytest.approx(vwap)
        assert {p.symbol: p.quantity for p in await broker.orders.positions()} == \
            gateway_positions(gateway) == {"AAPL": 3000}
        reports.assert_no_repeated_status()
        await broker.stop()

    run(scenario())


def test_modify_changes_price_and_quantity_of_the_same_order(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, ask = await book(gateway)
        low = cents(bid * 0.9)
        ticket = OrderTicket("rest", inst, "BUY", 100, "LMT", limit_price=low, tif="GTC")
        order_id = broker.orders.place(ticket)
        await until(lambda: reports.status("rest") == "Submitted")
        broker.orders.modify(replace(ticket, quantity=150, limit_price=cents(low - 1)))
        await until(lambda: reports.statuses["rest"][-1].remaining == 150)
        held = at_gateway(gateway, broker.orders.client_id, order_id)
        assert (held["total_quantity"], held["lmt_price"]) == (150, cents(low - 1))
        [listed] = [o for o in await broker.orders.open_orders() if o.ticket.order_ref == "rest"]
        assert (listed.ticket.quantity, listed.ticket.limit_price) == (150, cents(low - 1))
        broker.orders.modify(replace(ticket, quantity=150, limit_price=cents(ask + 1)))
        await until(lambda: reports.status("rest") == "Filled")
        assert {s.broker_id for s in reports.statuses["rest"]} == {order_id}
        with pytest.raises(InvalidTicket, match="Filled at the broker"):
            broker.orders.modify(replace(ticket, limit_price=cents(ask + 2)))
        with pytest.raises(InvalidTicket, match="already placed"):
            broker.orders.place(ticket)
        reports.assert_no_repeated_status()
        await broker.stop()

    run(scenario())


def test_cancel_reports_cancelled_with_ibs_202(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, _ = await book(gateway)
        broker.orders.place(OrderTicket("c1", inst, "BUY", 10, "LMT", limit_price=cents(bid - 5)))
        await until(lambda: reports.status("c1") == "Submitted")
        broker.orders.cancel("c1")
        await until(lambda: reports.status("c1") == "Cancelled" and 202 in reports.codes("c1"))
        assert "c1" not in {o.ticket.order_ref for o in await broker.orders.open_orders()}
        broker.orders.cancel("c1")  # IB refuses to cancel it twice, naming the order
        await until(lambda: len(reports.codes("c1")) == 2)
        assert reports.codes("c1")[-1] not in (202, -1)
        with pytest.raises(UnknownOrder, match="nope"):
            broker.orders.cancel("nope")
        await broker.stop()

    run(scenario())


def test_rejections_keep_ibs_code_and_reason(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, _, _ = await book(gateway)
        broker.orders.place(OrderTicket("huge", inst, "BUY", 1_000_000))
        await until(lambda: 201 in reports.codes("huge"))
        assert reports.status("huge") == "Inactive"
        [(_, error)] = [e for e in reports.errors if e[0] == "huge"]
        assert "rejected" in error.message.lower() and not error.is_warning

        await asyncio.to_thread(gateway.inject, "reject:Trading halted")
        broker.orders.place(OrderTicket("halted", inst, "BUY", 1))
        await until(lambda: reports.codes("halted") == [201])
        [(_, error)] = [e for e in reports.errors if e[0] == "halted"]
        assert "Trading halted" in error.message
        # ib_async's own "Cancelled" after an error is not passed on as IB's status
        assert reports.status("halted") not in ("Cancelled", "Filled")
        await broker.stop()

    run(scenario())


def test_a_bracket_take_profit_fill_cancels_its_stop(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, ask = await book(gateway)
        orders = broker.orders
        orders.place(OrderTicket("entry", inst, "BUY", 50, "LMT", limit_price=cents(ask + 0.5),
                                 transmit=False))
        # the take-profit is priced to sell at once, so that the test need not wait
        orders.place(OrderTicket("tp", inst, "SELL", 50, "LMT", limit_price=cents(bid - 0.5),
                                 parent_ref="entry", oca_group="b1", transmit=False))
        orders.place(OrderTicket("sl", inst, "SELL", 50, "STP", stop_price=cents(bid - 10),
                                 parent_ref="entry", oca_group="b1"))
        await until(lambda: reports.status("tp") == "Filled" and reports.status("sl")
                    == "Cancelled")
        assert reports.status("entry") == "Filled"
        closing = reports.priced_fills("tp")
        assert closing and all(f.side == "SELL" and math.isfinite(f.realized_pnl)
                               for f in closing)
        sl = at_gateway(gateway, orders.client_id, orders.broker_id("sl") or 0)
        assert sl["parent_id"] == orders.broker_id("entry") and sl["status"] == "Cancelled"
        assert gateway_positions(gateway).get("AAPL", 0) == 0
        assert await orders.positions() == []
        await broker.stop()

    run(scenario())


def test_a_partly_filled_take_profit_shrinks_its_stop_to_what_is_still_held(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, ask = await book(gateway)
        orders = broker.orders
        orders.place(OrderTicket("e2", inst, "BUY", 2000, "LMT", limit_price=cents(ask + 1),
                                 transmit=False))
        orders.place(OrderTicket("tp2", inst, "SELL", 2000, "LMT", limit_price=cents(bid - 1),
                                 parent_ref="e2", oca_group="b2", transmit=False))
        orders.place(OrderTicket("sl2", inst, "SELL", 2000, "STP", stop_price=cents(bid - 10),
                                 parent_ref="e2", oca_group="b2"))
        await until(lambda: reports.status("tp2") == "Filled" and reports.status("sl2")
                    == "Cancelled")
        tp_fills = [s.filled for s in reports.statuses["tp2"]]
        assert any(0 < f < 2000 for f in tp_fills), "the take-profit fills in parts"
        # while the take-profit filled, the stop kept covering exactly the rest
        shrunk = [s.remaining for s in reports.statuses["sl2"] if s.status != "Cancelled"]
        assert any(0 < r < 2000 for r in shrunk)
        assert gateway_positions(gateway).get("AAPL", 0) == 0
        await broker.stop()

    run(scenario())


def test_open_orders_after_a_dropped_connection_keep_refs_and_filled(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        orders = broker.orders
        inst, bid, ask = await book(gateway)
        resting = OrderTicket("r1", inst, "BUY", 10, "LMT", limit_price=cents(bid - 5),
                              tif="GTC")
        orders.place(resting)
        part = OrderTicket("p1", inst, "BUY", 4000, "LMT", limit_price=cents(ask + 0.05))
        part_id = orders.place(part)
        await until(lambda: bool(reports.statuses["p1"]) and reports.statuses["p1"][-1].filled)
        orders.modify(replace(part, limit_price=cents(bid - 4)))  # stop it filling further
        await until(lambda: at_gateway(gateway, orders.client_id, part_id)["lmt_price"]
                    == cents(bid - 4))
        states: list[ConnectionState] = []
        broker.state_changed += lambda state, _reason: states.append(state)
        await asyncio.to_thread(gateway.inject, "drop")
        await until(lambda: ConnectionState.RECONNECTING in states, timeout=3)
        with pytest.raises(BrokerUnavailable):
            orders.place(OrderTicket("while-down", inst, "BUY", 1))
        await until(lambda: broker.state is ConnectionState.CONNECTED)
        listed = {o.ticket.order_ref: o for o in await orders.open_orders()}
        truth = at_gateway(gateway, orders.client_id, part_id)
        assert {"r1", "p1"} <= set(listed)
        assert 0 < listed["p1"].status.filled == truth["filled"] < 4000
        assert listed["p1"].status.broker_id == part_id and listed["p1"].placed_by_us
        assert listed["r1"].ticket.limit_price == cents(bid - 5)
        assert listed["r1"].ticket.tif == "GTC"
        assert "while-down" not in listed
        orders.cancel("p1")  # the ref still names the same order after the reconnect
        await until(lambda: reports.status("p1") == "Cancelled")
        assert {p.symbol: p.quantity for p in await orders.positions()} == \
            gateway_positions(gateway)
        reports.assert_no_repeated_status()  # the reconnect's re-sent statuses are not news
        await broker.stop()

    run(scenario())


def test_orders_lost_in_the_throttle_by_a_drop_can_be_sent_again_exactly_once(
        gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        orders = broker.orders
        inst, bid, _ = await book(gateway)
        tickets = [OrderTicket(f"q{i}", inst, "BUY", 1, "LMT", limit_price=cents(bid - 5))
                   for i in range(40)]
        for ticket in tickets:  # 40 messages: most wait in the outbound throttle
            orders.place(ticket)
        await until(lambda: reports.status("q0") == "Submitted")
        await asyncio.to_thread(gateway.inject, "drop")
        await until(lambda: broker.state is ConnectionState.RECONNECTING, timeout=3)
        await until(lambda: broker.state is ConnectionState.CONNECTED)

        def refs_at_gateway() -> list[str]:
            return gateway.call(lambda: [o.order_ref for o in
                                         gateway.server.exchange.open_orders()])
        arrived = set(refs_at_gateway())
        assert 0 < len(arrived) < len(tickets)
        for ticket in tickets:
            if ticket.order_ref in arrived:
                with pytest.raises(InvalidTicket, match="already placed"):
                    orders.place(ticket)
            else:
                orders.place(ticket)
        await until(lambda: all(reports.status(t.order_ref) == "Submitted" for t in tickets))
        assert Counter(refs_at_gateway()) == Counter(t.order_ref for t in tickets)
        orders.cancel_all()
        await broker.stop()

    run(scenario())


def test_gtc_orders_come_back_after_a_gateway_restart(tmp_path, run) -> None:
    def new_gateway(port: int = 0) -> SimulatedGateway:
        return SimulatedGateway(GatewayConfig(
            port=port, seed=7, state_file=tmp_path / "gw.sqlite", tick_interval=0.1,
            speed=5.0, pacing=GATEWAY_PACING)).start()

    first = new_gateway()
    port = first.port
    second: list[SimulatedGateway] = []

    async def scenario() -> None:
        broker, reports = await started(first)
        inst, bid, _ = await book(first)
        order_id = broker.orders.place(OrderTicket("gtc1", inst, "BUY", 10, "LMT",
                                                   limit_price=cents(bid - 5), tif="GTC"))
        await until(lambda: reports.status("gtc1") == "Submitted")
        await asyncio.to_thread(first.stop)
        await until(lambda: broker.state is ConnectionState.RECONNECTING, timeout=5)
        second.append(await asyncio.to_thread(new_gateway, port))
        await until(lambda: broker.state is ConnectionState.CONNECTED, timeout=15)
        [restored] = [o for o in await broker.orders.open_orders()
                      if o.ticket.order_ref == "gtc1"]
        assert restored.status.broker_id == order_id and restored.placed_by_us
        assert (restored.ticket.tif, restored.ticket.limit_price) == ("GTC", cents(bid - 5))
        broker.orders.cancel("gtc1")
        await until(lambda: reports.status("gtc1") == "Cancelled")
        await broker.stop()

    try:
        run(scenario())
    finally:
        first.stop()
        for gw in second:
            gw.stop()


def test_a_gateway_that_lost_its_state_never_gets_an_old_ref_for_a_new_order(run) -> None:
    first = SimulatedGateway(GatewayConfig(port=0, seed=7, tick_interval=0.1)).start()
    port = first.port
    second: list[SimulatedGateway] = []

    async def scenario() -> None:
        broker, reports = await started(first)
        inst, bid, _ = await book(first)
        old_id = broker.orders.place(OrderTicket("old", inst, "BUY", 1, "LMT",
                                                 limit_price=cents(bid - 5)))
        await until(lambda: reports.status("old") == "Submitted")
        await asyncio.to_thread(first.stop)
        await until(lambda: broker.state is ConnectionState.RECONNECTING, timeout=5)
        second.append(await asyncio.to_thread(
            lambda: SimulatedGateway(GatewayConfig(port=port, seed=7, tick_interval=0.1))
            .start()))
        await until(lambda: broker.state is ConnectionState.CONNECTED, timeout=15)
        new_id = broker.orders.place(OrderTicket("new", inst, "BUY", 1, "LMT",
                                                 limit_price=cents(bid - 5)))
        await until(lambda: reports.status("new") == "Submitted")
        assert new_id == old_id  # the fresh gateway hands out the same id again
        with pytest.raises(UnknownOrder):
            broker.orders.cancel("old")  # must not cancel "new"
        assert broker.orders.broker_id("new") == new_id
        assert [o.ticket.order_ref for o in await broker.orders.open_orders()] == ["new"]
        await broker.stop()

    try:
        run(scenario())
    finally:
        first.stop()
        for gw in second:
            gw.stop()


def test_a_restarted_app_adopts_its_refs_and_never_places_one_twice(gateway, run) -> None:
    async def scenario() -> None:
        first, reports = await started(gateway, client_id=61)
        inst, bid, _ = await book(gateway)
        resting = OrderTicket("k1", inst, "BUY", 5, "LMT", limit_price=cents(bid - 5))
        filled = OrderTicket("k2", inst, "BUY", 5)
        first.orders.place(resting)
        first.orders.place(filled)
        await until(lambda: reports.status("k1") == "Submitted"
                    and reports.status("k2") == "Filled")
        await first.stop()  # the app goes away; its orders stay at IB

        again, again_reports = await started(gateway, client_id=61)
        for ticket in (resting, filled):
            with pytest.raises(InvalidTicket, match="already placed"):
                again.orders.place(ticket)
        with pytest.raises(InvalidTicket, match="completed at IB"):
            again.orders.cancel("k2")
        again.orders.cancel("k1")
        await until(lambda: again_reports.status("k1") == "Cancelled")
        await again.stop()

    run(scenario())


def test_orders_of_other_clients_are_listed_as_not_ours_and_cancel_all_ends_all(
        gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        other, _ = await started(gateway)
        inst, bid, _ = await book(gateway)
        raw = IB()
        await raw.connectAsync("127.0.0.1", gateway.port, clientId=99, timeout=10)
        [stock] = await raw.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        raw.placeOrder(stock, LimitOrder("BUY", 5, cents(bid - 6)))
        other.orders.place(OrderTicket("theirs", inst, "BUY", 5, "LMT",
                                       limit_price=cents(bid - 7)))
        broker.orders.place(OrderTicket("ours", inst, "BUY", 5, "LMT",
                                        limit_price=cents(bid - 8)))
        await until(lambda: reports.status("ours") == "Submitted")
        listed: list = []

        async def three_listed() -> bool:
            listed[:] = await broker.orders.open_orders()
            return len(listed) == 3

        for _ in range(50):
            if await three_listed():
                break
            await asyncio.sleep(0.05)
        mine = {o.ticket.order_ref: o.placed_by_us for o in listed}
        assert mine == {"ours": True, "theirs": False, "": False}
        broker.orders.cancel_all()
        await until(lambda: reports.status("ours") == "Cancelled")
        for _ in range(50):
            if not await broker.orders.open_orders():
                break
            await asyncio.sleep(0.05)
        assert await broker.orders.open_orders() == []
        raw.disconnect()
        await other.stop()
        await broker.stop()

    run(scenario())


def test_a_burst_of_orders_stays_within_ibs_message_rate(gateway, run) -> None:
    async def scenario() -> None:
        broker, reports = await started(gateway)
        inst, bid, _ = await book(gateway)
        started_at = time.monotonic()
        refs = [f"burst{i}" for i in range(60)]
        for ref in refs:
            broker.orders.place(OrderTicket(ref, inst, "BUY", 1, "LMT",
                                            limit_price=cents(bid - 5)))
        await until(lambda: all(reports.status(r) == "Submitted" for r in refs))
        elapsed = time.monotonic() - started_at
        assert elapsed > 1.0  # 60 messages at most 40 a second
        assert (await asyncio.to_thread(gateway.stats)).pacing_violations == 0
        broker.orders.cancel_all()
        await until(lambda: all(reports.status(r) == "Cancelled" for r in refs))
        await broker.stop()

    run(scenario())


def test_nothing_is_sent_when_not_connected(gateway, run) -> None:
    async def scenario() -> None:
        broker, _ = await started(gateway)
        inst, _, _ = await book(gateway)
        with pytest.raises(InvalidTicket, match="parent missing is unknown"):
            broker.orders.place(OrderTicket("child", inst, "SELL", 1, parent_ref="missing"))
        await broker.stop()
        with pytest.raises(BrokerUnavailable, match="not connected"):
            broker.orders.place(OrderTicket("late", inst, "BUY", 1))
        with pytest.raises(BrokerUnavailable):
            await broker.orders.open_orders()
        assert broker.orders.broker_id("late") is None
        orders_at_gateway = gateway.call(lambda: [
            o.order_ref for o in gateway.server.exchange.open_orders()])
        assert "late" not in orders_at_gateway

    run(scenario())


@pytest.mark.slow
def test_order_round_trip_latency_against_the_simulator(gateway, run, capsys) -> None:
    """Measured, one market order at a time: place -> acknowledged (first IB status)
    -> filled (the Filled status), over loopback on this machine. Orders are spaced
    30 ms apart so that the outbound throttle (40 messages/s) never queues them: what is
    measured is the round trip itself."""
    async def scenario() -> tuple[list[float], list[float]]:
        broker, _ = await started(gateway)
        inst, _, _ = await book(gateway)
        loop = asyncio.get_running_loop()
        acked: list[float] = []
        filled: list[float] = []
        pending: dict[str, tuple[float, asyncio.Future[None]]] = {}
        seen: set[str] = set()

        def on_status(status: BrokerOrderStatus) -> None:
            sent, done = pending.get(status.order_ref, (0.0, None))
            if done is None:
                return
            if status.order_ref not in seen:
                seen.add(status.order_ref)
                acked.append(loop.time() - sent)
            if status.status == "Filled" and not done.done():
                filled.append(loop.time() - sent)
                done.set_result(None)

        broker.orders.order_status += on_status
        for i in range(200):
            ref = f"rt{i}"
            done: asyncio.Future[None] = loop.create_future()
            pending[ref] = (loop.time(), done)
            broker.orders.place(OrderTicket(ref, inst, "BUY" if i % 2 else "SELL", 1))
            await asyncio.wait_for(done, 5)
            await asyncio.sleep(0.03)
        await broker.stop()
        return acked, filled

    acked, filled = run(scenario(), timeout=60)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    with capsys.disabled():
        print(f"\norder round trip over {len(filled)} market orders: acknowledged p50 "
              f"{pct(acked, 0.5):.2f} ms p99 {pct(acked, 0.99):.2f} ms; filled p50 "
              f"{pct(filled, 0.5):.2f} ms p99 {pct(filled, 0.99):.2f} ms")
    assert len(filled) == len(acked) == 200
    assert pct(filled, 0.99) < 100
