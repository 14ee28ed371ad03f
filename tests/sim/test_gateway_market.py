"""The simulated gateway's market side, driven by unmodified ib_async over loopback."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from ib_async import Contract, Forex, Future, Stock
from ib_async.wrapper import RequestError

from tests.sim.conftest import connect, until


def test_connect_reports_account_and_disconnects_cleanly(gateway, run):
    async def scenario():
        ib = await connect(gateway, client_id=3)
        assert ib.isConnected()
        assert ib.managedAccounts() == ["DU1234567"]
        assert ib.client.serverVersion() == 178
        values = {v.tag: v.value for v in ib.accountValues()}
        assert float(values["NetLiquidation"]) > 0
        assert 3 in gateway.connected_clients()
        ib.disconnect()
        await until(lambda: 3 not in gateway.connected_clients(), timeout=5)

    run(scenario())


def test_second_client_with_the_same_id_is_refused(gateway, run):
    async def scenario():
        first = await connect(gateway, client_id=5)
        with pytest.raises((TimeoutError, ConnectionError)):  # after error 326
            await connect(gateway, client_id=5, timeout=2)
        assert first.isConnected()
        other = await connect(gateway, client_id=6)
        assert sorted(gateway.connected_clients()) == [5, 6]
        first.disconnect()
        other.disconnect()

    run(scenario())


def test_contract_details_for_known_contracts(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        aapl, eur = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"),
                                                   Forex("EURUSD"))
        assert aapl.conId and aapl.primaryExchange == "NASDAQ"
        assert eur.secType == "CASH" and eur.localSymbol == "EUR.USD"
        [details] = await ib.reqContractDetailsAsync(Stock("SPY", "SMART", "USD"))
        assert details.minTick == 0.01
        assert details.longName
        assert details.timeZoneId == "US/Eastern"
        assert details.tradingHours and details.liquidHours
        [es] = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
        assert es.contract.multiplier == "50" and es.minTick == 0.25
        ib.disconnect()

    run(scenario())


def test_unknown_contract_answers_error_200(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        errors = []
        ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
        with pytest.raises(RequestError) as caught:
            await ib.reqContractDetailsAsync(Stock("NOSUCH", "SMART", "USD"))
        assert caught.value.code == 200
        assert 200 in errors
        ib.disconnect()

    run(scenario())


def test_streaming_ticks_keep_coming_at_several_per_second(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktData(aapl)
        updates = 0

        def count(t):
            nonlocal updates
            updates += 1

        ticker.updateEvent += count
        await asyncio.sleep(2.0)
        assert updates >= 6, updates  # ~10 quote refreshes/s here; at least 3/s arrive
        assert 0 < ticker.bid < ticker.ask
        assert ticker.last > 0 and ticker.volume > 0
        assert ticker.bidSize > 0 and ticker.askSize > 0
        ib.cancelMktData(aapl)
        ib.disconnect()

    run(scenario())


def test_snapshot_returns_a_complete_quote(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [msft] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
        [ticker] = await ib.reqTickersAsync(msft)
        assert ticker.bid > 0 and ticker.ask > ticker.bid and ticker.close > 0
        ib.disconnect()

    run(scenario())


def test_real_time_bars_arrive_every_five_seconds(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
        bars = ib.reqRealTimeBars(spy, 5, "TRADES", False)
        await until(lambda: len(bars) >= 2, timeout=12)
        first, second = bars[0], bars[1]
        assert (second.time - first.time) == dt.timedelta(seconds=5)
        assert first.low <= min(first.open_, first.close) <= max(first.open_, first.close)
        assert max(first.open_, first.close) <= first.high
        ib.cancelRealTimeBars(bars)
        ib.disconnect()

    run(scenario(), timeout=30)


BAR_SIZES = [
    ("1 secs", "60 S"), ("5 secs", "600 S"), ("10 secs", "1800 S"), ("15 secs", "1800 S"),
    ("30 secs", "3600 S"), ("1 min", "1 D"), ("2 mins", "1 D"), ("3 mins", "1 D"),
    ("5 mins", "2 D"), ("10 mins", "2 D"), ("15 mins", "1 W"), ("20 mins", "1 W"),
    ("30 mins", "1 W"), ("1 hour", "1 M"), ("2 hours", "1 M"), ("3 hours", "1 M"),
    ("4 hours", "1 M"), ("8 hours", "1 M"), ("1 day", "1 Y"),
]


def test_historical_bars_for_every_bar_size(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        for bar_size, duration in BAR_SIZES:
            bars = await ib.reqHistoricalDataAsync(aapl, "", duration, bar_size, "TRADES",
                                                   False, formatDate=2)
            assert len(bars) > 10, bar_size
            times = [b.date for b in bars]
            assert times == sorted(times) and len(set(times)) == len(times), bar_size
            for b in bars[-5:]:
                assert b.low <= min(b.open, b.close) and max(b.open, b.close) <= b.high
        ib.disconnect()

    run(scenario(), timeout=60)


def test_history_covers_30_days_of_minutes_and_two_years_of_days(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        minutes = await ib.reqHistoricalDataAsync(aapl, "", "30 D", "1 min", "TRADES", False)
        assert len(minutes) >= 30 * 24 * 60 - 1  # open around the clock by default
        days = await ib.reqHistoricalDataAsync(aapl, "", "2 Y", "1 day", "TRADES", False)
        assert len(days) >= 2 * 365
        assert isinstance(days[0].date, dt.date)
        ib.disconnect()

    run(scenario(), timeout=60)


def test_last_historical_bar_joins_the_live_stream(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [nvda] = await ib.qualifyContractsAsync(Stock("NVDA", "SMART", "USD"))
        ticker = ib.reqMktData(nvda)
        await until(lambda: ticker.last == ticker.last and ticker.last > 0)
        bars = await ib.reqHistoricalDataAsync(nvda, "", "600 S", "5 secs", "TRADES", False)
        live = ticker.last
        # the forming bar ends at the current price; one second may pass between the two
        assert abs(bars[-1].close - live) <= max(0.5, 0.003 * live)
        ib.disconnect()

    run(scenario())


def test_bars_built_from_the_stream_equal_historical_bars(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [tsla] = await ib.qualifyContractsAsync(Stock("TSLA", "SMART", "USD"))
        live = ib.reqRealTimeBars(tsla, 5, "TRADES", False)
        await until(lambda: len(live) >= 3, timeout=20)
        history = await ib.reqHistoricalDataAsync(tsla, "", "300 S", "5 secs", "TRADES", False,
                                                  formatDate=2)
        by_time = {b.date: b for b in history}
        compared = 0
        for bar in list(live)[:2]:
            hist = by_time[bar.time]
            assert (hist.open, hist.high, hist.low, hist.close) == (
                bar.open_, bar.high, bar.low, bar.close)
            assert hist.volume == pytest.approx(bar.volume)
            compared += 1
        assert compared == 2
        ib.disconnect()

    run(scenario(), timeout=40)


def test_keep_up_to_date_updates_the_forming_bar(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        bars = await ib.reqHistoricalDataAsync(aapl, "", "300 S", "5 secs", "TRADES", False,
                                               keepUpToDate=True)
        count = len(bars)
        updates = []
        bars.updateEvent += lambda b, has_new: updates.append(has_new)
        await until(lambda: any(updates) and len(bars) > count, timeout=15)
        ib.cancelHistoricalData(bars)
        ib.disconnect()

    run(scenario(), timeout=30)


def test_fx_history_refuses_trades_and_serves_midpoint(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [eur] = await ib.qualifyContractsAsync(Forex("EURUSD"))
        with pytest.raises(RequestError) as caught:
            await ib.reqHistoricalDataAsync(eur, "", "1 D", "1 hour", "TRADES", False)
        assert caught.value.code == 162
        bars = await ib.reqHistoricalDataAsync(eur, "", "1 D", "1 hour", "MIDPOINT", False)
        assert len(bars) >= 23 and 0.5 < bars[-1].close < 2.0
        ib.disconnect()

    run(scenario())


def test_head_timestamp_and_current_time(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        head = await ib.reqHeadTimeStampAsync(aapl, "TRADES", False, 2)
        assert head.year <= dt.datetime.now().year - 2
        now = await ib.reqCurrentTimeAsync()
        assert abs((now - dt.datetime.now(dt.UTC)).total_seconds()) < 5
        ib.disconnect()

    run(scenario())


def test_contract_by_con_id_alone(gateway, run):
    async def scenario():
        ib = await connect(gateway)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        [again] = await ib.qualifyContractsAsync(Contract(conId=aapl.conId))
        assert again.symbol == "AAPL"
        ib.disconnect()

    run(scenario())
