"""Oscillators: RSI (Wilder, ta's convention) and the stochastic oscillator.

ta's RSIIndicator: diff = close.diff(); the first diff is NaN and `where(diff > 0, 0.0)`
turns it into a 0.0 gain and 0.0 loss, so both averages are *seeded with 0 at the first
bar*; they are `ewm(alpha=1/n, adjust=False, min_periods=n)`, so the first RSI appears
at the n-th bar (from n-1 real changes plus that zero), not at bar n+1 as in Wilder's
book; RSI is 100 wherever the average loss is exactly 0.
"""

from __future__ import annotations

from math import fsum, inf, nan
from typing import NamedTuple

from .base import (
    BarLike,
    CloseIndicator,
    IndicatorBase,
    ParamSpec,
    check_params,
    period_param,
    wraps_per_resum,
)

_new = tuple.__new__  # see averages.py: cheaper than the NamedTuple's own __new__


class RSI(CloseIndicator):
    """Relative strength index, bit-identical to ta's RSIIndicator."""

    __slots__ = ("_a", "_dn", "_left", "_ow", "_prev", "_up", "period")
    name = "rsi"
    PARAMS: tuple[ParamSpec, ...] = (period_param("period", 14),)

    def __init__(self, period: int = 14) -> None:
        self.period = int(check_params(self.name, self.PARAMS, {"period": period})["period"])
        self.warmup = self.period
        # pandas turns alpha into com=1/alpha-1 and back; for n <= 10,000 that is 1/n exactly
        self._a = 1.0 / (1.0 + (1.0 / (1.0 / self.period) - 1.0))
        self._ow = 1.0 - self._a
        self.reset()

    def reset(self) -> None:
        self._prev = 0.0
        self._up = self._dn = 0.0
        self._left = self.period
        self.value = None

    def _averages(self, x: float) -> tuple[float, float]:
        """Average gain and loss after a close of `x` (pure)."""
        if self._left == self.period:  # the first bar: the zero seed
            return 0.0, 0.0
        d = x - self._prev
        ow = self._ow
        # a zero gain/loss adds exactly +0.0 in pandas' step, so leaving it out is exact
        if d > 0.0:
            return ow * self._up + self._a * d, ow * self._dn
        return ow * self._up, ow * self._dn - self._a * d

    def _warm_update(self, x: float) -> float | None:
        self._up, self._dn = self._averages(x)
        self._prev = x
        self._left -= 1
        if self._left:
            return None
        v = self.value = _rsi(self._up, self._dn)
        return v

    def update(self, bar: BarLike) -> float | None:
        if self._left:
            return self._warm_update(bar.close)
        x = bar.close
        d = x - self._prev
        self._prev = x
        # d == 0 falls in the second branch: -alpha*0.0 changes no bit
        if d > 0.0:
            up = self._up = self._ow * self._up + self._a * d
            dn = self._dn = self._ow * self._dn
        else:
            up = self._up = self._ow * self._up
            dn = self._dn = self._ow * self._dn - self._a * d
        v = self.value = 100.0 if dn == 0.0 else 100.0 - 100.0 / (1.0 + up / dn)
        return v

    def preview(self, bar: BarLike) -> float | None:
        if self._left > 1:
            return None
        return _rsi(*self._averages(bar.close))


def _rsi(up: float, dn: float) -> float:
    return 100.0 if dn == 0.0 else 100.0 - 100.0 / (1.0 + up / dn)


class StochValue(NamedTuple):
    k: float  # %K: where the close sits in the range of the last `period` bars, 0..100
    d: float  # %D: simple average of the last `smooth` %K values


class Stochastic(IndicatorBase):
    """ta's StochasticOscillator: %K over `period` bars, %D = SMA(`smooth`) of %K.

    %K is NaN where the window's high equals its low (ta divides 0 by 0), and %D is NaN
    while such a %K is in its window. Bars must have low <= close <= high.

    The rolling high and low use van Herk/Gil-Werman blocks: the window is the end of
    the previous block of `period` bars plus the start of the current one, so a bar
    costs two comparisons per side, and the extremes of the previous block's ends are
    rebuilt once per block: O(1) amortised whatever the trend (a cached extreme with
    rescans costs O(n) per bar in a steady trend, exactly when traders look). A block
    is stored back to front (slot r holds position period-1-r), which turns the ends of
    the previous block into prefixes of its slots, built by one forward pass.
    """

    __slots__ = ("_hb", "_hp", "_hs", "_kb", "_ki", "_kpoison", "_ksum", "_kwraps",
                 "_kwraps_left", "_lb", "_left", "_lp", "_ls", "_r", "_sf", "period", "smooth")
    name = "stoch"
    PARAMS: tuple[ParamSpec, ...] = (
        period_param("period", 14, doc="%K look-back in bars"),
        period_param("smooth", 3, doc="%D: SMA period over %K"),
    )

    def __init__(self, period: int = 14, smooth: int = 3) -> None:
        p = check_params(self.name, self.PARAMS, {"period": period, "smooth": smooth})
        self.period, self.smooth = int(p["period"]), int(p["smooth"])
        self.warmup = self.period + self.smooth - 1
        self._sf = float(self.smooth)
        self._kwraps = wraps_per_resum(self.smooth)
        self.reset()

    def reset(self) -> None:
        n = self.period
        self._hb, self._lb = [0.0] * n, [0.0] * n  # the current block's highs and lows
        # _hs[r]/_ls[r]: extremes of the previous block's slots 0..r-1, i.e. of its
        # positions after the current one (none for r = 0)
        self._hs, self._ls = [-inf] * n, [inf] * n
        self._hp, self._lp = -inf, inf  # extremes of the current block so far
        self._r = n - 1  # the slot of the next bar, counting down
        self._kb = [0.0] * self.smooth  # ring of the last %K values (a NaN kept as 0.0)
        self._ki = 0
        self._ksum = 0.0
        self._kpoison = 0  # bars for which a NaN %K stays in the %D window
        self._kwraps_left = 1  # exact re-sum when the ring first fills, then now and then
        self._left = self.warmup
        self.value = None

    def _rebuild(self) -> None:
        """End of a block: its extremes by slot prefix become the next block's look-back."""
        hb, lb, hs, ls = self._hb, self._lb, self._hs, self._ls
        hi, lo = -inf, inf
        for r in range(self.period):
            hs[r] = hi
            ls[r] = lo
            h = hb[r]
            if h > hi:
                hi = h
            low = lb[r]
            if low < lo:
                lo = low

    def _resum_k(self, s: float) -> float:
        """The %D ring went round once: maybe replace the running sum by the exact one."""
        self._kwraps_left -= 1
        if self._kwraps_left:
            return s
        self._kwraps_left = self._kwraps
        return fsum(self._kb)

    def _warm_update(self, bar: BarLike) -> StochValue | None:
        self._left -= 1
        if self._left < self.smooth:  # the %K window is full: %D starts filling
            left = self._left
            self._left = 0
            v = self.update(bar)
            self._left = left
            if left:
                self.value = v = None
            return v
        r = self._r  # only the block state moves
        h = self._hb[r] = bar.high
        low = self._lb[r] = bar.low
        if h > self._hp:
            self._hp = h
        if low < self._lp:
            self._lp = low
        if r:
            self._r = r - 1
        else:
            self._rebuild()
            self._r, self._hp, self._lp = self.period - 1, -inf, inf
        return None

    def update(self, bar: BarLike) -> StochValue | None:
        if self._left:
            return self._warm_update(bar)
        r = self._r
        h = self._hb[r] = bar.high
        low = self._lb[r] = bar.low
        hp = self._hp
        if h > hp:
            hp = h
        lp = self._lp
        if low < lp:
            lp = low
        hi = self._hs[r]
        if hp > hi:
            hi = hp
        lo = self._ls[r]
        if lp < lo:
            lo = lp
        if r:
            self._r, self._hp, self._lp = r - 1, hp, lp
        else:
            self._rebuild()
            self._r, self._hp, self._lp = self.period - 1, -inf, inf
        rng = hi - lo
        if rng:
            k = kept = 100.0 * (bar.close - lo) / rng
        else:  # ta's 0/0: NaN, and %D NaN while it is in the window
            k, kept, self._kpoison = nan, 0.0, self.smooth
        kb, i = self._kb, self._ki
        s = self._ksum + kept - kb[i]
        kb[i] = kept
        i += 1
        if i == self.smooth:
            i = 0
            s = self._resum_k(s)
        self._ki = i
        self._ksum = s
        if self._kpoison:
            self._kpoison -= 1
            v = self.value = _new(StochValue, (k, nan))
        else:
            v = self.value = _new(StochValue, (k, s / self._sf))
        return v

    def preview(self, bar: BarLike) -> StochValue | None:
        if self._left > 1:
            return None
        h, low, r = bar.high, bar.low, self._r
        hi = max(self._hs[r], self._hp, h)
        lo = min(self._ls[r], self._lp, low)
        rng = hi - lo
        if not rng:
            return StochValue(nan, nan)
        k = 100.0 * (bar.close - lo) / rng
        if self._kpoison:  # a NaN %K is still in the window with this bar
            return StochValue(k, nan)
        kb, i = self._kb, self._ki
        if i == self.smooth - 1 and self._kwraps_left == 1:
            s = fsum([*kb[:i], k])  # update re-sums here: same bits
        else:
            s = self._ksum + k - kb[i]
        return StochValue(k, s / self._sf)
