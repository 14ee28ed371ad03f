"""Market-data values, broker-neutral: an instrument, a quote, a bar.

Conventions, once for the whole app:
- Times are epoch seconds (UTC) as floats: cheap to make per tick, unambiguous across
  time zones, and sortable. Views convert to local or exchange time when they show them.
- A price or size the broker has not sent (yet) is `nan`, never 0 or -1: test it with
  `math.isnan`. A `nan` compares unequal to everything, so a missing bid never "crosses".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable contract as the broker identified it (after qualification).

    `symbol` is the app's key for the instrument, the text a trader types and sees:
    "AAPL" for a stock, "EURUSD" for a currency pair, "ESZ6" for a future.
    """

    symbol: str
    sec_type: str  # STK, CASH, FUT, … (IB's names, which other brokers' adapters map to)
    exchange: str
    currency: str
    con_id: int = 0  # the broker's permanent id; 0 until qualified
    local_symbol: str = ""
    min_tick: float = 0.01
    multiplier: float = 1.0
    long_name: str = ""
    time_zone: str = ""  # IANA name of the exchange's zone, e.g. "America/New_York"
    expiry: str = ""  # YYYYMMDD for futures, "" otherwise

    @property
    def is_qualified(self) -> bool:
        return self.con_id != 0


class Quote(NamedTuple):
    """The top of the book and the last trade of one instrument at `time`.

    A named tuple rather than a frozen dataclass, for the one value made per tick: it is
    just as immutable and slot-free, and four times cheaper to build (0.3 µs against
    1.1 µs), which matters at thousands of quotes a second.
    """

    symbol: str
    bid: float
    ask: float
    last: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float  # today's volume so far
    time: float  # epoch seconds of the update

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `time` is the bar's start in epoch seconds.

    Daily and longer bars start at midnight UTC of their session date, whatever the
    exchange's zone: a daily bar names a date, not an instant.
    """

    time: float
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float = NAN  # volume-weighted average price, when the broker sends it
    count: int = 0  # number of trades, when the broker sends it


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """A bar from a live bar subscription.

    `complete` is False while the bar is still forming (a kept-up-to-date historical
    subscription re-sends it as it changes); real-time 5-second bars arrive complete.
    """

    subscription: int
    symbol: str
    bar: Bar
    complete: bool = True
