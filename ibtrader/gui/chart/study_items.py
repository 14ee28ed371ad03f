"""`StudyItems`: one study's lines (and MACD's histogram) on a plot.

Like the candles, the history part holds only the visible window, and the forming bar's
value is a separate short segment from the last closed value to the preview, so a tick
never rebuilds the history lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from .studies import Study
from .theme import GUIDE, SIGNAL_LINE, STUDY_WIDTH, TREND_DOWN, TREND_UP
from .viewport import Window, sample_line

EMPTY = np.empty(0)
_STYLES = {"solid": Qt.PenStyle.SolidLine, "dash": Qt.PenStyle.DashLine,
           "dot": Qt.PenStyle.DotLine}


def pen(colour: str, style: str = "solid", width: float = STUDY_WIDTH) -> object:
    return pg.mkPen(colour, width=width, style=_STYLES[style])


@dataclass(frozen=True, slots=True)
class Trace:
    """How one field is drawn: a line, or bars (MACD histogram)."""

    field: str
    colour: str
    style: str = "solid"
    bars: bool = False


def traces_for(name: str, fields: tuple[str, ...], colour: str) -> list[Trace]:
    if name == "bbands":
        return [Trace("upper", colour), Trace("mid", colour, "dash"), Trace("lower", colour)]
    if name == "macd":
        return [Trace("hist", colour, bars=True), Trace("macd", colour),
                Trace("signal", SIGNAL_LINE)]
    if name == "stoch":
        return [Trace("k", colour), Trace("d", SIGNAL_LINE)]
    if name == "supertrend":
        return [Trace("value", TREND_UP), Trace("value", TREND_DOWN)]  # split by direction
    return [Trace(f, colour) for f in fields]


GUIDES: dict[str, tuple[float, ...]] = {"rsi": (30.0, 70.0), "macd": (0.0,), "stoch": (20.0, 80.0)}
FIXED_RANGE: dict[str, tuple[float, float]] = {"rsi": (0.0, 100.0), "stoch": (0.0, 100.0)}


class StudyItems:
    """The items drawing `study` on `plot`."""

    def __init__(self, plot: pg.PlotItem, study: Study, colour: str) -> None:
        self.plot, self.study, self.colour = plot, study, colour
        self.traces = traces_for(study.spec.name, study.fields, colour)
        self.items: list[pg.GraphicsObject] = []
        self.tails: list[pg.GraphicsObject] = []
        for i, tr in enumerate(self.traces):
            pair = [self._make(tr) for _ in range(2)]  # the history window's, the tail's
            for item in pair:
                item.setZValue(5 + i)
                plot.addItem(item)
            self.items.append(pair[0])
            self.tails.append(pair[1])
        self.guides = [pg.InfiniteLine(pos=g, angle=0, pen=pen(GUIDE, "dot", 1))
                       for g in GUIDES.get(study.spec.name, ())]
        for g in self.guides:
            plot.addItem(g)

    def _make(self, tr: Trace) -> pg.GraphicsObject:
        if tr.bars:
            return pg.BarGraphItem(x=EMPTY, height=EMPTY, width=0.7, y0=EMPTY,
                                   brush=pg.mkBrush(tr.colour), pen=pg.mkPen(tr.colour))
        return pg.PlotCurveItem(pen=pen(tr.colour, tr.style), connect="finite")

    def _values(self, i: int, start: int, stop: int) -> np.ndarray:
        """Trace i's values of bars [start, stop); SuperTrend's split by direction."""
        values = self.study.column(self.traces[i].field)[start:stop]
        if self.study.spec.name == "supertrend":
            direction = self.study.column("direction")[start:stop]
            values = np.where(direction > 0 if i == 0 else direction < 0, values, np.nan)
        return values

    def extent(self, start: int, stop: int) -> tuple[float, float] | None:
        """(min, max) of the drawn fields over bars [start, stop), None if all NaN."""
        lo, hi = np.inf, -np.inf
        for field in dict.fromkeys(tr.field for tr in self.traces):
            v = self.study.column(field)[start:stop]
            if len(v) and not np.all(np.isnan(v)):
                lo, hi = min(lo, float(np.nanmin(v))), max(hi, float(np.nanmax(v)))
        return (lo, hi) if lo <= hi else None

    def show(self, w: Window) -> None:
        """Draw the history window (grouped as the candles are)."""
        for i, (tr, item) in enumerate(zip(self.traces, self.items, strict=True)):
            if w.empty:
                x, y = EMPTY, EMPTY
            else:
                x, y = sample_line(self._values(i, 0, w.stop), w)
            _set(item, tr, x, y, 0.7 * w.stride)

    def show_tail(self, start: int | None, row: tuple[float, ...] | None) -> None:
        """Bars from `start` (the first closed since the last window) to the newest, joined
        to the window's last value, and the forming bar's preview `row` if there is one;
        None hides the tail."""
        if start is None:
            for tr, tail in zip(self.traces, self.tails, strict=True):
                _set(tail, tr, EMPTY, EMPTY, 0.7)
            return
        n = len(self.study)
        first = max(0, start - 1)
        for i, (tr, tail) in enumerate(zip(self.traces, self.tails, strict=True)):
            y = self._values(i, first, n)
            if row is not None:
                now = row[self.study.fields.index(tr.field)]
                if self.study.spec.name == "supertrend":
                    up = row[self.study.fields.index("direction")] > 0
                    now = now if up == (i == 0) else np.nan
                y = np.append(y, now)
            if tr.bars:  # bars of the window are drawn already
                x = np.arange(start, start + len(y) - (start - first), dtype=float)
                y = y[start - first:]
            else:
                x = np.arange(first, first + len(y), dtype=float)
            if len(y) < (1 if tr.bars else 2):
                x, y = EMPTY, EMPTY
            _set(tail, tr, x, y, 0.7)

    def value_text(self, row: tuple[float, ...], fmt: str) -> str:
        """The readout's part for one bar: "SMA 20 101.23" or "MACD 12,26,9 0.12 0.10"."""
        fields = [f for f in dict.fromkeys(t.field for t in self.traces)]
        vals = [row[self.study.fields.index(f)] for f in fields]
        shown = " ".join("–" if np.isnan(v) else format(v, fmt) for v in vals)
        return f"{self.study.spec.label} {shown}"

    def remove(self) -> None:
        for item in [*self.items, *self.tails, *self.guides]:
            self.plot.removeItem(item)


def _set(item: pg.GraphicsObject, tr: Trace, x: np.ndarray, y: np.ndarray,
         width: float) -> None:
    if tr.bars:
        item.setOpts(x=x, y0=np.zeros(len(y)), height=np.nan_to_num(y), width=width)
    else:
        item.setData(x=np.asarray(x, dtype=float), y=np.asarray(y, dtype=float),
                     connect="finite")
