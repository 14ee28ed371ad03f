"""Server messages fed to ib_async's own framing, Decoder and Wrapper."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from ib_async import LimitOrder, Stock
from ib_async.objects import BarDataList, PriceIncrement

from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol import responses as out
from ibtrader.sim.protocol.responses import ContractDetailsFields, HistBar, SymbolSample
from ibtrader.sim.protocol.wire import WireContract

from .conftest import VERSIONS

ACCOUNT = "DU1234567"
AAPL = WireContract(con_id=265598, symbol="AAPL", sec_type="STK", exchange="SMART",
                    primary_exchange="NASDAQ", currency="USD", local_symbol="AAPL",
                    trading_class="NMS")
AT_PRIMARY = WireContract(con_id=265598, symbol="AAPL", sec_type="STK", exchange="NASDAQ",
                          primary_exchange="NASDAQ", currency="USD", local_symbol="AAPL",
                          trading_class="NMS")
EASTERN = ZoneInfo("US/Eastern")


def aapl() -> Stock:
    return Stock("AAPL", "SMART", "USD", conId=265598)


# ----- connection ------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_handshake_makes_the_client_ready(offline, version):
    client = offline(version)
    c = client.client
    c._serverVersion, c._apiReady, c.connState = 0, False, c.CONNECTING
    c.decoder.serverVersion = 0
    reply = out.handshake_reply(version, "20250102 09:30:00 EST")
    assert len(reply) == 2
    client.feed(reply)
    assert c.serverVersion() == version and c.decoder.serverVersion == version
    assert client.requests() == [rq.StartApi(client_id=7, optional_capabilities="")]
    started = []
    c.apiStart += lambda: started.append(True)
    accounts, next_id = out.managed_accounts([ACCOUNT, "DU7654321"]), out.next_valid_id(1001)
    assert len(accounts) == len(next_id) == 3
    client.feed(accounts, next_id)
    assert started == [True] and c.isReady()
    assert c.getAccounts() == [ACCOUNT, "DU7654321"] and c.getReqId() == 1001


@pytest.mark.parametrize("version", VERSIONS)
def test_error_with_and_without_advanced_json(offline, version):
    client = offline(version)
    seen = []
    client.ib.errorEvent += lambda *args: seen.append(args[:3])
    message = out.error(version, -1, 2104, "Market data farm connection is OK:usfarm")
    assert len(message) == (6 if version >= 166 else 5)
    client.feed(message)
    trade = client.ib.placeOrder(aapl(), LimitOrder("BUY", 100, 150.0))
    client.requests()
    client.feed(out.error(version, trade.order.orderId, 201, "Order rejected - reason:margin",
                          '{"reason": "margin"}'))
    assert seen == [(-1, 2104, "Market data farm connection is OK:usfarm"),
                    (trade.order.orderId, 201, "Order rejected - reason:margin")]
    assert trade.orderStatus.status == "Cancelled"
    assert trade.advancedError == ('{"reason": "margin"}' if version >= 166 else "")


def test_a_missing_advanced_json_is_detected(offline):
    client = offline(178)
    with pytest.raises(AssertionError, match="failed to decode"):
        client.feed([4, 2, -1, 2104, "farm OK"])


def test_current_time(offline):
    client = offline(178)
    future = client.wrapper.startReq("currentTime")
    client.feed(out.current_time(1735828200))
    assert future.result() == dt.datetime(2025, 1, 2, 14, 30, tzinfo=dt.UTC)


# ----- contracts ---------------------------------------------------------------------------
DETAILS = ContractDetailsFields(
    contract=AAPL, market_name="NMS", min_tick=0.01, order_types="LMT,MKT,STP,TRAIL",
    valid_exchanges="SMART,NASDAQ,ARCA", price_magnifier=1, long_name="Société Générale \\ Co",
    contract_month="", industry="Technology", category="Computers", subcategory="Hardware",
    time_zone_id="US/Eastern", trading_hours="20250102:0400-20250102:2000",
    liquid_hours="20250102:0930-20250102:1600", sec_id_list=(("ISIN", "US0378331005"),),
    agg_group=1, market_rule_ids="26,26", stock_type="COMMON", min_size=1.0,
    size_increment=1.0, suggested_size_increment=100.0,
)


@pytest.mark.parametrize("version", [*VERSIONS, 164])
def test_contract_details(offline, version):
    client = offline(version)
    future = client.wrapper.startReq(5)
    future_details = ContractDetailsFields(
        contract=WireContract(con_id=495512552, symbol="ES", sec_type="FUT",
                              last_trade_date="20250321", multiplier="50", exchange="CME",
                              currency="USD", local_symbol="ESH5", trading_class="ES"),
        min_tick=0.25, last_trade_time="08:30:00", time_zone_id="US/Central")
    client.feed(out.contract_data(version, 5, DETAILS),
                out.contract_data(version, 5, future_details), out.contract_data_end(5))
    stock, future_cd = future.result()
    c = stock.contract
    assert (c.conId, c.symbol, c.secType, c.exchange, c.primaryExchange, c.currency) == (
        265598, "AAPL", "STK", "SMART", "NASDAQ", "USD")
    assert (c.localSymbol, c.tradingClass, c.strike) == ("AAPL", "NMS", 0.0)
    assert stock.longName == "Société Générale \\ Co"
    assert (stock.minTick, stock.marketName, stock.timeZoneId) == (0.01, "NMS", "US/Eastern")
    assert stock.liquidHours == "20250102:0930-20250102:1600"
    assert [(t.tag, t.value) for t in stock.secIdList] == [("ISIN", "US0378331005")]
    assert (stock.aggGroup, stock.marketRuleIds, stock.stockType) == (1, "26,26", "COMMON")
    assert stock.suggestedSizeIncrement == (100.0 if version >= 163 else 0.0)
    assert stock.sizeIncrement == (1.0 if version >= 164 else 0.0)
    fc = future_cd.contract
    assert (fc.lastTradeDateOrContractMonth, future_cd.lastTradeTime) == ("20250321", "08:30:00")
    assert (fc.multiplier, fc.exchange, future_cd.minTick) == ("50", "CME", 0.25)


@pytest.mark.parametrize("version", VERSIONS)
def test_symbol_samples(offline, version):
    client = offline(version)
    future = client.wrapper.startReq(6)
    client.feed(out.symbol_samples(version, 6, [
        SymbolSample(265598, "AAPL", "STK", "NASDAQ", "USD", ("OPT", "WAR"), "APPLE INC"),
        SymbolSample(8314, "IBM", "STK", "NYSE", "USD"),
    ]))
    first, second = future.result()
    assert (first.contract.conId, first.contract.primaryExchange) == (265598, "NASDAQ")
    assert first.derivativeSecTypes == ["OPT", "WAR"] and second.contract.symbol == "IBM"
    assert first.contract.description == ("APPLE INC" if version >= 176 else "")


def test_market_rule(offline):
    client = offline(178)
    future = client.wrapper.startReq("marketRule-26")
    client.feed(out.market_rule(26, [(0.0, 0.01), (1000.0, 0.05)]))
    assert future.result() == [PriceIncrement(0.0, 0.01), PriceIncrement(1000.0, 0.05)]


# ----- market data -------------------------------------------------------------------------
@pytest.mark.parametrize("delayed", [False, True])
def test_ticks_land_on_the_ticker(offline, delayed):
    client = offline(178)
    ticker = client.ib.reqMktData(aapl())
    req_id = client.request().req_id  # type: ignore[attr-defined]
    d = 1 if delayed else 0
    ids = {"bid": (1, 66), "ask": (2, 67), "last": (4, 68), "high": (6, 72), "low": (7, 73),
           "close": (9, 75), "open": (14, 76), "bidSize": (0, 69), "volume": (8, 74)}
    client.feed(
        out.tick_req_params(req_id, 0.01, "9c0001", 3),
        out.market_data_type(req_id, 3 if delayed else 1),
        out.tick_price(req_id, ids["bid"][d], 187.5, 300, 0),
        out.tick_price(req_id, ids["ask"][d], 187.52, 200.0, 0),
        out.tick_price(req_id, ids["last"][d], 187.51, 100, 0),
        out.tick_size(req_id, ids["volume"][d], 1234567),
        out.tick_price(req_id, ids["high"][d], 189.0, 0, 0),
        out.tick_price(req_id, ids["low"][d], 185.25, 0, 0),
        out.tick_price(req_id, ids["close"][d], 186.0, 0, 0),
        out.tick_price(req_id, ids["open"][d], 186.5, 0, 0),
        out.tick_size(req_id, ids["bidSize"][d], 400),
        out.tick_string(req_id, 45, "1735828200"),
        out.tick_generic(req_id, 54, 4321),
    )
    assert (ticker.bid, ticker.bidSize, ticker.ask, ticker.askSize) == (187.5, 400, 187.52, 200)
    assert (ticker.last, ticker.lastSize, ticker.volume) == (187.51, 100, 1234567)
    assert (ticker.high, ticker.low, ticker.close, ticker.open) == (189.0, 185.25, 186.0, 186.5)
    assert (ticker.minTick, ticker.bboExchange, ticker.snapshotPermissions) == (0.01, "9c0001", 3)
    assert ticker.marketDataType == (3 if delayed else 1)
    assert ticker.lastTimestamp == dt.datetime(2025, 1, 2, 14, 30, tzinfo=dt.UTC)
    assert ticker.tradeCount == 4321


def test_tick_price_has_exactly_seven_fields_and_snapshot_ends(offline):
    assert len(out.tick_price(1, 1, 1.0, 1.0)) == 7
    client = offline(178)
    client.ib.reqMktData(aapl(), snapshot=True)
    req_id = client.request().req_id  # type: ignore[attr-defined]
    future = client.wrapper.startReq(req_id)
    client.feed(out.tick_snapshot_end(req_id))
    assert future.done()


def test_realtime_bars(offline):
    client = offline(178)
    bars = client.ib.reqRealTimeBars(aapl(), 5, "TRADES", False)
    client.requests()
    client.feed(out.realtime_bar(bars.reqId, 1735828200, 187.0, 187.5, 186.9, 187.2, 1500.0,
                                 187.1, 42))
    bar = bars[-1]
    assert bar.time == dt.datetime(2025, 1, 2, 14, 30, tzinfo=dt.UTC)
    assert (bar.open_, bar.high, bar.low, bar.close) == (187.0, 187.5, 186.9, 187.2)
    assert (bar.volume, bar.wap, bar.count) == (1500.0, 187.1, 42)


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["20250102", "20250103"], [dt.date(2025, 1, 2), dt.date(2025, 1, 3)]),
        (["20250102 09:30:00 US/Eastern", "20250102 09:35:00 US/Eastern"],
         [dt.datetime(2025, 1, 2, 9, 30, tzinfo=EASTERN),
          dt.datetime(2025, 1, 2, 9, 35, tzinfo=EASTERN)]),
        (["1735828200", "1735828500"],
         [dt.datetime(2025, 1, 2, 14, 30, tzinfo=dt.UTC),
          dt.datetime(2025, 1, 2, 14, 35, tzinfo=dt.UTC)]),
    ],
    ids=["daily", "intraday", "epoch"],
)
def test_historical_data_and_updates(offline, dates, expected):
    client = offline(178)
    future = client.wrapper.startReq(9, aapl())
    rows = [HistBar(d, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1000.0 * (i + 1), 100.2, 10)
            for i, d in enumerate(dates)]
    client.feed(out.historical_data(9, "20250101 00:00:00 UTC", "20250104 00:00:00 UTC", rows))
    bars = future.result()
    assert [b.date for b in bars] == expected
    assert (bars[1].open, bars[1].high, bars[1].low, bars[1].close) == (101.0, 102.0, 100.0, 101.5)
    assert (bars[1].volume, bars[1].average, bars[1].barCount) == (2000.0, 100.2, 10)

    live = BarDataList(bars)
    live.reqId = 9
    client.wrapper.startSubscription(9, live, aapl())
    client.feed(out.historical_data_update(9, 12, dates[1], 101.0, 101.75, 102.5, 100.0,
                                           101.2, 2500.0))
    assert len(live) == 2
    last = live[-1]
    assert (last.open, last.close, last.high, last.low) == (101.0, 101.75, 102.5, 100.0)
    assert (last.average, last.volume, last.barCount) == (101.2, 2500.0, 12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20040823 09:30:00 US/Eastern", dt.datetime(2004, 8, 23, 9, 30, tzinfo=EASTERN)),
     ("1093267800", dt.datetime(2004, 8, 23, 13, 30, tzinfo=dt.UTC))],
)
def test_head_timestamp(offline, text, expected):
    client = offline(178)
    future = client.wrapper.startReq(10)
    client.feed(out.head_timestamp(10, text))
    assert future.result() == expected


# ----- portfolio and account -----------------------------------------------------------------
def test_positions(offline):
    client = offline(178)
    message = out.position(ACCOUNT, AT_PRIMARY, 100.0, 18750.0)
    assert len(message) == 16
    future = client.wrapper.startReq("positions")
    client.feed(message, out.position_end())
    (position,) = future.result()
    assert (position.account, position.position, position.avgCost) == (ACCOUNT, 100.0, 18750.0)
    assert (position.contract.conId, position.contract.exchange) == (265598, "NASDAQ")
    client.feed(out.position(ACCOUNT, AT_PRIMARY, 0.0, 0.0))
    assert client.ib.positions() == []


def test_portfolio_and_account_values(offline):
    client = offline(178)
    message = out.update_portfolio(AT_PRIMARY, 100.0, 188.0, 18800.0, 187.5, 50.0, 12.5, ACCOUNT)
    assert len(message) == 20
    future = client.wrapper.startReq("accountValues")
    client.feed(out.update_account_value("NetLiquidation", "1000050.00", "USD", ACCOUNT),
                message, out.update_account_time("14:30"), out.account_download_end(ACCOUNT))
    assert future.done()
    (item,) = client.ib.portfolio(ACCOUNT)
    assert (item.position, item.marketPrice, item.marketValue) == (100.0, 188.0, 18800.0)
    assert (item.averageCost, item.unrealizedPNL, item.realizedPNL) == (187.5, 50.0, 12.5)
    assert item.contract.primaryExchange == "NASDAQ"
    (value,) = client.ib.accountValues(ACCOUNT)
    assert (value.tag, value.value, value.currency) == ("NetLiquidation", "1000050.00", "USD")


def test_account_update_multi_and_summary(offline):
    client = offline(178)
    multi, summary = client.wrapper.startReq(11), client.wrapper.startReq(12)
    client.feed(out.account_update_multi(11, ACCOUNT, "M1", "BuyingPower", "4000000", "USD"),
                out.account_update_multi_end(11),
                out.account_summary(12, ACCOUNT, "Cushion", "0.98", ""),
                out.account_summary_end(12))
    assert multi.done() and summary.done()
    assert client.wrapper.accountValues[(ACCOUNT, "BuyingPower", "USD", "M1")].value == "4000000"
    assert client.wrapper.acctSummary[(ACCOUNT, "Cushion", "")].value == "0.98"


def test_pnl_and_pnl_single(offline):
    client = offline(178)
    pnl = client.ib.reqPnL(ACCOUNT)
    single = client.ib.reqPnLSingle(ACCOUNT, "", 265598)
    pnl_req, single_req = client.requests()
    client.feed(out.pnl(pnl_req.req_id, 150.25, -20.5, 0.0),  # type: ignore[attr-defined]
                out.pnl_single(single_req.req_id, 100.0, 75.0, 50.0, None,  # type: ignore
                               18800.0))
    assert (pnl.dailyPnL, pnl.unrealizedPnL, pnl.realizedPnL) == (150.25, -20.5, 0.0)
    assert (single.position, single.dailyPnL, single.unrealizedPnL) == (100.0, 75.0, 50.0)
    assert (single.realizedPnL, single.value) == (0.0, 18800.0)
