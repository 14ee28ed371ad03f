"""`Crosshair`: a vertical line through every plot at the bar under the mouse, a horizontal
one at the price, and a callback with the bar index (the widget writes the readout)."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF

from .study_items import pen
from .theme import CROSSHAIR

MOUSE_RATE = 60  # readout updates per second at most, however fast the mouse moves


class Crosshair:
    def __init__(self, scene: pg.GraphicsScene, price: pg.PlotItem,
                 plots: Callable[[], list[pg.PlotItem]],
                 moved: Callable[[int | None], None]) -> None:
        self._price, self._plots, self._moved = price, plots, moved
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen(CROSSHAIR, "dash", 1))
        self.hline.setZValue(40)
        price.addItem(self.hline, ignoreBounds=True)
        self.vlines: dict[int, pg.InfiniteLine] = {}
        self.index: int | None = None
        self._proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=MOUSE_RATE,
                                     slot=lambda args: self.move_to_scene(args[0]))
        self.hide()

    def _vline(self, plot: pg.PlotItem) -> pg.InfiniteLine:
        line = self.vlines.get(id(plot))
        if line is None:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen(CROSSHAIR, "dash", 1))
            line.setZValue(40)
            plot.addItem(line, ignoreBounds=True)
            self.vlines[id(plot)] = line
        return line

    def forget(self, plot: pg.PlotItem) -> None:
        line = self.vlines.pop(id(plot), None)
        if line is not None:
            plot.removeItem(line)

    def move_to_scene(self, pos: QPointF) -> None:
        """Follow a scene position (what the mouse sends); off every plot hides it."""
        for plot in self._plots():
            if plot.sceneBoundingRect().contains(pos):
                point = plot.vb.mapSceneToView(pos)
                self.show_at(round(point.x()), point.y() if plot is self._price else None)
                return
        self.hide()

    def show_at(self, index: int, price: float | None = None) -> None:
        self.index = index
        for plot in self._plots():
            line = self._vline(plot)
            line.setPos(index)
            line.show()
        self.hline.setVisible(price is not None)
        if price is not None:
            self.hline.setPos(price)
        self._moved(index)

    def hide(self) -> None:
        self.index = None
        self.hline.hide()
        for line in self.vlines.values():
            line.hide()
        self._moved(None)
