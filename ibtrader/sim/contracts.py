"""Between the simulator's instruments and the contracts that travel on the wire."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.instruments import Instrument, Universe
from ibtrader.sim.protocol.responses import ContractDetailsFields
from ibtrader.sim.protocol.wire import WireContract, WireOrder


def wire_contract(instrument: Instrument, exchange: str | None = None) -> WireContract:
    """The contract as the gateway reports it; positions use the primary exchange."""
    return WireContract(
        con_id=instrument.con_id,
        symbol=instrument.symbol,
        sec_type=instrument.sec_type,
        last_trade_date=instrument.last_trade_date,
        strike=0.0,
        right="",
        multiplier="" if instrument.multiplier == 1 else f"{instrument.multiplier:g}",
        exchange=exchange if exchange is not None else instrument.exchange,
        primary_exchange=instrument.primary_exchange,
        currency=instrument.currency,
        local_symbol=instrument.local_symbol,
        trading_class=instrument.trading_class,
    )


def contract_details(
    instrument: Instrument, calendar: TradingCalendar, now: float
) -> ContractDetailsFields:
    trading_hours, liquid_hours = calendar.hours_text(now)
    return ContractDetailsFields(
        contract=wire_contract(instrument),
        market_name=instrument.trading_class,
        min_tick=instrument.min_tick,
        order_types=instrument.order_types,
        valid_exchanges=instrument.valid_exchanges,
        price_magnifier=1,
        under_con_id=0,
        long_name=instrument.long_name,
        contract_month=instrument.last_trade_date[:6],
        industry=instrument.industry,
        category=instrument.category,
        subcategory=instrument.subcategory,
        time_zone_id=instrument.time_zone_id,
        trading_hours=trading_hours,
        liquid_hours=liquid_hours,
        min_size=instrument.min_size,
        size_increment=instrument.size_increment,
        suggested_size_increment=instrument.size_increment,
        stock_type="ETF" if instrument.category == "ETF" else (
            "COMMON" if instrument.sec_type == "STK" else ""),
    )


def resolve(universe: Universe, contract: WireContract) -> list[Instrument]:
    """Instruments a client's contract may mean; exactly one is a usable answer."""
    if contract.con_id:
        found = universe.by_con_id(contract.con_id)
        return [found] if found is not None else []
    return universe.match(
        symbol=contract.symbol,
        sec_type=contract.sec_type,
        exchange=contract.exchange,
        primary_exchange=contract.primary_exchange,
        currency=contract.currency,
        local_symbol=contract.local_symbol,
        last_trade_date=contract.last_trade_date,
        trading_class=contract.trading_class,
    )


def describe(contract: WireContract) -> str:
    parts = [contract.sec_type or "?", contract.symbol or contract.local_symbol or "?"]
    if contract.exchange:
        parts.append(f"@{contract.exchange}")
    if contract.currency:
        parts.append(contract.currency)
    return " ".join(parts)


@dataclass(frozen=True)
class WirePayload:
    """A client's order as sent, kept to be echoed back (and persisted across restarts)."""

    contract: WireContract
    order: WireOrder

    def to_json(self) -> str:
        return json.dumps({"contract": asdict(self.contract), "order": self.order.to_json()})

    @classmethod
    def from_json(cls, text: str) -> WirePayload:
        data = json.loads(text)
        return cls(WireContract(**data["contract"]), WireOrder.from_json(data["order"]))
