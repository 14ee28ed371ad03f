"""ChartRecorder with the real renderer, the real object folder and the real journal and
outbox: each decision and fill gets its PNG under its deterministic key, its upload queued
in the outbox, and the engine's loop is never held up by rendering."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

from ibtrader.adapters.charts.files import ChartFiles
from ibtrader.adapters.charts.render import render_bars_png, render_equity_png
from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.objects.minio_store import MinioObjectStore
from ibtrader.core.broker import BrokerFill
from ibtrader.core.events import Event
from ibtrader.core.market import Bar
from ibtrader.services.chart_recorder import ChartRecorder
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.loops import loop_runner

run = pytest.fixture(loop_runner, name="run")
REPO = Path(__file__).resolve().parents[2]
DAY = "2023-11-14"  # NOW's UTC date


class Bars:
    """The BarSource port over bars held in memory (what the Market Data Service holds)."""

    def __init__(self, bars: dict[tuple[str, str], list[Bar]]) -> None:
        self.bar_closed: Event = Event("bar_closed")
        self.bar_forming: Event = Event("bar_forming")
        self._bars = bars

    def history(self, symbol: str, bar_size: str) -> list[Bar]:
        return self._bars.get((symbol, bar_size), [])


class Trading:
    def __init__(self) -> None:
        self.decision_made: Event = Event("decision_made")


class Orders:
    def __init__(self) -> None:
        self.fill_received: Event = Event("fill_received")


def hour_bars(n: int = 250, end: float = NOW) -> list[Bar]:
    out = []
    for i in range(n):
        t = end - 3600 * (n - i)
        o = 100 + 3 * math.sin(i / 9)
        c = 100 + 3 * math.sin((i + 1) / 9)
        out.append(Bar(t, o, max(o, c) + 0.4, min(o, c) - 0.4, c, 1000 + i))
    return out


def a_fill(exec_id: str = "0001.abc.01.01", commission: float = math.nan) -> BrokerFill:
    return BrokerFill(exec_id, "ref-1", 11, 22, "AAPL", "BUY", 100, 100.25, NOW + 60,
                      commission=commission)


@pytest.fixture
def journal(tmp_path):
    with SqliteOrderJournal(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def outbox(journal):
    box = SqliteOutbox(journal.path)
    yield box
    box.close()


def minio_offline() -> MinioObjectStore:
    # never contacted here: uploads go through the outbox, URLs are signed locally
    return MinioObjectStore("127.0.0.1:9", "key", "secret", "charts", region="us-east-1")


def recorder_for(tmp_path, journal=None, remote=None, **options) -> ChartRecorder:
    files = ChartFiles(tmp_path / "objects", "charts", journal=journal, remote=remote)
    bars = Bars({("AAPL", "1 hour"): hour_bars()})
    return ChartRecorder(bars, files, render_bars_png, render_equity_png,
                         bar_size_for=lambda _symbol, _strategy: "1 hour", **options)


async def saved(recorder: ChartRecorder, n: int, timeout: float = 10.0) -> list[str]:
    keys: list[str] = []
    done = asyncio.Event()

    def on_saved(key: str) -> None:
        keys.append(key)
        if len(keys) >= n:
            done.set()
    recorder.chart_saved += on_saved
    await asyncio.wait_for(done.wait(), timeout)
    recorder.chart_saved -= on_saved
    return keys


def decode(path) -> Image.Image:
    image = Image.open(io.BytesIO(path.read_bytes()))
    image.load()
    return image


def test_a_decision_and_a_fill_are_charted_under_their_keys_and_queued(
        tmp_path, journal, outbox, run):
    recorder = recorder_for(tmp_path, journal, minio_offline())
    trading, orders = Trading(), Orders()
    decision = a_decision(a_signal())

    async def session() -> list[str]:
        recorder.start()
        recorder.attach(trading, orders)
        waiting = asyncio.ensure_future(saved(recorder, 2))
        await asyncio.sleep(0)
        trading.decision_made.emit(decision)
        orders.fill_received.emit(a_fill())
        orders.fill_received.emit(a_fill(commission=1.0))  # the same fill, its commission
        keys = await waiting
        await recorder.stop()
        return keys

    keys = run(session())
    decision_key = f"decisions/{DAY}/{decision.id}.png"
    fill_key = f"fills/{DAY}/0001.abc.01.01.png"
    assert sorted(keys) == sorted([decision_key, fill_key])
    root = tmp_path / "objects" / "charts"
    for key in keys:
        assert decode(root / key).size == (1000, 600)
    assert recorder.stats()["rendered"] == 2  # the commission report is not a new chart
    records = {r.record_id: r for r in outbox.records("minio")}
    assert set(records) == {f"charts/{decision_key}", f"charts/{fill_key}"}
    for key in keys:
        record = records[f"charts/{key}"]
        assert record.kind == "chart" and record.delivered is None
        assert record.payload["bucket"] == "charts" and record.payload["key"] == key
        assert record.payload["path"] == str(root / key)
        assert record.payload["content_type"] == "image/png"
    url = recorder.chart_url(decision_key)
    assert url is not None and urlsplit(url).path == f"/charts/{decision_key}"
    assert "X-Amz-Signature=" in url


def test_without_minio_charts_stay_in_the_folder_and_nothing_is_queued(
        tmp_path, journal, outbox, run):
    recorder = recorder_for(tmp_path)

    async def session() -> None:
        recorder.start()
        waiting = asyncio.ensure_future(saved(recorder, 1))
        await asyncio.sleep(0)
        recorder.on_fill(a_fill())
        await waiting
        await recorder.stop()

    run(session())
    assert (tmp_path / "objects" / "charts" / "fills" / DAY / "0001.abc.01.01.png").is_file()
    assert outbox.records("minio") == []
    assert recorder.chart_url(f"fills/{DAY}/0001.abc.01.01.png") is None


def test_a_replayed_fill_is_not_rendered_again_after_a_restart(tmp_path, journal, outbox, run):
    async def one_run() -> dict[str, int]:
        recorder = recorder_for(tmp_path, journal, minio_offline())
        recorder.start()
        recorder.on_fill(a_fill())
        await recorder.stop()  # drains: the chart is written before it returns
        return dict(recorder.stats())

    first, second = run(one_run()), run(one_run())
    assert first["rendered"] == 1 and second["rendered"] == 0
    assert len(outbox.records("minio")) == 1


def test_the_daily_equity_curve_is_published_and_replaced(tmp_path, journal, outbox, run):
    recorder = recorder_for(tmp_path, journal, minio_offline())
    points = [(NOW + 60 * i, 100_000 + 10 * i) for i in range(100)]

    async def session() -> list[str]:
        recorder.start()
        first = recorder.publish_equity_curve(date(2023, 11, 14), points[:50])  # on demand, midday
        await saved(recorder, 1)
        again = recorder.publish_equity_curve(DAY, points)  # at the close: the whole day
        await saved(recorder, 1)
        assert recorder.publish_equity_curve(DAY, []) is None
        await recorder.stop()
        return [first, again]

    keys = run(session())
    assert keys == [f"equity/{DAY}.png"] * 2
    assert recorder.stats()["rendered"] == 2
    (record,) = outbox.records("minio")
    assert record.record_id == f"charts/equity/{DAY}.png" and record.rev == 1
    with pytest.raises(ValueError):
        recorder.publish_equity_curve("14/11/2023", points)


def test_no_bars_no_chart_and_it_says_so(tmp_path, run, caplog):
    recorder = recorder_for(tmp_path)
    recorder.bar_size_for = lambda _symbol, _strategy: "5 mins"

    async def session() -> None:
        recorder.start()
        with caplog.at_level(logging.INFO, "ibtrader.services.chart_recorder"):
            recorder.on_decision(a_decision(a_signal()))
        await recorder.stop()

    run(session())
    assert "no 5 mins bars of AAPL yet" in caplog.text
    assert recorder.stats()["rendered"] == 0


def test_a_renderer_behind_drops_the_oldest_with_a_log_line(tmp_path, run, caplog):
    gate = threading.Event()
    started = threading.Event()

    def slow_render(*args, **kwargs) -> bytes:
        started.set()
        gate.wait(10)
        return render_bars_png(*args, **kwargs)

    recorder = recorder_for(tmp_path, max_queue=3)
    recorder.render_bars = slow_render

    async def session() -> None:
        recorder.start()
        recorder.on_fill(a_fill("F0"))
        await asyncio.to_thread(started.wait, 5)  # F0 renders, holding the worker
        with caplog.at_level(logging.WARNING, "ibtrader.services.chart_recorder"):
            for i in range(1, 7):
                recorder.on_fill(a_fill(f"F{i}"))
        gate.set()
        await recorder.stop()

    run(session())
    folder = tmp_path / "objects" / "charts" / "fills" / DAY
    assert sorted(p.name for p in folder.iterdir()) == ["F0.png", "F4.png", "F5.png", "F6.png"]
    assert recorder.stats()["dropped"] == 3
    assert "renderer behind (3 queued): dropped fills/2023-11-14/F1.png" in caplog.text


def test_a_burst_of_20_decisions_never_holds_the_loop(tmp_path, journal, run):
    """The loop's lateness while 20 charts render in the render process, as the app runs
    it: a 5 ms ticker measures it."""
    recorder = recorder_for(tmp_path, journal, minio_offline(), max_queue=32, in_process=True)
    decisions = [a_decision(a_signal(i), NOW + i) for i in range(20)]

    async def session() -> tuple[list[float], list[float]]:
        recorder.start()
        late: list[float] = []
        handler: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                late.append(time.perf_counter() - start - 0.005)
        ticking = asyncio.ensure_future(ticker())
        waiting = asyncio.ensure_future(saved(recorder, 20, timeout=30))
        await asyncio.sleep(0.05)
        for d in decisions:
            start = time.perf_counter()
            recorder.on_decision(d)
            handler.append(time.perf_counter() - start)
        await waiting
        stop.set()
        await ticking
        await recorder.stop()
        return late, handler

    late, handler = run(session(), timeout=60)
    print(f"loop lateness over 20 renders: median {statistics.median(late) * 1e3:.1f} ms, "
          f"p99 {sorted(late)[int(len(late) * 0.99)] * 1e3:.1f} ms, max {max(late) * 1e3:.1f} "
          f"ms; on_decision max {max(handler) * 1e3:.2f} ms")
    assert max(handler) < 0.005  # the handler only snapshots and queues
    # rendered on the worker thread instead, the median is ~3 ms and the p99 40-50 ms
    # (matplotlib holds the GIL while it draws); the maximum is left to the machine's load
    assert statistics.median(late) < 0.002
    assert sorted(late)[int(len(late) * 0.9)] < 0.01


def test_the_latest_chart_is_rendered_on_request(tmp_path):
    recorder = recorder_for(tmp_path)
    image = Image.open(io.BytesIO(recorder.latest_chart("AAPL", "1 hour")))
    assert image.size == (1000, 600)
    with pytest.raises(KeyError, match="no 1 day bars of AAPL"):
        recorder.latest_chart("AAPL", "1 day")


def test_a_render_process_that_dies_is_replaced(tmp_path, run, caplog):
    recorder = recorder_for(tmp_path, in_process=True)

    async def session() -> None:
        recorder.start()
        waiting = asyncio.ensure_future(saved(recorder, 1, timeout=30))
        await asyncio.sleep(0)
        recorder.on_fill(a_fill("F1"))
        await waiting
        renderers = multiprocessing.active_children()
        assert renderers, "no render process"
        for child in renderers:  # killed as an out-of-memory killer would
            os.kill(child.pid, signal.SIGKILL)
        await asyncio.to_thread(lambda: [c.join(5) for c in renderers])
        with caplog.at_level(logging.WARNING, "ibtrader.services.chart_recorder"):
            waiting = asyncio.ensure_future(saved(recorder, 1, timeout=30))
            await asyncio.sleep(0)
            recorder.on_fill(a_fill("F2"))
            await waiting
        await recorder.stop()

    run(session(), timeout=60)
    folder = tmp_path / "objects" / "charts" / "fills" / DAY
    assert sorted(p.name for p in folder.iterdir()) == ["F1.png", "F2.png"]
    assert recorder.stats()["failed"] == 0
    assert "the render process died; starting a new one" in caplog.text
    assert multiprocessing.active_children() == []  # stop() leaves no renderer behind


APP_KILLED = """
import asyncio, multiprocessing, sys, tempfile, pathlib
from tests.services.test_chart_recorder import recorder_for, saved, a_fill

async def main():
    recorder = recorder_for(pathlib.Path(tempfile.mkdtemp()), in_process=True)
    recorder.start()
    waiting = asyncio.ensure_future(saved(recorder, 1, timeout=60))
    await asyncio.sleep(0)
    recorder.on_fill(a_fill())
    await waiting
    print(*[c.pid for c in multiprocessing.active_children()], flush=True)
    await asyncio.sleep(600)  # until killed

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_the_render_process_ends_when_the_app_is_killed(tmp_path):
    """A kill -9 of the app must not leave its renderer behind (~150 MB each)."""
    app = subprocess.Popen([sys.executable, "-c", APP_KILLED], cwd=REPO,
                           stdout=subprocess.PIPE, text=True)
    try:
        line = app.stdout.readline() if app.stdout else ""
        renderers = [int(pid) for pid in line.split()]
        assert renderers, f"no render process reported: {line!r}"
    finally:
        app.kill()
        app.wait(10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in renderers):
        assert time.monotonic() < deadline, f"render process {renderers} outlived the app"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has ended: only its parent (init, here) has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
