"""Volume indicators: OBV (ta's), session-anchored VWAP, and ta's rolling-window VWAP.

Two VWAPs, because they answer different questions:
- `vwap` (VWAP): what traders mean by VWAP, the average price paid *since the session
  opened*; it restarts at the first bar of each session day. ta has no such indicator.
- `rolling_vwap` (RollingVWAP): ta's VolumeWeightedAveragePrice(window), a moving
  volume-weighted average of the last `window` bars, blind to sessions.
Both weight the typical price (high + low + close) / 3 by volume, as ta does.
"""

from __future__ import annotations

import datetime as dt
from math import fsum, nan
from typing import Any

import pandas as pd

from .base import BarLike, IndicatorBase, ParamSpec, check_params, period_param, wraps_per_resum

DAY_SECONDS = 86_400.0


def epoch_seconds(t: Any) -> float:
    """`t` as epoch seconds: numbers pass through; a naive datetime is taken as UTC
    (pandas' convention), an aware one converted."""
    if isinstance(t, int | float):
        return float(t)
    if isinstance(t, dt.datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        return t.timestamp()
    return epoch_seconds(pd.Timestamp(t).to_pydatetime())  # numpy datetime64, strings


class OBV(IndicatorBase):
    """ta's OnBalanceVolumeIndicator: the running sum of +volume, or -volume on a bar that
    closes *below* the previous close. As in ta, an unchanged close adds the volume (the
    textbook OBV adds 0) and the first bar adds its volume."""

    __slots__ = ("_obv", "_prev")
    name = "obv"
    PARAMS: tuple[ParamSpec, ...] = ()

    def __init__(self) -> None:
        self.warmup = 1
        self.reset()

    def reset(self) -> None:
        self._prev = nan  # a close is never below nan: the first bar adds its volume
        self._obv = 0.0
        self.value = None

    def update(self, bar: BarLike) -> float:
        c = bar.close
        v = self._obv - bar.volume if c < self._prev else self._obv + bar.volume
        self._prev = c
        self._obv = v
        self.value = v
        return v

    def preview(self, bar: BarLike) -> float:
        return self._obv - bar.volume if bar.close < self._prev else self._obv + bar.volume


class VWAP(IndicatorBase):
    """Session-anchored VWAP: sum(typical price * volume) / sum(volume) since the first bar
    of the session day; NaN while the session has traded no volume.

    A session day starts at `session_start_hour` UTC (0 = midnight UTC, which separates
    US equity sessions; 22 suits FX, whose day rolls at 17:00 New York). Bar times are
    epoch seconds or datetimes (naive = UTC). A bar starts a new session when its session
    day differs from the previous bar's, so gaps of any length reset it.
    """

    __slots__ = ("_cv", "_day", "_offset", "_pv", "session_start_hour")
    name = "vwap"
    needs_time = True
    PARAMS: tuple[ParamSpec, ...] = (
        ParamSpec("session_start_hour", float, 0.0, 0.0, 24.0,
                  doc="hour of day (UTC) at which a session begins, in [0, 24]"),
    )

    def __init__(self, session_start_hour: float = 0.0) -> None:
        p = check_params(self.name, self.PARAMS, {"session_start_hour": session_start_hour})
        self.session_start_hour = float(p["session_start_hour"])
        self._offset = self.session_start_hour * 3600.0
        self.warmup = 1
        self.reset()

    def reset(self) -> None:
        self._day = nan  # never equal to a real day: the first bar opens a session
        self._pv = 0.0
        self._cv = 0.0
        self.value = None

    def session_day(self, t: Any) -> float:
        """The session day number of a bar time (days since 1970 at session start)."""
        if t.__class__ is not float:
            t = epoch_seconds(t)
        return (t - self._offset) // DAY_SECONDS

    def update(self, bar: BarLike) -> float:
        t = bar.time
        if t.__class__ is not float:
            t = epoch_seconds(t)
        day = (t - self._offset) // DAY_SECONDS
        vol = bar.volume
        pv = (bar.high + bar.low + bar.close) / 3.0 * vol
        if day == self._day:
            pv += self._pv
            vol += self._cv
        else:
            self._day = day
        self._pv = pv
        self._cv = vol
        v = pv / vol if vol else nan
        self.value = v
        return v

    def preview(self, bar: BarLike) -> float:
        vol = bar.volume
        pv = (bar.high + bar.low + bar.close) / 3.0 * vol
        if self.session_day(bar.time) == self._day:
            pv = self._pv + pv
            vol = self._cv + vol
        return pv / vol if vol else nan


class RollingVWAP(IndicatorBase):
    """ta's VolumeWeightedAveragePrice(window): rolling sums of typical price * volume and
    of volume over `window` bars; NaN when the window traded no volume. The running sums
    are recomputed exactly now and then (base.RESUM_EVERY)."""

    __slots__ = ("_i", "_left", "_pb", "_ps", "_vb", "_vs", "_wraps", "_wraps_left", "window")
    name = "rolling_vwap"
    PARAMS: tuple[ParamSpec, ...] = (period_param("window", 14),)

    def __init__(self, window: int = 14) -> None:
        self.window = int(check_params(self.name, self.PARAMS, {"window": window})["window"])
        self.warmup = self.window
        self._wraps = wraps_per_resum(self.window)
        self.reset()

    def reset(self) -> None:
        self._pb = [0.0] * self.window  # typical price * volume per bar
        self._vb = [0.0] * self.window  # volume per bar
        self._ps = self._vs = 0.0
        self._i = self.window - 1  # the rings are filled back to front: `if i` tests the wrap
        self._wraps_left = 1  # exact at the end of warm-up, then every _wraps trips
        self._left = self.window
        self.value = None

    def _wrapped(self) -> None:
        self._wraps_left -= 1
        if not self._wraps_left:
            self._wraps_left = self._wraps
            self._ps = fsum(self._pb)
            self._vs = fsum(self._vb)

    def update(self, bar: BarLike) -> float | None:
        vol = bar.volume
        pv = (bar.high + bar.low + bar.close) / 3.0 * vol
        i = self._i
        pb = self._pb
        vb = self._vb
        ps = self._ps = self._ps + pv - pb[i]
        vs = self._vs = self._vs + vol - vb[i]
        pb[i] = pv
        vb[i] = vol
        if i:
            self._i = i - 1
        else:
            self._i = self.window - 1
            self._wrapped()
            ps, vs = self._ps, self._vs
        if self._left:
            self._left -= 1
            if self._left:
                return None
        v = self.value = ps / vs if vs else nan
        return v

    def preview(self, bar: BarLike) -> float | None:
        if self._left > 1:
            return None
        vol = bar.volume
        pv = (bar.high + bar.low + bar.close) / 3.0 * vol
        pb, vb, i = self._pb, self._vb, self._i
        if not i and self._wraps_left == 1:
            ps, vs = fsum([pv, *pb[1:]]), fsum([vol, *vb[1:]])
        else:
            ps, vs = self._ps + pv - pb[i], self._vs + vol - vb[i]
        return ps / vs if vs else nan
