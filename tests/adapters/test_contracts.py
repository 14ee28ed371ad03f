from __future__ import annotations

import datetime as dt

import pytest
from ib_async import Contract, ContractDetails

from ibtrader.adapters.ib.contracts import (
    app_symbol,
    contract_for,
    front_month,
    instrument_from,
    parse_symbol,
)


@pytest.mark.parametrize(("text", "sec_type", "symbol", "exchange", "currency", "local"), [
    ("AAPL", "STK", "AAPL", "SMART", "USD", ""),
    (" spy ", "STK", "SPY", "SMART", "USD", ""),
    ("BRK.B", "STK", "BRK B", "SMART", "USD", ""),
    ("EURUSD", "CASH", "EUR", "IDEALPRO", "USD", ""),
    ("eur.usd", "CASH", "EUR", "IDEALPRO", "USD", ""),
    ("ESZ6", "FUT", "ES", "CME", "USD", "ESZ6"),
    ("MNQH27", "FUT", "MNQ", "CME", "USD", "MNQH27"),
    ("CLF7", "FUT", "CL", "NYMEX", "USD", "CLF7"),
    ("STK:ES", "STK", "ES", "SMART", "USD", ""),
])
def test_parse_symbol(text, sec_type, symbol, exchange, currency, local) -> None:
    spec = parse_symbol(text)
    assert (spec.sec_type, spec.symbol, spec.exchange, spec.currency, spec.local_symbol) == (
        sec_type, symbol, exchange, currency, local)
    assert not spec.front_month


def test_a_futures_root_alone_means_the_front_month() -> None:
    spec = parse_symbol("ES")
    assert (spec.sec_type, spec.symbol, spec.exchange, spec.front_month) == (
        "FUT", "ES", "CME", True)
    assert spec.contract().secType == "FUT"


@pytest.mark.parametrize("text", ["", "  ", "FOO:BAR", "CASH:EURXYZ", "!!!", "A" * 20])
def test_garbage_is_refused_with_a_reason(text) -> None:
    with pytest.raises(ValueError, match=r"symbol|type"):
        parse_symbol(text)


def test_six_letters_that_are_not_two_currencies_are_a_stock() -> None:
    assert parse_symbol("GOOGLE").sec_type == "STK"


def _fut(local: str, expiry: str, con_id: int) -> ContractDetails:
    return ContractDetails(contract=Contract(secType="FUT", symbol="ES", localSymbol=local,
                                             lastTradeDateOrContractMonth=expiry,
                                             exchange="CME", currency="USD", conId=con_id,
                                             multiplier="50"),
                           minTick=0.25, longName="E-mini S&P 500", timeZoneId="US/Central")


def test_front_month_is_the_first_expiry_not_yet_past() -> None:
    details = [_fut("ESH7", "20270319", 3), _fut("ESU6", "20260918", 1),
               _fut("ESZ6", "20261218", 2)]
    assert front_month(details, dt.date(2026, 9, 19)).contract.localSymbol == "ESZ6"
    assert front_month(details, dt.date(2026, 9, 18)).contract.localSymbol == "ESU6"
    assert front_month(details, dt.date(2027, 4, 1)) is None


def test_instrument_from_details_and_back_to_a_contract() -> None:
    inst = instrument_from(_fut("ESZ6", "20261218", 2))
    assert (inst.symbol, inst.con_id, inst.multiplier, inst.min_tick, inst.expiry) == (
        "ESZ6", 2, 50.0, 0.25, "20261218")
    contract = contract_for(inst)
    assert (contract.conId, contract.exchange, contract.secType) == (2, "CME", "FUT")
    assert app_symbol(Contract(secType="CASH", symbol="EUR", currency="USD")) == "EURUSD"
