"""Technical indicators: incremental (O(1) per bar, for live data) and batch (ta, for
history), equal to each other after warm-up.

    rsi = make_indicator("rsi", period=14)
    seed_from_history(rsi, history)        # state after the last historical bar
    rsi.update(closed_bar)                 # commit a bar -> value (None while warming up)
    rsi.preview(forming_bar)               # value if the forming bar closed now; no change
    compute_batch("rsi", history, period=14)   # the same numbers over a whole frame
"""

from .averages import EMA, MACD, SMA, MACDValue
from .base import BarLike, Indicator, IndicatorBase, ParamSpec, ValueIndicator
from .batch import compute_batch
from .oscillators import RSI, Stochastic, StochValue
from .registry import INDICATORS, IndicatorInfo, indicator_info, make_indicator
from .volatility import ATR, BollingerBands, BollingerValue, SuperTrend, SuperTrendValue
from .volume import OBV, VWAP, RollingVWAP
from .warmstart import seed_from_history

__all__ = [
    "ATR", "EMA", "INDICATORS", "MACD", "OBV", "RSI", "SMA", "VWAP", "BarLike",
    "BollingerBands", "BollingerValue", "Indicator", "IndicatorBase", "IndicatorInfo",
    "MACDValue", "ParamSpec", "RollingVWAP", "StochValue", "Stochastic", "SuperTrend",
    "SuperTrendValue", "ValueIndicator", "compute_batch", "indicator_info", "make_indicator",
    "seed_from_history",
]
