"""Orders placed by ib_async, echoed back by the simulator, decoded by ib_async again."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from ib_async import LimitOrder, MarketOrder, Order, Stock

from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.responses import ExecutionFields, OrderStateFields
from ibtrader.sim.protocol.wire import WireContract

from .conftest import VERSIONS
from .order_cases import CASES, place

# placeOrder fields that openOrder does not carry back (`Decoder.openOrder`)
NOT_IN_OPEN_ORDER = {
    "orderId", "clientId", "permId", "transmit", "activeStartTime", "activeStopTime",
    "scaleTable", "overridePercentageConstraints", "algoId", "orderMiscOptions",
    "extOperator", "mifid2DecisionMaker", "mifid2DecisionAlgo", "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo", "advancedErrorOverride", "manualOrderTime",
}
# ... and that completedOrder does not carry either (`Decoder.completedOrder`)
NOT_IN_COMPLETED_ORDER = NOT_IN_OPEN_ORDER | {
    "auctionStrategy", "blockOrder", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap",
    "parentId", "deltaNeutralSettlingFirm", "deltaNeutralClearingAccount",
    "deltaNeutralClearingIntent", "deltaNeutralOpenClose", "basisPoints", "basisPointsType",
    "optOutSmartRouting", "whatIf", "triggerPrice", "adjustedOrderType", "adjustedStopPrice",
    "adjustedStopLimitPrice", "adjustedTrailingAmount", "adjustableTrailingUnit",
    "softDollarTier", "discretionaryUpToLimitPrice", "usePriceMgmtAlgo", "duration",
    "postToAts", "filledQuantity",
}


def version_gated(version: int) -> set[str]:
    gated = set()
    if version >= 177:
        gated.add("faProfile")  # desupported: neither sent nor echoed
    for name, since in (("duration", 159), ("postToAts", 160), ("autoCancelParent", 162)):
        if version < since:
            gated.add(name)
    if version < 170:
        gated |= {"minTradeQty", "minCompeteSize", "competeAgainstBestOffset",
                  "midOffsetAtWhole", "midOffsetAtHalf"}
    return gated


class Recorder:
    """Stands in for the Wrapper to capture exactly what the Decoder produced."""

    def __init__(self) -> None:
        self.open: list[tuple] = []
        self.completed: list[tuple] = []

    def openOrder(self, order_id, contract, order, state):  # ib_async's method names
        self.open.append((order_id, contract, order, state))

    def completedOrder(self, contract, order, state):
        self.completed.append((contract, order, state))


def assert_same_order(original: Order, decoded: Order, skip: set[str]) -> None:
    for f in dataclasses.fields(Order):
        if f.name in skip:
            continue
        want = getattr(original, f.name)
        if want is None:  # the client blanks `volatility` on non-VOL orders
            want = f.default
        assert getattr(decoded, f.name) == want, f.name


def assert_same_contract(original, decoded) -> None:
    names = ("conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right",
             "multiplier", "exchange", "currency", "localSymbol", "tradingClass", "comboLegs",
             "deltaNeutralContract")
    for name in names:
        assert getattr(decoded, name) == getattr(original, name), name


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_open_order_echoes_every_field(offline, version, case):
    client = offline(version, client_id=3)
    contract, orders = place(client, case)
    recorder = Recorder()
    client.client.decoder.wrapper = recorder  # type: ignore[assignment]
    for i, req in enumerate(client.requests()):
        assert isinstance(req, rq.PlaceOrder)
        state = OrderStateFields("PreSubmitted", commission=1.25, warning_text="careful")
        client.feed(out.open_order(version, req.order_id, req.contract, req.order, 3,
                                   900 + i, state))
    assert len(recorder.open) == len(orders)
    for i, (original, (order_id, c, decoded, st)) in enumerate(zip(orders, recorder.open,
                                                                  strict=True)):
        assert order_id == original.orderId
        assert (decoded.clientId, decoded.permId) == (3, 900 + i)
        assert (st.status, st.commission, st.warningText) == ("PreSubmitted", 1.25, "careful")
        assert_same_order(original, decoded, NOT_IN_OPEN_ORDER | version_gated(version))
        assert_same_contract(contract, c)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_completed_order_echoes_its_fields(offline, version, case):
    client = offline(version)
    contract, orders = place(client, case)
    recorder = Recorder()
    client.client.decoder.wrapper = recorder  # type: ignore[assignment]
    for i, req in enumerate(client.requests()):
        client.feed(out.completed_order(version, req.contract, req.order,  # type: ignore
                                        700 + i, "Filled", "20250102 15:30:00 US/Eastern",
                                        "Filled", 42.0))
    for i, (original, (c, decoded, st)) in enumerate(zip(orders, recorder.completed,
                                                         strict=True)):
        assert (decoded.permId, decoded.filledQuantity, decoded.orderId) == (700 + i, 42.0, 0)
        assert (st.status, st.completedStatus) == ("Filled", "Filled")
        assert st.completedTime == "20250102 15:30:00 US/Eastern"
        assert_same_order(original, decoded, NOT_IN_COMPLETED_ORDER | version_gated(version))
        assert_same_contract(contract, c)


def test_open_order_length_for_a_plain_limit_order(offline):
    client = offline(178)
    place(client, CASES["limit"])
    (req,) = client.requests()
    message = out.open_order(178, req.order_id, req.contract, req.order, 1, 2,  # type: ignore
                             OrderStateFields("Submitted"))
    assert len(message) == 127  # the count TWS_PROTOCOL.md §4.4 gives for version 178


AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
AT_PRIMARY = WireContract(con_id=265598, symbol="AAPL", sec_type="STK", exchange="NASDAQ",
                          primary_exchange="NASDAQ", currency="USD", local_symbol="AAPL",
                          trading_class="NMS")


@pytest.mark.parametrize("version", [176, 177, 178])
def test_trade_life_cycle(offline, version):
    """A limit order acknowledged, then filled with a commission, as ib_async sees it."""
    client = offline(version, client_id=5)
    trade = client.ib.placeOrder(AAPL, LimitOrder("BUY", 100, 150.0, orderRef="swing-1"))
    (req,) = client.requests()
    assert isinstance(req, rq.PlaceOrder)
    order_id, perm_id = req.order_id, 424242

    def state(status: str) -> list[object]:
        return out.open_order(version, order_id, req.contract, req.order, 5, perm_id,
                              OrderStateFields(status))

    client.feed(state("Submitted"),
                out.order_status(order_id, "Submitted", 0, 100, 0, perm_id, 0, 0, 5, "", 0))
    assert trade.orderStatus.status == "Submitted"
    assert (trade.order.permId, trade.order.clientId) == (perm_id, 5)
    assert (trade.order.orderRef, trade.order.lmtPrice) == ("swing-1", 150.0)

    execution = ExecutionFields(
        exec_id="0001f4e8.6776a1b2.01.01", time_text="20250102 10:30:00 US/Eastern",
        account="DU1234567", exchange="NASDAQ", side="BOT", shares=100, price=149.98,
        perm_id=perm_id, client_id=5, cum_qty=100, avg_price=149.98, order_ref="swing-1",
        last_liquidity=2)
    client.feed(state("Filled"),
                out.order_status(order_id, "Filled", 100, 0, 149.98, perm_id, 0, 149.98, 5, "",
                                 0),
                out.exec_details(version, -1, order_id, AT_PRIMARY, execution),
                out.commission_report(execution.exec_id, 1.0, "USD", None, None, None))
    assert trade.isDone() and trade.orderStatus.status == "Filled"
    assert trade.orderStatus.avgFillPrice == 149.98
    (fill,) = trade.fills
    assert (fill.execution.shares, fill.execution.price, fill.execution.side) == (100, 149.98,
                                                                                  "BOT")
    assert fill.execution.time == dt.datetime(2025, 1, 2, 10, 30,
                                              tzinfo=ZoneInfo("US/Eastern"))
    assert (fill.commissionReport.commission, fill.commissionReport.currency) == (1.0, "USD")
    assert fill.commissionReport.realizedPNL == 0.0
    assert len(out.commission_report("x", 1.0, "USD", None, None, None)) == 8


@pytest.mark.parametrize("version", VERSIONS)
def test_executions_request(offline, version):
    client = offline(version)
    future = client.wrapper.startReq(77)
    execution = ExecutionFields(
        exec_id="e1", time_text="20250102 15:30:00 UTC", account="DU1234567", exchange="NASDAQ",
        side="SLD", shares=10, price=190.5, perm_id=5, client_id=2, cum_qty=10, avg_price=190.5,
        pending_price_revision=True)
    message = out.exec_details(version, 77, 12, AT_PRIMARY, execution)
    assert len(message) == (32 if version >= 178 else 31)  # §4.3: 32 at 178
    client.feed(message, out.exec_details_end(77))
    (fill,) = future.result()
    assert (fill.execution.orderId, fill.execution.side, fill.execution.price) == (12, "SLD",
                                                                                  190.5)
    assert fill.execution.pendingPriceRevision is (version >= 178)
    assert fill.time == dt.datetime(2025, 1, 2, 15, 30, tzinfo=dt.UTC)
    assert fill.contract.exchange == "NASDAQ"


def test_what_if(offline, event_loop_set):
    client = offline(178)
    answer = client.ib.whatIfOrderAsync(AAPL, MarketOrder("BUY", 100))
    (req,) = client.requests()
    assert isinstance(req, rq.PlaceOrder) and req.order.what_if
    state = OrderStateFields("PreSubmitted", init_margin_before="0.00",
                             init_margin_change="4700.00", init_margin_after="4700.00",
                             maint_margin_change="4700.00", equity_with_loan_change="-1.00",
                             commission=1.0, min_commission=1.0, max_commission=1.0,
                             commission_currency="USD")
    client.feed(out.open_order(178, req.order_id, req.contract, req.order, 7, 0, state))
    result = event_loop_set.run_until_complete(asyncio.wait_for(answer, 1))
    assert (result.initMarginChange, result.commission) == ("4700.00", 1.0)
    assert client.wrapper.trades == {}  # a what-if answer is not an order


def test_completed_orders_request(offline):
    client = offline(176)
    trade = client.ib.placeOrder(AAPL, LimitOrder("SELL", 5, 200.0, tif="GTC"))
    (req,) = client.requests()
    future = client.wrapper.startReq("completedOrders")
    client.feed(out.completed_order(176, req.contract, req.order, 31337,  # type: ignore
                                    "Cancelled", "20250102 16:00:00 US/Eastern", "Cancelled",
                                    0.0),
                out.completed_orders_end())
    (done,) = future.result()
    assert done.orderStatus.status == "Cancelled" and done.order.permId == 31337
    assert (done.order.tif, done.order.lmtPrice, done.order.action) == ("GTC", 200.0, "SELL")
    assert trade.orderStatus.status == "PendingSubmit"  # a different Trade: keyed by permId


def test_open_orders_request_ends(offline):
    client = offline(178)
    future = client.wrapper.startReq("openOrders")
    client.feed(out.open_order_end())
    assert future.done()
