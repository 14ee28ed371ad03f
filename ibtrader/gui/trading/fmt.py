"""How numbers read in the trading panels: a missing value is a dash, never 0 or nan."""

from __future__ import annotations

import datetime as dt
import math

DASH = "—"


def money(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def price(value: float | None, decimals: int = 2) -> str:
    if value is None or not math.isfinite(value) or value <= 0:
        return DASH
    return f"{value:,.{decimals}f}"


def quantity(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return DASH
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4g}"


def clock(epoch: float | None) -> str:
    """Local wall-clock time of an epoch-seconds stamp."""
    if epoch is None or not math.isfinite(epoch) or epoch <= 0:
        return DASH
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def value_text(value: object) -> str:
    """An indicator value as a trader reads it (floats to 4 significant digits)."""
    if value is None:
        return "warming up"
    if isinstance(value, float):
        return DASH if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, tuple | list):
        return "/".join(value_text(v) for v in value)
    return str(value)


def pnl_sign(value: float | None) -> int:
    """+1, -1 or 0: what a view colours a P&L cell by."""
    if value is None or not math.isfinite(value) or abs(value) < 0.005:
        return 0
    return 1 if value > 0 else -1
