"""Which bars to draw and how: the visible slice of the series, grouped when zoomed out.

Pure numpy, no Qt. A view showing more bars than it has room for (`max_groups`, about
one per two pixels) draws each group of `stride` bars as one candle with the group's
open, high, low and close: a 100,000-bar view costs the same as a 800-bar one. Groups
start at multiples of the stride, so panning does not make them shimmer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Window:
    start: int  # first bar drawn (a multiple of stride)
    stop: int  # one past the last bar drawn
    stride: int  # bars per drawn candle

    @property
    def empty(self) -> bool:
        return self.stop <= self.start


def visible_window(x_min: float, x_max: float, n: int, max_groups: int,
                   stride: int | None = None) -> Window:
    """Bars of a series of `n` whose x (= index) falls in [x_min, x_max], one bar of margin;
    grouped by `stride`, or by as few as keep them within `max_groups` groups."""
    if max_groups < 1:
        raise ValueError(f"max_groups must be at least 1, got {max_groups}")
    start = max(0, math.floor(x_min) - 1)
    stop = min(n, math.ceil(x_max) + 2)
    if stop <= start:
        return Window(0, 0, 1)
    if stride is None:
        stride = max(1, math.ceil((stop - start) / max_groups))
    start -= start % stride
    return Window(start, stop, stride)


@dataclass(frozen=True, slots=True)
class Candles:
    """What candle items draw: x centres and OHLCV per drawn candle, and its width."""

    x: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    width: float


def group_candles(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                  v: np.ndarray, w: Window, body: float = 0.7) -> Candles:
    """The window's bars, each group of `w.stride` merged into one candle."""
    sl = slice(w.start, w.stop)
    if w.stride == 1:
        x = np.arange(w.start, w.stop, dtype=float)
        return Candles(x, o[sl], h[sl], low[sl], c[sl], v[sl], body)
    starts = np.arange(0, w.stop - w.start, w.stride)
    ends = np.minimum(starts + w.stride, w.stop - w.start) - 1
    x = w.start + (starts + ends) / 2.0
    return Candles(
        x, o[sl][starts], np.maximum.reduceat(h[sl], starts), np.minimum.reduceat(low[sl], starts),
        c[sl][ends], np.add.reduceat(v[sl], starts), body * w.stride,
    )


def sample_line(values: np.ndarray, w: Window) -> tuple[np.ndarray, np.ndarray]:
    """x and y of a study line over the window: every bar, or each group's last bar."""
    if w.stride == 1:
        return np.arange(w.start, w.stop, dtype=float), values[w.start: w.stop]
    idx = np.arange(w.start + w.stride - 1, w.stop, w.stride)
    if len(idx) == 0 or idx[-1] != w.stop - 1:
        idx = np.append(idx, w.stop - 1)  # always end on the newest bar drawn
    return idx.astype(float), values[idx]
