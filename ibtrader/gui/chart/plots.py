"""The chart's plots: how each is set up, and how its y range follows the data."""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg

from .axis import TimeAxis

# A y range is kept while the data fits inside it and fills at least this share of it:
# re-ranging on every new bar would relabel the price axis each time, which costs more
# than drawing the candles.
Y_FILL_KEEP = 0.8


def add_plot(view: pg.GraphicsLayoutWidget, row: int, time_of: Callable[[int], float | None],
             link: pg.PlotItem | None = None) -> pg.PlotItem:
    """A plot in `row`: prices on the right, bar times below, x panned and zoomed by the
    mouse (y follows the data), x linked to `link`."""
    plot = view.addPlot(row=row, col=0, axisItems={"bottom": TimeAxis(time_of)})
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showAxis("right")
    plot.hideAxis("left")
    plot.getAxis("right").setWidth(70)  # equal widths keep the panels' x aligned
    for name in ("bottom", "right"):  # prices and times are never SI-scaled; and the
        plot.getAxis(name).enableAutoSIPrefix(False)  # check re-sets a label per move
    # Edge labels must not widen one plot's margins and so misalign the panels' x.
    plot.getAxis("bottom").setStyle(autoExpandTextSpace=False, hideOverlappingLabels=True)
    plot.vb.setMouseEnabled(x=True, y=False)
    plot.vb.disableAutoRange()
    if link is not None:
        plot.setXLink(link)
    return plot


def fit_y(plot: pg.PlotItem, lo: float, hi: float, pad: float,
          floor: float | None = None) -> None:
    """Fit the y range to [lo, hi] plus `pad` (a share of the span) unless it fits already."""
    y0, y1 = plot.vb.viewRange()[1]
    span = hi - lo
    if lo >= y0 and hi <= y1 and span >= Y_FILL_KEEP * (y1 - y0) * (1 - 2 * pad):
        return
    margin = span * pad or abs(hi) * 0.01 or 1.0
    bottom = lo - margin if floor is None else max(floor, lo - margin)
    plot.vb.setYRange(bottom, hi + margin, padding=0)
