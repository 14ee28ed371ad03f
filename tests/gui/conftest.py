"""Shared rig for the desktop app's tests: one qasync loop (as the app runs it) and the real
engine against the simulated gateway started in-process, its data folder under tmp_path.

The loop is made with `already_running=True`, so qtbot's waits drive asyncio too; run a
coroutine with `drive(qtbot, coro)`. The loop is never stopped (that would make Qt quit:
see STACK_NOTES). QSettings go to an ini file under tmp_path (`qsettings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QSettings

from ibtrader.app import Engine, open_engine
from ibtrader.config import Settings

T = TypeVar("T")

FAST_HISTORY = ("1 min=1 D", "5 mins=1 D", "15 mins=2 D", "1 hour=5 D", "1 day=1 M")


def drive(qtbot: Any, coro: Awaitable[T], timeout: float = 20.0) -> T:
    """Run `coro` on the shared loop while Qt processes events; its result or its error."""
    task = asyncio.ensure_future(asyncio.wait_for(coro, timeout))
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000) + 2_000)
    return task.result()


def gui_settings(tmp_path: Path, **values: Any) -> Settings:
    """Settings for a test: data under tmp_path, one symbol, a short history, no strategy."""
    base: dict[str, Any] = {"data_dir": tmp_path / "data", "watchlist": ("AAPL",),
                            "strategies": (), "history_lookback": FAST_HISTORY}
    return Settings(**{**base, **values})


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)
    # a plain thread pool, joined at the end: qasync's own leaves QThreads running at exit
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gui-test")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    yield loop
    for task in asyncio.all_tasks(loop):
        task.cancel()
    executor.shutdown(wait=True, cancel_futures=True)
    asyncio.set_event_loop(None)
    # an already-running qasync loop marks itself as this thread's running loop and is
    # never stopped (that would quit Qt): unmark it, or every later asyncio.run /
    # run_until_complete in the session fails with "another loop is running"
    asyncio._set_running_loop(None)
    gc.collect()  # cycles holding Qt objects go now, on this thread, not on a worker's


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """A QSettings store in an ini file under tmp_path (never the user's own)."""
    return QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)


EngineFactory = Callable[..., Engine]


@pytest.fixture
def engine_for(qtbot: Any, qloop: asyncio.AbstractEventLoop,
               tmp_path: Path) -> Iterator[EngineFactory]:
    """`engine_for(settings=None, **open_engine_options)`: the real engine, started
    (simulator, market data, trading engine, order manager); closed after the test."""
    opened: list[contextlib.AbstractAsyncContextManager[Engine]] = []

    def make(settings: Settings | None = None, **options: Any) -> Engine:
        context = open_engine(settings or gui_settings(tmp_path), **options)
        engine = drive(qtbot, context.__aenter__(), 30.0)
        opened.append(context)
        return engine

    yield make
    for context in reversed(opened):
        drive(qtbot, context.__aexit__(None, None, None), 30.0)


@pytest.fixture
def window_for(qtbot: Any, qsettings: QSettings, engine_for: EngineFactory,
               tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`window_for(settings=None, engine=True)`: the real main window, its layout restored
    from `qsettings`, shown, attached to a fresh engine for its watchlist (unless
    engine=False); let go of the engine before the engine stops."""
    from ibtrader.gui.main_window import MainWindow

    windows: list[Any] = []

    def make(settings: Settings | None = None, engine: bool = True) -> Any:
        settings = settings or gui_settings(tmp_path)
        window = MainWindow(qsettings, settings, use_tray=False)
        qtbot.addWidget(window)
        window.restore_layout(settings.watchlist)
        window.show()
        if engine:
            window.attach(engine_for(settings, symbols=window.watchlist.model.symbols()))
        windows.append(window)
        return window

    yield make
    for window in windows:
        for views in getattr(window, "test_views", ()):
            views.detach()
        window.detach()
