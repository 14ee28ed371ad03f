"""The live candle chart: `ChartWidget` and its parts (one job per module)."""

from .widget import ChartWidget

__all__ = ["ChartWidget"]
