"""`ChartWidget`: a symbol's live candle chart — volume, overlays, indicator panels, signal
markers, order and position lines, crosshair readout, bar-size selector, PNG export.

    chart.set_symbol("AAPL", "1 min", history)     # list[Bar], oldest first
    chart.set_indicators(overlays=["sma:20", "bbands:20:2"], panels=["rsi:14"])
    chart.update_forming(bar)                      # the live bar, coalesced by the caller
    chart.add_closed(bar)                          # a bar completed

x is the bar index (gaps closed). Every item holds only the visible window (viewport):
panning and zooming re-slices numpy columns; a forming-bar tick updates its own items only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.bars import DEFAULT_BAR_SIZES, bar_seconds
from ibtrader.core.market import Bar

from .axis import TimeAxis
from .candles import CandleItems, FormingItems, VolumeItems
from .crosshair import Crosshair
from .export import save_png
from .indicator_menu import IndicatorMenu
from .markers import Marker, MarkerItems, check_side
from .plots import add_plot, fit_y
from .price_lines import OrderLine, PriceLines
from .readout import readout
from .series import BarSeries
from .specs import StudySpec, parse_specs
from .studies import Study
from .study_items import FIXED_RANGE, StudyItems
from .theme import STUDY_COLOURS
from .viewport import Window, group_candles, visible_window

DEFAULT_VISIBLE = 120  # bars shown after a symbol loads
RIGHT_MARGIN = 5  # empty bars right of the newest, room for the forming bar
PX_PER_CANDLE = 2  # zoomed out further than this, bars are grouped (see viewport)
MARGIN = 0.25  # share of the visible span drawn beyond each side: small pans re-slice nothing
MAX_RECENT = 64  # bars closed since the last re-slice that the tail items draw at most


class Panel:
    """A sub-panel: its own plot under the price plot, showing one study."""

    def __init__(self, plot: pg.PlotItem, items: StudyItems) -> None:
        self.plot, self.items = plot, items


class ChartWidget(QWidget):
    """The chart; the main window drives it through the small API above."""

    bar_size_changed = Signal(str)
    symbol_loaded = Signal(str, str)  # symbol, bar size: history shown, markers cleared

    def __init__(self, parent: QWidget | None = None, *,
                 bar_sizes: Sequence[str] = DEFAULT_BAR_SIZES,
                 tz: dt.tzinfo | None = None) -> None:
        super().__init__(parent)
        for size in bar_sizes:
            bar_seconds(size)  # an unknown size fails here, by name
        self.symbol = ""
        self.bar_size = bar_sizes[0]
        self.tz = tz
        self.series = BarSeries()
        self.forming: Bar | None = None
        self._forming_rows: list[tuple[float, ...] | None] = []
        self._overlay_specs: list[StudySpec] = []
        self._panel_specs: list[StudySpec] = []
        self.overlays: list[StudyItems] = []
        self.panels: list[Panel] = []
        self.window = Window(0, 0, 1)
        self._quiet = False  # set while the widget moves the view itself

        self.symbol_label = QLabel(self)
        self.bar_sizes = QComboBox(self)
        self.bar_sizes.addItems(list(bar_sizes))
        self.bar_sizes.setToolTip("Bar size")
        self.bar_sizes.currentTextChanged.connect(self._bar_size_picked)
        self.readout = QLabel(self)
        self.readout.setObjectName("chartReadout")
        # A long readout must not squeeze the symbol and the selector.
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 2)
        top.addWidget(self.symbol_label)
        top.addWidget(self.bar_sizes)
        self.indicator_menu = IndicatorMenu(self.set_indicators, self)
        top.addWidget(self.indicator_menu)
        top.addWidget(self.readout, 1)

        self.view = pg.GraphicsLayoutWidget(self)
        self.view.ci.setSpacing(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

        self.price = self._add_plot(0)
        self.volume = self._add_plot(1)
        self.view.ci.layout.setRowStretchFactor(0, 6)
        self.view.ci.layout.setRowStretchFactor(1, 1)
        self.candles = CandleItems(self.price)
        self.volume_items = VolumeItems(self.volume)
        self.recent_candles = CandleItems(self.price)  # closed since the window was sliced
        self.recent_volume = VolumeItems(self.volume)
        self.forming_items = FormingItems(self.price, self.volume)
        self.markers = MarkerItems(self.price)
        self.lines = PriceLines(self.price)
        self.crosshair = Crosshair(self.view.scene(), self.price, self._plots, self._show_readout)
        self.price.vb.sigXRangeChanged.connect(self._range_moved)
        self._layout_axes()
        self._apply_palette()

    # --- the API ------------------------------------------------------------------------

    def set_symbol(self, symbol: str, bar_size: str, bars: Sequence[Bar]) -> None:
        """Show `bars` (closed, oldest first) of `symbol`; markers and lines are cleared."""
        seconds = bar_seconds(bar_size)
        series = BarSeries(bars)  # checks the order before anything changes
        self.symbol, self.bar_size, self.series = symbol, bar_size, series
        self.symbol_label.setText(symbol)
        self._select_bar_size(bar_size)
        for axis in self._axes():
            axis.bar_seconds = seconds
            axis.tz = self.tz
        self._clear_forming()
        self.markers.clear()
        self.lines.set_orders([])
        self.lines.set_position(None, None)
        self._rebuild_studies()
        self._update_limits()
        n = len(series)
        self._move_view(n - DEFAULT_VISIBLE, n + RIGHT_MARGIN)
        self.symbol_loaded.emit(symbol, bar_size)

    def set_indicators(self, overlays: Sequence[str] = (),
                       panels: Sequence[str] = ()) -> None:
        """Overlays on the price ("sma:20", "ema:50", "bbands:20:2", "supertrend:10:3") and
        panels below it ("rsi:14", "macd:12:26:9"); a bad spec raises, changing nothing."""
        over = parse_specs(list(overlays), overlay=True)
        under = parse_specs(list(panels), overlay=False)
        self._overlay_specs, self._panel_specs = over, under
        self._rebuild_studies()
        self._render()

    def update_forming(self, bar: Bar) -> None:
        """The bar still forming after the last closed one; only its own items change."""
        n = len(self.series)
        if n and bar.time <= self.series.time[-1]:
            return  # a late tick of a bar already closed
        if self.forming is not None and bar.time < self.forming.time:
            return  # older than what is shown
        self.forming = bar
        self.forming_items.show(float(n), bar)
        start = self._tail_start()
        self._forming_rows = []
        for items in self._all_study_items():
            row = items.study.preview(bar)
            self._forming_rows.append(row)
            items.show_tail(start, row)
        if self.window.stop >= n:
            self._fit_forming(bar)
        if self.crosshair.index is None or self.crosshair.index == n:
            self._show_readout(self.crosshair.index)

    def add_closed(self, bar: Bar) -> None:
        """A completed bar: appended to the history (it must be newer than the last).

        While the view follows the newest bar, the bars closed since the last full redraw
        are drawn by small tail items and the view just shifts: the history window is
        re-sliced only when the view leaves what is drawn (see `_covered`). The view
        scrolls RIGHT_MARGIN bars when the forming bar would leave it."""
        x_min, x_max = self.price.vb.viewRange()[0]
        following = x_max >= len(self.series) - 1
        self.series.append(bar)
        for items in self._all_study_items():
            items.study.add_closed(bar)
        if self.forming is not None and self.forming.time <= bar.time:
            self.forming = None
            self._forming_rows = []
            self.forming_items.clear()
        self._update_limits()
        n = len(self.series)
        if following and x_max < n + 0.5:  # keep the forming bar in view: scroll a few bars
            # at once (RIGHT_MARGIN), so most closed bars redraw nothing but themselves
            self._set_x_quietly(x_min + RIGHT_MARGIN, x_max + RIGHT_MARGIN)
        if not self._covered():
            self._render()
            return
        self._show_tail()
        if self.forming is not None:
            self.update_forming(self.forming)  # it moved one bar to the right
        self._fit_visible_y()
        if self.markers.markers:
            self._show_markers()
        if self.crosshair.index is None:
            self._show_readout(None)

    def add_signal_marker(self, time: float, side: str, text: str = "") -> None:
        """A buy (under the bar) or sell (over it) marker at the bar holding `time`."""
        if not math.isfinite(time):
            raise ValueError(f"marker time must be epoch seconds, got {time!r}")
        self.markers.add(Marker(float(time), check_side(side), text))
        self._show_markers()

    def set_order_lines(self, lines: Sequence[OrderLine]) -> None:
        """Replace the working-order lines: (price, label, kind) with kind buy, sell,
        stop, target or alert."""
        self.lines.set_orders(lines)

    def set_position_line(self, avg_price: float | None, stop: float | None = None) -> None:
        """The position's average price and its stop (None hides either)."""
        self.lines.set_position(avg_price, stop)

    def export_png(self, path: str | Path) -> Path:
        """The chart as it looks now, as a PNG file; returns the path."""
        return save_png(self, Path(path))

    def readout_text(self, index: int) -> str:
        """What the readout says for bar `index` (len(series) is the forming bar)."""
        n = len(self.series)
        if 0 <= index < n:
            bar = self.series.bar(index)
            rows: list[tuple[float, ...] | None] = [
                items.study.row(index) for items in self._all_study_items()]
        elif index == n and self.forming is not None:
            bar, rows = self.forming, list(self._forming_rows)
        else:
            return ""
        studies = [(items, row, items in self.overlays)
                   for items, row in zip(self._all_study_items(), rows, strict=False)]
        return readout(bar, bar_seconds(self.bar_size), self.tz, studies)

    # --- drawing ------------------------------------------------------------------------

    def _render(self) -> None:
        """Re-slice the history window: the visible bars plus MARGIN on each side, so
        that small pans and live bars need no re-slicing (never the whole series)."""
        n = len(self.series)
        x_min, x_max = self.price.vb.viewRange()[0]
        stride = self._stride(x_min, x_max)
        margin = (x_max - x_min) * MARGIN
        w = self.window = visible_window(x_min - margin, x_max + margin, n, 1, stride)
        s = self.series
        c = group_candles(s.open, s.high, s.low, s.close, s.volume, w)
        self.candles.show(c)
        self.volume_items.show(c)
        for items in self._all_study_items():
            items.show(w)
        self._show_tail()
        if self.forming is not None:
            self.update_forming(self.forming)
        self._fit_visible_y()
        self._show_markers()
        if self.crosshair.index is None:
            self._show_readout(None)

    def _stride(self, x_min: float, x_max: float) -> int:
        """Bars per drawn candle for this view: about one candle per PX_PER_CANDLE pixels."""
        width = self.price.vb.width()
        groups = max(50, int(width / PX_PER_CANDLE)) if width > 0 else 800
        return visible_window(x_min, x_max, len(self.series), groups).stride

    def _tail_start(self) -> int | None:
        """First bar drawn by the tail items (closed after the window), None: no tail."""
        n, w = len(self.series), self.window
        if w.stride != 1 and w.stop < n:
            return None
        return w.stop if n - w.stop <= MAX_RECENT else None

    def _covered(self) -> bool:
        """Whether the window and the tail still draw every visible bar, grouped right."""
        n, w = len(self.series), self.window
        x_min, x_max = self.price.vb.viewRange()[0]
        if self._stride(x_min, x_max) != w.stride:
            return False
        first, last = max(0, math.floor(x_min) - 1), min(n, math.ceil(x_max) + 2)
        drawn_to = n if self._tail_start() is not None else w.stop
        return (first >= w.start or w.start == 0) and last <= drawn_to

    def _show_tail(self) -> None:
        start = self._tail_start()
        n = len(self.series)
        s = self.series
        recent = Window(start, n, 1) if start is not None else Window(0, 0, 1)
        c = group_candles(s.open, s.high, s.low, s.close, s.volume, recent)
        self.recent_candles.show(c)
        self.recent_volume.show(c)
        rows = self._forming_rows or [None] * len(self._all_study_items())
        for items, row in zip(self._all_study_items(), rows, strict=True):
            items.show_tail(start, row)

    def _fit_visible_y(self) -> None:
        """Fit every plot's y range to the visible bars (kept when it fits already)."""
        n = len(self.series)
        x_min, x_max = self.price.vb.viewRange()[0]
        i0, i1 = max(0, math.floor(x_min)), min(n, math.ceil(x_max) + 1)
        s = self.series
        lo, hi, vmax = math.inf, -math.inf, 0.0
        if i1 > i0:
            lo, hi = float(s.low[i0:i1].min()), float(s.high[i0:i1].max())
            vmax = float(s.volume[i0:i1].max())
        for items in self.overlays:
            r = items.extent(i0, i1)
            if r is not None:
                lo, hi = min(lo, r[0]), max(hi, r[1])
        if self.forming is not None and x_max >= n - 0.5:
            lo, hi = min(lo, self.forming.low), max(hi, self.forming.high)
            vmax = max(vmax, self.forming.volume)
        if lo <= hi:
            fit_y(self.price, lo, hi, 0.05)
        fit_y(self.volume, 0.0, vmax if vmax > 0 else 1.0, 0.1, floor=0.0)
        for panel in self.panels:
            fixed = FIXED_RANGE.get(panel.items.study.spec.name)
            r = fixed or panel.items.extent(i0, i1)
            if r is not None:
                fit_y(panel.plot, r[0], r[1], 0.02 if fixed else 0.08)

    def _fit_forming(self, bar: Bar) -> None:
        """Widen the y ranges when the forming bar leaves them (no history redraw)."""
        (y0, y1) = self.price.vb.viewRange()[1]
        if bar.low < y0 or bar.high > y1:
            pad = (max(y1, bar.high) - min(y0, bar.low)) * 0.05
            self.price.vb.setYRange(min(y0, bar.low - pad), max(y1, bar.high + pad), padding=0)
        if bar.volume > self.volume.vb.viewRange()[1][1]:
            self.volume.vb.setYRange(0, bar.volume * 1.1, padding=0)

    def _show_markers(self) -> None:
        n = len(self.series)

        def index_of(t: float) -> int | None:
            i = self.series.index_at(t)
            if i < 0:
                return None
            if self.forming is not None and t >= self.forming.time:
                return n
            return i

        def low_high(i: int) -> tuple[float, float]:
            if i == n and self.forming is not None:
                return self.forming.low, self.forming.high
            return float(self.series.low[i]), float(self.series.high[i])

        self.markers.show(index_of, low_high)

    def _show_readout(self, index: int | None) -> None:
        if index is None:  # no crosshair: the newest bar
            index = len(self.series) if self.forming is not None else len(self.series) - 1
        self.readout.setText(self.readout_text(index))

    def _clear_forming(self) -> None:
        self.forming = None
        self._forming_rows = []
        self.forming_items.clear()
        self._show_tail()

    # --- plumbing -----------------------------------------------------------------------

    def _add_plot(self, row: int) -> pg.PlotItem:
        return add_plot(self.view, row, self._time_of, self.price if row else None)

    def _plots(self) -> list[pg.PlotItem]:
        return [self.price, self.volume, *(p.plot for p in self.panels)]

    def _axes(self) -> list[TimeAxis]:
        return [p.getAxis("bottom") for p in self._plots()]

    def _layout_axes(self) -> None:
        plots = self._plots()
        for plot in plots:
            plot.showAxis("bottom", plot is plots[-1])

    def _all_study_items(self) -> list[StudyItems]:
        return [*self.overlays, *(p.items for p in self.panels)]

    def _time_of(self, i: int) -> float | None:
        n = len(self.series)
        if 0 <= i < n:
            return float(self.series.time[i])
        if i == n and self.forming is not None:
            return self.forming.time
        return None

    def _rebuild_studies(self) -> None:
        for items in self.overlays:
            items.remove()
        for panel in self.panels:
            self.crosshair.forget(panel.plot)
            self.view.removeItem(panel.plot)
        self.overlays, self.panels = [], []
        for i, spec in enumerate(self._overlay_specs):
            colour = STUDY_COLOURS[i % len(STUDY_COLOURS)]
            self.overlays.append(StudyItems(self.price, Study(spec, self.series), colour))
        for i, spec in enumerate(self._panel_specs):
            plot = self._add_plot(2 + i)
            self.view.ci.layout.setRowStretchFactor(2 + i, 2)
            colour = STUDY_COLOURS[(i + 1) % len(STUDY_COLOURS)]
            self.panels.append(Panel(plot, StudyItems(plot, Study(spec, self.series), colour)))
        self._layout_axes()
        for axis in self._axes():
            axis.bar_seconds = bar_seconds(self.bar_size)
            axis.tz = self.tz
        self._apply_palette()
        if self.forming is not None:
            self.update_forming(self.forming)

    def _update_limits(self) -> None:
        n = len(self.series)
        self.price.vb.setLimits(xMin=-RIGHT_MARGIN, xMax=n + 4 * RIGHT_MARGIN,
                                minXRange=10, maxXRange=max(n + 5 * RIGHT_MARGIN, 20))

    def _set_x_quietly(self, x_min: float, x_max: float) -> None:
        self._quiet = True
        try:
            self.price.vb.setXRange(x_min, x_max, padding=0)
        finally:
            self._quiet = False

    def _move_view(self, x_min: float, x_max: float) -> None:
        self._set_x_quietly(x_min, x_max)
        self._render()

    def _range_moved(self, *_: object) -> None:
        """A pan or zoom: re-slice only when the view leaves what is drawn."""
        if self._quiet:
            return
        if self._covered():
            self._fit_visible_y()
        else:
            self._render()

    def _select_bar_size(self, bar_size: str) -> None:
        if self.bar_sizes.findText(bar_size) < 0:
            self.bar_sizes.addItem(bar_size)
        self.bar_sizes.blockSignals(True)
        self.bar_sizes.setCurrentText(bar_size)
        self.bar_sizes.blockSignals(False)

    def _bar_size_picked(self, bar_size: str) -> None:
        if bar_size and bar_size != self.bar_size:
            self.bar_size_changed.emit(bar_size)

    def _apply_palette(self) -> None:
        pal = self.palette()
        background = pal.color(QPalette.ColorRole.Base)
        self.view.setBackground(background)
        for volume in (self.volume_items, self.recent_volume):
            volume.set_background(background)
        self.forming_items.background = background
        text = pal.color(QPalette.ColorRole.Text)
        for plot in self._plots():
            for name in ("bottom", "right"):
                axis = plot.getAxis(name)
                axis.setPen(text)
                axis.setTextPen(text)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)
