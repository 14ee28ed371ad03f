"""The main window against the real engine and simulator: the watchlist streams quotes
(checked in the model and on a grabbed image), an unknown symbol is refused with a clear
error, the layout and the watchlist come back on the next start, the kill switch trips."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.gui.main_window import MainWindow
from ibtrader.gui.watchlist import BID, LAST
from tests.gui.conftest import drive, gui_settings


def open_window(qtbot, store: QSettings, settings) -> MainWindow:
    window = MainWindow(store, settings, use_tray=False)
    qtbot.addWidget(window)
    window.restore_layout(settings.watchlist)
    window.show()
    return window


def cell(window: MainWindow, symbol: str, col: int) -> str:
    model = window.watchlist.model
    return model.index(model.row_of(symbol), col).data()


def test_added_symbol_streams_quotes_into_the_watchlist(qtbot, window_for, tmp_path):
    window = window_for()

    window.watchlist.input.setFocus()
    qtbot.keyClicks(window.watchlist.input, "msft")
    qtbot.keyClick(window.watchlist.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.watchlist.model.row_of("MSFT") >= 0, timeout=10_000)
    assert window.watchlist.model.symbols() == ["AAPL", "MSFT"]
    qtbot.waitUntil(lambda: bool(cell(window, "MSFT", LAST)), timeout=15_000)
    first_bid = cell(window, "MSFT", BID)
    shown = []
    for _ in range(3):  # the bid moves while we watch: quotes keep arriving
        seen = (first_bid, *shown)
        qtbot.waitUntil(lambda seen=seen: cell(window, "MSFT", BID) not in seen,
                        timeout=15_000)
        shown.append(cell(window, "MSFT", BID))
    assert all(float(t.replace(",", "")) > 0 for t in shown)
    assert window.watchlist.model.cells_changed > 0  # only changed cells are announced
    assert window.watchlist.quotes_flushes <= window.watchlist.quotes_received

    status = window.status
    assert "connected" in status.state_label.text() and "DU" in status.account_label.text()
    qtbot.waitUntil(lambda: "UTC" in status.time_label.text(), timeout=5000)
    qtbot.waitUntil(lambda: status.latency_label.text().endswith(" ms"), timeout=5000)
    assert abs(status.server_offset or 0) < 5  # the simulator's clock is ours

    window.watchlist.select("MSFT")
    with qtbot.waitSignal(window.symbol_selected, timeout=2000) as selected:
        window.watchlist.select("AAPL")
    assert selected.args == ["AAPL"]

    before = window.watchlist.table.grab().toImage()
    before.save(str(tmp_path / "watchlist_before.png"))
    qtbot.waitUntil(lambda: _differs(before, window.watchlist.table.grab().toImage()),
                    timeout=15_000)
    window.grab().save(str(tmp_path / "main_window_live.png"))
    assert (tmp_path / "main_window_live.png").stat().st_size > 10_000
    assert _has_text_pixels(window.watchlist.table.grab().toImage())


def test_unknown_symbol_is_refused_with_a_clear_error(qtbot, window_for, tmp_path):
    window = window_for()
    assert drive(qtbot, window.watchlist.add_symbol("NOSUCHX")) is False
    assert window.watchlist.model.symbols() == ["AAPL"]
    assert "NOSUCHX is not known to the broker" in window.watchlist.message.text()
    assert window.watchlist.message.isVisible()
    assert drive(qtbot, window.watchlist.add_symbol("aapl")) is False
    assert "already in the watchlist" in window.watchlist.message.text()
    assert drive(qtbot, window.watchlist.add_symbol("bad symbol!")) is False
    assert "is not a symbol" in window.watchlist.message.text()
    window.grab().save(str(tmp_path / "unknown_symbol.png"))


def test_layout_geometry_theme_and_watchlist_come_back(qtbot, qloop, tmp_path):
    settings = gui_settings(tmp_path, watchlist=("AAPL", "MSFT"))
    path = str(tmp_path / "layout.ini")
    first = open_window(qtbot, QSettings(path, QSettings.Format.IniFormat), settings)
    first.resize(720, 540)  # within the offscreen screen (800x600)
    first.watchlist.model.add("NVDA")
    first.watchlist.model.move(2, 0)  # NVDA first
    first.watchlist.model.remove("MSFT")
    first.panels["log"].hide()
    first.removeDockWidget(first.panels["watchlist"])
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.panels["watchlist"])
    first.panels["watchlist"].show()
    first.set_theme("light")
    first.close()

    second = open_window(qtbot, QSettings(path, QSettings.Format.IniFormat), settings)
    assert second.watchlist.model.symbols() == ["NVDA", "AAPL"]
    right = Qt.DockWidgetArea.RightDockWidgetArea
    assert second.dockWidgetArea(second.panels["watchlist"]) == right
    assert not second.panels["log"].isVisible()
    assert second.panels["notifications"].isVisible()
    assert (second.width(), second.height()) == (720, 540)
    assert second.theme == "light"
    second.grab().save(str(tmp_path / "restored_light.png"))
    second.set_theme("dark")


def test_kill_switch_cancels_every_open_order(qtbot, window_for, tmp_path):
    window = window_for()
    engine = window.engine
    quote = drive(qtbot, engine.orders.current_quote("AAPL"))
    assert quote is not None and not math.isnan(quote.bid)
    for _ in range(2):  # resting buys well under the market: they stay open
        drive(qtbot, engine.orders.place(OrderRequest(
            symbol="AAPL", side="buy", quantity=5, client_key=new_client_key(time.time()),
            order_type="lmt", limit=round(quote.bid * 0.97, 2))))
    qtbot.waitUntil(lambda: len(engine.orders.orders(open_only=True)) == 2, timeout=10_000)

    qtbot.mouseClick(window.kill_switch, Qt.MouseButton.LeftButton)
    dialog = window.kill_switch.dialog
    assert dialog is not None and dialog.isVisible()
    window.grab().save(str(tmp_path / "kill_switch_confirm.png"))
    with qtbot.waitSignal(window.kill_switch.tripped, timeout=20_000) as tripped:
        qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.Yes),
                         Qt.MouseButton.LeftButton)
    report = tripped.args[0]
    assert len(report.cancelled) == 2 and not report.still_open and not report.errors
    assert engine.orders.orders(open_only=True) == []
    assert engine.orders.kill_switch_engaged
    qtbot.waitUntil(lambda: window.notifications_panel.count() > 0, timeout=5000)
    assert "Kill switch" in "".join(window.notifications_panel.item(i).text()
                                    for i in range(window.notifications_panel.count()))


def test_kill_switch_does_nothing_when_cancelled(qtbot, window_for):
    window = window_for()
    engine = window.engine
    window.kill_action.trigger()  # Ctrl+Shift+K's action
    dialog = window.kill_switch.dialog
    assert dialog is not None
    qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.wait(200)
    assert window.kill_switch.running is None and not engine.orders.kill_switch_engaged


def _differs(a: QImage, b: QImage) -> bool:
    return a.size() == b.size() and a != b


def _has_text_pixels(image: QImage) -> bool:
    # the table is not blank: many pixels differ from the background colour
    background = image.pixelColor(image.width() - 2, image.height() - 2)
    step = 3
    different = sum(1 for x in range(0, image.width(), step) for y in range(0, image.height(), step)
                    if image.pixelColor(x, y) != background)
    return different > 200


def test_kill_switch_can_also_flatten_the_positions(qtbot, window_for):
    window = window_for()
    engine = window.engine
    drive(qtbot, engine.orders.place(OrderRequest(
        symbol="AAPL", side="buy", quantity=7, client_key=new_client_key(time.time()))))
    qtbot.waitUntil(lambda: any(p.symbol == "AAPL" and p.quantity == 7
                                for p in engine.orders.positions()), timeout=15_000)
    window.kill_action.trigger()
    dialog = window.kill_switch.dialog
    assert dialog is not None and window.kill_switch.flatten_box is not None
    window.kill_switch.flatten_box.setChecked(True)
    with qtbot.waitSignal(window.kill_switch.tripped, timeout=30_000) as tripped:
        qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.Yes),
                         Qt.MouseButton.LeftButton)
    report = tripped.args[0]
    assert len(report.flattening) == 1 and not report.errors
    assert report.positions_after.get("AAPL", 0) == 0


def test_connection_states_read_in_words_and_colour(qtbot, qsettings, tmp_path):
    from ibtrader.core.broker import ConnectionState
    from ibtrader.gui.theme import semantic_colour

    window = open_window(qtbot, qsettings, gui_settings(tmp_path))
    label = window.status.state_label
    for state, role in ((ConnectionState.CONNECTED, "ok"), (ConnectionState.RECONNECTING, "warn"),
                        (ConnectionState.LOST, "bad")):
        window.status.show_state(state, "IB error 1100")
        assert state.value in label.text()
        assert semantic_colour(role).name() in label.text()
    assert label.toolTip() == "IB error 1100"


def test_a_future_by_its_root_streams_under_the_brokers_name(qtbot, window_for, tmp_path):
    """ES is listed (the default watchlist has it); quotes, bars and strategies use the
    front month's own name, so the row becomes ESZ6 (or whichever month is front) and fills."""
    settings = gui_settings(tmp_path, watchlist=("AAPL", "ES"))
    window = window_for(settings)
    engine = window.engine
    qtbot.waitUntil(lambda: any(s.startswith("ES") and s != "ES"
                                for s in window.watchlist.model.symbols()), timeout=15_000)
    name = next(s for s in window.watchlist.model.symbols() if s.startswith("ES"))
    assert window.watchlist.model.symbols() == ["AAPL", name]
    qtbot.waitUntil(lambda: bool(cell(window, name, LAST)), timeout=15_000)
    qtbot.waitUntil(lambda: name in engine.market_data.instruments, timeout=20_000)
    assert engine.market_data.instruments[name].sec_type == "FUT"

    window.watchlist.input.setFocus()
    qtbot.keyClicks(window.watchlist.input, "es")
    qtbot.keyClick(window.watchlist.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "already in the watchlist" in window.watchlist.message.text(),
                    timeout=10_000)
    assert window.watchlist.model.symbols() == ["AAPL", name]
