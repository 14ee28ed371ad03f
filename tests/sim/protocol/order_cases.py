"""ib_async orders of every shape the placeOrder layout branches on."""

from __future__ import annotations

import math
from collections.abc import Callable

from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    DeltaNeutralContract,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopLimitOrder,
    StopOrder,
    TagValue,
)
from ib_async.objects import SoftDollarTier
from ib_async.order import (
    ExecutionCondition,
    MarginCondition,
    OrderComboLeg,
    PercentChangeCondition,
    PriceCondition,
    TimeCondition,
    VolumeCondition,
)

Case = Callable[[IB], tuple[Contract, list[Order]]]


def stock(exchange: str = "SMART") -> Stock:
    return Stock("AAPL", exchange, "USD", conId=265598, primaryExchange="NASDAQ")


def market(ib: IB):
    return stock(), [MarketOrder("BUY", 100)]


def limit(ib: IB):
    return stock(), [LimitOrder("SELL", 10.5, 187.25, tif="GTC", orderRef="ref-1",
                                outsideRth=True, account="DU1234567",
                                goodTillDate="20250110 16:00:00 US/Eastern")]


def stop(ib: IB):
    return stock(), [StopOrder("SELL", 100, 180.0, tif="DAY",
                               goodAfterTime="20250102 10:00:00 US/Eastern")]


def stop_limit(ib: IB):
    return stock(), [StopLimitOrder("BUY", 5, 101.5, 101.0, tif="IOC")]


def trailing_amount(ib: IB):
    return stock(), [Order(action="SELL", totalQuantity=100, orderType="TRAIL", auxPrice=2.5,
                           trailStopPrice=185.0)]


def trailing_percent(ib: IB):
    return stock(), [Order(action="SELL", totalQuantity=100, orderType="TRAIL",
                           trailingPercent=1.5)]


def trailing_limit(ib: IB):
    return stock(), [Order(action="BUY", totalQuantity=10, orderType="TRAIL LIMIT",
                           auxPrice=1.0, trailStopPrice=190.0, lmtPriceOffset=0.1)]


def bracket(ib: IB):
    parent, take_profit, stop_loss = ib.bracketOrder("BUY", 100, 150.0, 160.0, 140.0,
                                                     orderRef="bracket-1")
    ib.oneCancelsAll([take_profit, stop_loss], "oca-bracket", 1)
    return stock(), [parent, take_profit, stop_loss]


def conditions(ib: IB):
    conds = [
        PriceCondition(price=155.0, conId=265598, exch="SMART", isMore=True, triggerMethod=2),
        TimeCondition(isMore=True, time="20250102 10:00:00 US/Eastern").Or(),
        MarginCondition(percent=30, isMore=False),
        ExecutionCondition(secType="STK", exch="SMART", symbol="IBM"),
        VolumeCondition(volume=100000, conId=265598, exch="SMART"),
        PercentChangeCondition(changePercent=2.5, conId=265598, exch="SMART", isMore=False),
    ]
    return stock(), [LimitOrder("BUY", 10, 150.0, conditions=conds, conditionsIgnoreRth=True,
                                conditionsCancelOrder=True)]


def algo(ib: IB):
    return stock(), [LimitOrder("BUY", 100, 150.0, algoStrategy="Adaptive", algoParams=[
        TagValue("adaptivePriority", "Normal")])]


def algo_without_params(ib: IB):
    return stock(), [MarketOrder("SELL", 200, algoStrategy="Vwap")]


def combo(ib: IB):
    contract = Bag(symbol="AAPL", exchange="SMART", currency="USD", comboLegs=[
        ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=1002, ratio=2, action="SELL", exchange="SMART", openClose=1,
                 exemptCode=0),
    ])
    order = LimitOrder("BUY", 1, 1.25, orderComboLegs=[OrderComboLeg(price=1.5),
                                                       OrderComboLeg()],
                       smartComboRoutingParams=[TagValue("NonGuaranteed", "1")])
    return contract, [order]


def what_if(ib: IB):
    return stock(), [MarketOrder("BUY", 100, whatIf=True)]


def volatility_delta_neutral(ib: IB):
    option = Contract(secType="OPT", symbol="AAPL", lastTradeDateOrContractMonth="20250620",
                      strike=200.0, right="C", multiplier="100", exchange="SMART",
                      currency="USD", deltaNeutralContract=DeltaNeutralContract(265598, 0.5,
                                                                                187.0))
    order = Order(action="BUY", totalQuantity=1, orderType="VOL", volatility=25.0,
                  volatilityType=2, deltaNeutralOrderType="LMT", deltaNeutralAuxPrice=1.0,
                  deltaNeutralConId=265598, deltaNeutralShortSale=True,
                  deltaNeutralOpenClose="O", deltaNeutralDesignatedLocation="X",
                  continuousUpdate=True, referencePriceType=1)
    return option, [order]


def scale_and_hedge(ib: IB):
    order = LimitOrder("BUY", 1000, 50.0, scaleInitLevelSize=100, scaleSubsLevelSize=50,
                       scalePriceIncrement=0.5, scalePriceAdjustValue=0.1,
                       scalePriceAdjustInterval=60, scaleProfitOffset=1.0,
                       scaleAutoReset=True, scaleInitPosition=0, scaleInitFillQty=0,
                       scaleRandomPercent=True, hedgeType="F", hedgeParam="1.2")
    return stock(), [order]


def peg_bench(ib: IB):
    order = Order(action="BUY", totalQuantity=100, orderType="PEG BENCH",
                  referenceContractId=8314, isPeggedChangeAmountDecrease=True,
                  peggedChangeAmount=0.5, referenceChangeAmount=0.25,
                  referenceExchangeId="SMART", startingPrice=150.0, stockRangeLower=140.0,
                  stockRangeUpper=160.0)
    return stock(), [order]


def peg_best_ibkrats(ib: IB):
    order = Order(action="BUY", totalQuantity=100, orderType="PEG BEST", minTradeQty=50,
                  minCompeteSize=100, competeAgainstBestOffset=math.inf,
                  midOffsetAtWhole=0.01, midOffsetAtHalf=0.005)
    return stock("IBKRATS"), [order]


def peg_mid_ibkrats(ib: IB):
    order = Order(action="SELL", totalQuantity=100, orderType="PEG MID", minTradeQty=10,
                  midOffsetAtWhole=0.02, midOffsetAtHalf=0.01, lmtPrice=188.0)
    return stock("IBKRATS"), [order]


def advisor_and_misc(ib: IB):
    order = MarketOrder("BUY", 0, cashQty=5000.0, faGroup="G1", faMethod="NetLiq",
                        faProfile="P1", modelCode="M1", usePriceMgmtAlgo=True, duration=30,
                        postToAts=1, autoCancelParent=True, manualOrderTime="20250102-10:00:00",
                        advancedErrorOverride="8229", softDollarTier=SoftDollarTier("n", "v"),
                        mifid2DecisionMaker="dm", orderMiscOptions=[TagValue("a", "b")],
                        displaySize=50, minQty=10, allOrNone=True, hidden=True, notHeld=True,
                        discretionaryAmt=0.05, rule80A="A", percentOffset=0.01,
                        triggerMethod=7, openClose="C", origin=0, shortSaleSlot=1,
                        designatedLocation="", exemptCode=-1, clearingIntent="IB",
                        activeStartTime="20250102 09:30:00", dontUseAutoPriceForHedge=True)
    return stock(), [order]


CASES: dict[str, Case] = {case.__name__: case for case in (
    market, limit, stop, stop_limit, trailing_amount, trailing_percent, trailing_limit,
    bracket, conditions, algo, algo_without_params, combo, what_if, volatility_delta_neutral,
    scale_and_hedge, peg_bench, peg_best_ibkrats, peg_mid_ibkrats, advisor_and_misc,
)}


def place(client, case: Case) -> tuple[Contract, list[Order]]:
    """Send the case's orders through ib_async's own Client.placeOrder."""
    contract, orders = case(client.ib)
    for order in orders:
        if not order.orderId:
            order.orderId = client.client.getReqId()
        client.client.placeOrder(order.orderId, contract, order)
    return contract, orders
