"""`ChartRecorder`: a chart PNG at each decision and fill, and the day's equity curve.

    recorder = ChartRecorder(market, files, render_bars_png, render_equity_png,
                             bar_size_for=...)
    recorder.start(); recorder.attach(trading, orders)
    ...
    await recorder.stop()

On the loop it only takes a snapshot (the last `chart_bars` closed bars, the marker) and
queues a job: rendering (~0.1 s of CPU) and the file write run on one worker thread, which
hands the drawing to a render process when `in_process` (as the app runs it: drawing holds
the GIL, and a thread drawing makes the loop late by tens of milliseconds). The
queue is bounded: when the renderer falls behind, the oldest job is dropped, with a log line,
so a burst never grows memory or delays the charts that matter now. When the file is
written, the worker hands the key back to the loop (`call_soon_threadsafe`), which queues
its upload in the journal's outbox: the journal is only ever touched on the loop.

Keys are deterministic (`decisions/<UTC date>/<decision id>.png`, `fills/<UTC date>/<exec
id>.png`, `equity/<date>.png`): the same chart lands on the same object however often it is
delivered. A fill reported again (its commission, a replay after a restart) is charted once.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import concurrent.futures.process
import contextlib
import logging
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from ibtrader.core.broker import BrokerFill
from ibtrader.core.decisions import Decision
from ibtrader.core.events import Event
from ibtrader.core.market import Bar
from ibtrader.core.ports import BarSource

log = logging.getLogger(__name__)

CHART_BARS = 200  # bars on a chart: enough context, well under 0.3 s to render
MAX_QUEUE = 32  # renders waiting; beyond, the oldest is dropped
_SEEN_FILLS = 10_000  # exec ids remembered to chart a fill once


class ChartFiles(Protocol):
    """Where charts are kept (adapters/charts/files.py): the worker's calls block on disk or
    network; `queue_upload` and `url` are quick and run on the loop."""

    def save(self, key: str, png: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def upload_now(self, key: str) -> bool: ...
    def queue_upload(self, key: str) -> bool: ...
    def url(self, key: str) -> str | None: ...


RenderBars = Callable[..., bytes]  # render_bars_png(symbol, bar_size, bars, overlays, markers)
RenderEquity = Callable[[Sequence[tuple[float, float]], str], bytes]


@dataclass
class _Job:
    key: str
    render: Callable[..., bytes]  # a module-level function: it may go to another process
    args: tuple[Any, ...]
    keep_existing: bool = False  # a chart of a past event: an existing file is it already
    upload: str = "queue"  # "queue": through the outbox; "now": a direct PUT; "": none
    future: concurrent.futures.Future[str] | None = field(default=None, repr=False)


class ChartRecorder:
    def __init__(self, bars: BarSource, files: ChartFiles, render_bars: RenderBars,
                 render_equity: RenderEquity, *,
                 bar_size_for: Callable[[str, str], str] = lambda _symbol, _strategy: "1 min",
                 chart_bars: int = CHART_BARS, max_queue: int = MAX_QUEUE,
                 in_process: bool = False) -> None:
        """`bar_size_for(symbol, strategy)`: the bars to chart a decision of `strategy` (or a
        fill, strategy "") on; a fill uses its symbol's last decision's bar size first.
        `in_process`: render in a child process (spawned at the first chart) rather than on the
        worker thread: matplotlib holds the GIL while it draws, which makes the loop late by
        tens of milliseconds per chart; a process draws on another core and holds nothing."""
        if max_queue < 1 or chart_bars < 2:
            raise ValueError(f"chart recorder needs max_queue >= 1 (got {max_queue}) and "
                             f"chart_bars >= 2 (got {chart_bars})")
        self.bars = bars
        self.files = files
        self.render_bars = render_bars
        self.render_equity = render_equity
        self.bar_size_for = bar_size_for
        self.chart_bars = chart_bars
        self.max_queue = max_queue
        self.chart_saved: Event[[str]] = Event("chart_saved")  # key, on the loop
        self.rendered = 0
        self.dropped = 0
        self.failed = 0
        self._jobs: collections.deque[_Job] = collections.deque()
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._symbol_bar_size: dict[str, str] = {}
        self._seen_fills: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._attached: list[tuple[Event[Any], Callable[..., object]]] = []
        self.in_process = in_process
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    # --- life ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker; call on the loop the results go back to."""
        if self._thread is not None:
            raise RuntimeError("chart recorder already started")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="charts", daemon=True)
        self._thread.start()

    def attach(self, trading: Any, orders: Any | None = None) -> None:
        """Chart `trading.decision_made` and, given an order manager, its `fill_received`."""
        self._subscribe(trading.decision_made, self.on_decision)
        if orders is not None:
            self._subscribe(orders.fill_received, self.on_fill)

    def _subscribe(self, event: Event[Any], handler: Callable[..., object]) -> None:
        event += handler
        self._attached.append((event, handler))

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop charting new events, let the worker finish what is queued (up to `timeout`
        seconds, the loop running so the uploads are queued), then drop the rest."""
        for event, handler in self._attached:
            event -= handler
        self._attached.clear()
        thread = self._thread
        if thread is None:
            return
        with self._wake:
            self._closing = True
            self._wake.notify()
        await asyncio.to_thread(thread.join, timeout)
        with self._wake:
            left = list(self._jobs)
            self._jobs.clear()
        for job in left:
            self._cancel(job, "the chart recorder stopped")
        if left:
            log.warning("charts: stopped with %d chart(s) not rendered: %s", len(left),
                        ", ".join(j.key for j in left[:5]))
        await asyncio.sleep(0)  # the last results' callbacks run now
        self._thread = None
        if self._pool is not None:  # waited for: a child left behind outlives the app
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(asyncio.to_thread(pool.shutdown, True,
                                                         cancel_futures=True), timeout)
            except TimeoutError:
                log.warning("charts: the render process did not stop in %g s", timeout)

    # --- what is charted -----------------------------------------------------------------------

    def on_decision(self, decision: Decision) -> None:
        """A new decision: its symbol's bars, with the entry marked (stop and target too)."""
        bar_size = self.bar_size_for(decision.symbol, decision.strategy)
        self._symbol_bar_size[decision.symbol] = bar_size
        bars = self._snapshot(decision.symbol, bar_size)
        if not bars:
            log.info("charts: no %s bars of %s yet: no chart of decision %s", bar_size,
                     decision.symbol, decision.id)
            return
        markers = []
        if decision.side:
            label = f"{decision.action or decision.side} {decision.quantity:g} " \
                    f"{decision.strategy} ({decision.state.value})"
            markers.append((decision.created, decision.entry_price, decision.side, label))
        overlays = {f"{name} {level:g}": [level] * len(bars)
                    for name, level in (("stop", decision.stop), ("target", decision.target))
                    if level is not None and math.isfinite(level)}
        key = f"decisions/{_day(decision.created)}/{_part(decision.id)}.png"
        self._queue(_Job(key, self.render_bars, (decision.symbol, bar_size, bars, overlays,
                                                 markers), keep_existing=True))

    def on_fill(self, fill: BrokerFill) -> None:
        """A new execution (charted once: a report of its commission is not a new fill)."""
        if fill.exec_id in self._seen_fills:
            return
        self._seen_fills[fill.exec_id] = None
        if len(self._seen_fills) > _SEEN_FILLS:
            self._seen_fills.popitem(last=False)
        bar_size = self._symbol_bar_size.get(fill.symbol) or self.bar_size_for(fill.symbol, "")
        bars = self._snapshot(fill.symbol, bar_size)
        if not bars:
            log.info("charts: no %s bars of %s: no chart of fill %s", bar_size, fill.symbol,
                     fill.exec_id)
            return
        label = f"{fill.side} {fill.quantity:g} @ {fill.price:g}"
        key = f"fills/{_day(fill.time)}/{_part(fill.exec_id)}.png"
        self._queue(_Job(key, self.render_bars, (
            fill.symbol, bar_size, bars, None, [(fill.time, fill.price, fill.side, label)]),
            keep_existing=True))

    def publish_equity_curve(self, day: date | str, points: Sequence[tuple[float, float]]
                             ) -> str | None:
        """The day's equity curve as `equity/<YYYY-MM-DD>.png` (replaced when published
        again, e.g. on demand and then at the close); the key, or None without points."""
        day_text = day.isoformat() if isinstance(day, date) else date.fromisoformat(day
                                                                                   ).isoformat()
        pts = [(float(t), float(e)) for t, e in points]
        if not pts:
            log.info("charts: no equity samples on %s: no equity curve", day_text)
            return None
        key = f"equity/{day_text}.png"
        self._queue(_Job(key, self.render_equity, (pts, f"Equity {day_text}")))
        return key

    # --- charts on request (the n8n_decision strategy) -----------------------------------------

    def latest_chart(self, symbol: str, bar_size: str) -> bytes:
        """The symbol's chart now, as PNG bytes. Blocks while it renders (~0.1 s): call it
        from a worker thread; KeyError when there are no bars."""
        bars = self._snapshot(symbol, bar_size)
        if not bars:
            raise KeyError(f"no {bar_size} bars of {symbol}")
        return self.render_bars(symbol, bar_size, bars, None, [])

    async def latest_chart_url(self, symbol: str, bar_size: str) -> str | None:
        """Render the symbol's chart now (off the loop), upload it straight to the bucket
        and return a presigned URL; None without MinIO, without bars, or when the upload
        fails (logged): an advisor goes on without the image rather than wait."""
        bars = self._snapshot(symbol, bar_size)
        if not bars:
            log.info("charts: no %s bars of %s: no chart URL", bar_size, symbol)
            return None
        key = f"latest/{_part(symbol)}/{_part(bar_size.replace(' ', ''))}/" \
              f"{int(bars[-1].time)}.png"
        url = self.files.url(key)
        if url is None:
            return None  # charts stay local: nothing an outside service could fetch
        future: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._queue(_Job(key, self.render_bars, (symbol, bar_size, bars, None, []),
                         upload="now", future=future))
        try:
            await asyncio.wrap_future(future)
        except Exception as exc:
            log.warning("charts: no chart URL for %s %s: %s", symbol, bar_size, exc)
            return None
        return url

    def chart_url(self, key: str) -> str | None:
        """A presigned GET URL of a chart's key in the bucket; None without MinIO."""
        return self.files.url(key)

    # --- the queue -----------------------------------------------------------------------------

    def _snapshot(self, symbol: str, bar_size: str) -> list[Bar]:
        history = self.bars.history(symbol, bar_size)
        return list(history[-self.chart_bars:])

    def _queue(self, job: _Job) -> None:
        if self._thread is None or self._closing:
            self._cancel(job, "the chart recorder is not running")
            log.info("charts: not running: %s not rendered", job.key)
            return
        with self._wake:
            dropped = None
            if len(self._jobs) >= self.max_queue:
                dropped = self._jobs.popleft()
                self.dropped += 1
            self._jobs.append(job)
            self._wake.notify()
        if dropped is not None:
            self._cancel(dropped, "dropped: the renderer fell behind")
            log.warning("charts: renderer behind (%d queued): dropped %s", self.max_queue,
                        dropped.key)

    @staticmethod
    def _cancel(job: _Job, why: str) -> None:
        if job.future is not None and not job.future.done():
            job.future.set_exception(RuntimeError(f"chart {job.key}: {why}"))

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and not self._closing:
                    self._wake.wait()
                if not self._jobs:
                    return  # closing, and everything queued is done
                job = self._jobs.popleft()
            error = self._run(job)
            if job.future is not None:
                if error is None:
                    job.future.set_result(job.key)
                else:
                    job.future.set_exception(error)
            if error is None and job.upload == "queue":
                self._to_loop(self._saved, job.key)

    def _run(self, job: _Job) -> Exception | None:
        try:
            if job.keep_existing and self.files.exists(job.key):
                return None  # charted before (a replayed event): same key, same chart
            png = self._render(job)
            self.files.save(job.key, png)
            if job.upload == "now":
                self.files.upload_now(job.key)
            self.rendered += 1
            return None
        except Exception as exc:
            self.failed += 1
            log.warning("charts: %s failed: %s", job.key, exc, exc_info=not isinstance(
                exc, (OSError, ValueError)))
            return exc

    def _render(self, job: _Job) -> bytes:
        if not self.in_process:
            return job.render(*job.args)
        pool = self._pool
        if pool is None:  # spawned at the first chart: a session without one pays nothing
            self._pool = pool = _new_pool()
        try:
            return pool.submit(job.render, *job.args).result()
        except concurrent.futures.process.BrokenProcessPool:
            # the renderer died (killed, out of memory): a new one for this and later charts
            log.warning("charts: the render process died; starting a new one")
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = pool = _new_pool()
            return pool.submit(job.render, *job.args).result()

    def _to_loop(self, callback: Callable[..., object], *args: object) -> None:
        loop = self._loop
        if loop is None:
            return
        # the loop closed under a finishing render: that chart stays local (known gap)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    def _saved(self, key: str) -> None:
        """On the loop: queue the saved chart's upload, then say it is there."""
        try:
            self.files.queue_upload(key)
        except Exception:
            log.exception("charts: %s saved, but its upload could not be queued", key)
            return
        self.chart_saved.emit(key)

    def stats(self) -> Mapping[str, int]:
        with self._wake:
            queued = len(self._jobs)
        return {"queued": queued, "rendered": self.rendered, "dropped": self.dropped,
                "failed": self.failed}


def _new_pool() -> concurrent.futures.ProcessPoolExecutor:
    # spawned, never forked: the app has threads (a fork copies their locks mid-use)
    return concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent)


def _exit_with_parent() -> None:
    """In the render process: end when the app ends, however it ends. A pool's worker
    holds both ends of its task queue, so a parent killed with SIGKILL (or crashed) would
    leave it waiting forever, ~150 MB apiece; it watches the parent's sentinel instead."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def _part(text: str) -> str:
    """`text` as one key part: no "/", never "." or ".."."""
    part = text.replace("/", "_").strip() or "_"
    return "_" + part if part in (".", "..") else part
