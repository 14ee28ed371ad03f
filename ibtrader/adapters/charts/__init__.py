"""Chart PNGs rendered headless (matplotlib's Agg canvas, imported on first use)."""

from .render import Marker, render_bars_png, render_equity_png

__all__ = ["Marker", "render_bars_png", "render_equity_png"]
