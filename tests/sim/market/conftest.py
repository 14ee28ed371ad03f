"""Shared instruments and a fixed "now" for the market tests."""

from __future__ import annotations

import datetime as dt

from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.instruments import DEFAULT_UNIVERSE, Instrument, Universe
from ibtrader.sim.market.prices import PriceModel

UNIVERSE = Universe(DEFAULT_UNIVERSE, dt.date(2026, 5, 20))
AAPL, EUR, ES = (UNIVERSE.by_symbol(s)[0] for s in ("AAPL", "EUR", "ES"))
# Wednesday 3 June 2026, 10:37:12.4 in New York
NOW = dt.datetime(2026, 6, 3, 14, 37, 12, 400_000, tzinfo=dt.UTC).timestamp()
SATURDAY_NOON_NY = dt.datetime(2026, 6, 6, 16, 0, tzinfo=dt.UTC).timestamp()


def model(instrument: Instrument = AAPL, seed: int = 42, around_the_clock: bool = True,
          **kwargs: object) -> PriceModel:
    return PriceModel(instrument, seed, TradingCalendar(instrument, around_the_clock),
                      **kwargs)  # type: ignore[arg-type]
