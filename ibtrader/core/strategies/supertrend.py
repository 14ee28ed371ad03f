"""supertrend: a trend follower. Enter when the SuperTrend turns, if the higher timeframe
agrees, RSI is not stretched and volume is above its average; stop at an ATR multiple."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy

from .common import HigherTimeframeTrend, OnField


class SuperTrendFollower(Strategy):
    """Long when the SuperTrend turns bullish and
    - the higher-timeframe trend is up: the close of the last higher-timeframe bar (a
      clock-aligned bucket of `htf_multiple` bars, e.g. 4 h for 1-hour bars) is above an
      EMA of `htf_period` such closes - see `HigherTimeframeTrend`;
    - RSI is below `rsi_max` (not overbought);
    - volume is above its `volume_period`-bar average;
    with the stop `stop_atr` ATRs below the close, and a target `target_r` times that
    distance above it (0: no target). Shorts are the mirror. When the SuperTrend turns
    against an open position and the filters refuse the reversal, the position exits.
    """

    name = "supertrend"
    title = "SuperTrend trend follower"
    params = (
        Param("atr_period", int, 10, low=2, high=500, help="ATR period of the SuperTrend"),
        Param("multiplier", float, 3.0, low=0.5, high=20.0, help="SuperTrend band, in ATRs"),
        Param("htf_multiple", int, 4, low=1, high=100,
              help="higher timeframe, in bars of this one"),
        Param("htf_period", int, 50, low=2, high=1000, help="EMA period on the higher timeframe"),
        Param("rsi_period", int, 14, low=2, high=500, help="RSI period"),
        Param("rsi_max", float, 70.0, low=50.0, high=100.0, help="no longs at or above this RSI"),
        Param("rsi_min", float, 30.0, low=0.0, high=50.0, help="no shorts at or below this RSI"),
        Param("volume_period", int, 20, low=1, high=1000, help="volume average, in bars"),
        Param("stop_atr", float, 2.0, low=0.1, high=20.0, help="stop distance, in ATRs"),
        Param("target_r", float, 0.0, low=0.0, high=20.0,
              help="target, in multiples of the stop distance (0: none)"),
        Param("shorts", bool, True, help="also trade the bearish turns"),
    )
    bar_size = "1 hour"

    def indicators(self) -> dict[str, Indicator[Any]]:
        p = self.p
        return {
            "st": make_indicator("supertrend", atr_period=p.atr_period, multiplier=p.multiplier),
            "atr": make_indicator("atr", period=p.atr_period),
            "rsi": make_indicator("rsi", period=p.rsi_period),
            "volume_avg": OnField("volume", make_indicator("sma", period=p.volume_period)),
            "htf": HigherTimeframeTrend(p.htf_multiple, p.htf_period),
        }

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        before = ctx.prev["st"]
        if before is None:
            return NO_SIGNALS
        direction = ctx.values["st"].direction
        if before.direction == direction:  # the hot path: no turn
            return NO_SIGNALS
        side = "buy" if direction > 0 else "sell"
        against = ctx.position < 0 if direction > 0 else ctx.position > 0
        values = self._values(ctx)
        refusal = self._refusal(side, values)
        if refusal is None:
            return [self._entry(ctx, side, values)]
        if against:
            return [self.signal(ctx, "exit", f"SuperTrend turned; no reversal: {refusal}",
                                values=values)]
        return NO_SIGNALS

    def _values(self, ctx: BarContext) -> dict[str, Any]:
        now = ctx.values
        st, htf = now["st"], now["htf"]
        return {
            "close": ctx.bar.close, "volume": ctx.bar.volume, "supertrend": st.value,
            "atr": now["atr"], "rsi": now["rsi"], "volume_avg": now["volume_avg"],
            "htf_close": htf.close if htf else None, "htf_ema": htf.ema if htf else None,
            "htf_trend": htf.trend if htf else 0,
        }

    def _refusal(self, side: str, v: dict[str, Any]) -> str | None:
        """Why an entry on this turn is not taken, or None to take it."""
        p = self.p
        if v["rsi"] is None or v["volume_avg"] is None or v["htf_ema"] is None:
            return "filters still warming up"
        if side == "sell" and not p.shorts:
            return "shorts are off"
        up = side == "buy"
        if v["htf_trend"] != (1 if up else -1):
            return "the higher timeframe disagrees"
        if up and v["rsi"] >= p.rsi_max:
            return f"RSI {v['rsi']:.1f} is overbought"
        if not up and v["rsi"] <= p.rsi_min:
            return f"RSI {v['rsi']:.1f} is oversold"
        if not v["volume"] > v["volume_avg"]:
            return "volume is not above its average"
        return None

    def _entry(self, ctx: BarContext, side: str, v: dict[str, Any]) -> Signal:
        p = self.p
        sign = 1.0 if side == "buy" else -1.0
        distance = p.stop_atr * v["atr"]
        stop = v["close"] - sign * distance
        target = v["close"] + sign * p.target_r * distance if p.target_r else None
        trend = "bullish" if side == "buy" else "bearish"
        return self.signal(ctx, side, f"SuperTrend turned {trend}, filters agree",
                           values=v, stop=stop, target=target)
