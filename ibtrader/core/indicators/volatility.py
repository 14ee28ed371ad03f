"""Volatility: Bollinger Bands, ATR (ta's seeding) and SuperTrend built on that ATR."""

from __future__ import annotations

from math import fsum, nan, sqrt
from typing import NamedTuple

import numpy as np

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


class BollingerValue(NamedTuple):
    mid: float  # SMA of the close
    upper: float  # mid + k * population std
    lower: float  # mid - k * population std
    pct_b: float  # (close - lower) / (upper - lower); NaN when the bands touch
    width: float  # (upper - lower) / mid * 100, in percent as ta's bollinger_wband


def _mean_and_ssq(values: list[float]) -> tuple[float, float]:
    """Mean and sum of squared deviations, computed exactly in two passes."""
    mean = fsum(values) / len(values)
    return mean, fsum([(v - mean) * (v - mean) for v in values])


class BollingerBands(CloseIndicator):
    """ta's BollingerBands: rolling mean and *population* std (ddof=0) over `period`.

    The window's mean and sum of squared deviations (ssq) slide with Welford's update
    (stable, unlike sum-of-squares minus square-of-sum) and are recomputed exactly now
    and then (base.RESUM_EVERY). Where the ssq comes out tiny (std below ~1e-7 of the
    price: with prices on a tick grid, only a window of one repeated close) it is
    recomputed exactly too, because the square root would turn a 1e-13 residue of the
    sliding sums into bands 1e-6 wide instead of touching. That costs O(period) once when
    a window turns constant; while it stays constant the ssq stays exactly 0 for free.

    ta differs in those two places: pandas' rolling std never resynchronises, its error
    grows with the series (~1e-10 after 5,000 bars, ~1e-7 after 50,000), and in constant
    windows it reports a residue (std ~3e-7) where the exact answer is 0.

    %b and width are ratios to the band's width: where the band is far narrower than the
    price grid (period 2 and two closes 0.0001 apart), an error of 1e-12 of the price in
    the bands, here or in ta, becomes ~1e-6 in them.
    """

    __slots__ = ("_buf", "_i", "_k2n", "_left", "_mean", "_n", "_ssq", "_tiny", "_wraps",
                 "_wraps_left", "k", "period")
    name = "bbands"
    PARAMS: tuple[ParamSpec, ...] = (
        period_param("period", 20, minimum=2),
        ParamSpec("k", float, 2.0, 0.0, 10.0, min_exclusive=True, doc="band width in std devs"),
    )

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        p = check_params(self.name, self.PARAMS, {"period": period, "k": k})
        self.period, self.k = int(p["period"]), float(p["k"])
        self.warmup = self.period
        self._n = float(self.period)
        # k * sqrt(ssq / n) as sqrt(ssq * k²/n): one multiplication less per bar, and
        # within an ulp or two of ta's k * std
        self._k2n = self.k * self.k / self._n
        self._tiny = self._n * 1e-14  # ssq < mean² * _tiny: std < 1e-7 * mean
        self._wraps = wraps_per_resum(self.period)
        self.reset()

    def reset(self) -> None:
        self._buf = [0.0] * self.period
        self._i = self.period - 1  # the ring is filled back to front: `if i` tests the wrap
        self._mean = self._ssq = 0.0
        self._wraps_left = 1  # exact at the end of warm-up, then every _wraps trips
        self._left = self.period
        self.value = None

    def _bands(self, x: float, m: float, q: float) -> BollingerValue:
        w = sqrt(q * self._k2n) if q > 0.0 else 0.0
        up = m + w
        lo = m - w
        band = up - lo
        return _new(
            BollingerValue, (m, up, lo, (x - lo) / band if band else nan, band / m * 100.0)
        )

    def _exact(self) -> tuple[float, float]:
        self._mean, self._ssq = m, q = _mean_and_ssq(self._buf)
        return m, q

    def _wrapped(self) -> None:
        """The ring went round once: maybe recompute mean and ssq exactly."""
        self._wraps_left -= 1
        if not self._wraps_left:
            self._wraps_left = self._wraps
            self._exact()

    def _warm_update(self, x: float) -> BollingerValue | None:
        self._buf[self._i] = x
        self._i -= 1
        self._left -= 1
        if self._left:
            return None
        self._i = self.period - 1
        self._wrapped()
        v = self.value = self._bands(x, self._mean, self._ssq)
        return v

    def update(self, bar: BarLike) -> BollingerValue | None:
        x = bar.close
        if self._left:
            return self._warm_update(x)
        buf = self._buf
        i = self._i
        old = buf[i]
        buf[i] = x
        m0 = self._mean
        dx = x - old
        m = self._mean = m0 + dx / self._n
        q = self._ssq = self._ssq + dx * (x - m + old - m0)
        if i:
            self._i = i - 1
        else:
            self._i = self.period - 1
            self._wrapped()
            m, q = self._mean, self._ssq
        if q > m * m * self._tiny:
            w = sqrt(q * self._k2n)
        elif q:  # a residue, or a true but tiny variance: see the class doc
            m, q = self._exact()
            w = sqrt(q * self._k2n) if q > 0.0 else 0.0
        else:
            w = 0.0
        up = m + w
        lo = m - w
        band = up - lo
        v = self.value = _new(
            BollingerValue, (m, up, lo, (x - lo) / band if band else nan, band / m * 100.0)
        )
        return v

    def preview(self, bar: BarLike) -> BollingerValue | None:
        if self._left > 1:
            return None
        x = bar.close
        buf, i = self._buf, self._i
        if not i and self._wraps_left == 1:
            m, q = _mean_and_ssq([x, *buf[1:]])  # update recomputes exactly here
        else:
            old = buf[i]
            dx = x - old
            m = self._mean + dx / self._n
            q = self._ssq + dx * (x - m + old - self._mean)
        if q and not q > m * m * self._tiny:
            m, q = _mean_and_ssq([*buf[:i], x, *buf[i + 1 :]])
        return self._bands(x, m, q)


class ATR(IndicatorBase):
    """ta's AverageTrueRange.

    True range of the first bar is high - low (no previous close: pandas' max skips the
    NaN). The first ATR, at bar n, is the plain mean of the first n true ranges, summed by
    numpy as pandas' mean does (pairwise; numpy runs once, at the end of warm-up), then
    Wilder: (atr*(n-1) + tr) / n. Values are
    bit-identical to ta's. (ta writes 0.0, not NaN, for the first n-1 rows; compute_batch
    turns those into NaN.)
    """

    __slots__ = ("_n", "_n1", "_prev", "_trs", "period")
    name = "atr"
    PARAMS: tuple[ParamSpec, ...] = (period_param("period", 14),)

    def __init__(self, period: int = 14) -> None:
        self.period = int(check_params(self.name, self.PARAMS, {"period": period})["period"])
        self.warmup = self.period
        self._n, self._n1 = float(self.period), float(self.period - 1)
        self.reset()

    def reset(self) -> None:
        self._prev = nan
        self._trs: list[float] | None = []  # true ranges during warm-up, None after
        self.value = None

    def _true_range(self, bar: BarLike) -> float:
        pc = self._prev
        if pc != pc:
            return bar.high - bar.low
        hi = bar.high if bar.high > pc else pc
        lo = bar.low if bar.low < pc else pc
        return hi - lo  # == max(h-l, |h-pc|, |l-pc|) to the bit

    def _warm_atr(self, tr: float) -> float | None:
        """ATR after one more warm-up true range (pure); None until `period` of them."""
        trs = self._trs
        assert trs is not None
        if len(trs) + 1 < self.period:
            return None
        return float(np.sum(np.array([*trs, tr]))) / self._n

    def update(self, bar: BarLike) -> float | None:
        trs = self._trs
        if trs is not None:
            tr = self._true_range(bar)
            self._prev = bar.close
            a = self._warm_atr(tr)
            if a is None:
                trs.append(tr)
                return None
            self._trs = None
            self.value = a
            return a
        # after warm-up the state is `value` itself: one attribute write less per bar
        h, low, pc = bar.high, bar.low, self._prev
        self._prev = bar.close
        a = self.value = (
            self.value * self._n1 + ((h if h > pc else pc) - (low if low < pc else pc))
        ) / self._n
        return a

    def preview(self, bar: BarLike) -> float | None:
        tr = self._true_range(bar)
        if self._trs is not None:
            return self._warm_atr(tr)
        return (self.value * self._n1 + tr) / self._n


class SuperTrendValue(NamedTuple):
    value: float  # the trailing line: lower band in an up-trend, upper band in a down-trend
    direction: int  # +1 up, -1 down
    upper: float  # final upper band
    lower: float  # final lower band


def supertrend_step(
    h: float, low: float, c: float, pc: float, atr: float, mult: float,
    fu: float, fl: float, direction: int,
) -> tuple[float, float, int]:
    """One SuperTrend step after the first: (final upper, final lower, direction).

    The usual final-band rules: a band only moves towards price (the upper band down, the
    lower band up) unless the previous close broke through it; the trend flips when the
    close crosses the band on the other side.
    """
    mid = (h + low) * 0.5  # == / 2.0 to the bit, one op cheaper
    w = mult * atr
    bu, bl = mid + w, mid - w
    if bu < fu or pc > fu:
        fu = bu
    if bl > fl or pc < fl:
        fl = bl
    if direction > 0:
        if c < fl:
            direction = -1
    elif c > fu:
        direction = 1
    return fu, fl, direction


def supertrend_start(h: float, low: float, c: float, atr: float, mult: float) -> tuple[
    float, float, int
]:
    """The first SuperTrend bar: bands are the basic bands; the trend is up when the close
    is at or above the bar's midpoint (a choice: ta has no SuperTrend to copy)."""
    mid = (h + low) / 2.0
    w = mult * atr
    return mid + w, mid - w, 1 if c >= mid else -1


class SuperTrend(IndicatorBase):
    """SuperTrend on ta's ATR: bands (high+low)/2 ± multiplier*ATR with final-band rules
    (see `supertrend_step`). Ready with the ATR, at bar `atr_period`."""

    __slots__ = ("_atr", "_dir", "_fl", "_fu", "_n", "_n1", "_prev", "_warm", "atr_period",
                 "multiplier")
    name = "supertrend"
    PARAMS: tuple[ParamSpec, ...] = (
        period_param("atr_period", 10),
        ParamSpec("multiplier", float, 3.0, 0.0, 100.0, min_exclusive=True, doc="ATR multiple"),
    )

    def __init__(self, atr_period: int = 10, multiplier: float = 3.0) -> None:
        p = check_params(self.name, self.PARAMS, {"atr_period": atr_period,
                                                  "multiplier": multiplier})
        self.atr_period, self.multiplier = int(p["atr_period"]), float(p["multiplier"])
        self.warmup = self.atr_period
        self._n, self._n1 = float(self.atr_period), float(self.atr_period - 1)
        self.reset()

    def reset(self) -> None:
        # warm-up goes through a plain ATR (method calls are fine there); afterwards the
        # Wilder step is inlined in update
        self._warm: ATR | None = ATR(self.atr_period)
        self._atr = self._prev = self._fu = self._fl = 0.0
        self._dir = 1
        self.value = None

    def _first(self, bar: BarLike, atr: float) -> SuperTrendValue:
        fu, fl, d = supertrend_start(bar.high, bar.low, bar.close, atr, self.multiplier)
        return SuperTrendValue(fl if d > 0 else fu, d, fu, fl)

    def update(self, bar: BarLike) -> SuperTrendValue | None:
        warm = self._warm
        if warm is not None:
            a = warm.update(bar)
            if a is None:
                return None
            self._warm = None
            v = self._first(bar, a)
            self._atr, self._prev, self._fu, self._fl, self._dir = a, bar.close, v[2], v[3], v[1]
            self.value = v
            return v
        h = bar.high
        low = bar.low
        pc = self._prev
        a = self._atr = (
            self._atr * self._n1 + ((h if h > pc else pc) - (low if low < pc else pc))
        ) / self._n
        # the final-band rules of supertrend_step, inlined, each band stored only when it
        # moves; every branch builds its value directly (fewer loads and stores per bar)
        mid = (h + low) * 0.5  # == / 2.0 to the bit
        w = self.multiplier * a
        fu = mid + w
        old = self._fu
        if fu > old and pc <= old:
            fu = old
        else:
            self._fu = fu
        fl = mid - w
        old = self._fl
        if fl < old and pc >= old:
            fl = old
        else:
            self._fl = fl
        c = self._prev = bar.close
        if self._dir > 0:
            if c < fl:
                self._dir = -1
                v = self.value = _new(SuperTrendValue, (fu, -1, fu, fl))
                return v
            v = self.value = _new(SuperTrendValue, (fl, 1, fu, fl))
            return v
        if c > fu:
            self._dir = 1
            v = self.value = _new(SuperTrendValue, (fl, 1, fu, fl))
            return v
        v = self.value = _new(SuperTrendValue, (fu, -1, fu, fl))
        return v

    def preview(self, bar: BarLike) -> SuperTrendValue | None:
        warm = self._warm
        if warm is not None:
            a = warm.preview(bar)
            return None if a is None else self._first(bar, a)
        pc = self._prev
        h, low = bar.high, bar.low
        a = (self._atr * self._n1 + ((h if h > pc else pc) - (low if low < pc else pc))) / self._n
        fu, fl, d = supertrend_step(
            h, low, bar.close, pc, a, self.multiplier, self._fu, self._fl, self._dir
        )
        return SuperTrendValue(fl if d > 0 else fu, d, fu, fl)
