"""Themes switch from the View menu (dark by default, checked on grabbed pixels), every
common action has a menu entry and a shortcut, and panels join with `add_panel`."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLabel

from ibtrader.gui.main_window import MainWindow
from ibtrader.gui.theme import THEMES, style_sheet
from tests.gui.conftest import gui_settings


@pytest.fixture
def window(qtbot, qsettings, tmp_path) -> MainWindow:
    w = MainWindow(qsettings, gui_settings(tmp_path), use_tray=False)
    qtbot.addWidget(w)
    w.restore_layout(("AAPL",))
    w.show()
    return w


def lightness(w: MainWindow) -> int:
    image = w.watchlist.table.grab().toImage()
    return image.pixelColor(image.width() - 3, image.height() - 3).lightness()


def test_dark_by_default_and_light_from_the_view_menu(window, tmp_path):
    assert window.theme == "dark" and window.theme_actions["dark"].isChecked()
    dark = lightness(window)
    window.grab().save(str(tmp_path / "dark.png"))
    window.theme_actions["light"].trigger()
    assert window.theme == "light"
    light = lightness(window)
    window.grab().save(str(tmp_path / "light.png"))
    assert dark < 80 < 200 < light
    window.toggle_theme_action.trigger()  # Ctrl+Shift+T
    assert window.theme == "dark" and lightness(window) == dark


def test_every_common_action_has_a_shortcut(window):
    shortcuts = {a.text().replace("&", ""): a.shortcut().toString()
                 for a in window.actions() if not a.shortcut().isEmpty()}
    for name in ("Add symbol…", "Remove symbol", "Kill switch…", "Switch theme",
                 "Export chart as PNG…", "Quit", "Settings…", "Move up", "Move down"):
        assert shortcuts.get(name), f"{name} has no shortcut"
    panels = {a.text(): a.shortcut().toString() for a in window.panels_menu.actions()}
    assert panels == {"Watchlist": "Alt+1", "Activity log": "Alt+2", "Notifications": "Alt+3"}
    assert len(set(shortcuts.values())) == len(shortcuts)  # no two actions share a key


def test_shortcuts_reach_their_actions(window, qtbot):
    with qtbot.waitSignal(window.export_chart_requested, timeout=1000):
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)  # hide watchlist
    assert not window.panels["watchlist"].isVisible()
    window.add_symbol_action.trigger()  # Ctrl+N: shows the panel, focuses the input
    assert window.panels["watchlist"].isVisible()
    assert QKeySequence(window.add_symbol_action.shortcut()).toString() == "Ctrl+N"


def test_other_panels_join_and_find_their_place_again(window, qtbot, qsettings):
    chart = QLabel("chart")
    window.add_panel("orders", "Orders", QLabel("orders"), Qt.DockWidgetArea.BottomDockWidgetArea)
    window.set_central(chart)
    assert window.central_view() is chart and "orders" in window.panels
    with pytest.raises(ValueError, match="already in the window"):
        window.add_panel("orders", "Orders", QLabel("again"))
    window.removeDockWidget(window.panels["orders"])
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, window.panels["orders"])
    window.panels["orders"].show()
    window.close()

    again = MainWindow(qsettings, None, use_tray=False)
    qtbot.addWidget(again)
    again.restore_layout()
    again.add_panel("orders", "Orders", QLabel("orders"))  # added after the restore
    assert again.dockWidgetArea(again.panels["orders"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert again.watchlist.model.symbols() == ["AAPL"]


def test_style_sheets_exist_and_an_unknown_theme_is_named():
    assert all("QPushButton#killSwitch" in style_sheet(name) for name in THEMES)
    with pytest.raises(ValueError, match="choose one of dark, light"):
        style_sheet("neon")


def test_the_app_and_its_windows_carry_the_ibtrader_icon(qapp):
    from ibtrader.gui.app import application

    app = application(web=False)
    icon = app.windowIcon()
    assert not icon.isNull()
    image = icon.pixmap(64, 64).toImage()
    assert image.width() == 64 and len({image.pixel(x, 32) for x in range(0, 64, 4)}) > 2
