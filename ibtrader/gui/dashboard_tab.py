"""The Dashboard panel: the web dashboard (issue 6) inside the desktop app, already signed in.

The page comes from the app's own web server (`ibtrader.web.runtime.WebRuntime`). The panel
signs its browser in with a one-time login ticket, so the trader never types the dashboard
password here; the browser keeps its session in an off-the-record profile (nothing on disk).
When the session ends (the page lands on /login) it fetches a new ticket and signs in again.

QtWebEngine starts a Chromium in the process (a few hundred ms and ~100 MB), so the view is
made only when the panel is first shown, after the window has painted: a trader who never
opens the dashboard never pays for it. When the server is off or could not start, the panel
says why and which setting to change instead of showing a blank page.
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QShowEvent
from PySide6.QtWidgets import QLabel, QStackedWidget, QToolBar, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.gui.main_window import MainWindow

log = logging.getLogger(__name__)

PANEL = "dashboard"
LOGIN_PATH = "/login"
TICKET_PATH = "/login/ticket/"
RETRY_WINDOW_S = 30.0  # this many s after a sign-in, landing on /login again means refused
MAX_SIGN_INS = 3  # sign-ins within RETRY_WINDOW_S before the panel gives up and says so
WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]", ""}
SETTING_HINT = "File > Settings > Services"
WIDTH_SHARE = 0.42  # of the window, when opened narrower: readable, the chart keeps room
MIN_CHART_WIDTH = 520  # px the chart keeps when the dashboard widens
MIN_HEIGHT = 400  # px: below this a docked dashboard is a tab over its neighbours instead


def prepare_web_engine() -> None:
    """What QtWebEngine needs before the QApplication exists: the shared OpenGL contexts
    (what importing QtWebEngineWidgets early would set, without its import cost on the
    first window) and, as root, Chromium's sandbox off (it refuses to start otherwise)."""
    if QCoreApplication.instance() is not None:
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def browser_url(url: str) -> QUrl:
    """The server's URL as a browser on this machine reaches it (a wildcard bind address
    such as 0.0.0.0 is not a place to connect to: loopback is)."""
    qurl = QUrl(url)
    if qurl.host() in WILDCARD_HOSTS:
        qurl.setHost("::1" if ":" in qurl.host() else "127.0.0.1")
    return qurl


def off_message() -> str:
    return ("The web dashboard is off.\n\nTurn it on with the setting web_enabled "
            "(IBTRADER_WEB_ENABLED=true or web_enabled = true in the config file) and "
            "restart the app.")


def start_problem(settings: Settings, error: BaseException) -> str:
    """What the panel says when the web server could not start, naming what to change."""
    where = f"{settings.web_host}:{settings.web_port}"
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    if isinstance(error, OSError):
        return (f"The web server could not start on {where}: {reason}.\n\n"
                f"Another program (or another ibtrader) probably uses that port. Choose "
                f"another Web port in {SETTING_HINT} (setting web_port, env "
                f"IBTRADER_WEB_PORT) and restart the app. The rest of the app works as usual.")
    return (f"The web server could not start on {where}: {reason}.\n\n"
            f"Check the web settings in {SETTING_HINT} (web_host, web_port, "
            f"web_tls_certfile, web_tls_keyfile) and the activity log, then restart the app.")


class DashboardPanel(QWidget):
    """A toolbar (reload, open in browser, the URL) over the dashboard page or a message."""

    page_loaded = Signal(str)  # the URL of each page load that finished (not the ticket's)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime: Any = None  # a started WebRuntime, or None
        self.view: Any = None  # QWebEngineView, made on first show
        self.profile: Any = None
        self.sign_ins: list[float] = []  # when each ticket was fetched (monotonic)
        self.show_action: QAction | None = None  # View > Dashboard, once installed
        self._opening = False

        self.toolbar = QToolBar("Dashboard", self)
        self.reload_action = QAction("Reload", self)
        self.reload_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.reload_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.reload_action.setToolTip("Reload the dashboard (signs in again if needed)")
        self.reload_action.triggered.connect(lambda _c=False: self.reload())
        self.browser_action = QAction("Open in browser", self)
        self.browser_action.setToolTip("Open the dashboard in your web browser (it asks for "
                                       "the dashboard password there)")
        self.browser_action.triggered.connect(lambda _c=False: self.open_in_browser())
        self.toolbar.addAction(self.reload_action)
        self.toolbar.addAction(self.browser_action)
        self.url_label = QLabel(self.toolbar)
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_label.setContentsMargins(8, 0, 0, 0)
        self.toolbar.addWidget(self.url_label)

        self.stack = QStackedWidget(self)
        self.message = QLabel("The web dashboard is starting…", self.stack)
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMargin(24)
        self.stack.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.stack, 1)
        self._set_actions(False)

    # ----- what the panel shows ---------------------------------------------------------
    @property
    def base_url(self) -> QUrl | None:
        return None if self.runtime is None else browser_url(self.runtime.url)

    def serve(self, runtime: Any) -> None:
        """Show this started runtime's dashboard (at once if the panel is open)."""
        self.runtime = runtime
        self.sign_ins.clear()
        base = self.base_url
        self.url_label.setText(base.toString() if base is not None else "")
        self._set_actions(True)
        if self.view is not None:
            self.stack.setCurrentWidget(self.view)
            self.sign_in()
        elif self.isVisible():
            self._open_later()

    def show_problem(self, text: str) -> None:
        """No dashboard: say why (server off, port taken) instead."""
        self.runtime = None
        self.url_label.setText("")
        self._set_actions(False)
        self._show_message(text)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)
        if self.view is not None:
            self.view.stop()
            self.view.setUrl(QUrl("about:blank"))

    def problem(self) -> str | None:
        """The message shown instead of the page, or None while the page is shown."""
        return self.message.text() if self.stack.currentWidget() is self.message else None

    def _set_actions(self, enabled: bool) -> None:
        self.reload_action.setEnabled(enabled)
        self.browser_action.setEnabled(enabled)

    # ----- the browser ------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.runtime is not None and self.view is None:
            self._open_later()

    def _open_later(self) -> None:
        # after this paint: the panel (and the window) appear first, Chromium starts next
        if not self._opening:
            self._opening = True
            QTimer.singleShot(0, self._open)

    def _open(self) -> None:
        self._opening = False
        if self.view is not None or self.runtime is None:
            return
        from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile
        from PySide6.QtWebEngineWidgets import QWebEngineView

        # the page (a child of the view, inside the stack) must go before its profile or
        # QtWebEngine warns of trouble: the stack is an older child of the panel than the
        # profile, so Qt deletes it first; dispose() deletes them in that order too
        view = QWebEngineView(self.stack)
        profile = QWebEngineProfile(self)  # no storage name: off the record
        profile.setPersistentCookiesPolicy(
            QWebEngineProfile.PersistentCookiesPolicy.NoPersistentCookies)
        profile.setHttpCacheType(QWebEngineProfile.HttpCacheType.MemoryHttpCache)
        view.setPage(QWebEnginePage(profile, view))
        view.loadFinished.connect(self._loaded)
        self.view, self.profile = view, profile
        self.stack.addWidget(view)
        self.stack.setCurrentWidget(view)
        self.sign_in()

    def sign_in(self) -> bool:
        """Load the dashboard through a fresh one-time login ticket; False (and a message)
        when the server would not give one."""
        if self.runtime is None or self.view is None:
            return False
        from ibtrader.web.security import issue_login_ticket

        now = time.monotonic()
        self.sign_ins = [t for t in self.sign_ins if now - t < RETRY_WINDOW_S]
        if len(self.sign_ins) >= MAX_SIGN_INS:
            log.error("the dashboard keeps sending the app's browser to the login page")
            self._show_message("The dashboard refused the app's sign-in (it kept returning "
                               "to the login page). See the activity log; Reload tries again.")
            return False
        try:
            ticket = issue_login_ticket(self.runtime.context)
        except Exception as exc:  # the web layer must never take the app down
            log.exception("no login ticket for the dashboard")
            self._show_message(f"The app could not sign in to the dashboard: {exc}. "
                               "Reload tries again.")
            return False
        self.sign_ins.append(now)
        url = QUrl(self.base_url)
        url.setPath(TICKET_PATH + ticket)
        self.view.load(url)
        return True

    def reload(self) -> None:
        if self.view is None:
            if self.runtime is not None:
                self._open_later()
            return
        if self.runtime is None:
            return
        if self.stack.currentWidget() is not self.view:  # after a refused sign-in: anew
            self.sign_ins.clear()
            self.stack.setCurrentWidget(self.view)
            self.sign_in()
        elif not self._ours(url := self.view.url()) or url.path().startswith(LOGIN_PATH):
            self.sign_in()  # the login page, or a refused ticket's: a fresh ticket
        else:
            self.view.reload()

    def open_in_browser(self) -> bool:
        """The plain dashboard URL in the system's browser (no ticket: it signs in there)."""
        base = self.base_url
        return base is not None and QDesktopServices.openUrl(base)

    def _loaded(self, ok: bool) -> None:
        if self.view is None:
            return
        url = self.view.url()
        if not self._ours(url):
            return
        if url.path() == LOGIN_PATH:
            # the session ended (signed out, expired, server's key changed): sign in again,
            # once the login page has settled so no navigation of the page's races ours
            log.info("the dashboard session ended; signing in again")
            QTimer.singleShot(0, self.sign_in)
        elif url.path().startswith(TICKET_PATH):  # the server refused the ticket: its page
            log.warning("the dashboard refused the app's login ticket")  # says so
        elif ok:
            self.page_loaded.emit(url.toString())
        else:
            log.warning("the dashboard page did not load: %s", url.toString())

    def _ours(self, url: QUrl) -> bool:
        base = self.base_url
        return base is not None and url.host() == base.host() and url.port() == base.port()

    def dispose(self) -> None:
        """Let go of the browser now, in order: the view with its page, then the profile
        (a page outliving its profile is what QtWebEngine warns about). Before the app quits."""
        import shiboken6

        view, profile, self.view, self.profile = self.view, self.profile, None, None
        if view is not None:
            self.stack.removeWidget(view)
            shiboken6.delete(view)  # its page is its child: gone with it
        if profile is not None:
            shiboken6.delete(profile)


def install_dashboard(window: MainWindow) -> DashboardPanel:
    """The Dashboard panel in the window (hidden until asked for, so the first window does
    not start Chromium) and View > Dashboard (Ctrl+Shift+D) to bring it forward."""
    panel = DashboardPanel(window)
    dock = window.add_panel(PANEL, "Dashboard", panel, Qt.DockWidgetArea.RightDockWidgetArea,
                            shown=False)
    action = QAction("&Dashboard", window)
    action.setShortcut(QKeySequence("Ctrl+Shift+D"))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda _c=False: show_dashboard(window))
    window.view_menu.insertAction(window.view_menu.actions()[0], action)
    window.addAction(action)
    panel.show_action = action
    dock.setMinimumWidth(320)
    return panel


def dashboard_of(window: MainWindow) -> DashboardPanel | None:
    """The window's Dashboard panel, if it has one."""
    dock = window.panels.get(PANEL)
    widget = dock.widget() if dock is not None else None
    return widget if isinstance(widget, DashboardPanel) else None


def show_dashboard(window: MainWindow) -> None:
    """Bring the Dashboard forward at a size where it is readable: squeezed between other
    docks it becomes a tab over the tallest of them; it widens out of the chart's spare room."""
    dock = window.panels[PANEL]
    dock.show()
    if not dock.isFloating() and dock.height() < MIN_HEIGHT:
        area = window.dockWidgetArea(dock)
        others = [d for d in window.panels.values() if d is not dock and d.isVisible()
                  and not d.isFloating() and window.dockWidgetArea(d) == area
                  and dock not in window.tabifiedDockWidgets(d)]
        if others:
            window.tabifyDockWidget(max(others, key=lambda d: d.height()), dock)
    dock.show()
    dock.raise_()
    # wider, but only out of the chart's spare room: the chart stays the window's centre
    spare = max(0, window.centralWidget().width() - MIN_CHART_WIDTH)
    wide = min(int(window.width() * WIDTH_SHARE), dock.width() + spare)
    if not dock.isFloating() and dock.width() < wide:
        window.resizeDocks([dock], [wide], Qt.Orientation.Horizontal)
