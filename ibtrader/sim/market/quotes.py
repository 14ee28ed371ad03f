"""Bid/ask around the last price, reproducible at a tenth of a second.

Every tenth of a second ("slot") gets a 64-bit hash of (salt, slot) (SplitMix64's
finaliser, vectorised over numpy uint64, which wraps on overflow), and the spread, where
the last trade sits inside it and both sizes are read from its bits. So a quote depends
on nothing but the slot and that second's last price, and history can rebuild the quotes
of any stretch in one vectorised pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ibtrader.sim.market.instruments import Instrument

QUOTE_HZ = 10
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_LOW16 = np.uint64(0xFFFF)
_MASK64 = (1 << 64) - 1
_GOLDEN_INT, _MUL1_INT, _MUL2_INT = int(_GOLDEN), int(_MUL1), int(_MUL2)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-spread 64-bit hash of each uint64."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MUL1
    x = (x ^ (x >> np.uint64(27))) * _MUL2
    return x ^ (x >> np.uint64(31))


def _bits(h: np.ndarray, shift: int) -> np.ndarray:
    """16 bits of each hash from `shift`, as a uniform float in [0, 1)."""
    return ((h >> np.uint64(shift)) & _LOW16).astype(np.float64) / 65536.0


def mix_one(x: int) -> int:
    """mix() for one Python int: the same bits, without numpy's per-call overhead."""
    x = (x + _GOLDEN_INT) & _MASK64
    x = ((x ^ (x >> 30)) * _MUL1_INT) & _MASK64
    x = ((x ^ (x >> 27)) * _MUL2_INT) & _MASK64
    return x ^ (x >> 31)


class BookMaker:
    """The quote of each slot. book() (arrays, for history) and book_one() (one live
    quote) compute the same numbers with the same float operations."""

    def __init__(self, instrument: Instrument, rng: np.random.Generator) -> None:
        self.instrument = instrument
        self._salt = int(rng.integers(0, 2**63, dtype=np.uint64))
        self._typical = instrument.typical_spread_ticks
        # the widest spreads (5% of slots) fall back to a tick under the typical one
        self._narrowing = self._typical + 2 - max(self._typical - 1, 1)
        self._coarse = float(round(1.0 / instrument.min_tick))
        self._fine = (float(round(1.0 / instrument.tick_size_at(0.5)))
                      if instrument.sec_type == "STK" else self._coarse)
        self._lots = instrument.typical_size / instrument.lot_size

    def book(self, prices: np.ndarray, slots: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid, ask, bid size, ask size) for each (last price, slot)."""
        h = mix(slots.astype(np.uint64) ^ np.uint64(self._salt))
        r = _bits(h, 0)
        # mostly the typical spread, sometimes a tick or two wider, now and then tighter
        spread = (self._typical + (r >= 0.6).astype(np.float64) + (r >= 0.85)
                  - self._narrowing * (r >= 0.95))
        per_unit = np.where(prices < 1.0, self._fine, self._coarse)
        last_ticks = np.floor(prices * per_unit + 0.5)
        # where the last trade sits: at the bid, at the ask or in between; never a bid <= 0
        below = np.minimum(np.floor(_bits(h, 16) * (spread + 1)), last_ticks - 1)
        bid = (last_ticks - below) / per_unit
        ask = (last_ticks - below + spread) / per_unit
        return bid, ask, self._size(_bits(h, 32)), self._size(_bits(h, 48))

    def book_one(self, price: float, slot: int) -> tuple[float, float, float, float]:
        h = mix_one(slot ^ self._salt)
        r = (h & 0xFFFF) / 65536.0
        spread = (self._typical + float(r >= 0.6) + float(r >= 0.85)
                  - self._narrowing * float(r >= 0.95))
        per_unit = self._fine if price < 1.0 else self._coarse
        last_ticks = math.floor(price * per_unit + 0.5)
        below = min(math.floor(((h >> 16) & 0xFFFF) / 65536.0 * (spread + 1)), last_ticks - 1)
        return ((last_ticks - below) / per_unit, (last_ticks - below + spread) / per_unit,
                self._size_one(((h >> 32) & 0xFFFF) / 65536.0),
                self._size_one(((h >> 48) & 0xFFFF) / 65536.0))

    def _size(self, u: np.ndarray) -> np.ndarray:
        """Round lots around the typical size: from a quarter of it to almost three times."""
        lots = np.floor(self._lots * (0.25 + 2.5 * u * u) + 0.5)
        return np.maximum(lots, 1.0) * self.instrument.lot_size

    def _size_one(self, u: float) -> float:
        lots = math.floor(self._lots * (0.25 + 2.5 * u * u) + 0.5)
        return max(lots, 1) * self.instrument.lot_size


@dataclass(frozen=True, eq=False)
class DayRunning:
    """A day's running figures over its trading seconds, for the quotes' day fields."""

    first: int  # index of the day's first trading second, -1 if it never trades
    volume: np.ndarray
    high: np.ndarray
    low: np.ndarray

    @classmethod
    def over(cls, prices: np.ndarray, volumes: np.ndarray, trading: np.ndarray) -> DayRunning:
        opened = np.flatnonzero(trading)
        return cls(int(opened[0]) if len(opened) else -1,
                   np.cumsum(np.where(trading, volumes, 0.0)),
                   np.maximum.accumulate(np.where(trading, prices, -np.inf)),
                   np.minimum.accumulate(np.where(trading, prices, np.inf)))
