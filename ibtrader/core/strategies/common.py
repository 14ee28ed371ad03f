"""Pieces the built-in strategies share: crossing tests and two small indicators the
registry does not have (an indicator of another bar field, a higher-timeframe trend,
RSI with the depth of its latest oversold or overbought stay)."""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import pandas as pd

from ibtrader.core.indicators import BarLike, IndicatorBase, compute_batch, make_indicator
from ibtrader.core.indicators.base import ValueBar


def crossed_above(prev_a: float, prev_b: float, a: float, b: float) -> bool:
    """`a` went from strictly below `b` to strictly above it (a touch is no cross)."""
    return prev_a < prev_b and a > b


def crossed_below(prev_a: float, prev_b: float, a: float, b: float) -> bool:
    return prev_a > prev_b and a < b


class OnField:
    """A close indicator fed another bar field, e.g. the average volume:

        OnField("volume", make_indicator("sma", period=20))
    """

    def __init__(self, field: str, inner: IndicatorBase) -> None:
        self.field = field
        self.inner = inner
        self.name = f"{inner.name}_of_{field}"
        self.warmup = inner.warmup

    @property
    def value(self) -> Any:
        return self.inner.value

    @property
    def ready(self) -> bool:
        return self.inner.ready

    def update(self, bar: BarLike) -> Any:
        return self.inner.update(ValueBar(getattr(bar, self.field)))

    def preview(self, bar: BarLike) -> Any:
        return self.inner.preview(ValueBar(getattr(bar, self.field)))

    def reset(self) -> None:
        self.inner.reset()

    def batch(self, frame: pd.DataFrame) -> pd.Series | pd.DataFrame:
        """The same values over a whole frame, by the inner indicator's batch twin."""
        renamed = frame[[self.field]].rename(columns={self.field: "close"})
        return compute_batch(self.inner.name, renamed, **self.inner.params())


class HtfTrend(NamedTuple):
    close: float  # close of the last completed higher-timeframe bar
    ema: float  # EMA of those closes
    trend: int  # +1 close above the EMA, -1 below, 0 on it


class HigherTimeframeTrend:
    """The trend of a higher timeframe, `multiple` times this bar size: whether the close
    of the last higher-timeframe bar is above an EMA of `period` such closes.

    Higher-timeframe bars are buckets of `multiple` bar spacings aligned to the clock (from
    the epoch), the spacing being the smallest gap between two bars seen: so a bar always
    falls in the same bucket, whichever bar a backtest or a live warm start began with,
    and the two agree. A bucket's close is the close of its last bar, known on the bar
    that ends the bucket or, when a gap (overnight, a weekend) skips its end, on the first
    bar after it. Until a bucket closes the value is that of the last closed one, so
    nothing is known before it happened. Buckets across session gaps are ragged, as a
    broker's own higher-timeframe bars are.
    """

    name = "htf_trend"

    def __init__(self, multiple: int = 4, period: int = 50) -> None:
        if multiple < 1:
            raise ValueError(f"htf_trend: multiple must be at least 1, got {multiple}")
        self.multiple = multiple
        self.period = period
        self._ema = make_indicator("ema", period=period)
        self.warmup = multiple * period
        self.reset()

    def reset(self) -> None:
        self._ema.reset()
        self._step = math.inf  # bar spacing in seconds: the smallest gap seen
        self._last_time = math.nan
        self._bucket: float | None = None  # the open bucket's number, None when closed
        self._close = math.nan  # the last close seen in the open bucket
        self.value: HtfTrend | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def update(self, bar: BarLike) -> HtfTrend | None:
        time = bar.time
        if not isinstance(time, float):
            time = _seconds(time)
        close = bar.close
        gap = time - self._last_time
        if 0.0 < gap < self._step:  # NaN on the first bar: compares false
            self._step = gap
        self._last_time = time
        if self._step == math.inf:
            return self.value  # one bar: no spacing, no buckets yet
        span = self.multiple * self._step
        bucket = time // span
        if self._bucket is not None and bucket != self._bucket:
            self._commit(self._close)  # a gap skipped the end of the open bucket
        self._bucket, self._close = bucket, close
        if time + self._step >= (bucket + 1) * span:  # this bar ends its bucket
            self._commit(close)
            self._bucket = None
        return self.value

    def _commit(self, close: float) -> None:
        ema = self._ema.update_value(close)
        if ema is not None:
            self.value = _trend(close, ema)

    def preview(self, bar: BarLike) -> HtfTrend | None:
        # forming bars only (charts, strategies that ask): a copy keeps this exact and simple
        return copy.deepcopy(self).update(bar)

    def params(self) -> dict[str, int]:
        return {"multiple": self.multiple, "period": self.period}


def _seconds(time: Any) -> float:
    """Epoch seconds of a bar's time that is not a float: a datetime, or an int."""
    return time.timestamp() if hasattr(time, "timestamp") else float(time)


def _trend(close: float, ema: float) -> HtfTrend:
    return HtfTrend(close, ema, (close > ema) - (close < ema))


class RsiSwing(NamedTuple):
    rsi: float
    low: float  # lowest RSI of the latest stay below the oversold level (nan before one)
    high: float  # highest RSI of the latest stay above the overbought level (nan before one)


_SWING_START = RsiSwing(math.nan, math.nan, math.nan)  # NaN RSI: "was not in a stay"
_new_tuple = tuple.__new__


class RsiExtremes:
    """RSI with how deep its latest oversold (and overbought) stay went, so that a strategy
    can grade the turn out of it without keeping state of its own: on the bar RSI climbs
    back over `oversold`, `low` is the lowest RSI of the stay that just ended."""

    name = "rsi_extremes"

    def __init__(self, period: int, oversold: float, overbought: float) -> None:
        self._rsi = make_indicator("rsi", period=period)
        self.period, self.oversold, self.overbought = period, oversold, overbought
        self.warmup = self._rsi.warmup
        self.reset()

    def reset(self) -> None:
        self._rsi.reset()
        self.value: RsiSwing | None = None

    @property
    def ready(self) -> bool:
        return self.value is not None

    def _next(self, rsi: float | None) -> RsiSwing | None:
        if rsi is None:
            return None
        before = self.value
        if before is None:
            before = _SWING_START
        low, high = before[1], before[2]
        if rsi < self.oversold:  # a new stay starts afresh, an ongoing one deepens
            low = rsi if not before[0] < self.oversold else min(low, rsi)
        elif rsi > self.overbought:
            high = rsi if not before[0] > self.overbought else max(high, rsi)
        return _new_tuple(RsiSwing, (rsi, low, high))  # skips the NamedTuple's slow __new__

    def update(self, bar: BarLike) -> RsiSwing | None:
        self.value = self._next(self._rsi.update(bar))
        return self.value

    def preview(self, bar: BarLike) -> RsiSwing | None:
        return self._next(self._rsi.preview(bar))

    def params(self) -> dict[str, float]:
        return {"period": self.period, "oversold": self.oversold, "overbought": self.overbought}
