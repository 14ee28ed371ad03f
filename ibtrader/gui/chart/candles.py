"""Candle and volume items: history drawn by a few stock pyqtgraph items, the forming bar
by its own.

History: wicks are line pairs (connect='pairs'; one item per colour), bodies two
BarGraphItems (up and down colour). Lines are PlotCurveItems, the part of a PlotDataItem
that draws: the wrapper's per-call bookkeeping costs more than drawing 500 wicks. They
hold only the visible window (see viewport), so setting them costs the same at 100 or
100,000 bars. The forming bar lives in separate small items that a tick
updates alone: `rebuilds` counts history rebuilds, which a tick must never cause.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from ibtrader.core.market import Bar

from .theme import DOWN, UP, VOLUME_ALPHA
from .viewport import Candles

EMPTY = np.empty(0)


def _bars(colour: QColor) -> pg.BarGraphItem:
    # The pen in the body colour keeps a doji (open == close) visible as a line.
    return pg.BarGraphItem(x=EMPTY, height=EMPTY, width=0.7, y0=EMPTY,
                           brush=pg.mkBrush(colour), pen=pg.mkPen(colour, width=1))


def _wicks(colour: QColor | str) -> pg.PlotCurveItem:
    return pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(colour, width=1))


def _split_wicks(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, ...]:
    xs = np.repeat(x, 2)
    ys = np.empty(2 * len(x))
    ys[0::2], ys[1::2] = low, high
    return xs, ys


class CandleItems:
    """The history's visible candles on a price plot."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.up_wicks, self.down_wicks = _wicks(UP), _wicks(DOWN)
        self.up, self.down = _bars(QColor(UP)), _bars(QColor(DOWN))
        for item in (self.up_wicks, self.down_wicks, self.up, self.down):
            plot.addItem(item)
        self.rebuilds = 0

    def show(self, c: Candles) -> None:
        self.rebuilds += 1
        rising = c.close >= c.open
        for is_up, bodies, wicks in ((True, self.up, self.up_wicks),
                                     (False, self.down, self.down_wicks)):
            m = rising if is_up else ~rising
            x, o, cl = c.x[m], c.open[m], c.close[m]
            bottom = np.minimum(o, cl)
            bodies.setOpts(x=x, y0=bottom, height=np.abs(cl - o), width=c.width)
            xs, ys = _split_wicks(x, c.low[m], c.high[m])
            wicks.setData(x=xs, y=ys, connect="pairs")


class VolumeItems:
    """The history's visible volume bars, in the candle colours toned down."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.up, self.down = _bars(QColor(UP)), _bars(QColor(DOWN))
        plot.addItem(self.up)
        plot.addItem(self.down)

    def set_background(self, background: QColor) -> None:
        for item, colour in ((self.up, UP), (self.down, DOWN)):
            # No outline: a fill alone is half the cost, and volume has no doji to show.
            item.setOpts(brush=pg.mkBrush(tint(colour, background)), pen=pg.mkPen(None))

    def show(self, c: Candles) -> None:
        rising = c.close >= c.open
        for m, item in ((rising, self.up), (~rising, self.down)):
            v = c.volume[m]
            item.setOpts(x=c.x[m], y0=np.zeros(len(v)), height=v, width=c.width)


class FormingItems:
    """The forming bar: one candle and one volume bar, updated alone on every tick."""

    def __init__(self, price: pg.PlotItem, volume: pg.PlotItem) -> None:
        self.wick = pg.PlotCurveItem(connect="pairs")
        self.body = _bars(QColor(UP))
        self.volume = _bars(QColor(UP))
        self.background = QColor("black")
        price.addItem(self.wick)
        price.addItem(self.body)
        volume.addItem(self.volume)
        self.updates = 0

    def show(self, x: float, bar: Bar) -> None:
        self.updates += 1
        colour = UP if bar.close >= bar.open else DOWN
        self.wick.setData(x=np.array([x, x]), y=np.array([bar.low, bar.high]),
                          connect="pairs", pen=pg.mkPen(colour, width=1))
        self.body.setOpts(x=[x], y0=[min(bar.open, bar.close)],
                          height=[abs(bar.close - bar.open)], width=0.7,
                          brush=pg.mkBrush(colour), pen=pg.mkPen(colour, width=1))
        self.volume.setOpts(x=[x], y0=[0.0], height=[bar.volume], width=0.7,
                            brush=pg.mkBrush(tint(colour, self.background)),
                            pen=pg.mkPen(tint(colour, self.background)))

    def clear(self) -> None:
        self.wick.setData(x=EMPTY, y=EMPTY)
        for item in (self.body, self.volume):
            item.setOpts(x=EMPTY, y0=EMPTY, height=EMPTY)


def tint(colour: str, background: QColor) -> QColor:
    """`colour` at VOLUME_ALPHA over `background`, as an opaque colour: the same look as a
    transparent brush without blending every pixel on every paint."""
    c, a = QColor(colour), VOLUME_ALPHA / 255
    return QColor(*(round(x * a + y * (1 - a)) for x, y in (
        (c.red(), background.red()), (c.green(), background.green()),
        (c.blue(), background.blue()))))
