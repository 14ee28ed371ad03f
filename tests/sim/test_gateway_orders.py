"""Orders against the simulated gateway, from ticket to fill, cancel or reject, via ib_async."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import (
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopLimitOrder,
    StopOrder,
)

from ibtrader.sim.market.instruments import DEFAULT_UNIVERSE
from tests.sim.conftest import connect, until


async def quote_of(ib, contract):
    ticker = ib.reqMktData(contract)
    await until(lambda: ticker.bid == ticker.bid and ticker.bid > 0 and ticker.ask > 0)
    return ticker


async def filled(trade, timeout=15.0):
    await until(lambda: trade.orderStatus.status == "Filled", timeout=timeout)
    return trade


async def aapl_and_quote(ib):
    [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    return aapl, await quote_of(ib, aapl)


def test_market_order_fills_with_commission_and_position(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ticker = await aapl_and_quote(ib)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef="t-mkt"))
        await filled(trade)
        assert trade.orderStatus.filled == 10 and trade.orderStatus.remaining == 0
        assert trade.orderStatus.avgFillPrice > 0
        await until(lambda: trade.fills and trade.fills[-1].commissionReport.commission > 0)
        assert trade.fills[-1].commissionReport.commission == pytest.approx(0.35)  # the minimum
        assert trade.fills[-1].execution.side == "BOT"
        await until(lambda: any(p.contract.conId == aapl.conId for p in ib.positions()))
        [position] = [p for p in ib.positions() if p.contract.conId == aapl.conId]
        assert position.position == 10
        ib.disconnect()

    run(scenario())


def test_limit_order_rests_then_is_modified_into_the_market_and_fills(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        far_below = round(ticker.bid * 0.8, 2)
        order = LimitOrder("BUY", 5, far_below, tif="GTC")
        trade = ib.placeOrder(aapl, order)
        await until(lambda: trade.orderStatus.status == "Submitted")
        await asyncio.sleep(0.5)
        assert trade.orderStatus.filled == 0
        order.lmtPrice = round(ticker.ask * 1.02, 2)  # now marketable
        ib.placeOrder(aapl, order)
        await filled(trade)
        # price improvement: a marketable buy limit fills at the ask, not at its limit
        assert trade.orderStatus.avgFillPrice < order.lmtPrice
        ib.disconnect()

    run(scenario())


def test_cancel_a_resting_order(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        trade = ib.placeOrder(aapl, LimitOrder("SELL", 5, round(ticker.ask * 1.3, 2)))
        await until(lambda: trade.orderStatus.status == "Submitted")
        ib.cancelOrder(trade.order)
        await until(lambda: trade.orderStatus.status == "Cancelled")
        assert trade.isDone() and trade.orderStatus.filled == 0
        ib.disconnect()

    run(scenario())


def test_stop_and_stop_limit_trigger_when_the_market_reaches_them(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        # a buy stop below the market is already triggered: it fills like a market order
        stop = ib.placeOrder(aapl, StopOrder("BUY", 3, round(ticker.last * 0.95, 2)))
        stop_limit = ib.placeOrder(aapl, StopLimitOrder(
            "BUY", 2, round(ticker.ask * 1.05, 2), round(ticker.last * 0.95, 2)))
        await filled(stop)
        await filled(stop_limit)
        # a sell stop far below stays untriggered (PreSubmitted, as in TWS)
        waiting = ib.placeOrder(aapl, StopOrder("SELL", 1, round(ticker.last * 0.5, 2)))
        await until(lambda: waiting.orderStatus.status == "PreSubmitted")
        ib.cancelOrder(waiting.order)
        ib.disconnect()

    run(scenario())


def test_trailing_stops_by_amount_and_percent(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ticker = await aapl_and_quote(ib)
        ib.placeOrder(aapl, MarketOrder("BUY", 20))
        wide = Order(action="SELL", totalQuantity=10, orderType="TRAIL", trailingPercent=20)
        wide_trade = ib.placeOrder(aapl, wide)
        await until(lambda: wide_trade.orderStatus.status == "PreSubmitted")
        # a one-tick trail triggers on the first downtick
        tight = Order(action="SELL", totalQuantity=10, orderType="TRAIL", auxPrice=0.01)
        tight_trade = ib.placeOrder(aapl, tight)
        # stops follow the last trade, which prints every few seconds: measured 7-24 s to
        # the first one-tick fall on a quiet machine, and longer under a loaded CI
        await filled(tight_trade, timeout=75)
        assert wide_trade.orderStatus.status == "PreSubmitted"
        ib.cancelOrder(wide)
        ib.disconnect()

    run(scenario(), timeout=90)


def test_order_bigger_than_the_quoted_size_fills_in_parts(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ticker = await aapl_and_quote(ib)
        # above the largest size the simulator ever quotes (under 3x the typical size),
        # whatever the quote is when the order arrives
        typical = next(i.typical_size for i in DEFAULT_UNIVERSE if i.symbol == "AAPL")
        quantity = int(typical * 4)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", quantity))
        await filled(trade, timeout=20)
        assert len(trade.fills) >= 2
        assert sum(f.execution.shares for f in trade.fills) == quantity
        ib.disconnect()

    run(scenario(), timeout=30)


def test_ioc_limit_fills_what_it_can_and_cancels_the_rest(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        # above the largest size the simulator ever quotes: the quote seen here may be
        # small and the one the order meets large, so a multiple of it could fill in full
        typical = next(i.typical_size for i in DEFAULT_UNIVERSE if i.symbol == "AAPL")
        quantity = int(typical * 4)
        trade = ib.placeOrder(aapl, LimitOrder("BUY", quantity, round(ticker.ask * 1.01, 2),
                                               tif="IOC"))
        await until(lambda: trade.isDone(), timeout=10)
        assert trade.orderStatus.status == "Cancelled"
        assert 0 < trade.orderStatus.filled < quantity
        ib.disconnect()

    run(scenario())


def test_bracket_take_profit_fill_cancels_the_stop(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        # take-profit below the market fills as soon as the parent has filled
        parent, take_profit, stop_loss = ib.bracketOrder(
            "BUY", 10, limitPrice=round(ticker.ask * 1.01, 2),
            takeProfitPrice=round(ticker.bid * 0.99, 2), stopLossPrice=round(ticker.bid * 0.8, 2))
        trades = [ib.placeOrder(aapl, o) for o in (parent, take_profit, stop_loss)]
        await filled(trades[0])
        await filled(trades[1])
        await until(lambda: trades[2].orderStatus.status == "Cancelled")
        assert trades[2].orderStatus.filled == 0
        ib.disconnect()

    run(scenario())


def test_order_exceeding_buying_power_is_rejected_with_the_reason(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ticker = await aapl_and_quote(ib)
        errors = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 10_000_000))
        await until(lambda: trade.isDone())
        assert trade.orderStatus.filled == 0
        assert any(code == 201 and "EQUITY WITH LOAN" in msg for code, msg in errors), errors
        ib.disconnect()

    run(scenario())


def test_injected_rejection(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ = await aapl_and_quote(ib)
        gateway.inject("reject:Simulated margin call")
        errors = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 1))
        await until(lambda: trade.isDone())
        assert (201, "Order rejected - reason:Simulated margin call") in errors
        ok = ib.placeOrder(aapl, MarketOrder("BUY", 1))  # the fault fired once
        await filled(ok)
        ib.disconnect()

    run(scenario())


def test_global_cancel_leaves_no_working_order(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, ticker = await aapl_and_quote(ib)
        trades = [ib.placeOrder(aapl, LimitOrder("BUY", 1, round(ticker.bid * 0.7, 2)))
                  for _ in range(3)]
        await until(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
        ib.reqGlobalCancel()
        await until(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
        open_now = await ib.reqOpenOrdersAsync()
        assert open_now == []
        ib.disconnect()

    run(scenario())


def test_account_values_portfolio_and_pnl_after_fills(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ticker = await aapl_and_quote(ib)
        account = ib.managedAccounts()[0]
        cash_before = float(next(v.value for v in ib.accountValues()
                                 if v.tag == "TotalCashValue"))
        pnl = ib.reqPnL(account)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 100))
        await filled(trade)
        await until(lambda: any(i.contract.conId == aapl.conId for i in ib.portfolio()))
        [item] = [i for i in ib.portfolio() if i.contract.conId == aapl.conId]
        assert item.position == 100 and item.averageCost > 0
        cash_after = float(next(v.value for v in ib.accountValues()
                                if v.tag == "TotalCashValue"))
        spent = 100 * trade.orderStatus.avgFillPrice
        assert cash_before - cash_after == pytest.approx(spent + 0.35, abs=0.02)
        await until(lambda: pnl.unrealizedPnL == pnl.unrealizedPnL)  # not NaN: an update came
        sell = ib.placeOrder(aapl, MarketOrder("SELL", 100))
        await filled(sell)
        await until(lambda: sell.fills and sell.fills[-1].commissionReport.commission > 0)
        realized = sell.fills[-1].commissionReport.realizedPNL
        expected = 100 * (sell.orderStatus.avgFillPrice - trade.orderStatus.avgFillPrice) - 0.70
        assert realized == pytest.approx(expected, abs=0.05)
        await until(lambda: not [p for p in ib.positions() if p.contract.conId == aapl.conId])
        ib.disconnect()

    run(scenario())


def test_what_if_order_reports_margin_without_placing(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, _ = await aapl_and_quote(ib)
        state = await ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 100))
        assert float(state.initMarginChange) > 0
        assert await ib.reqOpenOrdersAsync() == []
        ib.disconnect()

    run(scenario())


def test_executions_and_completed_orders_are_reported_after_reconnect(gateway, run):
    async def scenario():
        ib = await connect(gateway, client_id=21)
        aapl, _ = await aapl_and_quote(ib)
        trade = ib.placeOrder(aapl, MarketOrder("BUY", 7, orderRef="keep-me"))
        await filled(trade)
        ib.disconnect()
        await until(lambda: 21 not in gateway.connected_clients())
        again = await connect(gateway, client_id=21)
        fills = await again.reqExecutionsAsync()
        assert any(f.execution.orderRef == "keep-me" and f.execution.shares == 7 for f in fills)
        completed = await again.reqCompletedOrdersAsync(apiOnly=False)
        assert any(t.order.orderRef == "keep-me" and t.orderStatus.status == "Filled"
                   for t in completed)
        again.disconnect()

    run(scenario())


def test_order_ids_keep_rising_across_reconnects(gateway, run):
    async def scenario():
        ib = await connect(gateway, client_id=22)
        aapl, ticker = await aapl_and_quote(ib)
        trade = ib.placeOrder(aapl, LimitOrder("BUY", 1, round(ticker.bid * 0.7, 2)))
        used = trade.order.orderId
        ib.disconnect()
        await until(lambda: 22 not in gateway.connected_clients())
        again = await connect(gateway, client_id=22)
        assert again.client.getReqId() > used
        again.disconnect()

    run(scenario())


def test_gateway_restart_keeps_account_positions_and_gtc_orders(gateway_config, run):
    from ibtrader.sim.gateway import SimulatedGateway

    async def trade_then_leave(gw):
        ib = await connect(gw, client_id=31)
        aapl, ticker = await aapl_and_quote(ib)
        await filled(ib.placeOrder(aapl, MarketOrder("BUY", 40)))
        resting = ib.placeOrder(aapl, LimitOrder("SELL", 40, round(ticker.ask * 1.5, 2),
                                                 tif="GTC", orderRef="gtc-1"))
        await until(lambda: resting.orderStatus.status == "Submitted")
        cash = next(v.value for v in ib.accountValues() if v.tag == "TotalCashValue")
        ib.disconnect()
        return aapl.conId, float(cash)

    async def come_back(gw):
        ib = await connect(gw, client_id=31)
        positions = {p.contract.conId: p.position for p in ib.positions()}
        orders = [t for t in ib.openTrades() if t.order.orderRef == "gtc-1"]
        cash = float(next(v.value for v in ib.accountValues() if v.tag == "TotalCashValue"))
        ib.disconnect()
        return positions, orders, cash

    gw = SimulatedGateway(gateway_config).start()
    con_id, cash_before = run(trade_then_leave(gw))
    gw.stop()
    gw = SimulatedGateway(gateway_config).start()
    try:
        positions, orders, cash_after = run(come_back(gw))
    finally:
        gw.stop()
    assert positions[con_id] == 40
    assert len(orders) == 1 and orders[0].order.tif == "GTC"
    assert cash_after == pytest.approx(cash_before, abs=0.01)
