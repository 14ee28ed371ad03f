"""The Dashboard panel inside the desktop app, wired as the app wires it (`run_web` and
`run_engine` from gui.app): a real web server on a free port over the real engine and
simulator, a real QtWebEngine browser signed in with a login ticket, a screenshot that shows
the page; the session ending signs in again; a taken port or the web turned off gives a
message naming the setting to change, and the app goes on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QImage

from ibtrader.gui.app import run_engine, run_web
from ibtrader.gui.dashboard_tab import browser_url, dashboard_of, install_dashboard
from tests.gui.conftest import drive, gui_settings

pytest.importorskip("PySide6.QtWebEngineWidgets")


END_SESSION = """
fetch('/api/v1/session').then(r => r.json())
  .then(s => fetch('/logout', {method: 'POST', headers: {'X-CSRF-Token': s.csrf_token,
                                                         'Accept': 'application/json'}}))
  .then(() => location.reload());
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_js(qtbot: Any, panel: Any, script: str, timeout: int = 5000) -> Any:
    answers: list[Any] = []
    panel.view.page().runJavaScript(script, 0, answers.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=timeout)
    return answers[0]


def wait_js(qtbot: Any, panel: Any, script: str, timeout: int = 20_000) -> None:
    """Until `script` is true in the page (asked again and again: the page is live)."""
    seen: list[Any] = []

    def ask() -> None:
        panel.view.page().runJavaScript(script, 0, seen.append)

    ask()
    qtbot.waitUntil(lambda: (seen and seen[-1] is True) or (ask() and False), timeout=timeout)


def colours(image: QImage, left: int, top: int, width: int, height: int) -> int:
    return len({image.pixel(x, y) for x in range(left, left + width, 6)
                for y in range(top, top + height, 6)})


class UrlCatcher(QObject):
    """Stands where the system browser would: Qt hands it the URLs it would open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@pytest.fixture
def browser_urls() -> Iterator[list[str]]:
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "open")
    yield catcher.urls
    QDesktopServices.unsetUrlHandler("http")


def window_panel(window: Any) -> Any:
    panel = dashboard_of(window)
    assert panel is not None
    return panel


def dashboard_window(window_for: Any, settings: Any) -> Any:
    window = window_for(settings, engine=False)
    install_dashboard(window)
    return window


def test_dashboard_tab_is_signed_in_on_the_live_engine(qtbot, window_for, tmp_path,
                                                       browser_urls):
    settings = gui_settings(tmp_path, web_port=free_port())
    window = dashboard_window(window_for, settings)
    panel = window_panel(window)
    assert not window.panels["dashboard"].isVisible()  # no Chromium for the first window
    assert panel.show_action in window.view_menu.actions()  # View > Dashboard
    assert panel.show_action.shortcut().toString() == "Ctrl+Shift+D"

    web_cm = run_web(window, settings)
    starting = drive(qtbot, web_cm.__aenter__())
    engine_cm = run_engine(window, settings, starting)
    try:
        assert drive(qtbot, engine_cm.__aenter__(), 30.0) is True
        web = starting.result()
        assert web.context.bridge is not None  # the API serves the engine
        assert panel.view is None  # still not started: nobody opened the panel
        base = f"http://127.0.0.1:{web.port}"
        assert panel.url_label.text() == base

        window_panel(window).show_action.trigger()  # View > Dashboard
        assert window.panels["dashboard"].isVisible()
        qtbot.waitUntil(lambda: panel.view is not None, timeout=5000)
        assert panel.profile.isOffTheRecord()  # the session cookie never reaches the disk
        with qtbot.waitSignal(panel.page_loaded, timeout=20_000) as loaded:
            pass
        assert loaded.args[0].rstrip("/") == base  # the dashboard, not the login page
        assert run_js(qtbot, panel, "document.title") == "ibtrader"
        # signed in, and live: the account's figures came from the engine via the API
        wait_js(qtbot, panel, "!!document.getElementById('acct-net_liquidation') && "
                "/\\d/.test(document.getElementById('acct-net_liquidation').textContent)")
        qtbot.wait(300)  # let the compositor present the last frame

        shot = tmp_path / "dashboard.png"
        assert window.grab().save(str(shot))
        image = QImage(str(shot))
        dock = window.panels["dashboard"]
        where = panel.stack.mapTo(window, panel.stack.rect().topLeft())
        region = (where.x(), where.y(), panel.stack.width(), panel.stack.height())
        assert region[2] > 300 and region[3] > 300, (dock.width(), dock.height())
        assert colours(image, *region) > 10, "the dashboard area of the window is blank"

        # the session ends on the server (signed out elsewhere, say): the page lands on
        # /login, and the panel signs in again with a fresh ticket
        with qtbot.waitSignal(panel.page_loaded, timeout=20_000) as again:
            panel.view.page().runJavaScript(END_SESSION)
            qtbot.waitUntil(lambda: len(panel.sign_ins) == 2, timeout=10_000)
        assert again.args[0].rstrip("/") == base
        assert run_js(qtbot, panel, "location.pathname") == "/"
        assert panel.problem() is None
        tickets = len(panel.sign_ins)
        with qtbot.waitSignal(panel.page_loaded, timeout=20_000) as reloaded:
            panel.reload_action.trigger()  # the toolbar's Reload: still signed in
        assert reloaded.args[0].rstrip("/") == base and len(panel.sign_ins) == tickets

        panel.open_in_browser()  # the plain URL: no ticket leaves the app
        assert browser_urls == [base]
    finally:
        drive(qtbot, engine_cm.__aexit__(None, None, None), 30.0)
    assert web.context.bridge is None  # detached before the engine stopped: API 503
    drive(qtbot, web_cm.__aexit__(None, None, None))
    assert panel.view is None
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/api/v1/health", timeout=2)


def test_port_taken_says_which_setting_to_change_and_the_app_goes_on(qtbot, window_for,
                                                                      tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = gui_settings(tmp_path, web_port=port)
        window = dashboard_window(window_for, settings)
        web_cm = run_web(window, settings)
        assert drive(qtbot, drive(qtbot, web_cm.__aenter__())) is None
        try:
            window_panel(window).show_action.trigger()
            qtbot.wait(100)
            problem = window_panel(window).problem()
            assert problem is not None and f"127.0.0.1:{port}" in problem
            assert "web_port" in problem and "Web port" in problem
            assert window_panel(window).view is None  # a message, not a blank page
            assert window_panel(window).message.isVisible()
            assert not window_panel(window).reload_action.isEnabled()
            assert any("could not start" in text for text in _notifications(window))
            assert window.isVisible()  # the app goes on
        finally:
            drive(qtbot, web_cm.__aexit__(None, None, None))


def test_web_turned_off_names_the_setting(qtbot, window_for, tmp_path):
    settings = gui_settings(tmp_path, web_enabled=False)
    window = dashboard_window(window_for, settings)
    web_cm = run_web(window, settings)
    assert drive(qtbot, drive(qtbot, web_cm.__aenter__())) is None
    window_panel(window).show_action.trigger()
    problem = window_panel(window).problem()
    assert problem is not None and "web_enabled" in problem
    assert window_panel(window).view is None
    drive(qtbot, web_cm.__aexit__(None, None, None))


def test_a_wildcard_bind_address_is_reached_on_loopback():
    assert browser_url("http://0.0.0.0:8050").toString() == "http://127.0.0.1:8050"
    assert browser_url("https://[::]:9000").toString() == "https://[::1]:9000"
    assert browser_url("http://192.168.1.5:8050").host() == "192.168.1.5"


def _notifications(window: Any) -> list[str]:
    panel = window.notifications_panel
    return [panel.item(row).text() for row in range(panel.count())]


APP_WITH_DASHBOARD = """
import sys
from pathlib import Path
from ibtrader.config import Settings
from ibtrader.gui.app import RunOptions, run, save_screenshots
from ibtrader.gui.dashboard_tab import dashboard_of, show_dashboard

shot, data, port = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])

def ready(window):
    def loaded(url):
        print("loaded", url, flush=True)
        save_screenshots(window, shot)
        window.close()
    dashboard_of(window).page_loaded.connect(loaded)
    show_dashboard(window)

settings = Settings(data_dir=data, watchlist=("AAPL",), strategies=(), web_port=port,
                    history_lookback=("1 min=1 D", "5 mins=1 D", "15 mins=2 D",
                                      "1 hour=5 D", "1 day=1 M"))
sys.exit(run(settings, options=RunOptions(seconds=40), on_ready=ready))
"""


def test_the_app_opens_the_dashboard_signed_in_in_a_fresh_process(tmp_path):
    """The app's own start-up (its QApplication made by gui.app, QtWebEngine imported only
    when the panel opens), not the test process's: the page loads signed in, then exits 0."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("QTWEBENGINE_DISABLE_SANDBOX", None)  # the app sets it itself when root
    shot, port = tmp_path / "app.png", free_port()
    done = subprocess.run([sys.executable, "-c", APP_WITH_DASHBOARD, str(shot),
                           str(tmp_path / "data"), str(port)],
                          capture_output=True, text=True, timeout=90, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"loaded http://127.0.0.1:{port}/" in done.stdout
    image = QImage(str(shot))
    dock_x = image.width() // 2  # the dashboard is on the right half of the window
    assert colours(image, dock_x, 80, image.width() - dock_x - 10, 300) > 10
