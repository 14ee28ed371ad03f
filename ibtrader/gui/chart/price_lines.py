"""Horizontal price lines: working orders, the position's average price and its stop."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pyqtgraph as pg

from .study_items import pen
from .theme import LINE_KINDS

OrderLine = tuple[float, str, str]  # (price, label, kind); kind is a key of LINE_KINDS


def _check_price(price: float, what: str) -> float:
    p = float(price)
    if not math.isfinite(p) or p <= 0:
        raise ValueError(f"{what}: price must be a finite number above 0, got {price!r}")
    return p


def make_line(price: float, label: str, kind: str) -> pg.InfiniteLine:
    if kind not in LINE_KINDS:
        raise ValueError(f"line {label!r}: unknown kind {kind!r}; use one of "
                         f"{', '.join(LINE_KINDS)}")
    colour, style = LINE_KINDS[kind]
    line = pg.InfiniteLine(
        pos=_check_price(price, f"line {label!r}"), angle=0, movable=False,
        pen=pen(colour, style, 1), label=label,
        labelOpts={"position": 0.02, "color": colour, "anchors": [(0, 1), (0, 1)]},
    )
    line.setZValue(20)
    return line


class PriceLines:
    """The order lines and the position lines of one price plot."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.orders: list[pg.InfiniteLine] = []
        self.position: list[pg.InfiniteLine] = []

    def set_orders(self, lines: Iterable[OrderLine]) -> None:
        # Build every line first: a bad one raises before the old lines are touched.
        new = [make_line(price, label, kind) for price, label, kind in lines]
        self._replace(self.orders, new)

    def set_position(self, avg_price: float | None, stop: float | None) -> None:
        new = []
        if avg_price is not None:
            new.append(make_line(avg_price, f"Avg {avg_price:g}", "position"))
        if stop is not None:
            new.append(make_line(stop, f"Stop {stop:g}", "stop"))
        self._replace(self.position, new)

    def _replace(self, old: list[pg.InfiniteLine], new: list[pg.InfiniteLine]) -> None:
        for line in old:
            self.plot.removeItem(line)
        old[:] = new
        for line in new:
            self.plot.addItem(line)
