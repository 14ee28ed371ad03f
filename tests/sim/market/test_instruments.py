"""The default universe and IB-style contract matching."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from ibtrader.sim.market.instruments import (
    DEFAULT_UNIVERSE,
    Universe,
    front_quarter_expiry,
    future_contract,
    synthetic_stocks,
)

REFERENCE = dt.date(2026, 11, 20)


@pytest.fixture
def universe() -> Universe:
    return Universe(DEFAULT_UNIVERSE, REFERENCE)


def test_default_universe_has_stocks_etfs_fx_and_a_future(universe):
    kinds = {i.sec_type for i in universe.all()}
    assert kinds == {"STK", "CASH", "FUT"}
    assert len(universe.all()) >= 10
    assert len({i.con_id for i in universe.all()}) == len(universe.all())
    spy, qqq = universe.by_symbol("SPY")[0], universe.by_symbol("QQQ")[0]
    assert (spy.primary_exchange, qqq.primary_exchange) == ("ARCA", "NASDAQ")
    assert spy.category == "ETF"


@pytest.mark.parametrize(("reference", "expiry", "local"), [
    (dt.date(2026, 11, 20), dt.date(2026, 12, 18), "ESZ6"),
    (dt.date(2026, 12, 18), dt.date(2027, 3, 19), "ESH7"),  # expiry day: already rolled
    (dt.date(2026, 12, 17), dt.date(2026, 12, 18), "ESZ6"),
    (dt.date(2027, 1, 5), dt.date(2027, 3, 19), "ESH7"),
    (dt.date(2027, 4, 1), dt.date(2027, 6, 18), "ESM7"),
])
def test_future_is_the_front_quarterly_after_the_reference_date(reference, expiry, local):
    assert front_quarter_expiry(reference) == expiry
    [es] = Universe(DEFAULT_UNIVERSE, reference).by_symbol("ES")
    assert es.local_symbol == local
    assert es.last_trade_date == expiry.strftime("%Y%m%d")
    assert es.multiplier == 50 and es.min_tick == 0.25 and es.exchange == "CME"


def test_future_con_ids_are_stable_per_contract_month():
    template = next(i for i in DEFAULT_UNIVERSE if i.symbol == "ES")
    dec = future_contract(template, dt.date(2026, 12, 18))
    assert dec.con_id == future_contract(template, dt.date(2026, 12, 18)).con_id
    assert dec.con_id != future_contract(template, dt.date(2027, 3, 19)).con_id


def test_real_con_ids(universe):
    assert universe.by_con_id(265598).symbol == "AAPL"
    assert universe.by_con_id(756733).symbol == "SPY"
    assert universe.by_con_id(12087792).local_symbol == "EUR.USD"
    assert universe.by_con_id(1) is None


def test_stock_on_smart(universe):
    [aapl] = universe.match(symbol="AAPL", sec_type="STK", exchange="SMART", currency="USD")
    assert aapl.con_id == 265598 and aapl.primary_exchange == "NASDAQ"


def test_stock_by_primary_or_direct_exchange_as_positions_report_it(universe):
    assert [i.symbol for i in universe.match(symbol="AAPL", exchange="NASDAQ")] == ["AAPL"]
    assert [i.symbol for i in universe.match(symbol="JPM", exchange="NYSE")] == ["JPM"]
    assert [i.symbol for i in universe.match(symbol="AAPL", exchange="ISLAND")] == ["AAPL"]
    assert universe.match(symbol="AAPL", exchange="IDEALPRO") == []
    assert universe.match(symbol="AAPL", primary_exchange="NYSE") == []


def test_by_con_id_alone_and_with_contradicting_fields(universe):
    assert [i.symbol for i in universe.match(con_id=265598)] == ["AAPL"]
    assert universe.match(con_id=265598, symbol="MSFT") == []
    assert universe.match(con_id=999) == []


def test_symbols_are_case_insensitive(universe):
    assert [i.con_id for i in universe.match(symbol="aapl", exchange="smart")] == [265598]


def test_forex_as_ib_async_sends_it(universe):
    # Forex("EURUSD") → symbol EUR, currency USD, exchange IDEALPRO, secType CASH
    [eur] = universe.match(symbol="EUR", sec_type="CASH", exchange="IDEALPRO",
                           currency="USD")
    assert eur.local_symbol == "EUR.USD" and eur.min_tick == 0.00005


@pytest.mark.parametrize("spec", [
    {"symbol": "EURUSD", "sec_type": "CASH"},
    {"symbol": "EURUSD", "sec_type": "CASH", "currency": "USD", "exchange": "IDEALPRO"},
    {"local_symbol": "EUR.USD"},
    {"symbol": "EURUSD"},
])
def test_forex_pair_written_other_ways(universe, spec):
    assert [i.con_id for i in universe.match(**spec)] == [12087792]


def test_forex_with_the_wrong_quote_currency(universe):
    assert universe.match(symbol="EURUSD", currency="JPY") == []
    assert universe.match(symbol="EUR", sec_type="CASH", currency="JPY") == []


def test_future_by_symbol_by_local_symbol_and_by_expiry(universe):
    [es] = universe.match(symbol="ES", sec_type="FUT", exchange="CME")
    assert universe.match(local_symbol="ESZ6", sec_type="FUT") == [es]
    assert universe.match(symbol="ES", sec_type="FUT", last_trade_date="202612") == [es]
    assert universe.match(symbol="ES", last_trade_date="20261218") == [es]
    assert universe.match(symbol="ES", last_trade_date="202703") == []
    assert universe.match(symbol="ES", exchange="GLOBEX") == []


def test_two_contract_months_make_a_bare_future_ambiguous(universe):
    template = next(i for i in DEFAULT_UNIVERSE if i.symbol == "ES")
    universe.add(future_contract(template, dt.date(2027, 3, 19)))
    assert len(universe.match(symbol="ES", sec_type="FUT", exchange="CME")) == 2
    assert [i.local_symbol for i in universe.match(local_symbol="ESH7")] == ["ESH7"]
    assert len(universe.by_symbol("ES")) == 2


def test_same_symbol_in_two_currencies_is_ambiguous_until_the_currency_is_given(universe):
    aapl = universe.by_symbol("AAPL")[0]
    universe.add(replace(aapl, con_id=38708077, currency="EUR", exchange="SMART",
                         primary_exchange="IBIS"))
    assert len(universe.match(symbol="AAPL", sec_type="STK")) == 2
    assert [i.currency for i in universe.match(symbol="AAPL", currency="EUR")] == ["EUR"]


def test_unknown_and_empty_specs_match_nothing(universe):
    assert universe.match(symbol="NOSUCH", sec_type="STK", exchange="SMART") == []
    assert universe.match(sec_type="STK") == []
    assert universe.match() == []


def test_ticks(universe):
    aapl = universe.by_symbol("AAPL")[0]
    assert aapl.tick_size_at(150.0) == 0.01 and aapl.tick_size_at(0.5) == 0.0001
    assert aapl.round_to_tick(187.3449) == 187.34
    assert aapl.round_to_tick(187.345001) == 187.35
    assert aapl.round_to_tick(0.123456) == 0.1235
    eur = universe.by_symbol("EUR")[0]
    assert eur.round_to_tick(1.087624) == 1.0876
    assert eur.round_to_tick(1.087626) == 1.08765
    es = universe.by_symbol("ES")[0]
    assert es.round_to_tick(5012.13) == 5012.25
    assert es.round_to_tick(5012.1) == 5012.0


def test_contract_details_strings(universe):
    aapl = universe.by_symbol("AAPL")[0]
    exchanges = aapl.valid_exchanges.split(",")
    assert exchanges[:2] == ["SMART", "NASDAQ"] and len(set(exchanges)) == len(exchanges)
    assert "LMT" in aapl.order_types.split(",") and "TRAIL" in aapl.order_types.split(",")
    assert universe.by_symbol("EUR")[0].valid_exchanges == "IDEALPRO"


def test_synthetic_stocks_are_stable_and_distinct():
    first, again = synthetic_stocks(5), synthetic_stocks(5)
    assert first == again
    assert [s.symbol for s in first] == ["SIM000", "SIM001", "SIM002", "SIM003", "SIM004"]
    assert len({s.con_id for s in first}) == 5
    assert all(s.start_price > 1 and s.annual_vol > 0 for s in first)
