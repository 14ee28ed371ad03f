"""The chart's data colours: candles, studies, order lines.

Only data gets a colour here; the background, axes and text follow the widget's palette
(the app's QSS theme decides them), so the chart fits a dark or a light theme alike.
"""

from __future__ import annotations

UP = "#26a69a"  # a rising bar (close >= open)
DOWN = "#ef5350"  # a falling bar
VOLUME_ALPHA = 110  # volume bars: the candle colours at this opacity over the background

# Study lines, in the order studies are added (overlays and panels count separately).
STUDY_COLOURS = ("#f6c344", "#42a5f5", "#ab47bc", "#ff9800", "#8d6e63", "#ec407a")
# One-pixel lines: Qt's raster engine strokes wider ones ~10x slower (a 2 px SMA over 500
# bars cost 0.4 ms a paint here, as much as all the candle bodies).
STUDY_WIDTH = 1
SIGNAL_LINE = "#ff9800"  # MACD's signal line, against the study colour of the MACD line
TREND_UP = "#00e676"  # SuperTrend below price
TREND_DOWN = "#ff1744"  # SuperTrend above price
GUIDE = "#808080"  # RSI 30/70, MACD zero

# Horizontal lines by kind: colour and Qt pen style name.
LINE_KINDS: dict[str, tuple[str, str]] = {
    "buy": ("#26a69a", "dash"),
    "sell": ("#ef5350", "dash"),
    "stop": ("#ff9800", "dash"),
    "target": ("#42a5f5", "dot"),
    "alert": ("#9e9e9e", "dot"),
    "position": ("#7e57c2", "solid"),  # readable on dark and light
}

MARKER_BUY = "#00e676"
MARKER_SELL = "#ff1744"
CROSSHAIR = "#9e9e9e"
