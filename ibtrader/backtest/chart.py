"""The equity curve as a PNG, drawn with Pillow (no Qt, no matplotlib: the backtest
command stays a light process).

Above: equity, each pixel column drawn from the min to the max of the bars it covers, so
no spike is lost however long the run; a dotted line at the starting equity. Below: the
drawdown from the running peak, filled.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .bars import iso_time

WIDTH, HEIGHT = 1200, 600
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 90, 20, 40, 40
SPLIT = 0.72  # share of the plot height for the equity; the rest is the drawdown
BACKGROUND, GRID, TEXT = (255, 255, 255), (225, 225, 225), (40, 40, 40)
UP, DOWN, BASE, DD = (20, 110, 190), (200, 60, 50), (150, 150, 150), (230, 120, 110)


def equity_png(equity: np.ndarray, times: np.ndarray, title: str, start_equity: float) -> bytes:
    """PNG bytes of the equity curve and its drawdown."""
    if len(equity) == 0:
        raise ValueError("no equity to draw")
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    x0, x1 = MARGIN_L, WIDTH - MARGIN_R
    y0, y_split, y1 = MARGIN_T, MARGIN_T + int((HEIGHT - MARGIN_T - MARGIN_B) * SPLIT), \
        HEIGHT - MARGIN_B
    lows, highs, lasts = _columns(equity, x1 - x0)
    lo = float(min(lows.min(), start_equity))
    hi = float(max(highs.max(), start_equity))
    if hi - lo < 1e-12:
        lo, hi = lo - 1.0, hi + 1.0

    def y_of(value: float) -> float:
        return y_split - 10 - (value - lo) / (hi - lo) * (y_split - 10 - y0)

    for k in range(5):  # horizontal grid with the equity at each line
        value = lo + (hi - lo) * k / 4
        y = y_of(value)
        draw.line([(x0, y), (x1, y)], fill=GRID)
        draw.text((5, y - 6), f"{value:,.0f}", fill=TEXT, font=font)
    base = y_of(start_equity)
    for x in range(x0, x1, 6):
        draw.line([(x, base), (x + 3, base)], fill=BASE)
    points = []
    for k, (a, b, c) in enumerate(zip(lows, highs, lasts, strict=True)):
        x = x0 + k
        colour = UP if c >= start_equity else DOWN
        draw.line([(x, y_of(a)), (x, y_of(b))], fill=colour)
        points.append((x, y_of(c)))
    if len(points) > 1:
        draw.line(points, fill=UP, width=1)
    _drawdown(draw, equity, x0, x1, y_split + 8, y1, font)
    draw.text((x0, 12), title, fill=TEXT, font=font)
    if len(times):
        draw.text((x0, y1 + 12), iso_time(float(times[0])), fill=TEXT, font=font)
        end = iso_time(float(times[-1]))
        draw.text((x1 - 6 * len(end), y1 + 12), end, fill=TEXT, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _columns(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min, max and last value of the bars each of `width` pixel columns covers."""
    n = len(values)
    columns = min(width, n)
    edges = np.linspace(0, n, columns + 1).astype(int)
    starts = edges[:-1]
    lows = np.minimum.reduceat(values, starts)
    highs = np.maximum.reduceat(values, starts)
    lasts = values[edges[1:] - 1]
    if columns < width:  # fewer bars than pixels: stretch by repeating
        pick = (np.arange(width) * columns // width)
        lows, highs, lasts = lows[pick], highs[pick], lasts[pick]
    return lows, highs, lasts


def _drawdown(draw: ImageDraw.ImageDraw, equity: np.ndarray, x0: int, x1: int, top: int,
              bottom: int, font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> None:
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peaks > 0, equity / peaks - 1.0, 0.0)
    lows, _, _ = _columns(dd, x1 - x0)
    deepest = float(min(lows.min(), -1e-9))
    draw.line([(x0, top), (x1, top)], fill=GRID)
    for k, value in enumerate(lows):
        y = top + (bottom - top) * float(value) / deepest
        draw.line([(x0 + k, top), (x0 + k, y)], fill=DD)
    draw.text((5, top - 4), "0%", fill=TEXT, font=font)
    draw.text((5, bottom - 10), f"{deepest * 100:.1f}%", fill=TEXT, font=font)
