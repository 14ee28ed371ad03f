"""Every request ib_async sends, encoded by ib_async itself, parsed by the simulator."""

from __future__ import annotations

import pytest
from ib_async import Bag, ComboLeg, DeltaNeutralContract, ExecutionFilter, Forex, Stock

from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol.codec import ProtocolError, encode_field
from ibtrader.sim.protocol.wire import ComboLeg as WireComboLeg
from ibtrader.sim.protocol.wire import DeltaNeutral, WireContract

from .conftest import VERSIONS

AAPL = WireContract(con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART",
                    primary_exchange="NASDAQ", currency="USD")


def aapl() -> Stock:
    return Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")


def bag() -> Bag:
    return Bag(symbol="AAPL", exchange="SMART", currency="USD", comboLegs=[
        ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART"),
        ComboLeg(conId=1002, ratio=2, action="SELL", exchange="CBOE"),
    ])


BAG_CONTRACT = WireContract(symbol="AAPL", sec_type="BAG", exchange="SMART", currency="USD")
BAG_LEGS = (WireComboLeg(1001, 1, "BUY", "SMART"), WireComboLeg(1002, 2, "SELL", "CBOE"))

# (name, how ib_async sends it, what the simulator must parse it as)
SIMPLE_CASES = [
    ("reqCurrentTime", lambda c: c.reqCurrentTime(), rq.ReqCurrentTime()),
    ("reqIds", lambda c: c.reqIds(5), rq.ReqIds(num_ids=5)),
    ("reqManagedAccts", lambda c: c.reqManagedAccts(), rq.ReqManagedAccts()),
    ("reqMarketDataType", lambda c: c.reqMarketDataType(3), rq.ReqMarketDataType(3)),
    ("cancelMktData", lambda c: c.cancelMktData(11), rq.CancelMktData(req_id=11)),
    ("reqRealTimeBars", lambda c: c.reqRealTimeBars(12, aapl(), 5, "MIDPOINT", True, []),
     rq.ReqRealTimeBars(req_id=12, contract=AAPL, bar_size=5, what_to_show="MIDPOINT",
                        use_rth=True)),
    ("cancelRealTimeBars", lambda c: c.cancelRealTimeBars(12), rq.CancelRealTimeBars(12)),
    ("cancelHistoricalData", lambda c: c.cancelHistoricalData(13),
     rq.CancelHistoricalData(13)),
    ("reqHeadTimeStamp", lambda c: c.reqHeadTimeStamp(14, aapl(), "TRADES", 1, 2),
     rq.ReqHeadTimeStamp(req_id=14, contract=AAPL, use_rth=True, what_to_show="TRADES",
                         format_date=2)),
    ("cancelHeadTimeStamp", lambda c: c.cancelHeadTimeStamp(14), rq.CancelHeadTimeStamp(14)),
    ("reqGlobalCancel", lambda c: c.reqGlobalCancel(), rq.ReqGlobalCancel()),
    ("reqOpenOrders", lambda c: c.reqOpenOrders(), rq.ReqOpenOrders()),
    ("reqAllOpenOrders", lambda c: c.reqAllOpenOrders(), rq.ReqAllOpenOrders()),
    ("reqAutoOpenOrders", lambda c: c.reqAutoOpenOrders(True), rq.ReqAutoOpenOrders(True)),
    ("reqCompletedOrders", lambda c: c.reqCompletedOrders(False), rq.ReqCompletedOrders(False)),
    ("reqExecutions", lambda c: c.reqExecutions(15, ExecutionFilter(
        clientId=3, acctCode="DU1", time="20250102 09:30:00", symbol="AAPL", secType="STK",
        exchange="SMART", side="BUY")),
     rq.ReqExecutions(req_id=15, client_id=3, acct_code="DU1", time="20250102 09:30:00",
                      symbol="AAPL", sec_type="STK", exchange="SMART", side="BUY")),
    ("reqExecutions empty filter", lambda c: c.reqExecutions(16, ExecutionFilter()),
     rq.ReqExecutions(req_id=16)),
    ("reqPositions", lambda c: c.reqPositions(), rq.ReqPositions()),
    ("cancelPositions", lambda c: c.cancelPositions(), rq.CancelPositions()),
    ("reqAccountUpdates", lambda c: c.reqAccountUpdates(True, "DU1"),
     rq.ReqAccountUpdates(subscribe=True, acct_code="DU1")),
    ("reqAccountUpdates off", lambda c: c.reqAccountUpdates(False, ""),
     rq.ReqAccountUpdates(subscribe=False)),
    ("reqAccountUpdatesMulti", lambda c: c.reqAccountUpdatesMulti(17, "DU1", "", False),
     rq.ReqAccountUpdatesMulti(req_id=17, account="DU1")),
    ("cancelAccountUpdatesMulti", lambda c: c.cancelAccountUpdatesMulti(17),
     rq.CancelAccountUpdatesMulti(17)),
    ("reqAccountSummary", lambda c: c.reqAccountSummary(18, "All", "NetLiquidation,Cushion"),
     rq.ReqAccountSummary(req_id=18, group_name="All", tags="NetLiquidation,Cushion")),
    ("cancelAccountSummary", lambda c: c.cancelAccountSummary(18), rq.CancelAccountSummary(18)),
    ("reqPnL", lambda c: c.reqPnL(19, "DU1", ""), rq.ReqPnL(req_id=19, account="DU1")),
    ("cancelPnL", lambda c: c.cancelPnL(19), rq.CancelPnL(19)),
    ("reqPnLSingle", lambda c: c.reqPnLSingle(20, "DU1", "", 265598),
     rq.ReqPnLSingle(req_id=20, account="DU1", con_id=265598)),
    ("cancelPnLSingle", lambda c: c.cancelPnLSingle(20), rq.CancelPnLSingle(20)),
    ("reqMatchingSymbols", lambda c: c.reqMatchingSymbols(21, "AAP"),
     rq.ReqMatchingSymbols(req_id=21, pattern="AAP")),
    ("reqMarketRule", lambda c: c.reqMarketRule(26), rq.ReqMarketRule(26)),
    ("reqMktData", lambda c: c.reqMktData(22, aapl(), "233,236", False, False, []),
     rq.ReqMktData(req_id=22, contract=AAPL, generic_tick_list="233,236")),
    ("reqMktData snapshot", lambda c: c.reqMktData(23, aapl(), "", True, False, []),
     rq.ReqMktData(req_id=23, contract=AAPL, snapshot=True)),
    ("reqMktData BAG", lambda c: c.reqMktData(24, bag(), "", False, True, []),
     rq.ReqMktData(req_id=24, contract=BAG_CONTRACT, combo_legs=BAG_LEGS,
                   regulatory_snapshot=True)),
    ("reqMktData delta neutral",
     lambda c: c.reqMktData(25, Stock("IBM", "SMART", "USD", deltaNeutralContract=(
         DeltaNeutralContract(8314, 0.5, 150.25))), "", False, False, []),
     rq.ReqMktData(req_id=25, contract=WireContract(symbol="IBM", sec_type="STK",
                                                    exchange="SMART", currency="USD"),
                   delta_neutral=DeltaNeutral(8314, 0.5, 150.25))),
    ("reqHistoricalData", lambda c: c.reqHistoricalData(
        26, aapl(), "20250102 21:00:00 UTC", "2 D", "5 mins", "TRADES", 1, 1, False, []),
     rq.ReqHistoricalData(req_id=26, contract=AAPL, end_date_time="20250102 21:00:00 UTC",
                          bar_size="5 mins", duration="2 D", use_rth=True,
                          what_to_show="TRADES", format_date=1)),
    ("reqHistoricalData keepUpToDate", lambda c: c.reqHistoricalData(
        27, Forex("EURUSD"), "", "1 D", "1 hour", "MIDPOINT", 0, 2, True, []),
     rq.ReqHistoricalData(req_id=27, contract=WireContract(
         symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"),
         bar_size="1 hour", duration="1 D", what_to_show="MIDPOINT", format_date=2,
         keep_up_to_date=True)),
    ("reqHistoricalData BAG", lambda c: c.reqHistoricalData(
        28, bag(), "", "1 W", "1 day", "TRADES", 1, 1, False, []),
     rq.ReqHistoricalData(req_id=28, contract=BAG_CONTRACT, bar_size="1 day", duration="1 W",
                          use_rth=True, what_to_show="TRADES", format_date=1,
                          combo_legs=BAG_LEGS)),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "send", "expected"), SIMPLE_CASES,
                         ids=[c[0] for c in SIMPLE_CASES])
def test_request_round_trip(offline, version, name, send, expected):
    client = offline(version)
    send(client.client)
    assert client.request() == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_contract_details_issuer_id_from_176(offline, version):
    client = offline(version)
    contract = aapl()
    contract.issuerId = "e1234567"
    contract.includeExpired = True
    contract.secIdType, contract.secId = "ISIN", "US0378331005"
    client.client.reqContractDetails(30, contract)
    assert client.request() == rq.ReqContractDetails(
        req_id=30, contract=AAPL, include_expired=True, sec_id_type="ISIN",
        sec_id="US0378331005", issuer_id="e1234567" if version >= 176 else "",
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_cancel_order_manual_time_from_169(offline, version):
    client = offline(version)
    client.client.cancelOrder(31, "20250102-15:00:00")
    assert client.request() == rq.CancelOrder(
        order_id=31, manual_cancel_order_time="20250102-15:00:00" if version >= 169 else "")


def test_start_api(offline):
    client = offline(178, client_id=12)
    client.client.optCapab = "cap"
    client.client.startApi()
    assert client.request() == rq.StartApi(client_id=12, optional_capabilities="cap")


def test_contract_fields_survive_as_sent(offline):
    client = offline(178)
    option = Stock("SPY", "SMART", "USD")
    option.secType, option.lastTradeDateOrContractMonth = "OPT", "20250620"
    option.strike, option.right, option.multiplier = 595.5, "C", "100"
    option.localSymbol, option.tradingClass = "SPY   250620C00595500", "SPY"
    client.client.reqContractDetails(1, option)
    contract = client.request().contract
    assert contract == WireContract(0, "SPY", "OPT", "20250620", 595.5, "C", "100", "SMART", "",
                                    "USD", "SPY   250620C00595500", "SPY")
    texts = [encode_field(f) for f in contract.c12_fields()]
    assert WireContract.from_fields(texts, 0) == (contract, 12)


def test_unknown_request_is_kept(offline):
    client = offline(178)
    client.client.reqScannerParameters()
    assert client.request() == rq.UnknownRequest(msg_id=24, fields=("1",))


def test_every_request_class_has_a_distinct_message_id():
    ids = [cls.MSG_ID for cls in rq.REQUEST_TYPES.values()]
    assert len(ids) == len(set(ids)) and -1 not in ids


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        (["9", "8", "x"], ("reqContractDetails", "req_id")),
        (["9", "8", "1", "0", "AAPL"], ("reqContractDetails", "secType")),
        (["1", "11", "5", "0", "AAPL", "STK", "", "0.0", "", "", "SMART", "", "USD", "", ""],
         ("reqMktData", "deltaNeutralContract")),
        (["59", "1", "three"], ("reqMarketDataType", "market_data_type")),
        (["6", "2", "maybe", "DU1"], ("reqAccountUpdates", "subscribe")),
        (["3", "7"], ("placeOrder", "contract field")),
        (["abc"], ("message id",)),
    ],
)
def test_malformed_requests_name_message_and_field(fields, names):
    with pytest.raises(ProtocolError) as caught:
        rq.parse_request(fields, 178)
    for name in names:
        assert name in str(caught.value)
