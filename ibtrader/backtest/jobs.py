"""Backtests as jobs in worker processes, for the REST API and the desktop dialog.

A backtest is CPU-bound for seconds to minutes; run in a thread of the app it starves the
engine loop and the web server (measured: the API's p99 went from 5 ms to 71 ms). So each
runs in a process of a "spawn" pool (the app has threads and a Qt loop: forking it is
unsafe; a PyInstaller bundle needs `multiprocessing.freeze_support()` in its entry point).

    jobs = BacktestJobs(settings)
    job_id = jobs.start(job_from_json(body))      # quick: never blocks an event loop
    jobs.status(job_id)   # {"id", "state", "progress": {"done", "total"}, "error", ...}
    jobs.result(job_id)   # {"stats", "trades", "equity", ...} once done (JobNotDone before)
    jobs.cancel(job_id); jobs.close()

Workers send "running", "progress" (at most once per percent) and "end" messages through
one queue, read by a thread here; a job's outcome comes back through its future. A job is
final once both arrived, so no progress is ever reported after it finished. Cancelling:
a flag in shared memory the worker reads at each progress report; a job that does not
stop within CANCEL_GRACE is interrupted by a signal, and as a last resort its worker is
ended (the pool is then renewed and the jobs it held handed on).
Every method takes one lock briefly: safe from any thread.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Any

from ibtrader.backtest.job import BacktestJob, BacktestResult, result_json, run_backtest
from ibtrader.backtest.job_input import JobInputError, job_from_json

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = frozenset(("done", "failed", "cancelled"))
# Cancel flags, a slot per job number modulo this: at most max_workers + 1 jobs are ever
# handed to workers at once, so two live jobs never share a slot.
CANCEL_SLOTS = 64
MAX_WORKERS = 16
READ_POLL = 0.25  # s: how often the reader looks whether it should stop
# s a cancelled job has to stop by itself (it checks at each progress report) before its
# worker is ended; loading a long history has no progress reports
CANCEL_GRACE = 1.0
# interrupts a worker's job without ending the worker (none on Windows: ended instead)
STOP_SIGNAL: int | None = getattr(signal, "SIGUSR1", None)

Listener = Callable[[dict[str, Any]], None]


class JobNotDone(RuntimeError):
    """The job has no result (yet): `state` says why."""

    def __init__(self, job_id: str, state: str, error: str | None = None) -> None:
        why = {"queued": "is waiting for a worker", "running": "is still running",
               "cancelled": "was cancelled", "failed": f"failed: {error}"}.get(state, state)
        super().__init__(f"backtest {job_id} {why}")
        self.job_id = job_id
        self.state = state


class _Cancelled(Exception):
    pass


@dataclass(eq=False)
class _Entry:
    id: str
    number: int
    job: BacktestJob
    keep_result: bool
    listener: Listener | None
    created: float
    state: str = "queued"
    started: float | None = None
    finished: float | None = None
    done: int = 0
    total: int = 0
    error: str | None = None
    pid: int | None = None
    payload: dict[str, Any] | None = None
    result: BacktestResult | None = None
    future: Future[tuple[Any, ...]] | None = None
    settings: Any = None
    executor: ProcessPoolExecutor | None = None  # the pool it was handed to
    outcome: tuple[Any, ...] | None = None  # the future's, until the worker's "end" came
    ended: bool = False
    stopping: bool = False  # its worker was interrupted (or ended) to cancel it
    terminated: bool = False  # ... ended: its pool broke with it

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state,
                "progress": {"done": self.done, "total": self.total}, "error": self.error,
                "created": self.created, "started": self.started, "finished": self.finished,
                "pid": self.pid, "job": self.job.as_json()}


class BacktestJobs:
    def __init__(self, settings: Any, max_workers: int = 1, keep: int = 50) -> None:
        if not 1 <= max_workers <= MAX_WORKERS:
            raise ValueError(f"max_workers must be in [1, {MAX_WORKERS}], got {max_workers}")
        self.settings = settings
        self.max_workers = max_workers
        self.keep = keep  # finished jobs remembered (with their results)
        self._ctx = multiprocessing.get_context("spawn")
        self._channel: Any = self._ctx.Queue()
        self._cancels: Any = self._ctx.Array("q", CANCEL_SLOTS)
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}  # oldest first
        self._by_number: dict[int, _Entry] = {}
        self._numbers = itertools.count(1)  # 0 is an empty cancel slot
        self._closed = False
        self._executor = self._new_executor()
        self._reader = threading.Thread(target=self._read, name="backtest-jobs", daemon=True)
        self._reader.start()

    # --- the API ------------------------------------------------------------------------
    def start(self, job: BacktestJob, *, settings: Any = None, keep_result: bool = False,
              listener: Listener | None = None) -> str:
        """Queue the job; its id. `keep_result` also keeps the `BacktestResult` objects
        (`report()`); `listener(status)` is called on a pool thread at every change and
        must be quick (the desktop dialog hands it to its loop)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the backtest jobs are closed")
            entry = _Entry(uuid.uuid4().hex, next(self._numbers), job, keep_result, listener,
                           time.time(), settings=settings or self.settings)
            self._entries[entry.id] = entry
            self._by_number[entry.number] = entry
            self._submit(entry)
            self._forget_old()
            return entry.id

    def status(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            return self._entry(job_id).status()

    def jobs(self) -> list[dict[str, Any]]:
        """Every remembered job's status, oldest first."""
        with self._lock:
            return [entry.status() for entry in self._entries.values()]

    def result(self, job_id: str) -> dict[str, Any]:
        """The JSON-ready result (do not change it: it is shared); JobNotDone before."""
        with self._lock:
            entry = self._entry(job_id)
            if entry.payload is None:
                raise JobNotDone(job_id, entry.state, entry.error)
            return entry.payload

    def report(self, job_id: str) -> BacktestResult:
        """The result's objects (report, trades, whole equity curve) of a job started with
        `keep_result`."""
        with self._lock:
            entry = self._entry(job_id)
            if entry.state != "done":
                raise JobNotDone(job_id, entry.state, entry.error)
            if entry.result is None:
                raise LookupError(f"backtest {job_id} was started without keep_result")
            return entry.result

    def cancel(self, job_id: str) -> bool:
        """Stop the job: at once while it waits, at its next progress report (under 1% of
        its run) while it runs, else by interrupting its worker after CANCEL_GRACE. False
        when it had already finished."""
        with self._lock:
            entry = self._entry(job_id)
            if entry.state in FINAL:
                return False
            self._cancels[entry.number % CANCEL_SLOTS] = entry.number
            if entry.state == "queued":
                # not started: done now (a worker that picks it up sees the flag first)
                if entry.future is not None:
                    entry.future.cancel()
                self._finish(entry, "cancelled")
            else:
                timer = threading.Timer(CANCEL_GRACE, self._end_worker, (entry,))
                timer.daemon = True
                timer.start()
            return True

    @property
    def closed(self) -> bool:
        return self._closed

    def warm(self) -> None:
        """Start the worker processes now (~1 s each to import), not at the first job."""
        with self._lock:
            if not self._closed:
                for _ in range(self.max_workers):
                    self._executor.submit(os.getpid)

    def close(self) -> None:
        """Cancel every job and end the worker processes (running jobs are terminated)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for entry in list(self._entries.values()):
                if entry.state not in FINAL:
                    self._finish(entry, "cancelled")
            executor = self._executor
        workers = _processes(executor)  # (shutdown forgets them)
        executor.shutdown(wait=False, cancel_futures=True)
        for process in workers.values():
            if process.is_alive():
                process.terminate()
        self._reader.join(timeout=2 * READ_POLL)

    def __enter__(self) -> BacktestJobs:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- inside ---------------------------------------------------------------------------
    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.max_workers, mp_context=self._ctx,
                                   initializer=_init_worker,
                                   initargs=(self._channel, self._cancels))

    def _submit(self, entry: _Entry) -> None:
        work = (_work, entry.number, entry.job, entry.settings, entry.keep_result)
        try:
            future = self._executor.submit(*work)
        except BrokenProcessPool:  # a worker died (ended, out of memory): a fresh pool
            self._renew(self._executor)
            future = self._executor.submit(*work)
        entry.future, entry.executor = future, self._executor
        future.add_done_callback(partial(self._future_done, entry))

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is broken and not self._closed:
            log.info("the backtest worker pool broke; starting a new one")
            broken.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()

    def _end_worker(self, entry: _Entry, hard: bool = False) -> None:
        """A cancelled job still running after the grace (loading a long history has no
        progress reports): interrupt it with a signal, the worker stays. Where signals
        cannot (Windows) or did not help, end the process: the pool breaks with it, and
        the other jobs it held are handed to a new pool."""
        with self._lock:
            if entry.state != "running" or entry.outcome is not None or entry.executor is None:
                return
            process = _processes(entry.executor).get(entry.pid)
            if process is None or not process.is_alive() or process.pid is None:
                return
            entry.stopping = True
            if not hard and STOP_SIGNAL is not None:
                os.kill(process.pid, STOP_SIGNAL)
                timer = threading.Timer(CANCEL_GRACE, self._end_worker, (entry, True))
                timer.daemon = True
                timer.start()
                return
            log.info("ending the worker of cancelled backtest %s", entry.id)
            entry.terminated = True
            process.terminate()

    def _entry(self, job_id: str) -> _Entry:
        try:
            return self._entries[job_id]
        except KeyError:
            raise KeyError(f"no backtest job {job_id!r}") from None

    def _forget_old(self) -> None:
        """Only the last `keep` jobs to finish are remembered (never a waiting or running
        one)."""
        finished = sorted((e for e in self._entries.values() if e.state in FINAL),
                          key=lambda e: e.finished or 0.0)
        for entry in finished[:max(len(finished) - self.keep, 0)]:
            del self._entries[entry.id]
            del self._by_number[entry.number]

    def _read(self) -> None:
        while not self._closed:
            try:
                message = self._channel.get(timeout=READ_POLL)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the queue was torn down while closing
                return
            with self._lock:
                entry = self._by_number.get(message[1])
                if entry is not None and entry.state not in FINAL:
                    self._on_message(entry, message)

    def _on_message(self, entry: _Entry, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "running":
            entry.state, entry.pid, entry.started = "running", message[2], message[3]
            self._notify(entry)
        elif kind == "progress":
            entry.done, entry.total = message[2], message[3]
            self._notify(entry)
        elif kind == "end":
            entry.ended = True
            if entry.outcome is not None:
                self._conclude(entry)

    def _future_done(self, entry: _Entry, future: Future[tuple[Any, ...]]) -> None:
        with self._lock:
            if entry.state in FINAL or future.cancelled() or future is not entry.future:
                return
            error = future.exception()
            if entry.stopping:  # (whatever the worker made of it)
                self._finish(entry, "cancelled")
            elif isinstance(error, BrokenProcessPool) and not self._closed and (
                    entry.state == "queued" or self._ended_on_purpose(entry.executor)):
                # not this job's fault: another job's worker was ended to cancel it
                self._renew(entry.executor)  # type: ignore[arg-type]
                entry.state, entry.ended, entry.done, entry.total = "queued", False, 0, 0
                self._submit(entry)
                self._notify(entry)
            elif error is not None:  # the worker died, or the result could not be sent
                self._finish(entry, "failed", f"the backtest worker stopped unexpectedly: "
                                              f"{type(error).__name__}: {error}")
            else:
                entry.outcome = future.result()
                if entry.ended:
                    self._conclude(entry)

    def _ended_on_purpose(self, executor: ProcessPoolExecutor | None) -> bool:
        return any(e.terminated and e.executor is executor for e in self._entries.values())

    def _conclude(self, entry: _Entry) -> None:
        outcome = entry.outcome or ("failed", "no outcome", None)
        if outcome[0] == "done":
            entry.payload, entry.result = outcome[1], outcome[2]
            entry.done = entry.total = entry.payload["bars"]
            self._finish(entry, "done")
        elif outcome[0] == "cancelled":
            self._finish(entry, "cancelled")
        else:
            if outcome[2]:  # not the trader's input: a bug worth its traceback
                log.error("backtest %s failed in its worker:\n%s", entry.id, outcome[2])
            self._finish(entry, "failed", outcome[1])

    def _finish(self, entry: _Entry, state: str, error: str | None = None) -> None:
        entry.state, entry.error, entry.finished = state, error, time.time()
        entry.future = None  # (the executor stays: a kill in flight finds the pool)
        self._notify(entry)
        self._forget_old()

    def _notify(self, entry: _Entry) -> None:
        if entry.listener is None:
            return
        try:
            entry.listener(entry.status())
        except Exception:
            log.exception("a backtest job's listener failed")


def _processes(executor: ProcessPoolExecutor) -> dict[int, Any]:
    """The pool's worker processes by pid (no public way until Python 3.14)."""
    return dict(getattr(executor, "_processes", None) or {})


# --- in the worker process ------------------------------------------------------------------
_channel: Any = None
_cancels: Any = None
_current = 0  # the number of the job this worker runs, 0 between jobs


def _init_worker(channel: Any, cancels: Any) -> None:
    global _channel, _cancels
    _channel, _cancels = channel, cancels
    # Ctrl-C in a terminal reaches the whole process group: the app decides, then ends us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if STOP_SIGNAL is not None:
        signal.signal(STOP_SIGNAL, _stop_signalled)


def _cancelled(number: int) -> bool:
    return bool(number and _cancels[number % CANCEL_SLOTS] == number)


def _stop_signalled(_signum: int, _frame: Any) -> None:
    """Raised in the job's code wherever it is (a late signal between jobs is ignored)."""
    if _cancelled(_current):
        raise _Cancelled


def _work(number: int, job: BacktestJob, settings: Any, keep_result: bool
          ) -> tuple[Any, ...]:
    """("done", payload, result|None), ("cancelled",) or ("failed", message, traceback)."""
    global _current
    _channel.put(("running", number, os.getpid(), time.time()))
    shown = [-1]

    def progress(done: int, total: int) -> None:
        if _cancelled(number):
            raise _Cancelled
        pct = 100 * done // max(total, 1)
        if pct != shown[0]:
            shown[0] = pct
            _channel.put(("progress", number, done, total))

    try:
        _current = number
        if _cancelled(number):  # while it waited in the pool's queue
            return ("cancelled",)
        result = run_backtest(job, settings, progress)
        return ("done", result_json(result), result if keep_result else None)
    except _Cancelled:
        return ("cancelled",)
    except (ValueError, OSError) as exc:  # the inputs: bad CSV, unknown symbol, empty range
        return ("failed", str(exc) or type(exc).__name__, None)
    except Exception as exc:
        return ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    finally:
        _current = 0
        _channel.put(("end", number))


__all__ = ["FINAL", "STATES", "BacktestJob", "BacktestJobs", "BacktestResult", "JobInputError",
           "JobNotDone", "job_from_json", "result_json", "run_backtest"]
