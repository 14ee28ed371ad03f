"""History for `--symbol`: bars straight from the simulator's market model (the same
seeded prices the simulated gateway serves), with no gateway and no sockets."""

from __future__ import annotations

import datetime as dt

import numpy as np

from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.history import HistoryRequestError, parse_bar_size
from ibtrader.sim.market.instruments import Instrument, Universe
from ibtrader.sim.market.prices import PriceModel

from .bars import BarSeries

SEC_TYPE_ORDER = ("STK", "CASH", "FUT", "IND")  # which one a bare symbol means first


class UnknownSymbol(ValueError):
    pass


def find_instrument(symbol: str, today: dt.date) -> Instrument:
    universe = Universe(reference_date=today)
    wanted = symbol.strip().upper()
    found = universe.by_symbol(wanted) or universe.match(local_symbol=wanted)
    if not found and len(wanted) == 6:  # EURUSD: a currency pair by its two halves
        found = universe.match(symbol=wanted[:3], currency=wanted[3:])
    if not found:
        known = ", ".join(sorted({i.symbol for i in universe.all()}))
        raise UnknownSymbol(f"the simulator has no symbol {symbol!r}; it has: {known}")
    rank = {kind: k for k, kind in enumerate(SEC_TYPE_ORDER)}
    return min(found, key=lambda i: rank.get(i.sec_type, len(rank)))


def sim_bars(symbol: str, bar_size: str, start: float, end: float, seed: int,
             around_the_clock: bool = True) -> tuple[BarSeries, Instrument]:
    """Bars of `bar_size` starting in [start, end), and the instrument they belong to."""
    try:
        seconds = parse_bar_size(bar_size)
    except HistoryRequestError:
        raise ValueError(f"bar size {bar_size!r} is not one IB knows, e.g. '1 min', "
                         "'5 mins', '1 hour', '1 day'") from None
    if end <= start:
        raise ValueError("the range is empty: --from must be before --to")
    today = dt.datetime.fromtimestamp(end, dt.UTC).date()
    instrument = find_instrument(symbol, today)
    model = PriceModel(instrument, seed, TradingCalendar(instrument, around_the_clock))
    first = max(int(start), model.first_time())
    if first >= end:
        raise ValueError(f"the simulator's prices start at "
                         f"{dt.datetime.fromtimestamp(model.first_time(), dt.UTC):%Y-%m-%d}; "
                         "the range ends before that")
    bars = model.bars(first, int(end), seconds)
    if not bars:
        raise ValueError(f"no {bar_size} bars of {instrument.symbol} in that range")
    columns = [np.array([getattr(b, f) for b in bars], dtype=float)
               for f in ("time", "open", "high", "low", "close", "volume")]
    return BarSeries(instrument.symbol, *columns), instrument
