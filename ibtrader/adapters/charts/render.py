"""Headless chart PNGs: a symbol's candlesticks with the decision or fill marked, and a day's
equity curve.

Matplotlib draws through its Agg canvas on a bare `Figure` (never `pyplot`): no display, no
Qt (the `serve` command has neither), and no global state, so renders may run on any worker
thread. Matplotlib is imported on the first render, not with this module: the app starts
without paying for it when charts are off.

Bars are drawn at their index, not their time, so nights and weekends leave no gaps; a
marker goes on the bar whose span holds its time. Calls are CPU-bound (tens of
milliseconds): from the asyncio loop, run them in a worker thread.
"""

from __future__ import annotations

import bisect
import io
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ibtrader.core.market import Bar

# Colours a reader (and a test) can rely on: markers differ from every candle colour.
UP_COLOUR = "#26a69a"
DOWN_COLOUR = "#ef5350"
BUY_MARKER_COLOUR = "#1565c0"
SELL_MARKER_COLOUR = "#ff6f00"
EQUITY_COLOUR = "#1565c0"
BACKGROUND = "#ffffff"
_OVERLAY_COLOURS = ("#7e57c2", "#f9a825", "#6d4c41", "#00838f", "#c2185b", "#558b2f")

DEFAULT_SIZE = (1000, 600)  # pixels
_DPI = 100
_BUY_SIDES = frozenset({"BUY", "BOT", "LONG", "B"})
_SELL_SIDES = frozenset({"SELL", "SLD", "SHORT", "S"})


class Marker(NamedTuple):
    """A decision or fill to mark: at `time` (epoch seconds) and `price`, BUY or SELL."""

    time: float
    price: float
    side: str
    label: str = ""


def render_bars_png(symbol: str, bar_size: str, bars: Sequence[Bar],
                    overlays: Mapping[str, Sequence[float]] | None = None,
                    markers: Sequence[tuple[float, float, str, str] | Marker] = (), *,
                    volume: bool = True, size: tuple[int, int] = DEFAULT_SIZE) -> bytes:
    """A PNG of `bars` as candlesticks, titled with the symbol and bar size.

    `overlays` are lines over the price (an SMA, a Bollinger band): one value per bar, `nan`
    where the indicator is not ready. `markers` are (time, price, side, label): an arrow
    up under a BUY, down over a SELL, with the label beside it. `volume` adds a volume panel
    when the bars carry volume.
    """
    if not bars:
        raise ValueError(f"no bars to chart for {symbol} {bar_size}")
    overlays = dict(overlays or {})
    for name, series in overlays.items():
        if len(series) != len(bars):
            raise ValueError(f"overlay {name!r} has {len(series)} values for {len(bars)} "
                             f"bars of {symbol} {bar_size}: one per bar, nan when not ready")
    marks = [_marker(m, symbol) for m in markers]
    width, height = _check_size(size)

    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.ticker import MaxNLocator

    times = [b.time for b in bars]
    has_volume = volume and any(b.volume > 0 for b in bars if not math.isnan(b.volume))
    fig, canvas = _figure(width, height)
    if has_volume:
        grid = fig.add_gridspec(2, 1, height_ratios=(4, 1), hspace=0.04)
        ax = fig.add_subplot(grid[0])
        vax = fig.add_subplot(grid[1], sharex=ax)
    else:
        ax, vax = fig.add_subplot(1, 1, 1), None

    n = len(bars)
    body = 0.35  # half a candle's width, in bar units
    wicks, bodies, colours = [], [], []
    for i, b in enumerate(bars):
        colour = UP_COLOUR if b.close >= b.open else DOWN_COLOUR
        wicks.append(((i, b.low), (i, b.high)))
        lo, hi = sorted((b.open, b.close))
        if hi - lo == 0:  # a doji: a visible line, not an invisible box
            hi = lo + (b.high - b.low) * 0.002 or lo * 1e-5 or 1e-9
        bodies.append(((i - body, lo), (i - body, hi), (i + body, hi), (i + body, lo)))
        colours.append(colour)
    ax.add_collection(LineCollection(wicks, colors=colours, linewidths=1.0, zorder=2))
    ax.add_collection(PolyCollection(bodies, facecolors=colours, edgecolors=colours,
                                     linewidths=0.5, zorder=3))
    for k, (name, series) in enumerate(overlays.items()):
        ax.plot(range(n), [float(v) for v in series], linewidth=1.2, label=name,
                color=_OVERLAY_COLOURS[k % len(_OVERLAY_COLOURS)], zorder=4)

    low = min(b.low for b in bars)
    high = max(b.high for b in bars)
    # marked prices and overlays (a stop, a target) stay in view, however far out
    prices = [m.price for m in marks if math.isfinite(m.price)]
    prices += [float(v) for series in overlays.values() for v in series
               if v is not None and math.isfinite(float(v))]
    low, high = min([low, *prices]), max([high, *prices])
    pad = (high - low) * 0.08 or abs(high) * 0.01 or 1.0
    ax.set_xlim(-1, n + 1)  # room for a marker on the last bar
    ax.set_ylim(low - pad, high + pad)

    for m in marks:
        _draw_marker(ax, m, _bar_index(times, m.time), pad, n)
    if overlays:
        ax.legend(loc="upper left", fontsize=8, frameon=False)

    # few ticks: each is a handful of artists, the largest part of the render's cost
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.set_title(f"{symbol}  {bar_size}", fontsize=11, loc="left")
    ax.grid(True, color="#eeeeee", linewidth=0.6, zorder=0)
    ax.yaxis.tick_right()
    if vax is not None:
        vols = [0.0 if math.isnan(b.volume) else b.volume for b in bars]
        # one collection, not a Rectangle artist per bar: half the render time at 200 bars
        vax.add_collection(PolyCollection(
            [((i - body, 0), (i - body, v), (i + body, v), (i + body, 0))
             for i, v in enumerate(vols)], facecolors=colours, linewidths=0))
        vax.set_ylim(0, max(vols) * 1.05 or 1.0)
        vax.yaxis.set_major_locator(MaxNLocator(2))
        vax.yaxis.tick_right()
        vax.tick_params(labelsize=7)
        vax.set_ylabel("vol", fontsize=7)
        ax.tick_params(labelbottom=False)
    _time_ticks(vax or ax, times, bar_size)
    return _png(fig, canvas)


def render_equity_png(points: Sequence[tuple[float, float]], title: str, *,
                      size: tuple[int, int] = (1000, 400)) -> bytes:
    """A PNG of an equity curve: (epoch seconds, equity) points in time order."""
    if not points:
        raise ValueError(f"no equity points to chart for {title!r}")
    pts = sorted((float(t), float(e)) for t, e in points)
    if any(not math.isfinite(e) for _, e in pts):
        raise ValueError(f"equity curve {title!r} has a non-finite equity value")
    width, height = _check_size(size)
    from matplotlib.dates import AutoDateLocator, DateFormatter

    fig, canvas = _figure(width, height)
    ax = fig.add_subplot(1, 1, 1)
    when = [datetime.fromtimestamp(t, UTC) for t, _ in pts]
    equity = [e for _, e in pts]
    start = equity[0]
    ax.plot(when, equity, color=EQUITY_COLOUR, linewidth=1.5, marker="o" if len(pts) == 1
            else None)
    ax.axhline(start, color="#9e9e9e", linewidth=0.8, linestyle="--")
    ax.fill_between(when, equity, start, where=[e >= start for e in equity],
                    color=UP_COLOUR, alpha=0.15, interpolate=True)
    ax.fill_between(when, equity, start, where=[e < start for e in equity],
                    color=DOWN_COLOUR, alpha=0.15, interpolate=True)
    change = equity[-1] - start
    ax.set_title(f"{title}   {equity[-1]:,.2f}  ({change:+,.2f})", fontsize=11, loc="left")
    ax.grid(True, color="#eeeeee", linewidth=0.6)
    ax.yaxis.tick_right()
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M" if pts[-1][0] - pts[0][0] < 86400 * 2
                                               else "%Y-%m-%d", tz=UTC))
    ax.tick_params(labelsize=8)
    return _png(fig, canvas)


# --- helpers ----------------------------------------------------------------------------------

def _marker(m: Any, symbol: str) -> Marker:
    try:
        time, price, side, *rest = m
    except (TypeError, ValueError):
        raise ValueError(f"marker {m!r} for {symbol} must be (time, price, side, label)"
                         ) from None
    side_key = str(side).upper()
    if side_key not in _BUY_SIDES and side_key not in _SELL_SIDES:
        raise ValueError(f"marker side {side!r} for {symbol} must be BUY or SELL")
    if not math.isfinite(float(time)):
        raise ValueError(f"marker time {time!r} for {symbol} must be epoch seconds")
    return Marker(float(time), float(price), "BUY" if side_key in _BUY_SIDES else "SELL",
                  str(rest[0]) if rest else "")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    if not (100 <= width <= 4000 and 100 <= height <= 4000):
        raise ValueError(f"chart size {width}x{height} px must be 100..4000 on each side")
    return int(width), int(height)


def _bar_index(times: Sequence[float], t: float) -> int:
    """The bar whose span holds `t`: the last bar starting at or before it (clamped)."""
    return max(0, bisect.bisect_right(times, t) - 1)


def _draw_marker(ax: Any, m: Marker, x: int, pad: float, n: int) -> None:
    buy = m.side == "BUY"
    colour = BUY_MARKER_COLOUR if buy else SELL_MARKER_COLOUR
    price = m.price
    if math.isfinite(price):
        ax.axhline(price, color=colour, linewidth=0.8, linestyle=":", zorder=1)
        y = price
    else:  # a decision without a price still shows where it happened
        y = ax.get_ylim()[0] + pad * 0.5 if buy else ax.get_ylim()[1] - pad * 0.5
    ax.plot([x], [y], marker="^" if buy else "v", markersize=13, color=colour,
            markeredgecolor=colour, linestyle="none", zorder=6)
    if m.label:  # beside the marker, on the side with room for it
        right = x < n * 0.7
        ax.annotate(m.label, (x, y), xytext=(9 if right else -9, -14 if buy else 8),
                    textcoords="offset points", ha="left" if right else "right",
                    fontsize=8, color=colour, zorder=7)


def _time_ticks(ax: Any, times: Sequence[float], bar_size: str) -> None:
    daily = any(word in bar_size.lower() for word in ("day", "week", "month"))
    fmt = "%Y-%m-%d" if daily or times[-1] - times[0] > 86400 * 3 else "%m-%d %H:%M"
    n = len(times)
    step = max(1, math.ceil(n / 6))
    ticks = list(range(0, n, step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([datetime.fromtimestamp(times[i], UTC).strftime(fmt) for i in ticks],
                       fontsize=7)


def _figure(width: int, height: int) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI, facecolor=BACKGROUND)
    fig.subplots_adjust(left=0.04, right=0.92, top=0.93, bottom=0.08)
    return fig, FigureCanvasAgg(fig)


def _png(fig: Any, canvas: Any) -> bytes:
    out = io.BytesIO()
    # zlib level 1: a third of the encoding time for a file ~15% larger (flat colours)
    canvas.print_png(out, pil_kwargs={"compress_level": 1})
    return out.getvalue()
