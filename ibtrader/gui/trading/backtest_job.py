"""A backtest from the desktop, run in a worker process (ibtrader/backtest/jobs.py) so the
engine loop and the GUI keep their pace, and awaited on the GUI thread's loop.

    run = WorkerRun(desktop_jobs(settings), job, settings, progress=bar.setValue)
    result = await run.result()      # BacktestResult; BacktestCancelled / BacktestFailed
    run.cancel()                     # from a button

Progress comes from the pool's thread to the loop, one hop per percent, in order, and
never after the run finished.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication

from ibtrader.backtest.jobs import BacktestJob, BacktestJobs, BacktestResult

_shared: BacktestJobs | None = None
_hooked = False  # close_desktop_jobs runs when the app quits


class BacktestCancelled(Exception):
    """The trader cancelled the run (or closed its dialog)."""


class BacktestFailed(Exception):
    """The run stopped on an error; the message says which, in the trader's terms."""


def desktop_jobs(settings: Any, *, warm: bool = True) -> BacktestJobs:
    """The app's one pool of backtest workers (the dialog's and, handed to the web runtime,
    the API's), closed when the app quits. With `warm`, its worker starts now (~1 s of
    imports) rather than at the first job: the dialog asks for that, the app's start-up
    does not (it would compete with the backfill). Each run passes its own settings."""
    global _shared, _hooked
    if _shared is None or _shared.closed:
        _shared = BacktestJobs(settings)
    if warm:
        _shared.warm()
    if not _hooked:
        _hooked = True
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(close_desktop_jobs)
        atexit.register(close_desktop_jobs)
    return _shared


def close_desktop_jobs() -> None:
    global _shared
    if _shared is not None:
        _shared.close()
        _shared = None


class WorkerRun:
    """One job on the pool, seen from the event loop of the thread that made it."""

    def __init__(self, jobs: BacktestJobs, job: BacktestJob, settings: Any,
                 progress: Callable[[int], object]) -> None:
        self._jobs = jobs
        self._progress = progress
        self._loop = asyncio.get_event_loop()
        self._outcome: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self.id = jobs.start(job, settings=settings, keep_result=True, listener=self._changed)

    def cancel(self) -> None:
        self._jobs.cancel(self.id)

    async def result(self) -> BacktestResult:
        status = await self._outcome
        if status["state"] == "cancelled":
            raise BacktestCancelled()
        if status["state"] == "failed":
            raise BacktestFailed(status["error"] or "the backtest failed")
        return self._jobs.report(self.id)

    def _changed(self, status: dict[str, Any]) -> None:  # on a pool thread
        self._loop.call_soon_threadsafe(self._show, status)

    def _show(self, status: dict[str, Any]) -> None:
        if self._outcome.done():
            return
        if status["state"] in ("done", "failed", "cancelled"):
            self._outcome.set_result(status)
        elif status["progress"]["total"]:
            done, total = status["progress"]["done"], status["progress"]["total"]
            self._progress(100 * done // total)
