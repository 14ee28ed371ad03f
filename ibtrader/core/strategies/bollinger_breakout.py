"""bollinger_breakout: long when the close breaks out above the upper band, short below
the lower band; back at the middle band, the position is closed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy


class BollingerBreakout(Strategy):
    """Volatility breakout on Bollinger Bands (SMA ± k population standard deviations).

    Read through %b, where the close sits in the bands (0 the lower band, 1 the upper):
    enter on the first close outside a band (%b crosses 1 or 0; a breakout against an
    open position reverses it), exit when the close comes back to the middle band (%b
    0.5). The stop sits on the middle band at entry: intrabar protection for the same
    level the close-based exit watches. Strength grows with how far the close broke out,
    1.0 at a quarter of the band width beyond the band.
    """

    name = "bollinger_breakout"
    title = "Bollinger Band breakout"
    params = (
        Param("period", int, 20, low=2, high=1000, help="band look-back, in bars"),
        Param("k", float, 2.0, low=0.1, high=10.0, help="band width, in standard deviations"),
        Param("shorts", bool, True, help="also trade breakdowns below the lower band"),
    )
    bar_size = "1 hour"

    def indicators(self) -> dict[str, Indicator[Any]]:
        return {"bands": make_indicator("bbands", period=self.p.period, k=self.p.k)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        before = ctx.prev["bands"]
        if before is None:
            return NO_SIGNALS
        bands = ctx.values["bands"]
        b, was = bands.pct_b, before.pct_b  # NaN when the bands touch: no comparison holds
        position = ctx.position
        # entries first: a short caught by a breakout above the upper band is reversed,
        # not merely closed (the breakout bar would not come again)
        if position <= 0 and was <= 1.0 < b:
            return [self._signal(ctx, "buy", "close broke out above the upper band", bands)]
        if self.p.shorts and position >= 0 and was >= 0.0 > b:
            return [self._signal(ctx, "sell", "close broke down below the lower band", bands)]
        if (position > 0 and b <= 0.5) or (position < 0 and b >= 0.5):
            return [self._signal(ctx, "exit", "close back at the middle band", bands)]
        return NO_SIGNALS

    def _signal(self, ctx: BarContext, side: str, reason: str, bands: Any) -> Signal:
        if side == "exit":
            return self.signal(ctx, side, reason, values=bands._asdict())
        beyond = bands.pct_b - 1.0 if side == "buy" else -bands.pct_b
        strength = min(1.0, 0.5 + 2.0 * beyond)
        return self.signal(ctx, side, reason, strength=strength, values=bands._asdict(),
                           stop=bands.mid)
