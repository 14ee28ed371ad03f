"""Chart benchmarks for `ibtrader bench gui`: first render of a long history and the redraw
after a live bar, measured on a real ChartWidget at 1600x900 (offscreen without a display).

- first render: `set_symbol` with 100,000 `Bar`s (conversion to numpy, items, y-fit) up to
  the painted widget; also with SMA 20 and with the whole history zoomed out in view;
- live redraw: with 500 bars visible and the view following the newest bar, `add_closed`
  or `update_forming`, each followed by a paint of the WHOLE chart (a worst case: in the
  app Qt repaints only the changed regions); wall and thread-CPU medians;
- pan and zoom steps with the 100,000 bars loaded, painted.

Goals (issue 5): first render <= 100 ms, redraw <= 5 ms. Run: python -m
ibtrader.benchmarks.gui_chart (or `run_chart_bench()`; numbers in `.as_dict()`).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np

from ibtrader.core.market import Bar

WIDTH, HEIGHT = 1600, 900
FIRST_RENDER_GOAL_MS = 100.0
REDRAW_GOAL_MS = 5.0


@dataclass
class ChartBench:
    bars: int
    first_render_ms: float  # best of `repeat`
    first_render_sma_ms: float  # the same with an SMA 20 overlay
    zoomed_out_render_ms: float  # every bar in view (grouped), one repaint
    visible: int
    redraw_closed_ms: float  # median over `updates`
    redraw_closed_p95_ms: float
    redraw_forming_ms: float  # median
    redraw_forming_p95_ms: float
    redraw_closed_cpu_ms: float  # median CPU time of this thread: steadier on a busy machine
    redraw_forming_cpu_ms: float
    pan_step_ms: float  # median of a 10-bar pan of 500 visible bars, painted
    zoom_step_ms: float  # median of a 10% zoom step, from 500 bars out to all, painted

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def lines(self) -> list[str]:
        ok = {True: "ok", False: "OVER GOAL"}
        return [
            f"chart first render, {self.bars:,} bars: {self.first_render_ms:.1f} ms "
            f"(goal {FIRST_RENDER_GOAL_MS:.0f}: {ok[self.first_render_ms <= FIRST_RENDER_GOAL_MS]})"
            f"; with SMA 20 {self.first_render_sma_ms:.1f} ms; "
            f"all bars in view {self.zoomed_out_render_ms:.1f} ms",
            f"chart redraw, {self.visible} visible: closed bar {self.redraw_closed_ms:.2f} ms "
            f"(p95 {self.redraw_closed_p95_ms:.2f}; goal {REDRAW_GOAL_MS:.0f}: "
            f"{ok[self.redraw_closed_ms <= REDRAW_GOAL_MS]}), forming tick "
            f"{self.redraw_forming_ms:.2f} ms (p95 {self.redraw_forming_p95_ms:.2f}); "
            f"CPU time: closed {self.redraw_closed_cpu_ms:.2f} ms, "
            f"forming {self.redraw_forming_cpu_ms:.2f} ms",
            f"chart pan step {self.pan_step_ms:.2f} ms, zoom step {self.zoom_step_ms:.2f} ms "
            f"(median, painted, {self.bars:,} bars loaded)",
        ]


def random_walk_bars(n: int, seed: int = 7, step: float = 60.0) -> list[Bar]:
    """`n` one-minute bars of a random walk (the input, not a result: any history will do)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.random(n) * 0.001)
    low = np.minimum(open_, close) * (1 - rng.random(n) * 0.001)
    volume = rng.integers(100, 5_000, n).astype(float)
    t0 = 1_767_225_600.0
    return [Bar(t0 + i * step, o, h, lo, c, v) for i, (o, h, lo, c, v)
            in enumerate(zip(open_.tolist(), high.tolist(), low.tolist(), close.tolist(),
                             volume.tolist(), strict=True))]


def _app() -> object:
    """The running QApplication, or a new one (offscreen when there is no display)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _chart() -> object:
    from ibtrader.gui.chart import ChartWidget

    app = _app()
    chart = ChartWidget()
    chart.resize(WIDTH, HEIGHT)
    chart.show()
    app.processEvents()  # type: ignore[attr-defined]
    return chart


def _paint(chart: object) -> None:
    """Paint now: the widget and the plots' viewport (a QGraphicsView paints its viewport
    on its own; `repaint()` on the parent does not reach it)."""
    chart.repaint()  # type: ignore[attr-defined]
    chart.view.viewport().repaint()  # type: ignore[attr-defined]


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def bench_first_render(bars: list[Bar], overlays: tuple[str, ...] = (),
                       repeat: int = 3) -> tuple[float, float]:
    """Best ms from `set_symbol` to painted; and ms of a repaint with every bar in view."""
    best, zoomed = float("inf"), 0.0
    for _ in range(repeat):
        chart = _chart()
        if overlays:
            chart.set_indicators(overlays=list(overlays))  # type: ignore[attr-defined]
        started = time.perf_counter()
        chart.set_symbol("BENCH", "1 min", bars)  # type: ignore[attr-defined]
        _paint(chart)
        best = min(best, _ms(started))
        started = time.perf_counter()
        chart.price.vb.setXRange(0, len(bars), padding=0)  # type: ignore[attr-defined]
        _paint(chart)
        zoomed = _ms(started)
        chart.close()  # type: ignore[attr-defined]
        chart.deleteLater()  # type: ignore[attr-defined]
    return best, zoomed


class _Samples:
    """Wall and thread-CPU milliseconds of repeated timed blocks."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._t = self._c = 0.0

    def start(self) -> None:
        self._t, self._c = time.perf_counter(), time.thread_time()

    def stop(self) -> None:
        self.cpu.append((time.thread_time() - self._c) * 1000)
        self.wall.append(_ms(self._t))


def bench_live_redraw(history: list[Bar], visible: int = 500,
                      updates: int = 200) -> tuple[_Samples, _Samples]:
    """Samples per closed bar and per forming tick, each with a repaint of the whole chart
    (the worst case: Qt itself repaints only what changed), `visible` bars in view and the
    view following the newest bar, as a live chart does."""
    chart = _chart()
    chart.set_symbol("BENCH", "1 min", history)  # type: ignore[attr-defined]
    chart.set_indicators(overlays=["sma:20"])  # type: ignore[attr-defined]
    n = len(history)
    chart.price.vb.setXRange(n - visible, n + 5, padding=0)  # type: ignore[attr-defined]
    _paint(chart)
    rng = np.random.default_rng(3)
    last, closed, forming = history[-1], _Samples(), _Samples()
    for k in range(1, updates + 1):
        t, price = last.time + 60 * k, last.close
        for _ in range(3):  # a few ticks per bar
            price *= 1 + rng.normal(0, 0.0005)
            bar = Bar(t, last.close, max(last.close, price) * 1.0002,
                      min(last.close, price) * 0.9998, price, 100.0 * k)
            forming.start()
            chart.update_forming(bar)  # type: ignore[attr-defined]
            _paint(chart)
            forming.stop()
        closed.start()
        chart.add_closed(bar)  # type: ignore[attr-defined]
        _paint(chart)
        closed.stop()
        last = bar
    chart.close()  # type: ignore[attr-defined]
    chart.deleteLater()  # type: ignore[attr-defined]
    return closed, forming


def bench_pan_zoom(history: list[Bar], visible: int = 500,
                   steps: int = 100) -> tuple[list[float], list[float]]:
    """ms per pan step (10 bars back) and per zoom-out step (10% wider, up to everything),
    each painted: what dragging and wheeling cost with the whole history loaded."""
    chart = _chart()
    chart.set_symbol("BENCH", "1 min", history)  # type: ignore[attr-defined]
    vb = chart.price.vb  # type: ignore[attr-defined]
    n = len(history)
    vb.setXRange(n - visible, n, padding=0)
    _paint(chart)
    pans, zooms = [], []
    for k in range(1, steps + 1):
        started = time.perf_counter()
        vb.setXRange(n - visible - 10 * k, n - 10 * k, padding=0)
        _paint(chart)
        pans.append(_ms(started))
    span = float(visible)
    while span < n:
        span = min(n, span * 1.1)
        started = time.perf_counter()
        vb.setXRange(n - span, n, padding=0)
        _paint(chart)
        zooms.append(_ms(started))
    chart.close()  # type: ignore[attr-defined]
    chart.deleteLater()  # type: ignore[attr-defined]
    return pans, zooms


def run_chart_bench(bars: int = 100_000, visible: int = 500, updates: int = 200,
                    repeat: int = 3) -> ChartBench:
    history = random_walk_bars(bars)
    first, zoomed = bench_first_render(history, repeat=repeat)
    first_sma, _ = bench_first_render(history, ("sma:20",), repeat=repeat)
    closed, forming = bench_live_redraw(history, visible, updates)
    pans, zooms = bench_pan_zoom(history, visible)
    return ChartBench(
        bars=bars, first_render_ms=first, first_render_sma_ms=first_sma,
        zoomed_out_render_ms=zoomed, visible=visible,
        redraw_closed_ms=statistics.median(closed.wall), redraw_closed_p95_ms=_p95(closed.wall),
        redraw_forming_ms=statistics.median(forming.wall),
        redraw_forming_p95_ms=_p95(forming.wall),
        redraw_closed_cpu_ms=statistics.median(closed.cpu),
        redraw_forming_cpu_ms=statistics.median(forming.cpu),
        pan_step_ms=statistics.median(pans), zoom_step_ms=statistics.median(zooms),
    )


if __name__ == "__main__":
    print("\n".join(run_chart_bench().lines()))
