"""What the trader points at and clicks: crosshair readout, bar-size selector, markers,
order and position lines, PNG export."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from ibtrader.core.market import Bar
from ibtrader.gui.chart import ChartWidget
from ibtrader.gui.chart.theme import LINE_KINDS, MARKER_BUY, MARKER_SELL, UP

from .conftest import count_colour, grab, make_bars, rgb_array


def move_mouse(widget: QWidget, pos: QPoint) -> None:
    """A real mouse-move event (QTest's moves the cursor, which offscreen Qt cannot)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


@pytest.fixture
def utc_chart(qtbot):
    w = ChartWidget(tz=dt.UTC)
    qtbot.addWidget(w)
    w.resize(1600, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_crosshair_readout_names_the_bar_under_the_mouse(utc_chart, qtbot):
    chart = utc_chart
    bars = make_bars(500)
    chart.set_symbol("AAPL", "1 min", bars)
    chart.set_indicators(overlays=["sma:20"], panels=["rsi:14"])
    i = 450
    y = (bars[i].high + bars[i].low) / 2
    scene_pos = chart.price.vb.mapViewToScene(QPointF(i, y))
    move_mouse(chart.view.viewport(), chart.view.mapFromScene(scene_pos))
    qtbot.waitUntil(lambda: chart.crosshair.index == i, timeout=2_000)
    b = bars[i]
    when = dt.datetime.fromtimestamp(b.time, dt.UTC).strftime("%Y-%m-%d %H:%M")
    text = chart.readout.text()
    assert text.startswith(f"{when}  O {b.open:.2f}  H {b.high:.2f}  L {b.low:.2f}  "
                           f"C {b.close:.2f}  V {b.volume:,.0f}")
    sma = sum(x.close for x in bars[i - 19: i + 1]) / 20
    assert f"SMA 20 {sma:.2f}" in text and "RSI 14 " in text
    assert chart.crosshair.hline.isVisible()
    assert abs(chart.crosshair.hline.value() - y) < (b.high - b.low)
    # every plot's vertical line is on the same bar
    assert {round(v.value()) for v in chart.crosshair.vlines.values()} == {i}


def test_readout_without_crosshair_shows_the_forming_bar(utc_chart):
    chart = utc_chart
    bars = make_bars(100)
    chart.set_symbol("EURUSD", "1 min", [Bar(b.time, b.open / 90, b.high / 90, b.low / 90,
                                             b.close / 90, b.volume) for b in bars])
    chart.update_forming(Bar(bars[-1].time + 60, 1.1, 1.10012, 1.09987, 1.10005, 42.0))
    assert "O 1.10000  H 1.10012  L 1.09987  C 1.10005  V 42" in chart.readout.text()


def test_bar_size_selector_signals_a_user_choice_only(utc_chart, qtbot):
    chart = utc_chart
    with qtbot.assertNotEmitted(chart.bar_size_changed):
        chart.set_symbol("AAPL", "15 mins", make_bars(50, step=900))
    assert chart.bar_sizes.currentText() == "15 mins"
    chart.bar_sizes.setFocus()
    with qtbot.waitSignal(chart.bar_size_changed, timeout=1_000) as sig:
        qtbot.keyClick(chart.bar_sizes, Qt.Key.Key_Down)
    assert sig.args == ["1 hour"]


def test_signal_markers_sit_under_buys_and_over_sells(utc_chart, tmp_path):
    chart = utc_chart
    bars = make_bars(300)
    chart.set_symbol("AAPL", "1 min", bars)
    chart.add_signal_marker(bars[250].time + 30, "buy", "sma_cross: fast over slow")
    chart.add_signal_marker(bars[280].time, "SELL", "rsi_reversion: overbought")
    pos = chart.markers.positions().tolist()
    assert pos == [[250.0, bars[250].low], [280.0, bars[280].high]]
    assert chart.markers.scatter.data["data"].tolist() == [
        "sma_cross: fast over slow", "rsi_reversion: overbought"]
    image = grab(chart)
    image.save(str(tmp_path / "markers.png"))
    pixels = rgb_array(image.toImage())
    assert count_colour(pixels, MARKER_BUY, 2) > 30 and count_colour(pixels, MARKER_SELL, 2) > 30
    with pytest.raises(ValueError, match="buy or sell"):
        chart.add_signal_marker(bars[10].time, "hold", "")


def test_order_and_position_lines(utc_chart, tmp_path):
    chart = utc_chart
    bars = make_bars(300)
    chart.set_symbol("AAPL", "1 min", bars)
    last = bars[-1].close
    chart.set_order_lines([(last - 2, "BUY 100 LMT", "buy"), (last + 2, "SELL 100 LMT", "sell")])
    chart.set_position_line(last - 1, stop=last - 3)
    assert [round(line.value(), 6) for line in chart.lines.orders] == [
        round(last - 2, 6), round(last + 2, 6)]
    assert [line.label.toPlainText() for line in chart.lines.position] == [
        f"Avg {last - 1:g}", f"Stop {last - 3:g}"]
    image = grab(chart)
    image.save(str(tmp_path / "lines.png"))
    pixels = rgb_array(image.toImage())
    assert count_colour(pixels, LINE_KINDS["position"][0], 2) > 500  # a solid line across
    assert count_colour(pixels, LINE_KINDS["sell"][0], 2) > 200
    with pytest.raises(ValueError, match="unknown kind 'market'"):
        chart.set_order_lines([(last, "x", "market")])
    with pytest.raises(ValueError, match="finite number above 0"):
        chart.set_order_lines([(float("nan"), "x", "buy")])
    assert len(chart.lines.orders) == 2  # a bad list changes nothing
    chart.set_order_lines([])
    chart.set_position_line(None)
    assert chart.lines.orders == [] and chart.lines.position == []


def test_export_png_writes_the_chart(utc_chart, tmp_path):
    chart = utc_chart
    chart.set_symbol("AAPL", "1 min", make_bars(300))
    path = chart.export_png(tmp_path / "chart.png")
    image = QImage(str(path))
    assert (image.width(), image.height()) == (1600, 900)
    assert path.stat().st_size > 20_000
    assert count_colour(rgb_array(image), UP) > 2_000
    with pytest.raises(ValueError, match=r"\.png"):
        chart.export_png(tmp_path / "chart.jpg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        chart.export_png(tmp_path / "missing" / "chart.png")


def test_the_chart_follows_the_palette_of_the_theme(utc_chart):
    chart = utc_chart
    chart.set_symbol("AAPL", "1 min", make_bars(300))
    dark = QPalette(chart.palette())
    dark.setColor(QPalette.ColorRole.Base, QColor("#101418"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#d0d4d8"))
    chart.setPalette(dark)
    pixels = rgb_array(grab(chart).toImage())
    r = chart.price.vb.sceneBoundingRect().toRect().translated(chart.view.pos())
    area = pixels[r.top(): r.bottom(), r.left(): r.right()]
    assert count_colour(area, "#101418", 0) > area.shape[0] * area.shape[1] // 2  # background
    assert count_colour(area, UP) > 2_000  # the candles keep their colours
