"""From what a trader types ("AAPL", "EURUSD", "ES", "ESZ6") to IB contracts and back.

    AAPL, SPY, BRK.B     a US stock or ETF, routed SMART, in USD
    EURUSD, EUR.USD      a currency pair on IDEALPRO (both halves must be currency codes)
    ES, CL, GC, …        a known futures root: the front month, found from contract details
    ESZ6, CLF27          a future by IB's local symbol (root + month code + year)
    STK:ES, FUT:ES, CASH:EURUSD   say the type when the short form is ambiguous
                         ("ES" alone is the E-mini future, "STK:ES" the stock)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ib_async import Contract, ContractDetails

from ibtrader.core.market import Instrument

CURRENCIES = frozenset({
    "USD", "EUR", "JPY", "GBP", "CHF", "AUD", "CAD", "NZD", "SEK", "NOK", "DKK", "HKD",
    "SGD", "MXN", "CNH", "ZAR", "PLN", "CZK", "HUF", "TRY", "ILS", "KRW",
})

# Futures roots known by their short form: root -> (exchange, currency).
FUTURES_ROOTS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("ES", "MES", "NQ", "MNQ", "RTY", "M2K", "6E", "6J", "6B", "6A", "6C",
                     "HE", "LE"), ("CME", "USD")),
    **dict.fromkeys(("YM", "MYM", "ZB", "ZN", "ZF", "ZT", "ZC", "ZS", "ZW"), ("CBOT", "USD")),
    **dict.fromkeys(("CL", "MCL", "NG", "RB", "HO"), ("NYMEX", "USD")),
    **dict.fromkeys(("GC", "MGC", "SI", "HG"), ("COMEX", "USD")),
    "VX": ("CFE", "USD"),
}
MONTH_CODES = "FGHJKMNQUVXZ"

_LOCAL_FUTURE = re.compile(rf"^([A-Z0-9]{{1,4}}?)([{MONTH_CODES}])(\d{{1,2}})$")
_STOCK = re.compile(r"^[A-Z0-9][A-Z0-9 .\-]{0,11}$")
_PAIR = re.compile(r"^([A-Z]{3})[./]?([A-Z]{3})$")


@dataclass(frozen=True)
class SymbolSpec:
    """A parsed symbol: enough to ask IB for the contract's details."""

    text: str  # as typed, upper-cased
    sec_type: str
    symbol: str  # IB's symbol: "AAPL", "BRK B", "EUR", "ES"
    exchange: str
    currency: str
    local_symbol: str = ""  # futures: "ESZ6"
    front_month: bool = False  # futures given by root: pick the nearest expiry

    def contract(self) -> Contract:
        return Contract(secType=self.sec_type, symbol=self.symbol, exchange=self.exchange,
                        currency=self.currency, localSymbol=self.local_symbol)


def parse_symbol(text: str) -> SymbolSpec:
    """Parse one symbol; raises ValueError with a readable reason."""
    norm = " ".join(text.strip().upper().split())
    kind, sep, rest = norm.partition(":")
    if sep:
        parsers = {"STK": _stock, "CASH": _pair, "FX": _pair, "FUT": _future}
        if kind not in parsers:
            raise ValueError(f"{text!r}: unknown type {kind!r} (use STK:, CASH: or FUT:)")
        spec = parsers[kind](rest)
        if spec is None:
            raise ValueError(f"{text!r}: {rest!r} is not a valid {kind} symbol")
        return spec
    for parse in (_future, _pair, _stock):
        spec = parse(norm)
        if spec is not None:
            return spec
    raise ValueError(f"{text!r} is not a symbol (expected e.g. AAPL, EURUSD, ES or ESZ6)")


def _stock(text: str) -> SymbolSpec | None:
    if not _STOCK.match(text):
        return None
    # IB writes share classes with a space: BRK.B is "BRK B".
    return SymbolSpec(text, "STK", text.replace(".", " "), "SMART", "USD")


def _pair(text: str) -> SymbolSpec | None:
    m = _PAIR.match(text)
    if not m or m[1] not in CURRENCIES or m[2] not in CURRENCIES or m[1] == m[2]:
        return None
    return SymbolSpec(text, "CASH", m[1], "IDEALPRO", m[2])


def _future(text: str) -> SymbolSpec | None:
    if text in FUTURES_ROOTS:
        exchange, currency = FUTURES_ROOTS[text]
        return SymbolSpec(text, "FUT", text, exchange, currency, front_month=True)
    m = _LOCAL_FUTURE.match(text)
    if m and m[1] in FUTURES_ROOTS:
        exchange, currency = FUTURES_ROOTS[m[1]]
        return SymbolSpec(text, "FUT", m[1], exchange, currency, local_symbol=text)
    return None


def front_month(details: Sequence[ContractDetails], today: dt.date) -> ContractDetails | None:
    """The contract that expires first on or after `today`."""
    live = [(d.contract.lastTradeDateOrContractMonth[:8], i) for i, d in enumerate(details)
            if d.contract and d.contract.lastTradeDateOrContractMonth[:8]
            >= today.strftime("%Y%m%d")]
    return details[min(live)[1]] if live else None


def instrument_from(details: ContractDetails) -> Instrument:
    c = details.contract
    if c is None:
        raise ValueError("contract details without a contract")
    return Instrument(
        symbol=app_symbol(c),
        sec_type=c.secType,
        exchange=c.exchange,
        currency=c.currency,
        con_id=c.conId,
        local_symbol=c.localSymbol,
        min_tick=details.minTick or 0.01,
        multiplier=float(c.multiplier or 1),
        long_name=details.longName,
        time_zone=details.timeZoneId,
        expiry=c.lastTradeDateOrContractMonth[:8] if c.secType == "FUT" else "",
    )


def app_symbol(contract: Contract) -> str:
    """The app's name for a contract: AAPL, EURUSD, ESZ6."""
    if contract.secType == "CASH":
        return f"{contract.symbol}{contract.currency}"
    if contract.secType == "FUT" and contract.localSymbol:
        return contract.localSymbol
    return contract.symbol or contract.localSymbol


def contract_for(instrument: Instrument) -> Contract:
    """The contract to request data for a qualified instrument (by its permanent id)."""
    if not instrument.is_qualified:
        raise ValueError(f"{instrument.symbol}: qualify the instrument first")
    return Contract(conId=instrument.con_id, secType=instrument.sec_type,
                    symbol=instrument.symbol if instrument.sec_type == "STK" else "",
                    exchange=instrument.exchange, currency=instrument.currency,
                    localSymbol=instrument.local_symbol)
