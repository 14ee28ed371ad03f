"""The whole workstation over the real engine: the chart in the centre follows the
watchlist (candles on a grabbed image), the trading panels are docked and the ticket
follows the selection too; File > Export chart writes a PNG."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from ibtrader.gui.chart.theme import DOWN, UP
from ibtrader.gui.workstation import attach_views
from tests.gui.conftest import gui_settings


def count_colour(image: QImage, colour: str, tolerance: int = 30) -> int:
    want = QColor(colour)
    hits = 0
    for x in range(0, image.width(), 2):
        for y in range(0, image.height(), 2):
            c = image.pixelColor(x, y)
            if (abs(c.red() - want.red()) + abs(c.green() - want.green())
                    + abs(c.blue() - want.blue())) <= tolerance:
                hits += 1
    return hits


def test_chart_and_panels_follow_the_watchlist(qtbot, window_for, tmp_path):
    settings = gui_settings(tmp_path, watchlist=("AAPL", "MSFT"))
    window = window_for(settings)
    window.resize(1600, 1000)
    views = attach_views(window, window.engine, settings)
    window.test_views = [views]
    assert window.central_view() is views.chart
    assert {"ticket", "orders", "positions", "account", "signals"} <= set(window.panels)

    window.watchlist.select("MSFT")
    qtbot.waitUntil(lambda: views.chart.symbol == "MSFT" and len(views.chart.series) > 50,
                    timeout=20_000)
    assert views.panels.ticket.symbol.text() == "MSFT"
    qtbot.wait(300)
    image = views.chart.grab().toImage()
    image.save(str(tmp_path / "chart_in_window.png"))
    assert count_colour(image, UP) > 100 and count_colour(image, DOWN) > 100
    window.grab().save(str(tmp_path / "workstation.png"))

    views.export_to(str(tmp_path / "exported.png"))
    assert QImage(str(tmp_path / "exported.png")).width() > 300  # the chart has its room
    views.export_to(str(tmp_path / "no" / "such" / "folder.png"))
    rows = [window.notifications_panel.item(i).text()
            for i in range(window.notifications_panel.count())]
    assert any("Export failed" in r for r in rows) and any("chart saved" in r for r in rows)


def test_the_chart_shows_working_orders_the_position_and_signals(qtbot, window_for, tmp_path):
    from ibtrader.core.decisions import SignalRecord
    from ibtrader.core.orders.request import parse_request
    from ibtrader.core.strategy import Signal
    from tests.gui.conftest import drive

    settings = gui_settings(tmp_path, watchlist=("AAPL",))
    window = window_for(settings)
    window.resize(1600, 1000)
    engine = window.engine
    views = attach_views(window, engine, settings)
    window.test_views = [views]
    chart = views.chart
    qtbot.waitUntil(lambda: chart.symbol == "AAPL" and len(chart.series) > 50, timeout=20_000)

    quote = drive(qtbot, engine.orders.current_quote("AAPL"), 20.0)
    limit = round(quote.bid * 0.98, 2)
    resting = parse_request("AAPL", "buy", "5", now=quote.time, order_type="lmt",
                            limit=f"{limit:.2f}", tif="gtc", source="ticket")
    drive(qtbot, engine.orders.place(resting))
    bought = drive(qtbot, engine.orders.place(
        parse_request("AAPL", "buy", "10", now=quote.time, source="ticket")))
    drive(qtbot, engine.orders.wait_final(bought.client_key, 15.0), 20.0)

    qtbot.waitUntil(lambda: len(chart.lines.orders) == 1 and len(chart.lines.position) == 1,
                    timeout=10_000)
    (order_line,) = chart.lines.orders
    assert abs(order_line.value() - limit) < 1e-6 and "BUY 5 LMT" in order_line.label.format
    (avg_line,) = chart.lines.position
    position = next(p for p in engine.orders.positions() if p.symbol == "AAPL")
    assert abs(avg_line.value() - position.avg_price) < 1e-6

    bar = chart.series.bar(len(chart.series) - 1)
    engine.trading.signal_emitted.emit(SignalRecord(
        "sig-1", "sma_cross", "1 min", Signal("AAPL", "buy", 1.0, "golden cross", time=bar.time),
        bar.time))
    engine.trading.signal_emitted.emit(SignalRecord(
        "sig-2", "sma_cross", "1 min", Signal("MSFT", "sell", 1.0, "another symbol",
                                              time=bar.time), bar.time))
    assert [m.text for m in chart.markers.markers] == ["sma_cross: golden cross"]
    qtbot.wait(300)
    chart.grab().save(str(tmp_path / "chart_with_orders.png"))

    drive(qtbot, engine.orders.cancel(resting.client_key))
    qtbot.waitUntil(lambda: chart.lines.orders == [], timeout=10_000)


def test_the_trader_picks_indicators_and_finds_them_again(qtbot, window_for, tmp_path):
    from ibtrader.gui.chart import ChartWidget
    from ibtrader.gui.chart.indicator_menu import DEFAULT_CHOICE
    from ibtrader.gui.workstation import _restore_indicators

    settings = gui_settings(tmp_path, watchlist=("AAPL",))
    window = window_for(settings)
    window.resize(1600, 1000)
    views = attach_views(window, window.engine, settings)
    window.test_views = [views]
    chart = views.chart
    qtbot.waitUntil(lambda: chart.symbol == "AAPL" and len(chart.series) > 50, timeout=20_000)
    menu = chart.indicator_menu
    assert menu.chosen() == list(DEFAULT_CHOICE)
    assert (len(chart.overlays), len(chart.panels)) == (2, 1)  # SMA and bands; RSI below

    menu.actions_by_spec["macd:12:26:9"].trigger()
    menu.actions_by_spec["bbands:20:2"].trigger()
    assert (len(chart.overlays), len(chart.panels)) == (1, 2)
    qtbot.wait(200)
    chart.grab().save(str(tmp_path / "chart_with_macd.png"))

    again = ChartWidget()
    qtbot.addWidget(again)
    _restore_indicators(again, window)  # the next start reads the same settings
    assert again.indicator_menu.chosen() == ["sma:20", "rsi:14", "macd:12:26:9"]
    assert (len(again.overlays), len(again.panels)) == (1, 2)
