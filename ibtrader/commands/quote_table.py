"""The terminal quote table of `ibtrader quotes`: the latest quote per symbol, as text."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

from ibtrader.core.market import Instrument, Quote

COLUMNS = ("SYMBOL", "BID", "ASK", "LAST", "VOLUME", "TIME")
WIDTHS = (10, 12, 12, 12, 14, 10)
MISSING = "-"


class QuoteTable:
    """Rows in the order the symbols were given; a row shows "-" until data arrives."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._instruments = {inst.symbol: inst for inst in instruments}
        self._quotes: dict[str, Quote] = {}
        self.changed = False
        self.status = ""

    def update(self, quotes: list[Quote]) -> None:
        for quote in quotes:
            if quote.symbol in self._instruments:
                self._quotes[quote.symbol] = quote
                self.changed = True

    def has_data(self) -> bool:
        return bool(self._quotes)

    def lines(self) -> list[str]:
        header = "".join(f"{name:>{w}}" if i else f"{name:<{w}}"
                         for i, (name, w) in enumerate(zip(COLUMNS, WIDTHS, strict=True)))
        rows = [header]
        for symbol, inst in self._instruments.items():
            rows.append(self._row(symbol, _decimals(inst.min_tick), self._quotes.get(symbol)))
        if self.status:
            rows.append(self.status)
        return rows

    @staticmethod
    def _row(symbol: str, decimals: int, quote: Quote | None) -> str:
        if quote is None:
            cells = [MISSING] * 5
        else:
            cells = [_price(quote.bid, decimals), _price(quote.ask, decimals),
                     _price(quote.last, decimals), _volume(quote.volume), _time(quote.time)]
        w = WIDTHS
        return f"{symbol:<{w[0]}}" + "".join(
            f"{cell:>{width}}" for cell, width in zip(cells, w[1:], strict=True))


def _decimals(min_tick: float) -> int:
    """Enough decimals to show a price to its tick: 0.01 → 2, 0.25 → 2, 0.00005 → 5."""
    if not min_tick > 0:
        return 2
    decimals = 0
    while decimals < 8 and abs(round(min_tick, decimals) - min_tick) > min_tick * 1e-6:
        decimals += 1
    return max(decimals, 2)


def _price(value: float, decimals: int) -> str:
    return MISSING if math.isnan(value) else f"{value:,.{decimals}f}"


def _volume(value: float) -> str:
    return MISSING if math.isnan(value) else f"{value:,.0f}"


def _time(epoch: float) -> str:
    if math.isnan(epoch) or epoch <= 0:
        return MISSING
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")
