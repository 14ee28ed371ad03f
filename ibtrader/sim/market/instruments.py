"""The simulator's tradable instruments, the default universe and IB-style contract matching.

An `Instrument` is both what contract details report and the parameters of its simulated
price path. Futures in the default universe are templates (no expiry); a `Universe` turns
each into the front quarterly contract for its reference date, so tests can pin the date.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

SEC_TYPES = ("STK", "CASH", "FUT", "IND")
QUARTER_CODES = {3: "H", 6: "M", 9: "U", 12: "Z"}

# what the contract details advertise; the matching engine decides what actually works
_ORDER_TYPES = {
    "STK": "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,"
           "DEACTDIS,DEACTEOD,GAT,GTC,GTD,GTT,HID,IOC,LMT,MKT,NONALGO,OCA,STP,STPLMT,"
           "TRAIL,TRAILLMT,WHATIF",
    "CASH": "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,AVGCOST,BASKET,COND,CONDORDER,DAY,DEACT,"
            "DEACTDIS,DEACTEOD,GAT,GTC,GTD,GTT,IOC,LMT,MKT,NONALGO,OCA,STP,STPLMT,TRAIL,"
            "TRAILLMT,WHATIF",
    "FUT": "ACTIVETIM,AD,ADJUST,ALERT,ALLOC,COND,CONDORDER,DAY,DEACT,DEACTDIS,DEACTEOD,"
           "GAT,GTC,GTD,GTT,IOC,LMT,MKT,NONALGO,OCA,STP,STPLMT,TRAIL,TRAILLMT,WHATIF",
    "IND": "",
}
# direct-routing destinations a stock accepts besides SMART and its primary exchange
_STOCK_VENUES = ("AMEX", "NYSE", "CBOE", "ARCA", "ISLAND", "BATS", "EDGEA", "IEX", "MEMX")


@dataclass(frozen=True)
class Instrument:
    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str
    long_name: str
    min_tick: float
    multiplier: float = 1.0
    last_trade_date: str = ""
    time_zone_id: str = "US/Eastern"
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    min_size: float = 1.0
    size_increment: float = 1.0
    lot_size: float = 100.0  # quote sizes come in multiples of this
    margin_rate: float = 0.25
    margin_per_contract: float = 0.0
    # price-model parameters
    start_price: float = 100.0
    annual_vol: float = 0.25
    typical_spread_ticks: int = 1
    typical_size: float = 300.0
    daily_volume: float = 1_000_000.0

    def tick_size_at(self, price: float) -> float:
        """US stocks quote in cents above $1 and in hundredths of a cent below it."""
        if self.sec_type == "STK" and price < 1.0:
            return 0.0001
        return self.min_tick

    def round_to_tick(self, price: float) -> float:
        # dividing by the whole number of ticks per unit gives the float closest to the
        # decimal price, the same float the vectorised price paths produce
        per_unit = round(1.0 / self.tick_size_at(price))
        return math.floor(price * per_unit + 0.5) / per_unit

    @property
    def valid_exchanges(self) -> str:
        if self.sec_type != "STK":
            return self.exchange
        venues = [self.exchange, self.primary_exchange]
        venues += [v for v in _STOCK_VENUES if v not in venues]
        return ",".join(venues)

    @property
    def order_types(self) -> str:
        return _ORDER_TYPES.get(self.sec_type, "")

    @property
    def is_template(self) -> bool:
        """A future without an expiry: a recipe for contracts, not a tradable one."""
        return self.sec_type == "FUT" and not self.last_trade_date

    def accepts_exchange(self, exchange: str) -> bool:
        """Positions report the primary exchange, so orders routed there must resolve too."""
        wanted = exchange.upper()
        return wanted == self.primary_exchange or wanted in self.valid_exchanges.split(",")


def _stock(con_id: int, symbol: str, primary: str, name: str, sector: tuple[str, str, str],
           price: float, vol: float, daily_volume: float, spread: int = 1,
           size: float = 300.0) -> Instrument:
    industry, category, subcategory = sector
    return Instrument(
        con_id=con_id, symbol=symbol, sec_type="STK", exchange="SMART",
        primary_exchange=primary, currency="USD", local_symbol=symbol,
        trading_class="NMS", long_name=name, min_tick=0.01, industry=industry,
        category=category, subcategory=subcategory, start_price=price, annual_vol=vol,
        typical_spread_ticks=spread, typical_size=size, daily_volume=daily_volume,
    )


_ETF = ("Funds", "ETF", "Large Cap")

DEFAULT_UNIVERSE: tuple[Instrument, ...] = (
    _stock(265598, "AAPL", "NASDAQ", "APPLE INC", ("Technology", "Computers", "Computers"),
           200.0, 0.28, 55e6),
    _stock(272093, "MSFT", "NASDAQ", "MICROSOFT CORP",
           ("Technology", "Software", "Applications Software"), 420.0, 0.25, 20e6),
    _stock(4815747, "NVDA", "NASDAQ", "NVIDIA CORP",
           ("Technology", "Semiconductors", "Electronic Compo-Semicon"), 130.0, 0.50, 250e6),
    _stock(3691937, "AMZN", "NASDAQ", "AMAZON.COM INC",
           ("Communications", "Internet", "E-Commerce/Products"), 190.0, 0.32, 40e6),
    _stock(76792991, "TSLA", "NASDAQ", "TESLA INC",
           ("Consumer, Cyclical", "Auto Manufacturers", "Auto-Cars/Light Trucks"),
           250.0, 0.60, 90e6, spread=2),
    _stock(1520593, "JPM", "NYSE", "JPMORGAN CHASE & CO",
           ("Financial", "Banks", "Diversified Banking Inst"), 220.0, 0.24, 9e6),
    _stock(13977, "XOM", "NYSE", "EXXON MOBIL CORP",
           ("Energy", "Oil&Gas", "Oil Comp-Integrated"), 110.0, 0.26, 15e6),
    _stock(8894, "KO", "NYSE", "COCA-COLA CO/THE",
           ("Consumer, Non-cyclical", "Beverages", "Beverages-Non-alcoholic"),
           65.0, 0.16, 13e6, size=800.0),
    _stock(756733, "SPY", "ARCA", "SPDR S&P 500 ETF TRUST", _ETF, 560.0, 0.17, 65e6,
           size=1000.0),
    _stock(320227571, "QQQ", "NASDAQ", "INVESCO QQQ TRUST SERIES 1", _ETF, 480.0, 0.22,
           40e6, size=800.0),
    Instrument(
        con_id=12087792, symbol="EUR", sec_type="CASH", exchange="IDEALPRO",
        primary_exchange="IDEALPRO", currency="USD", local_symbol="EUR.USD",
        trading_class="EUR.USD", long_name="European Monetary Union Euro",
        min_tick=0.00005, lot_size=100_000.0, margin_rate=0.03, start_price=1.10,
        annual_vol=0.08, typical_spread_ticks=2, typical_size=2_000_000.0,
        daily_volume=5e9,
    ),
    Instrument(
        con_id=551601000, symbol="ES", sec_type="FUT", exchange="CME",
        primary_exchange="CME", currency="USD", local_symbol="ES", trading_class="ES",
        long_name="E-mini S&P 500", min_tick=0.25, multiplier=50.0,
        time_zone_id="US/Central", lot_size=1.0, margin_rate=0.0,
        margin_per_contract=20_000.0, start_price=5600.0, annual_vol=0.17,
        typical_spread_ticks=1, typical_size=20.0, daily_volume=1.5e6,
    ),
)


def synthetic_stocks(count: int) -> tuple[Instrument, ...]:
    """Extra made-up stocks SIM000, SIM001, ... for load tests; stable for a given index."""
    return tuple(
        _stock(900_000_000 + i, f"SIM{i:03d}", "NYSE" if i % 2 else "NASDAQ",
               f"SIMULATED STOCK {i}", ("Synthetic", "Synthetic", "Synthetic"),
               10.0 + (i * 37) % 490, 0.15 + (i * 7 % 40) / 100, 2e6 + (i * 131 % 50) * 1e5)
        for i in range(count)
    )


# ----- futures ------------------------------------------------------------------------
def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def front_quarter_expiry(reference: dt.date) -> dt.date:
    """The first quarterly (Mar/Jun/Sep/Dec, third Friday) expiry strictly after `reference`:
    on expiry day itself the next contract is already the front one."""
    year, month = reference.year, reference.month
    while True:
        if month in QUARTER_CODES and third_friday(year, month) > reference:
            return third_friday(year, month)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def future_contract(template: Instrument, expiry: dt.date) -> Instrument:
    """One contract month of a futures template; its conId is stable per contract month."""
    code = QUARTER_CODES.get(expiry.month, "?")
    return replace(
        template,
        con_id=template.con_id + (expiry.year - 2000) * 12 + expiry.month,
        local_symbol=f"{template.trading_class}{code}{expiry.year % 10}",
        last_trade_date=expiry.strftime("%Y%m%d"),
    )


# ----- the universe -------------------------------------------------------------------
class Universe:
    """The instruments the gateway knows, looked up the way IB resolves a contract."""

    def __init__(self, instruments: Iterable[Instrument] = DEFAULT_UNIVERSE,
                 reference_date: dt.date | None = None) -> None:
        # reading the clock only as a default: callers that care pass the date
        self.reference_date = reference_date or dt.datetime.now(dt.UTC).date()
        self._by_con_id: dict[int, Instrument] = {}
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> Instrument:
        """Add (or replace, by conId) an instrument; a futures template becomes its front
        contract. Returns what was stored."""
        if instrument.is_template:
            instrument = future_contract(instrument, front_quarter_expiry(self.reference_date))
        self._by_con_id[instrument.con_id] = instrument
        return instrument

    def all(self) -> list[Instrument]:
        return list(self._by_con_id.values())

    def by_con_id(self, con_id: int) -> Instrument | None:
        return self._by_con_id.get(con_id)

    def by_symbol(self, symbol: str) -> list[Instrument]:
        wanted = symbol.upper()
        return [i for i in self._by_con_id.values() if i.symbol.upper() == wanted]

    def match(self, *, con_id: int = 0, symbol: str = "", sec_type: str = "",
              exchange: str = "", primary_exchange: str = "", currency: str = "",
              local_symbol: str = "", last_trade_date: str = "",
              trading_class: str = "") -> list[Instrument]:
        """Instruments fitting a contract spec; empty fields are wildcards. A conId alone is
        enough; otherwise a symbol or local symbol is required."""
        spec = _Spec(symbol.upper(), sec_type.upper(), exchange.upper(),
                     primary_exchange.upper(), currency.upper(), local_symbol.upper(),
                     last_trade_date, trading_class.upper())
        if con_id:
            found = self.by_con_id(con_id)
            return [found] if found is not None and spec.fits(found) else []
        if not (spec.symbol or spec.local_symbol):
            return []
        return [i for i in self._by_con_id.values() if spec.fits(i)]


@dataclass(frozen=True)
class _Spec:
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    last_trade_date: str
    trading_class: str

    def fits(self, inst: Instrument) -> bool:
        symbol, currency = self._pair_split(inst)
        checks = (
            not symbol or inst.symbol.upper() == symbol,
            not self.sec_type or inst.sec_type == self.sec_type,
            not self.exchange or inst.accepts_exchange(self.exchange),
            not self.primary_exchange or inst.primary_exchange == self.primary_exchange,
            not currency or inst.currency.upper() == currency,
            not self.local_symbol or inst.local_symbol.upper() == self.local_symbol,
            # a contract month (YYYYMM) or a full date (YYYYMMDD) both select a future
            not self.last_trade_date or inst.last_trade_date.startswith(self.last_trade_date),
            not self.trading_class or inst.trading_class.upper() == self.trading_class,
        )
        return all(checks)

    def _pair_split(self, inst: Instrument) -> tuple[str, str]:
        """Forex("EURUSD") sends symbol EUR and currency USD; a client that sends the whole
        pair as the symbol means the same thing."""
        symbol, currency = self.symbol, self.currency
        if (inst.sec_type == "CASH" and self.sec_type in ("", "CASH") and len(symbol) == 6
                and currency in ("", symbol[3:])):
            return symbol[:3], symbol[3:]
        return symbol, currency
