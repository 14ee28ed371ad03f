"""Live bars: the forming bar moves alone, a closed bar joins the history and the view."""

from __future__ import annotations

import numpy as np
import pytest

from ibtrader.core.indicators import compute_batch
from ibtrader.core.market import Bar
from ibtrader.gui.chart.studies import history_frame
from ibtrader.gui.chart.theme import DOWN
from ibtrader.gui.chart.widget import RIGHT_MARGIN

from .conftest import count_colour, grab, make_bars, rgb_array


def test_forming_ticks_never_rebuild_the_history(chart, tmp_path):
    bars = make_bars(2_000)
    chart.set_symbol("AAPL", "1 min", bars)
    chart.set_indicators(overlays=["sma:20"], panels=["rsi:14"])
    rebuilds = chart.candles.rebuilds
    t = bars[-1].time + 60
    last = bars[-1].close
    for k in range(50):  # a falling forming bar, tick by tick
        price = last - 0.05 * k
        chart.update_forming(Bar(t, last, last + 0.1, price, price, 10.0 * k))
    assert chart.candles.rebuilds == rebuilds
    assert chart.forming_items.updates == 50
    assert chart.forming_items.body.opts["x"] == [2_000.0]  # right of the last closed bar
    # the SMA's forming segment ends at the preview value of the forming bar
    tail_x, tail_y = chart.overlays[0].tails[0].getData()
    closes = [b.close for b in bars[-19:]] + [last - 0.05 * 49]
    assert tail_x.tolist() == [1_999.0, 2_000.0]
    assert abs(tail_y[1] - np.mean(closes)) < 1e-9
    image = grab(chart)
    image.save(str(tmp_path / "forming.png"))
    body = chart.forming_items.body.sceneBoundingRect().toRect().translated(chart.view.pos())
    pixels = rgb_array(image.toImage())[body.top(): body.bottom() + 1,
                                        body.left(): body.right() + 1]
    assert count_colour(pixels, DOWN) > 20  # the forming candle is drawn, falling


def test_closed_bars_extend_history_and_indicators_match_batch(chart):
    bars = make_bars(3_000)
    chart.set_symbol("AAPL", "1 min", bars[:2_900])
    chart.set_indicators(overlays=["ema:50", "supertrend:10:3"], panels=["macd:12:26:9"])
    x_max_before = chart.price.vb.viewRange()[0][1]
    for bar in bars[2_900:]:
        chart.update_forming(bar)
        chart.add_closed(bar)
    assert len(chart.series) == 3_000 and chart.forming is None
    x_max = chart.price.vb.viewRange()[0][1]  # the view followed, the forming bar in it
    assert 3_000.5 <= x_max <= 3_000.5 + RIGHT_MARGIN and x_max > x_max_before + 90
    frame = history_frame(chart.series)
    ema = compute_batch("ema", frame, period=50).to_numpy()
    macd = compute_batch("macd", frame, fast=12, slow=26, signal=9)["hist"].to_numpy()
    st = compute_batch("supertrend", frame, atr_period=10, multiplier=3.0)["value"].to_numpy()
    np.testing.assert_allclose(chart.overlays[0].study.column("ema")[-100:], ema[-100:],
                               rtol=1e-9)
    np.testing.assert_allclose(chart.overlays[1].study.column("value")[-100:], st[-100:],
                               rtol=1e-9)
    np.testing.assert_allclose(chart.panels[0].items.study.column("hist")[-100:], macd[-100:],
                               atol=1e-9)


def test_a_chart_scrolled_back_stays_where_the_trader_put_it(chart):
    bars = make_bars(1_000)
    chart.set_symbol("AAPL", "1 min", bars[:900])
    chart.price.vb.setXRange(100, 200, padding=0)
    chart.add_closed(bars[900])
    x0, x1 = chart.price.vb.viewRange()[0]
    assert (round(x0), round(x1)) == (100, 200)
    assert chart.window.stop < 900


def test_late_and_stale_bars(chart):
    bars = make_bars(100)
    chart.set_symbol("AAPL", "1 min", bars)
    chart.update_forming(bars[-1])  # a late tick of the last closed bar: ignored
    assert chart.forming is None
    with pytest.raises(ValueError, match="not after the last bar"):
        chart.add_closed(bars[-1])
    assert len(chart.series) == 100


def test_following_the_live_bar_slices_the_history_only_now_and_then(chart):
    bars = make_bars(1_300)
    chart.set_symbol("AAPL", "1 min", bars[:1_000])
    slices = chart.candles.rebuilds
    for bar in bars[1_000:1_010]:
        chart.add_closed(bar)
    assert chart.candles.rebuilds == slices  # ten bars: drawn by the tail, view shifted
    up_x = chart.recent_candles.up.opts["x"].tolist()
    down_x = chart.recent_candles.down.opts["x"].tolist()
    assert sorted(up_x + down_x) == [float(i) for i in range(1_000, 1_010)]
    for bar in bars[1_010:1_300]:
        chart.add_closed(bar)
    # the view moved 300 bars: re-sliced a few times, not once per bar
    assert 1 <= chart.candles.rebuilds - slices <= 300 // 30
    x0, x1 = chart.price.vb.viewRange()[0]
    assert x1 > 1_299 and chart.window.start <= x0  # the newest bars are drawn and in view


def test_small_pans_reuse_the_window_and_big_ones_reslice_it(chart):
    chart.set_symbol("AAPL", "1 min", make_bars(5_000))
    chart.price.vb.setXRange(3_000, 3_200, padding=0)
    slices = chart.candles.rebuilds
    chart.price.vb.setXRange(3_010, 3_210, padding=0)  # 10 bars: inside the margin
    assert chart.candles.rebuilds == slices
    chart.price.vb.setXRange(1_000, 1_200, padding=0)
    assert chart.candles.rebuilds == slices + 1
    assert chart.window.start <= 1_000 and chart.window.stop >= 1_200
    y0, y1 = chart.price.vb.viewRange()[1]
    assert y0 < float(chart.series.low[1_000:1_201].min())
    assert y1 > float(chart.series.high[1_000:1_201].max())
