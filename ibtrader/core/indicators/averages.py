"""Moving averages of the close: SMA, EMA and MACD, matching `ta` 0.11 to the last bit
where pandas allows it.

ta's EMA (`ta.utils._ema`) is `close.ewm(span=n, adjust=False, min_periods=n).mean()`:
the average is seeded with the *first close* (not with an SMA of the first n closes, as
TA-Lib does) and the first n-1 values are hidden. pandas computes alpha as 1/(1+com)
with com=(n-1)/2, and each step as (1-alpha)*ema + alpha*x; we do the same operations in
the same order, so the values are bit-identical to ta's.
"""

from __future__ import annotations

from math import fsum
from typing import NamedTuple

from .base import BarLike, CloseIndicator, ParamSpec, check_params, period_param, wraps_per_resum

# Building a NamedTuple through its generated __new__ costs ~200 ns here; tuple.__new__
# on the class skips that Python-level function: ~100 ns, the floor for a named value.
_new = tuple.__new__


def ewm_alpha_from_span(span: int) -> float:
    """alpha exactly as pandas derives it from `span` (bit-for-bit, not 2/(n+1))."""
    return 1.0 / (1.0 + (span - 1) / 2.0)


class SMA(CloseIndicator):
    """Simple moving average of the last `period` closes (ta's SMAIndicator).

    A ring buffer and a running sum, re-summed exactly now and then (base.RESUM_EVERY).
    """

    __slots__ = ("_buf", "_i", "_left", "_n", "_sum", "_wraps", "_wraps_left", "period")
    name = "sma"
    PARAMS: tuple[ParamSpec, ...] = (period_param("period", 20),)

    def __init__(self, period: int = 20) -> None:
        self.period = int(check_params(self.name, self.PARAMS, {"period": period})["period"])
        self.warmup = self.period
        self._n = float(self.period)
        self._wraps = wraps_per_resum(self.period)
        self.reset()

    def reset(self) -> None:
        self._buf = [0.0] * self.period
        self._i = self.period - 1  # the ring is filled back to front: `if i` tests the wrap
        self._sum = 0.0
        self._wraps_left = 1  # re-sum at the end of warm-up, then every _wraps trips
        self._left = self.period
        self.value = None

    def _wrapped(self, s: float) -> float:
        """The ring went round once: maybe replace the running sum by the exact one."""
        self._wraps_left -= 1
        if self._wraps_left:
            return s
        self._wraps_left = self._wraps
        return fsum(self._buf)

    def _warm_update(self, x: float) -> float | None:
        buf, i = self._buf, self._i
        s = self._sum + x - buf[i]
        buf[i] = x
        if i:
            self._i = i - 1
        else:
            self._i = self.period - 1
            s = self._wrapped(s)
        self._sum = s
        self._left -= 1
        if self._left:
            return None
        v = self.value = s / self._n
        return v

    def update(self, bar: BarLike) -> float | None:
        if self._left:
            return self._warm_update(bar.close)
        x = bar.close
        buf = self._buf
        i = self._i
        s = self._sum + x - buf[i]
        buf[i] = x
        if i:
            self._i = i - 1
        else:
            self._i = self.period - 1
            s = self._wrapped(s)
        self._sum = s
        v = self.value = s / self._n
        return v

    def preview(self, bar: BarLike) -> float | None:
        if self._left > 1:
            return None
        x = bar.close
        buf = self._buf
        i = self._i
        if not i and self._wraps_left == 1:
            return fsum([x, *buf[1:]]) / self._n  # update re-sums here: same bits
        return (self._sum + x - buf[i]) / self._n


class EMA(CloseIndicator):
    """Exponential moving average, ta's EMAIndicator convention (see the module doc).

    After warm-up the state *is* `value`: one attribute write per update instead of two.
    """

    __slots__ = ("_a", "_left", "_ow", "_w", "period")
    name = "ema"
    PARAMS: tuple[ParamSpec, ...] = (period_param("period", 20),)

    def __init__(self, period: int = 20) -> None:
        self.period = int(check_params(self.name, self.PARAMS, {"period": period})["period"])
        self.warmup = self.period
        self._a = ewm_alpha_from_span(self.period)
        self._ow = 1.0 - self._a
        self.reset()

    def reset(self) -> None:
        self._w = 0.0  # the average during warm-up
        self._left = self.period
        self.value = None

    def _warm_step(self, x: float) -> float:
        # the first bar seeds the average with itself (pandas adjust=False)
        if self._left == self.period:
            return x
        return self._ow * self._w + self._a * x

    def _warm_update(self, x: float) -> float | None:
        self._w = w = self._warm_step(x)
        self._left -= 1
        if self._left:
            return None
        self.value = w
        return w

    def update(self, bar: BarLike) -> float | None:
        if self._left:
            return self._warm_update(bar.close)
        w = self.value = self._ow * self.value + self._a * bar.close
        return w

    def preview(self, bar: BarLike) -> float | None:
        if self._left > 1:
            return None
        if self._left:
            return self._warm_step(bar.close)
        return self._ow * self.value + self._a * bar.close


class MACDValue(NamedTuple):
    macd: float  # fast EMA - slow EMA
    signal: float  # EMA of macd
    hist: float  # macd - signal


class MACD(CloseIndicator):
    """MACD as ta's MACD: two EMAs of the close seeded at the first bar; the signal EMA is
    seeded with the first MACD value, at bar `slow`.

    `value` stays None until the signal line exists (`slow + signal - 1` bars); ta's
    macd column has numbers from bar `slow` on, its signal and hist columns from then.
    """

    __slots__ = ("_af", "_ag", "_as", "_ef", "_es", "_g", "_left", "_owf", "_owg", "_ows",
                 "fast", "signal", "slow")
    name = "macd"
    PARAMS: tuple[ParamSpec, ...] = (
        period_param("fast", 12, doc="fast EMA period (< slow)"),
        period_param("slow", 26, minimum=2, doc="slow EMA period"),
        period_param("signal", 9, doc="signal EMA period"),
    )

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        p = check_params(self.name, self.PARAMS, {"fast": fast, "slow": slow, "signal": signal})
        if p["fast"] >= p["slow"]:
            raise ValueError(
                f"macd: fast must be smaller than slow (fast in [1, slow - 1]), got "
                f"fast={p['fast']}, slow={p['slow']}"
            )
        self.fast, self.slow, self.signal = int(p["fast"]), int(p["slow"]), int(p["signal"])
        self.warmup = self.slow + self.signal - 1
        self._af = ewm_alpha_from_span(self.fast)
        self._as = ewm_alpha_from_span(self.slow)
        self._ag = ewm_alpha_from_span(self.signal)
        self._owf, self._ows, self._owg = 1.0 - self._af, 1.0 - self._as, 1.0 - self._ag
        self.reset()

    def reset(self) -> None:
        self._ef = self._es = self._g = 0.0
        self._left = self.warmup
        self.value = None

    def _warm_step(self, x: float) -> tuple[float, float, float, MACDValue | None]:
        """One bar during warm-up, without side effects: (fast, slow, signal, value)."""
        seen = self.warmup - self._left  # bars before this one
        if seen == 0:
            ef = es = x
        else:
            ef = self._owf * self._ef + self._af * x
            es = self._ows * self._es + self._as * x
        m = ef - es
        first_macd = self.slow - 1
        if seen < first_macd:
            return ef, es, 0.0, None
        g = m if seen == first_macd else self._owg * self._g + self._ag * m
        value = MACDValue(m, g, m - g) if self._left == 1 else None
        return ef, es, g, value

    def _warm_update(self, x: float) -> MACDValue | None:
        self._ef, self._es, self._g, v = self._warm_step(x)
        self._left -= 1
        self.value = v
        return v

    def update(self, bar: BarLike) -> MACDValue | None:
        if self._left:
            return self._warm_update(bar.close)
        x = bar.close
        ef = self._ef = self._owf * self._ef + self._af * x
        es = self._es = self._ows * self._es + self._as * x
        m = ef - es
        g = self._g = self._owg * self._g + self._ag * m
        v = self.value = _new(MACDValue, (m, g, m - g))
        return v

    def preview(self, bar: BarLike) -> MACDValue | None:
        x = bar.close
        if self._left:
            return self._warm_step(x)[3]
        ef = self._owf * self._ef + self._af * x
        es = self._ows * self._es + self._as * x
        m = ef - es
        g = self._owg * self._g + self._ag * m
        return MACDValue(m, g, m - g)
