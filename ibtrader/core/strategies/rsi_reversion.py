"""rsi_reversion: buy when RSI climbs back out of oversold, sell when it falls back out of
overbought, exit when it reaches the middle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy

from .common import RsiExtremes, RsiSwing


class RsiReversion(Strategy):
    """Mean reversion on RSI (Wilder).

    Long when RSI crosses back above `oversold` (the selling is exhausting itself); short
    when it crosses back below `overbought`, if `shorts`. A long exits once RSI reaches
    `exit_level` (the reversion has happened), a short once it falls to it; the exit is
    a state, not a cross, so a position the engine had not seen filled yet is still
    closed on a later bar. Each entry carries a stop `stop_atr` ATRs away, for the case
    where the reversion never comes (a falling knife keeps RSI low and never reaches the
    exit). Strength: how deep the stay past the level went (the lowest RSI below
    `oversold` before a buy, see `RsiExtremes`), 0.5 just past it, 1.0 at 0 (or 100).
    """

    name = "rsi_reversion"
    title = "RSI mean reversion"
    params = (
        Param("period", int, 14, low=2, high=500, help="RSI period, in bars"),
        Param("oversold", float, 30.0, low=1.0, high=50.0, help="buy on the way back up"),
        Param("overbought", float, 70.0, low=50.0, high=99.0,
              help="sell on the way back down"),
        Param("exit_level", float, 50.0, low=1.0, high=99.0, help="take profit at this RSI"),
        Param("stop_atr", float, 3.0, low=0.0, high=20.0,
              help="stop distance in ATRs of `period` bars (0: no stop)"),
        Param("shorts", bool, True, help="also trade the overbought side"),
    )
    bar_size = "1 hour"

    def validate(self) -> None:
        p = self.p
        if not p.oversold < p.exit_level < p.overbought:
            raise ValueError(
                f"rsi_reversion: need oversold < exit_level < overbought, got "
                f"{p.oversold:g} < {p.exit_level:g} < {p.overbought:g}")

    def indicators(self) -> dict[str, Indicator[Any]]:
        p = self.p
        return {"rsi": RsiExtremes(p.period, p.oversold, p.overbought),
                "atr": make_indicator("atr", period=p.period)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        swing_before = ctx.prev["rsi"]
        if swing_before is None:
            return NO_SIGNALS
        before = swing_before.rsi
        swing = ctx.values["rsi"]
        rsi = swing.rsi
        p = self.p
        if before < p.oversold <= rsi:
            return [self._entry(ctx, "buy", f"RSI {rsi:.1f} back above {p.oversold:g}",
                                _depth(swing.low, p.oversold), swing)]
        if p.shorts and before > p.overbought >= rsi:
            return [self._entry(ctx, "sell", f"RSI {rsi:.1f} back below {p.overbought:g}",
                                _depth(100.0 - swing.high, 100.0 - p.overbought), swing)]
        position = ctx.position
        if (position > 0 and rsi >= p.exit_level) or (position < 0 and rsi <= p.exit_level):
            return [self.signal(ctx, "exit", f"RSI {rsi:.1f} reached {p.exit_level:g}",
                                values={"rsi": rsi, "close": ctx.bar.close})]
        return NO_SIGNALS

    def _entry(self, ctx: BarContext, side: str, reason: str, strength: float,
               swing: RsiSwing) -> Signal:
        close, atr = ctx.bar.close, ctx.values["atr"]
        stop = None
        if self.p.stop_atr and atr is not None:
            distance = self.p.stop_atr * atr
            stop = close - distance if side == "buy" else close + distance
        extreme = swing.low if side == "buy" else swing.high
        values = {"rsi": swing.rsi, "rsi_extreme": extreme, "close": close, "atr": atr}
        return self.signal(ctx, side, reason, strength=strength, values=values, stop=stop)


def _depth(extreme: float, level: float) -> float:
    """How far past the level RSI went before turning: 0.5 at the level, 1.0 at 0."""
    return min(1.0, 0.5 + 0.5 * (level - extreme) / level)
