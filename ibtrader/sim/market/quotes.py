"""Bid/ask around the last price, reproducible at a tenth of a second.

Every tenth of a second ("slot") gets a 64-bit hash of (salt, slot) (SplitMix64's
finaliser, vectorised over numpy uint64, which wraps on overflow), and the spread, where
the last trade sits inside it and both sizes are read from its bits. So a quote depends
on nothing but the slot and that second's last price, and history can rebuild the quotes
of any stretch in one vectorised pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibtrader.sim.market.instruments import Instrument

QUOTE_HZ = 10
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_LOW16 = np.uint64(0xFFFF)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a well-spread 64-bit hash of each uint64."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _MUL1
    x = (x ^ (x >> np.uint64(27))) * _MUL2
    return x ^ (x >> np.uint64(31))


def _bits(h: np.ndarray, shift: int) -> np.ndarray:
    """16 bits of each hash from `shift`, as a uniform float in [0, 1)."""
    return ((h >> np.uint64(shift)) & _LOW16).astype(np.float64) / 65536.0


class BookMaker:
    def __init__(self, instrument: Instrument, rng: np.random.Generator) -> None:
        self.instrument = instrument
        self._salt = rng.integers(0, 2**63, dtype=np.uint64)
        self._fine_tick = instrument.tick_size_at(0.5) if instrument.sec_type == "STK" else None

    def book(self, prices: np.ndarray, slots: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(bid, ask, bid size, ask size) for each (last price, slot)."""
        h = mix(slots.astype(np.uint64) ^ self._salt)
        typical = self.instrument.typical_spread_ticks
        r = _bits(h, 0)
        # mostly the typical spread, sometimes a tick or two wider, now and then tighter
        spread = np.select([r < 0.6, r < 0.85, r < 0.95],
                           [typical, typical + 1, typical + 2], max(typical - 1, 1))
        per_unit = self._ticks_per_unit(prices)
        last_ticks = np.floor(prices * per_unit + 0.5)
        # where the last trade sits: at the bid, at the ask or in between; never a bid <= 0
        below = np.minimum(np.floor(_bits(h, 16) * (spread + 1)), last_ticks - 1)
        bid = (last_ticks - below) / per_unit
        ask = (last_ticks - below + spread) / per_unit
        return bid, ask, self._size(_bits(h, 32)), self._size(_bits(h, 48))

    def _ticks_per_unit(self, prices: np.ndarray) -> np.ndarray:
        coarse = float(round(1.0 / self.instrument.min_tick))
        if self._fine_tick is None:
            return np.full(len(prices), coarse)
        return np.where(prices < 1.0, float(round(1.0 / self._fine_tick)), coarse)

    def _size(self, u: np.ndarray) -> np.ndarray:
        """Round lots around the typical size: from a quarter of it to almost three times."""
        lot = self.instrument.lot_size
        lots = np.floor(self.instrument.typical_size / lot * (0.25 + 2.5 * u * u) + 0.5)
        return np.maximum(lots, 1.0) * lot


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
