"""The order manager under faults, against the real simulated gateway: a dropped
connection during a partial fill, a gateway restarted from its state file, and the app
killed with SIGKILL between sending an order and journalling that it was sent."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ibtrader.core.broker import ConnectionState
from ibtrader.core.orders.lifecycle import OrderState
from tests.services import order_rig
from tests.services.order_rig import (
    Rig,
    cents,
    gateway_orders,
    gateway_positions,
    make_gateway,
    quoted,
    settings_for,
    until,
)

gateway, run = order_rig.gateway, order_rig.run  # fixtures

S = OrderState
_ids = itertools.count(401)


def test_a_drop_during_a_partial_fill_leaves_one_order_with_the_right_quantity(
        gateway, run, tmp_path) -> None:
    async def scenario() -> None:
        rig = await Rig(gateway, settings_for(tmp_path, max_order_value=0,
                                              max_position_value_per_symbol=0,
                                              max_gross_exposure=0), next(_ids)).start()
        bid, ask, _ = await quoted(rig)
        # larger than the quoted size: it fills in parts, then is repriced out of reach
        order = await rig.manager.place(rig.request(quantity=4000, order_type="lmt",
                                                    limit=cents(ask + 0.05)))
        key = order.client_key
        await until(lambda: rig.manager.order(key).filled > 0)
        await rig.manager.modify(key, limit=cents(bid - 4))
        await until(lambda: gateway_orders(gateway, key)[0]["lmt_price"] == cents(bid - 4))
        reports = []
        rig.manager.reconciled += reports.append
        states = []
        rig.broker.state_changed += lambda state, _why: states.append(state)
        await asyncio.to_thread(gateway.inject, "drop")
        await until(lambda: ConnectionState.RECONNECTING in states, timeout=5)
        await until(lambda: bool(reports), timeout=15)  # reconciled after the reconnect
        [at_gw] = gateway_orders(gateway, key)  # one order at the gateway, never two
        after = rig.manager.order(key)
        assert after.state is S.PARTIALLY_FILLED
        assert 0 < after.filled == at_gw["filled"] < 4000
        assert rig.journal.order(key).filled == at_gw["filled"]
        assert not reports[-1].missing and not reports[-1].adopted
        assert not [d for d in reports[-1].discrepancies if d.what == "quantity"]
        held = {s: q for s, q in rig.manager.positions_held.items() if q}
        assert held == gateway_positions(gateway) == {"AAPL": at_gw["filled"]}
        assert {p.symbol: p.quantity for p in rig.manager.positions()} == held
        await rig.manager.cancel(key)
        assert (await rig.final(order)).state is S.CANCELLED
        assert len(gateway_orders(gateway, key)) == 1
        await rig.stop()

    run(scenario(), 40)


def test_open_gtc_orders_are_matched_after_a_gateway_restart(tmp_path, run) -> None:
    state_file = tmp_path / "gw.sqlite"
    first = make_gateway(state_file)
    port = first.port
    gateways = [first]

    async def scenario() -> None:
        rig = await Rig(first, settings_for(tmp_path), next(_ids)).start()
        bid, _, _ = await quoted(rig)
        order = await rig.manager.place(rig.request(order_type="lmt", limit=cents(bid - 5),
                                                    tif="gtc"))
        key = order.client_key
        await until(lambda: rig.manager.order(key).state is S.WORKING)
        reports = []
        rig.manager.reconciled += reports.append
        await asyncio.to_thread(first.stop)
        await until(lambda: rig.broker.state is ConnectionState.RECONNECTING, timeout=5)
        gateways.append(await asyncio.to_thread(make_gateway, state_file, port))
        await until(lambda: bool(reports), timeout=20)
        report = reports[-1]
        assert not report.missing and not report.adopted and not report.unsent
        restored = rig.manager.order(key)
        assert restored.state is S.WORKING and restored.broker_id == order.broker_id
        assert len(gateway_orders(gateways[-1], key)) == 1
        await rig.manager.cancel(key)
        assert (await rig.final(order)).state is S.CANCELLED
        await rig.stop()

    try:
        run(scenario(), 45)
    finally:
        for gw in gateways:
            gw.stop()


# The app as a separate process: it starts the order manager, places one order and is
# killed (SIGKILL, by itself) the moment the broker has the order and before the journal
# says SENT: the worst moment, where only the ref in the broker's order can tell.
CRASHING_APP = textwrap.dedent("""
    import asyncio, json, os, signal, sys
    from ibtrader.adapters.ib import ConnectionConfig, IBBroker
    from ibtrader.adapters.journal import SqliteOrderJournal
    from ibtrader.config import Settings
    from ibtrader.core.orders.request import OrderRequest, new_client_key
    from ibtrader.services.order_manager import OrderManager

    port, client_id, data_dir, kind = sys.argv[1:5]

    async def main():
        settings = Settings(data_dir=data_dir)
        broker = IBBroker(ConnectionConfig(port=int(port), client_id=int(client_id)))
        await broker.start()
        journal = SqliteOrderJournal(settings.journal_file)
        manager = OrderManager(broker.orders, broker.market_data, journal, settings)
        await manager.start()
        quote = await manager.current_quote("AAPL")
        await asyncio.sleep(0.5)  # let ib_async's outbound throttle drain: the order goes
        save = journal.save_order  # out at once, not from its queue after we are dead

        def save_then_die(order, events=()):
            if order.state.value == "sent":  # port.place has returned: die before this
                os.kill(os.getpid(), signal.SIGKILL)
            save(order, events)

        journal.save_order = save_then_die
        fields = (dict(order_type="lmt", limit=round(quote.bid - 3, 2), tif="gtc")
                  if kind == "resting" else {})
        request = OrderRequest(symbol="AAPL", side="buy", quantity=7,
                               client_key=new_client_key(manager.clock()), **fields)
        print(json.dumps({"key": request.client_key}), flush=True)
        await manager.place(request)
        print("survived", flush=True)

    asyncio.run(main())
""")


@pytest.mark.parametrize("kind", ["resting", "market"])
def test_an_app_killed_right_after_sending_agrees_with_the_gateway_on_restart(
        gateway, run, tmp_path, kind) -> None:
    client_id = next(_ids)
    root = Path(__file__).resolve().parents[2]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_APP, str(gateway.port), str(client_id),
         str(tmp_path), kind], capture_output=True, text=True, timeout=60, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    assert "survived" not in crashed.stdout
    import json
    key = json.loads(crashed.stdout.splitlines()[0])["key"]

    async def scenario() -> None:
        # what the killed app left: the order journalled as NEW, never marked SENT
        rig = Rig(gateway, settings_for(tmp_path), client_id)
        from ibtrader.adapters.journal import SqliteOrderJournal
        before = SqliteOrderJournal(rig.settings.journal_file)
        assert before.order(key).state is S.NEW
        before.close()
        await asyncio.sleep(0.5)  # whatever was on the wire has arrived by now
        reached = len(gateway_orders(gateway, key)) == 1
        print(f"{kind}: the order reached the gateway before the kill: {reached}")
        await rig.start()
        at_gw = gateway_orders(gateway, key)
        if not reached:  # killed before the socket took it: reported, never sent late
            assert at_gw == [] and [o.client_key for o in rig.report.unsent] == [key]
            assert rig.manager.order(key).state is S.CANCELLED
            await rig.stop()
            return
        assert len(at_gw) == 1  # the broker had it: it is matched, not sent again
        order = rig.manager.order(key)
        if kind == "resting":
            assert order.state is S.WORKING and at_gw[0]["status"] == "Submitted"
        else:
            await until(lambda: rig.manager.order(key).state is S.FILLED)
            order = rig.manager.order(key)
            assert order.filled == 7 == at_gw[0]["filled"]
            assert rig.manager.positions_held == gateway_positions(gateway) == {"AAPL": 7}
        assert order.broker_id == at_gw[0]["order_id"]
        assert not rig.report.unsent and not rig.report.adopted
        # a retry of the same request (same key) returns the order: nothing sent twice
        again = await rig.manager.place(order.request)
        assert again.client_key == key and len(gateway_orders(gateway, key)) == 1
        assert rig.journal.order(key).state is rig.manager.order(key).state
        if kind == "resting":
            await rig.manager.cancel(key)
            assert (await rig.final(order)).state is S.CANCELLED
        await rig.stop()

    run(scenario(), 40)


def test_an_order_journalled_but_never_sent_is_reported_not_sent_late(gateway, run,
                                                                      tmp_path) -> None:
    async def scenario() -> None:
        from ibtrader.adapters.journal import SqliteOrderJournal
        from ibtrader.core.orders.lifecycle import new_order
        from ibtrader.core.orders.request import OrderRequest, new_client_key

        settings = settings_for(tmp_path)
        journal = SqliteOrderJournal(settings.journal_file)  # the app died before sending
        request = OrderRequest(symbol="AAPL", side="buy", quantity=3,
                               client_key=new_client_key(0), created=1.0)
        journal.save_order(*new_order(request, 1.0))
        journal.close()
        rig = await Rig(gateway, settings, next(_ids)).start()
        [unsent] = rig.report.unsent
        assert unsent.client_key == request.client_key and unsent.state is S.CANCELLED
        assert "never reached the broker" in unsent.last_error
        assert rig.kinds(request.client_key) == ["created", "not_sent"]
        assert gateway_orders(gateway, request.client_key) == []
        await rig.stop()

    run(scenario())


def test_orders_and_trades_made_outside_the_app_are_adopted_and_reported(gateway, run,
                                                                         tmp_path) -> None:
    async def scenario() -> None:
        from ib_async import IB, LimitOrder, MarketOrder, Stock

        from ibtrader.adapters.journal import SqliteOrderJournal
        from ibtrader.core.broker import BrokerFill

        settings = settings_for(tmp_path)
        # the journal remembers buying 5 MSFT yesterday; this paper account never did
        with SqliteOrderJournal(settings.journal_file) as old:
            old.record_execution(BrokerFill("old-1", "", 1, 1, "MSFT", "BUY", 5, 400.0,
                                            1.0, 1.0), "")
        rig = await Rig(gateway, settings, next(_ids)).start()
        bid, _, _ = await quoted(rig)
        tws = IB()  # a trader at TWS: another client of the same account
        await tws.connectAsync("127.0.0.1", gateway.port, clientId=99, timeout=10)
        [stock] = await tws.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        tws.placeOrder(stock, LimitOrder("BUY", 4, cents(bid - 2), orderRef="from-tws"))
        tws.placeOrder(stock, MarketOrder("BUY", 3))
        await until(lambda: gateway_positions(gateway).get("AAPL") == 3)
        risk_events = []
        rig.manager.risk_event += risk_events.append
        report = await rig.manager.reconcile()
        [adopted] = report.adopted
        assert adopted.adopted and adopted.request.source == "external"
        assert (adopted.client_key, adopted.quantity, adopted.request.limit) == (
            "from-tws", 4, cents(bid - 2))
        assert rig.journal.order("from-tws").adopted
        assert rig.kinds("from-tws")[0] == "adopted"
        # the other client's execution is booked too: AAPL agrees with the broker; the MSFT
        # the journal remembers does not, and the report and an event say so
        assert [(d.symbol, d.what, d.ours, d.theirs) for d in report.discrepancies] == [
            ("MSFT", "quantity", 5, 0)]
        assert any("differ from the broker" in e and "MSFT" in e for e in risk_events)
        assert rig.manager.positions_held == {"AAPL": 3}  # risk uses the broker's word
        # cancel-all reaches the adopted order too
        await rig.manager.cancel_all()
        await rig.manager.reconcile()
        assert rig.manager.order("from-tws").state is S.CANCELLED
        assert [o for o in gateway_orders(gateway, "from-tws") if o["status"] == "Cancelled"]
        tws.disconnect()
        await rig.stop()

    run(scenario())


def test_a_very_recent_unsent_order_is_sent_once_when_so_configured(gateway, run,
                                                                    tmp_path) -> None:
    async def scenario() -> None:
        import time

        from ibtrader.adapters.journal import SqliteOrderJournal
        from ibtrader.core.orders.lifecycle import new_order
        from ibtrader.core.orders.request import OrderRequest, new_client_key

        settings = settings_for(tmp_path, order_resend_unsent_within=30.0)
        now = time.time()
        with SqliteOrderJournal(settings.journal_file) as journal:  # died before sending
            fresh = OrderRequest(symbol="AAPL", side="buy", quantity=2,
                                 client_key=new_client_key(now), created=now)
            stale = OrderRequest(symbol="AAPL", side="buy", quantity=2,
                                 client_key=new_client_key(now - 60), created=now - 60)
            journal.save_order(*new_order(fresh, now))
            journal.save_order(*new_order(stale, now - 60))
        rig = await Rig(gateway, settings, next(_ids)).start()
        by_key = {o.client_key: o for o in rig.report.unsent}
        assert by_key[fresh.client_key].state is S.SENT
        assert by_key[stale.client_key].state is S.CANCELLED
        assert (await rig.final(by_key[fresh.client_key])).state is S.FILLED
        assert len(gateway_orders(gateway, fresh.client_key)) == 1
        assert gateway_orders(gateway, stale.client_key) == []
        await rig.stop()

    run(scenario())
