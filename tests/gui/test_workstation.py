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
