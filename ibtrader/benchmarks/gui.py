"""`ibtrader bench gui`: the desktop app's start-up and its event loop under a live feed.

- first window: `ibtrader gui` in a fresh process (simulator in-process, data and QSettings
  in a temporary folder), from just before the process is spawned to the main window's
  first paint; the first run is cold (no history cache), later ones warm. Also the time to
  the first quotes shown in the watchlist.
- loop stall: the main window in this process with 100 symbols streaming from a simulated
  gateway in another process (as IB is), the watchlist fed through its coalescer; a probe
  coroutine sleeps 5 ms at a time on the shared qasync loop and records how late it wakes.
  The longest lateness is the longest the GUI was frozen.
- chart: first render and redraw numbers from `benchmarks.gui_chart`, when it is there.

Goals (issue 5): first window <= 2.5 s, stall <= 50 ms.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FIRST_WINDOW_GOAL_S = 2.5
STALL_GOAL_MS = 50.0
PROBE_INTERVAL = 0.005


@dataclass
class StartupRun:
    first_paint_s: float
    engine_ready_s: float
    first_quotes_s: float | None


@dataclass
class StallResult:
    symbols: int
    seconds: float
    quotes: int  # quotes the watchlist received
    flushes: int  # times the watchlist's model was updated (coalesced)
    cells_changed: int
    max_stall_ms: float
    p99_stall_ms: float
    startup_max_stall_ms: float  # while the 100 symbols were qualified and subscribed


@dataclass
class GuiBench:
    startup: list[StartupRun]
    stall: StallResult | None
    chart: Any = None  # gui_chart.ChartBench when that module is installed
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"startup": [asdict(r) for r in self.startup],
                               "stall": asdict(self.stall) if self.stall else None,
                               "notes": self.notes}
        if self.chart is not None:
            out["chart"] = self.chart.as_dict()
        return out

    def lines(self) -> list[str]:
        ok = {True: "ok", False: "OVER GOAL"}
        out = []
        if self.startup:
            paints = [r.first_paint_s for r in self.startup]
            warm = paints[1:] or paints
            out.append(f"first window painted: cold {paints[0]:.2f} s, warm median "
                       f"{statistics.median(warm):.2f} s (goal {FIRST_WINDOW_GOAL_S} s: "
                       f"{ok[statistics.median(warm) <= FIRST_WINDOW_GOAL_S]})")
            quotes = [r.first_quotes_s for r in self.startup]
            out.append("first quotes in the watchlist: " + ", ".join(
                "none" if q is None else f"{q:.2f} s" for q in quotes) + " (cold first)")
        if self.stall is not None:
            s = self.stall
            out.append(f"loop stall, {s.symbols} symbols streaming for {s.seconds:g} s: "
                       f"longest {s.max_stall_ms:.1f} ms, p99 {s.p99_stall_ms:.1f} ms (goal "
                       f"{STALL_GOAL_MS:.0f} ms: {ok[s.max_stall_ms <= STALL_GOAL_MS]}); "
                       f"{s.quotes:,} quotes in {s.flushes:,} model updates "
                       f"({s.flushes / s.seconds:.1f}/s), {s.cells_changed:,} cells changed; "
                       f"while subscribing: {s.startup_max_stall_ms:.1f} ms")
        if self.chart is not None:
            out.extend(self.chart.lines())
        out.extend(self.notes)
        return out


# ----- first window ---------------------------------------------------------------------

def measure_startup(runs: int = 3, seconds: float = 4.0) -> list[StartupRun]:
    """`ibtrader gui` started `runs` times on one data folder (the first run is cold)."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, IBTRADER_DATA_DIR=str(Path(tmp) / "data"),
                   XDG_CONFIG_HOME=str(Path(tmp) / "config"), IBTRADER_LOG_LEVEL="WARNING")
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        for _ in range(runs):
            cmd = [sys.executable, "-m", "ibtrader", "gui", "--seconds", str(seconds),
                   "--report-startup"]
            start = time.time()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                  timeout=seconds + 120)
            marks = _milestones(done.stdout)
            if done.returncode != 0 or "first-paint" not in marks:
                raise RuntimeError(f"ibtrader gui failed ({done.returncode}):\n{done.stderr}")
            quotes = marks.get("first-quotes")
            results.append(StartupRun(marks["first-paint"] - start,
                                      marks.get("engine-ready", float("nan")) - start,
                                      None if quotes is None else quotes - start))
    return results


def _milestones(text: str) -> dict[str, float]:
    marks = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        try:
            marks[name] = float(value)
        except ValueError:
            continue
    return marks


# ----- loop stall -----------------------------------------------------------------------

class LagProbe:
    """Sleeps `interval` at a time on the running loop and records each late wake-up."""

    def __init__(self, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        lags, self.lags = self.lags, []
        return lags

    async def _run(self) -> None:
        clock = time.perf_counter
        while True:
            before = clock()
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, clock() - before - self.interval))


def measure_stall(symbols: int = 100, seconds: float = 10.0,
                  tick_interval: float = 0.1) -> StallResult:
    """The main window with `symbols` streaming; see the module's doc."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    from ibtrader.benchmarks.gateway import gateway_process
    from ibtrader.gui.app import application

    app = application()
    with gateway_process(symbols, tick_interval) as (port, _pid, _control), \
            tempfile.TemporaryDirectory() as tmp:
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            with loop:
                return loop.run_until_complete(
                    _stream_through_window(port, symbols, seconds, Path(tmp)))
        finally:
            asyncio.set_event_loop(None)


async def _stream_through_window(port: int, count: int, seconds: float,
                                 tmp: Path) -> StallResult:
    from PySide6.QtCore import QSettings

    from ibtrader.app import open_broker
    from ibtrader.config import Settings
    from ibtrader.core.market import Instrument
    from ibtrader.gui.main_window import MainWindow

    settings = Settings(data_dir=tmp / "data", broker="ib", ib_host="127.0.0.1", ib_port=port,
                        ib_client_id=9)
    symbols = [f"SIM{i:03d}" for i in range(count)]
    window = MainWindow(QSettings(str(tmp / "gui.ini"), QSettings.Format.IniFormat), settings,
                        use_tray=False)
    window.watchlist.set_symbols(symbols)
    window.resize(1600, 1000)
    window.show()
    probe = LagProbe()
    probe.start()
    async with open_broker(settings) as broker:
        port_ = broker.market_data
        window.watchlist.follow_quotes(port_)
        found = await port_.qualify_many(symbols)
        for instrument in found.values():
            if isinstance(instrument, Instrument):
                port_.subscribe_quotes(instrument)
        await asyncio.sleep(1.0)  # the first snapshots of every symbol
        startup = await probe.stop()
        model, panel = window.watchlist.model, window.watchlist
        quotes0, flushes0, cells0 = panel.quotes_received, panel.quotes_flushes, model.cells_changed
        probe.start()
        await asyncio.sleep(seconds)
        lags = await probe.stop()
        window.watchlist.unfollow_quotes()
        result = StallResult(
            count, seconds, panel.quotes_received - quotes0, panel.quotes_flushes - flushes0,
            model.cells_changed - cells0, max(lags) * 1000, _p99(lags) * 1000,
            max(startup, default=0.0) * 1000)
    window.close()
    return result


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


# ----- everything -----------------------------------------------------------------------

def run_gui_bench(*, startup_runs: int = 3, symbols: int = 100, seconds: float = 10.0,
                  tick_interval: float = 0.1, chart: bool = True,
                  progress: Callable[[str], object] = lambda _text: None) -> GuiBench:
    progress(f"first window: {startup_runs} starts of `ibtrader gui`…")
    startup = measure_startup(startup_runs) if startup_runs else []
    progress(f"loop stall: {symbols} symbols for {seconds:g} s…")
    stall = measure_stall(symbols, seconds, tick_interval) if symbols else None
    result = GuiBench(startup, stall)
    if chart and importlib.util.find_spec("ibtrader.benchmarks.gui_chart") is not None:
        progress("chart: first render and redraw…")
        from ibtrader.benchmarks.gui_chart import run_chart_bench

        result.chart = run_chart_bench()
    elif chart:
        result.notes.append("chart numbers: ibtrader.benchmarks.gui_chart is not installed")
    return result
