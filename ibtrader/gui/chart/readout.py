"""The readout line: a bar's time, OHLCV and its studies' values, as a trader reads them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ibtrader.core.market import Bar

from .axis import DAY, format_time
from .study_items import StudyItems


def price_format(price: float) -> str:
    """Two decimals for stocks, five for currencies and other small prices."""
    return ".2f" if abs(price) >= 10 else ".5f"


def readout(bar: Bar, bar_seconds: int, tz: dt.tzinfo | None,
            studies: Sequence[tuple[StudyItems, tuple[float, ...] | None, bool]]) -> str:
    """"2026-01-01 10:31  O 1.00  H …  V 1,200   SMA 20 1.01"; `studies` holds each
    study's items, its values for the bar and whether it is an overlay (priced like the
    bar) or a panel (two decimals)."""
    fmt = price_format(bar.close)
    when = format_time(bar.time, tz, date=True, clock=bar_seconds < DAY)
    parts = [f"{when}  O {bar.open:{fmt}}  H {bar.high:{fmt}}  L {bar.low:{fmt}}  "
             f"C {bar.close:{fmt}}  V {bar.volume:,.0f}"]
    for items, row, overlay in studies:
        if row is not None:
            parts.append(items.value_text(row, fmt if overlay else ".2f"))
    return "   ".join(parts)
