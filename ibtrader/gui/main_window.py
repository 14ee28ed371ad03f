"""`MainWindow`: the workstation's frame: dockable panels, menus, shortcuts, status bar.

Other views join with `add_panel(name, title, widget, area)` (a dock the trader can move,
float, tab or hide; View menu entry and Alt+N shortcut included) or `set_central(widget)`
(the chart). `symbol_selected(str)` carries the watchlist's selection to whoever follows
it (chart, order ticket); `export_chart_requested` is the File menu's "Export chart".

The layout (docks, toolbars), the window geometry, the theme and the watchlist are kept
in a `QSettings` store when the window closes and restored on the next start.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QWidget,
)

from ibtrader.gui.kill_switch import KillSwitchButton
from ibtrader.gui.log_panel import LogPanel
from ibtrader.gui.notifications import NotificationsPanel, Notifier
from ibtrader.gui.status_bar import StatusBar
from ibtrader.gui.theme import DEFAULT_THEME, THEMES, apply_theme
from ibtrader.gui.watchlist_panel import PANEL_WIDTH, WatchlistPanel

if TYPE_CHECKING:
    from ibtrader.app import Engine
    from ibtrader.config import Settings

log = logging.getLogger(__name__)

LAYOUT_VERSION = 1  # bump when panels change so an old saved layout is not forced on them
GEOMETRY_KEY, STATE_KEY = "window/geometry", "window/state"
WATCHLIST_KEY, THEME_KEY = "watchlist/symbols", "view/theme"
PANELS_KEY, HIDDEN_KEY = "window/panels", "window/hidden_panels"
Area = Qt.DockWidgetArea


def _names(value: object) -> list[str]:
    # QSettings' ini files give back a one-item list as a plain string, none as None
    if value is None or value == "":
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def saved_watchlist(store: QSettings) -> list[str] | None:
    """The watchlist the last session closed with (None: never saved)."""
    if not store.contains(WATCHLIST_KEY):
        return None
    return _names(store.value(WATCHLIST_KEY))


class MainWindow(QMainWindow):
    symbol_selected = Signal(str)
    export_chart_requested = Signal()
    closed = Signal()
    first_painted = Signal(float)  # time.time() of the window's first paint

    def __init__(self, store: QSettings, settings: Settings | None = None,
                 config_file: Path | None = None, use_tray: bool | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.config_file = config_file
        self.engine: Engine | None = None
        self.painted_at: float | None = None
        self.panels: dict[str, QDockWidget] = {}
        self.setWindowTitle("ibtrader")
        self.resize(1400, 860)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks
                            | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)

        # a stable centre whose content changes: swapping QMainWindow's own central widget
        # would make the dock layout hand the docks the chart's space
        self.centre = QStackedWidget(self)
        self.central_placeholder = QLabel("Select a symbol in the watchlist", self.centre)
        self.central_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.centre.addWidget(self.central_placeholder)
        self.setCentralWidget(self.centre)

        self.watchlist = WatchlistPanel(self)
        self.watchlist.symbol_selected.connect(self.symbol_selected)
        self.log_panel = LogPanel(self)
        self.notifications_panel = NotificationsPanel(self)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.watchlist.quotes_shown.connect(self.status.show_latency)
        self.notifier = Notifier(self, self.notifications_panel, use_tray=use_tray)
        self.kill_switch = KillSwitchButton(self)
        self.kill_switch.tripped.connect(self._on_kill_report)
        self.kill_switch.failed.connect(lambda text: self.notifier.notify("Kill switch", text))

        self._build_menus()
        self._build_toolbar()
        self.add_panel("watchlist", "Watchlist", self.watchlist, Area.LeftDockWidgetArea)
        self.add_panel("log", "Activity log", self.log_panel, Area.BottomDockWidgetArea)
        self.add_panel("notifications", "Notifications", self.notifications_panel,
                       Area.BottomDockWidgetArea)
        self.tabifyDockWidget(self.panels["log"], self.panels["notifications"])
        self.resizeDocks([self.panels["watchlist"]], [PANEL_WIDTH], Qt.Orientation.Horizontal)
        self.resizeDocks([self.panels["log"]], [170], Qt.Orientation.Vertical)
        self.panels["log"].raise_()
        self._default_state = self.saveState(LAYOUT_VERSION)
        self.log_panel.install()
        self.set_theme(str(store.value(THEME_KEY, DEFAULT_THEME)))

    # ----- panels -------------------------------------------------------------------------
    def add_panel(self, name: str, title: str, widget: QWidget,
                  area: Area = Area.RightDockWidgetArea, shown: bool = True) -> QDockWidget:
        """Dock `widget` as panel `name` (the key its place is saved under); `shown=False`:
        hidden the first time (until the trader opens it), then as the layout was left."""
        if name in self.panels:
            raise ValueError(f"a panel named {name!r} is already in the window")
        dock = QDockWidget(title, self)
        dock.setObjectName(f"panel:{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        self.panels[name] = dock
        toggle = dock.toggleViewAction()
        if len(self.panels) <= 9:
            toggle.setShortcut(QKeySequence(f"Alt+{len(self.panels)}"))
        self.panels_menu.addAction(toggle)
        if name in _names(self.store.value(PANELS_KEY)):  # it was there last time
            self.restoreDockWidget(dock)
            dock.setVisible(name not in _names(self.store.value(HIDDEN_KEY)))
        else:  # a newcomer: shown, at a size that leaves the chart its room
            dock.show()
            vertical = area in (Area.TopDockWidgetArea, Area.BottomDockWidgetArea)
            self.resizeDocks([dock], [220 if vertical else 360],
                             Qt.Orientation.Vertical if vertical else Qt.Orientation.Horizontal)
            dock.setVisible(shown)
        return dock

    def set_central(self, widget: QWidget) -> None:
        """The window's centre (the chart); the watchlist selection is handed to it by
        whoever connects `symbol_selected`."""
        if self.centre.indexOf(widget) < 0:
            self.centre.addWidget(widget)
        self.centre.setCurrentWidget(widget)

    def central_view(self) -> QWidget:
        return self.centre.currentWidget()

    def follow_selection(self, target: Callable[[str], object]) -> None:
        """Call `target(symbol)` on each selection, and now for the one already selected."""
        self.symbol_selected.connect(target)
        current = self.watchlist.selected_symbol()
        if current is not None:
            target(current)

    # ----- menus and shortcuts ------------------------------------------------------------
    def _action(self, menu: QMenu, text: str, slot: Callable[[], object],
                shortcut: QKeySequence | str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.addAction(action)  # shortcuts work with the menu bar hidden too
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.settings_action = self._action(file, "&Settings…", self.open_settings,
                                            QKeySequence.StandardKey.Preferences)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.export_action = self._action(file, "&Export chart as PNG…",
                                          self.export_chart_requested.emit, "Ctrl+E")
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", self.close, "Ctrl+Q")

        watch = bar.addMenu("&Watchlist")
        self.add_symbol_action = self._action(watch, "&Add symbol…", self.focus_add_symbol,
                                              "Ctrl+N")
        self.remove_symbol_action = self._action(watch, "&Remove symbol",
                                                 self.watchlist.remove_selected, "Ctrl+Del")
        self._action(watch, "Move &up", lambda: self.watchlist.move_selected(-1), "Alt+Up")
        self._action(watch, "Move &down", lambda: self.watchlist.move_selected(1), "Alt+Down")

        trading = bar.addMenu("&Trading")
        self.trading_menu = trading
        self.kill_action = self._action(trading, "&Kill switch…", self.kill_switch.ask,
                                        "Ctrl+Shift+K")

        view = bar.addMenu("&View")
        self.view_menu = view
        self.panels_menu = view.addMenu("&Panels")
        theme_menu = view.addMenu("&Theme")
        self.theme_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name in THEMES:
            action = QAction(name.capitalize(), self, checkable=True)
            action.triggered.connect(lambda _c=False, n=name: self.set_theme(n))
            group.addAction(action)
            theme_menu.addAction(action)
            self.theme_actions[name] = action
        self.toggle_theme_action = self._action(theme_menu, "&Switch theme",
                                                self.toggle_theme, "Ctrl+Shift+T")
        view.addSeparator()
        self._action(view, "&Reset layout", self.reset_layout)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Trading", self)
        bar.setObjectName("toolbar:trading")
        bar.setMovable(False)
        bar.toggleViewAction().setVisible(False)  # the kill switch cannot be hidden
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(self.kill_switch)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.toolbar = bar

    # ----- actions ------------------------------------------------------------------------
    def focus_add_symbol(self) -> None:
        self.panels["watchlist"].show()
        self.panels["watchlist"].raise_()
        self.watchlist.input.setFocus()
        self.watchlist.input.selectAll()

    def set_theme(self, name: str) -> None:
        if name not in THEMES:
            log.warning("unknown theme %r in the saved settings; using %s", name, DEFAULT_THEME)
            name = DEFAULT_THEME
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)
        self.theme = name
        self.theme_actions[name].setChecked(True)
        self.status.show_state(self.status.state, self.status.state_label.toolTip())
        self.store.setValue(THEME_KEY, name)

    def toggle_theme(self) -> None:
        self.set_theme(THEMES[(THEMES.index(self.theme) + 1) % len(THEMES)])

    def open_settings(self) -> None:
        from ibtrader.gui.settings_dialog import SettingsDialog

        if self.settings is None:
            return
        dialog = SettingsDialog(self.settings, self.config_file, self)
        dialog.saved.connect(lambda path: self.notifier.notify(
            "Settings", f"saved to {path}; they apply on the next start"))
        dialog.open()
        self.settings_dialog = dialog

    def reset_layout(self) -> None:
        self.restoreState(self._default_state, LAYOUT_VERSION)
        for dock in self.panels.values():
            dock.show()

    def _on_kill_report(self, report: object) -> None:
        still = len(getattr(report, "still_open", ()))
        errors = getattr(report, "errors", ())
        text = (f"{len(getattr(report, 'cancelled', ()))} orders cancelled, "
                f"{len(getattr(report, 'flattening', ()))} closing orders, {still} still open")
        self.notifier.notify("Kill switch", text + (f"; {'; '.join(errors)}" if errors else ""))

    # ----- the engine ---------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        self.engine = engine
        self.watchlist.attach(engine)
        account = self.settings.ib_account if self.settings is not None else ""
        self.status.attach(engine, account)
        self.kill_switch.attach(engine.orders)
        self.notifier.attach(engine.orders)

    def detach(self) -> None:
        self.notifier.detach()
        self.kill_switch.attach(None)
        self.status.detach()
        self.watchlist.detach()
        self.engine = None

    # ----- keeping the layout -------------------------------------------------------------
    def restore_layout(self, default_symbols: Sequence[str] = ()) -> bool:
        """Geometry, docks and watchlist as the last session left them; True if found."""
        symbols = saved_watchlist(self.store)
        self.watchlist.set_symbols(default_symbols if symbols is None else symbols)
        geometry, state = self.store.value(GEOMETRY_KEY), self.store.value(STATE_KEY)
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            return self.restoreState(state, LAYOUT_VERSION)
        return False

    def save_layout(self) -> None:
        self.store.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.store.setValue(STATE_KEY, self.saveState(LAYOUT_VERSION))
        self.store.setValue(WATCHLIST_KEY, self.watchlist.model.symbols())
        self.store.setValue(PANELS_KEY, list(self.panels))
        self.store.setValue(HIDDEN_KEY, [n for n, d in self.panels.items() if d.isHidden()])
        self.store.setValue(THEME_KEY, self.theme)
        self.store.sync()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.painted_at is None:
            self.painted_at = time.time()
            self.first_painted.emit(self.painted_at)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.log_panel.uninstall()
        super().closeEvent(event)
        self.closed.emit()


async def wait_closed(window: MainWindow) -> None:
    """Returns once the window has been closed."""
    done = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: done.done() or done.set_result(None))
    await done
