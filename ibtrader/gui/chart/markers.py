"""Signal markers: a triangle under the bar for a buy, over it for a sell, text on hover."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg

from .theme import MARKER_BUY, MARKER_SELL

SIDES = {"buy": ("t1", MARKER_BUY), "sell": ("t", MARKER_SELL)}  # t1: up, t: down


@dataclass(frozen=True, slots=True)
class Marker:
    time: float  # epoch seconds of the signal
    side: str  # "buy" or "sell"
    text: str


def check_side(side: str) -> str:
    s = side.strip().lower()
    if s in ("bot", "long"):
        s = "buy"
    elif s in ("sld", "short"):
        s = "sell"
    if s not in SIDES:
        raise ValueError(f"marker side must be buy or sell, got {side!r}")
    return s


class MarkerItems:
    """All markers of a chart in one scatter item, placed by bar index."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.markers: list[Marker] = []
        self.scatter = pg.ScatterPlotItem(size=13, pxMode=True, hoverable=True,
                                          tip=lambda x, y, data: data)
        self.scatter.setZValue(30)
        plot.addItem(self.scatter)

    def add(self, marker: Marker) -> None:
        self.markers.append(marker)

    def clear(self) -> None:
        self.markers.clear()
        self.scatter.clear()

    def show(self, index_of: Callable[[float], int | None],
             low_high: Callable[[int], tuple[float, float]]) -> None:
        """Place every marker: `index_of(time)` -> bar index or None, `low_high(i)` ->
        the bar's (low, high) — a buy sits at the low, a sell at the high."""
        spots = []
        for m in self.markers:
            i = index_of(m.time)
            if i is None:
                continue
            low, high = low_high(i)
            symbol, colour = SIDES[m.side]
            y = low if m.side == "buy" else high
            spots.append({"pos": (float(i), float(y)), "symbol": symbol, "data": m.text,
                          "brush": pg.mkBrush(colour), "pen": pg.mkPen(colour)})
        self.scatter.setData(spots) if spots else self.scatter.clear()

    def positions(self) -> np.ndarray:
        """x, y of the drawn markers (rows), for tests and the readout."""
        x, y = self.scatter.getData()
        return np.column_stack([x, y]) if x is not None else np.empty((0, 2))
