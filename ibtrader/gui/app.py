"""The desktop app's bootstrap: QApplication, one qasync loop shared with the engine, the
main window shown at once, then the engine started under it; a clean shutdown on close.

The window paints before the broker connects (a trader sees the app in about a second);
the engine's start-up (simulator, connection, reconcile, backfill) then runs on the same
loop without freezing it.

The web layer (dashboard and API, `settings.web_enabled`) starts once the window has
painted, on a thread while the engine opens; it serves the engine while it runs (503 before and
after) and stops when the app quits. It never stops the app: when it cannot start, the
Dashboard panel says why and which setting to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import qasync
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from ibtrader.config import Settings
from ibtrader.core.broker import BrokerUnavailable
from ibtrader.gui.dashboard_tab import (
    dashboard_of,
    install_dashboard,
    off_message,
    prepare_web_engine,
    start_problem,
)
from ibtrader.gui.main_window import MainWindow, wait_closed
from ibtrader.gui.workstation import attach_views
from ibtrader.resources import ResourceMissing, app_icon

log = logging.getLogger(__name__)

ORGANIZATION = "ibtrader"
APPLICATION = "ibtrader"


def application(web: bool = True) -> QApplication:
    """The process's QApplication, made once, with the names QSettings files go under
    (and, with `web`, what the Dashboard's QtWebEngine needs set before it exists)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        if web:
            prepare_web_engine()
        app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("ibtrader")
    if app.windowIcon().isNull():
        try:
            app.setWindowIcon(QIcon(str(app_icon())))
        except ResourceMissing as exc:  # a damaged install: the app still runs, without it
            log.warning("%s", exc)
    return app


def build_window(settings: Settings, store: QSettings | None = None,
                 config_file: Path | None = None, use_tray: bool | None = None) -> MainWindow:
    """The main window with its saved layout and watchlist (the settings' by default)."""
    window = MainWindow(store or QSettings(), settings, config_file, use_tray=use_tray)
    install_dashboard(window)  # before the layout comes back: it has a place in it
    window.restore_layout(settings.watchlist)
    return window


@contextlib.asynccontextmanager
async def run_web(window: MainWindow, settings: Settings) -> AsyncIterator[asyncio.Future[Any]]:
    """The web layer for the app's lifetime. Yields at once a future of the started
    `WebRuntime` (None when it is off or could not start: the Dashboard panel then says
    why): it starts once the window has painted, on a thread, while the engine opens
    (Flask's imports cost ~0.4 s of CPU). Stopped at the end."""
    starting = asyncio.ensure_future(_start_web_for(window, settings))
    try:
        yield starting
    finally:
        runtime = await starting
        if runtime is not None:
            panel = dashboard_of(window)
            if panel is not None:
                panel.dispose()
            await asyncio.to_thread(_stop_web, runtime)


async def _start_web_for(window: MainWindow, settings: Settings) -> Any:
    panel = dashboard_of(window)
    if not settings.web_enabled:
        if panel is not None:
            panel.show_problem(off_message())
        return None
    await _first_paint(window)  # the first window does not wait for the web layer
    runtime = await asyncio.to_thread(_start_web, settings)
    if isinstance(runtime, BaseException):
        text = start_problem(settings, runtime)
        if panel is not None:
            panel.show_problem(text)
        window.notifier.notify("Dashboard", text.split("\n\n")[0])
        return None
    if panel is not None:
        panel.serve(runtime)
    return runtime


def _start_web(settings: Settings) -> Any:
    """A started WebRuntime, or the error that stopped it (logged: never raised)."""
    try:
        from ibtrader.web.runtime import WebRuntime

        return WebRuntime(settings, jobs=_backtest_jobs(settings)).start()
    except Exception as exc:
        log.error("the web dashboard and API could not start: %s", exc,
                  exc_info=not isinstance(exc, OSError))
        return exc


def _backtest_jobs(settings: Settings) -> Any:
    """The app's one pool of backtest workers, shared with the Backtest dialog (it closes
    when the app quits)."""
    from ibtrader.gui.trading.backtest_job import desktop_jobs

    return desktop_jobs(settings, warm=False)  # the first backtest starts its worker


def _stop_web(runtime: Any) -> None:
    try:
        runtime.stop()
    except Exception:
        log.exception("the web server did not stop cleanly")


async def _first_paint(window: MainWindow, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while window.painted_at is None and window.isVisible() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def _web_attach(web: Any, engine: Any) -> None:
    try:
        web.attach(engine)
    except Exception:
        log.exception("the web layer could not attach to the engine (it answers 503)")


def _web_detach(web: Any) -> None:
    try:
        web.detach()
    except Exception:
        log.exception("the web layer did not let go of the engine cleanly")


@contextlib.asynccontextmanager
async def run_engine(window: MainWindow, settings: Settings,
                     web: Awaitable[Any] | None = None) -> AsyncIterator[bool]:
    """The engine started for the window's watchlist and attached to it (and to the web
    runtime `web` resolves to, when given: see `run_web`); yields False (and says so in
    the window) when the broker cannot be reached. A failure while shutting down is
    logged, not raised: the window is gone and the process must still end."""
    from ibtrader.app import open_engine

    symbols = window.watchlist.model.symbols()
    yielded = closing = False
    try:
        async with open_engine(settings, symbols=symbols) as engine:
            window.attach(engine)
            views = attach_views(window, engine, settings)
            runtime = None
            try:
                runtime = None if web is None else await web
                if runtime is not None:
                    _web_attach(runtime, engine)
                yielded = True
                yield True
                closing = True  # reached only when the window's session ended normally
            finally:
                if runtime is not None:
                    _web_detach(runtime)
                views.detach()
                window.detach()
    except BrokerUnavailable as exc:
        if yielded:
            log.warning("the broker went away while shutting down: %s", exc)
            return
        log.error("cannot reach the broker: %s", exc)
        window.status.show_state(window.status.state, str(exc))
        window.notifier.notify("Broker unavailable", f"{exc} (check File > Settings)")
        yield False
    except Exception:
        if not closing:
            raise
        log.exception("the engine did not shut down cleanly")


@dataclass(frozen=True)
class RunOptions:
    """How long to run and what to leave behind (demos, checks, benchmarks)."""

    seconds: float | None = None  # close the window after this long (None: when the user does)
    screenshot: Path | None = None  # the window's own grab, saved just before it closes
    report: TextIO | None = None  # start-up milestones as "name epoch-seconds" lines


async def serve(window: MainWindow, settings: Settings, options: RunOptions = RunOptions(),
                on_ready: Callable[[MainWindow], object] | None = None) -> int:
    """Show the window, run the engine under it until the window closes."""
    report = options.report
    if report is not None:
        window.first_painted.connect(lambda at: _milestone(report, "first-paint", at))
        window.watchlist.quotes_shown.connect(
            lambda _age: window.watchlist.quotes_flushes == 1
            and _milestone(report, "first-quotes", time.time()))
    window.show()
    async with run_web(window, settings) as web, run_engine(window, settings, web) as running:
        if report is not None:
            _milestone(report, "engine-ready", time.time())
        if on_ready is not None:
            on_ready(window)
        closed = asyncio.ensure_future(wait_closed(window))
        if options.seconds is not None:
            await asyncio.wait([closed], timeout=options.seconds)
            if not closed.done():
                if options.screenshot is not None:
                    save_screenshots(window, options.screenshot)
                window.close()
        await closed
    return 0 if running else 1


def save_screenshots(window: MainWindow, path: Path) -> list[Path]:
    """The window's own rendering to `path`; on a real display also what the screen shows
    (`<name>-screen.png`), which proves the window reached the X server."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = [path] if window.grab().save(str(path)) else []
    if QGuiApplication.platformName() not in ("offscreen", "minimal"):
        screen = window.screen().grabWindow(0)
        shot = path.with_name(f"{path.stem}-screen.png")
        if screen.save(str(shot)):
            saved.append(shot)
    for item in saved:
        log.info("screenshot saved to %s", item)
    return saved


def _milestone(out: TextIO, name: str, at: float) -> bool:
    print(f"{name} {at:.6f}", file=out, flush=True)
    return True


def run(settings: Settings, config_file: Path | None = None,
        options: RunOptions = RunOptions(),
        on_ready: Callable[[MainWindow], object] | None = None) -> int:
    """The app until its window closes; the exit status."""
    app = application(web=settings.web_enabled)
    app.setQuitOnLastWindowClosed(False)  # the engine shuts down after the window closes
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_window(settings, config_file=config_file)
    try:
        with loop:
            return loop.run_until_complete(serve(window, settings, options, on_ready))
    finally:
        asyncio.set_event_loop(None)
