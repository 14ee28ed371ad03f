"""Headless chart PNGs (matplotlib's Agg canvas, no Qt): they decode at the asked size, show
the candles, and put the decision or fill where it happened — found by the marker's own
colour in the decoded pixels."""

from __future__ import annotations

import io
import math
import statistics
import time

import numpy as np
import pytest
from PIL import Image

from ibtrader.adapters.charts.render import (
    BUY_MARKER_COLOUR,
    DOWN_COLOUR,
    EQUITY_COLOUR,
    SELL_MARKER_COLOUR,
    UP_COLOUR,
    render_bars_png,
    render_equity_png,
)
from ibtrader.core.market import Bar

T0 = 1_700_000_000.0  # bar starts, one a minute


def some_bars(n: int = 200, seed: int = 3) -> list[Bar]:
    rng = np.random.default_rng(seed)
    bars, price = [], 100.0
    for i in range(n):
        close = price + float(rng.normal(0, 0.4))
        high = max(price, close) + float(rng.uniform(0.05, 0.3))
        low = min(price, close) - float(rng.uniform(0.05, 0.3))
        bars.append(Bar(T0 + 60 * i, price, high, low, close, float(rng.uniform(500, 1500))))
        price = close
    return bars


def pixels(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def mask(image: np.ndarray, colour: str) -> np.ndarray:
    return np.all(image == rgb(colour), axis=2)


def near(image: np.ndarray, colour: str, tolerance: int = 90) -> np.ndarray:
    """Pixels close to `colour`: an anti-aliased thin line is rarely exactly it."""
    return np.abs(image.astype(int) - rgb(colour)).sum(axis=2) < tolerance


def marker_centre(image: np.ndarray, colour: str) -> tuple[float, float]:
    """(x, y) of the triangle in `colour`: the columns where it is more than a line thick
    (the dotted price line at the marker's price is one or two pixels high)."""
    hit = mask(image, colour)
    columns = np.flatnonzero(hit.sum(axis=0) > 4)
    assert columns.size, f"no marker in {colour}"
    rows = np.flatnonzero(hit[:, columns].any(axis=1))
    return float(columns.mean()), float(rows.mean())


def test_a_chart_decodes_at_its_size_with_both_candle_colours():
    png = render_bars_png("AAPL", "1 min", some_bars(), size=(900, 500))
    image = pixels(png)
    assert image.shape == (500, 900, 3)
    assert mask(image, UP_COLOUR).sum() > 500 and mask(image, DOWN_COLOUR).sum() > 500
    # nothing marked: no marker colour anywhere
    assert mask(image, BUY_MARKER_COLOUR).sum() == 0
    assert mask(image, SELL_MARKER_COLOUR).sum() == 0


def test_the_buy_and_the_sell_are_marked_on_their_bars_at_their_prices():
    bars = some_bars()
    buy_bar, sell_bar = bars[20], bars[180]
    width = 1000
    png = render_bars_png(
        "AAPL", "1 min", bars, markers=[
            (buy_bar.time + 30, buy_bar.low, "BUY", "open 100"),  # mid-bar: that bar
            (sell_bar.time, sell_bar.high, "SELL", "close 100")], size=(width, 600))
    image = pixels(png)
    buy_x, buy_y = marker_centre(image, BUY_MARKER_COLOUR)
    sell_x, sell_y = marker_centre(image, SELL_MARKER_COLOUR)
    # bars are drawn at their index on an axis from -1 to n + 1, in the plot's 4%..92% of
    # the width
    def x_of(index: int) -> float:
        return width * (0.04 + 0.88 * (index + 1) / (len(bars) + 2))
    # within half a bar's spacing (4.4 px here): on that bar, not its neighbour
    assert abs(buy_x - x_of(20)) < 2, (buy_x, x_of(20))
    assert abs(sell_x - x_of(180)) < 2, (sell_x, x_of(180))
    # the price axis: the buy at its bar's low sits lower than the sell at its bar's high
    if buy_bar.low < sell_bar.high:
        assert buy_y > sell_y


def test_a_marker_sits_on_its_own_price_line():
    bars = some_bars()
    level = (max(b.high for b in bars) + min(b.low for b in bars)) / 2
    image = pixels(render_bars_png("AAPL", "1 min", bars,
                                   markers=[(bars[100].time, level, "buy", "")]))
    hit = mask(image, BUY_MARKER_COLOUR)
    line_row = int(np.argmax(hit.sum(axis=1)))  # the dotted line: the widest row
    _, y = marker_centre(image, BUY_MARKER_COLOUR)
    assert abs(y - line_row) < 6


def test_overlays_and_volume_are_drawn():
    bars = some_bars(120)
    closes = [b.close for b in bars]
    sma = [math.nan] * 9 + [sum(closes[i - 9:i + 1]) / 10 for i in range(9, len(bars))]
    plain = pixels(render_bars_png("ES", "5 mins", bars, volume=False))
    full = pixels(render_bars_png("ES", "5 mins", bars, {"SMA 10": sma}))
    overlay = "#7e57c2"  # the first overlay's colour
    assert mask(full, overlay).sum() > 200 and mask(plain, overlay).sum() == 0
    # the volume panel adds candle-coloured bars under the price
    assert mask(full, UP_COLOUR).sum() > mask(plain, UP_COLOUR).sum()
    # a level far from the bars (a target) is kept in view: its line is drawn
    far = max(b.high for b in bars) * 1.2
    target = pixels(render_bars_png("ES", "5 mins", bars, {"target": [far] * len(bars)}))
    assert near(target, overlay).sum() > 500 and near(plain, overlay).sum() == 0


def test_bad_input_says_what_is_wrong():
    bars = some_bars(10)
    with pytest.raises(ValueError, match="no bars"):
        render_bars_png("AAPL", "1 min", [])
    with pytest.raises(ValueError, match="overlay 'SMA' has 3 values for 10 bars"):
        render_bars_png("AAPL", "1 min", bars, {"SMA": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="side 'HOLD'"):
        render_bars_png("AAPL", "1 min", bars, markers=[(T0, 100.0, "HOLD", "")])
    with pytest.raises(ValueError, match=r"\(time, price, side, label\)"):
        render_bars_png("AAPL", "1 min", bars, markers=[(T0,)])
    with pytest.raises(ValueError, match="chart size"):
        render_bars_png("AAPL", "1 min", bars, size=(10, 10))


def test_an_equity_curve_decodes_and_draws_the_curve():
    points = [(T0 + 60 * i, 100_000 + 500 * math.sin(i / 30)) for i in range(390)]
    image = pixels(render_equity_png(points, "Equity 2023-11-14"))
    assert image.shape == (400, 1000, 3)
    assert mask(image, EQUITY_COLOUR).sum() > 800
    one = pixels(render_equity_png([(T0, 100_000.0)], "one sample"))  # a dot, no error
    assert mask(one, EQUITY_COLOUR).sum() > 10
    with pytest.raises(ValueError, match="no equity points"):
        render_equity_png([], "empty")
    with pytest.raises(ValueError, match="non-finite"):
        render_equity_png([(T0, math.nan)], "bad")


def test_200_bars_render_well_under_300_ms():
    """Measured in CPU time, the render's own cost: on a loaded machine (tests running
    alongside) the wall-clock time grows with the load, not with the renderer."""
    bars = some_bars(200)
    markers = [(bars[150].time, bars[150].close, "BUY", "decision")]
    render_bars_png("AAPL", "1 min", bars, markers=markers)  # fonts and imports: once
    cpu, wall = [], []
    for _ in range(5):
        start, start_cpu = time.perf_counter(), time.thread_time()
        render_bars_png("AAPL", "1 min", bars, {"SMA": [b.close for b in bars]}, markers)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    print(f"200 bars: {statistics.median(cpu) * 1e3:.0f} ms CPU, "
          f"{statistics.median(wall) * 1e3:.0f} ms wall (median of 5)")
    assert statistics.median(cpu) < 0.2, cpu
