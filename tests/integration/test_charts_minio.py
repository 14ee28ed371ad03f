"""Chart PNGs into the charts bucket of a real S3 server (moto on 127.0.0.1, the unchanged
`minio` client): rendered by the ChartRecorder, queued in the journal's outbox, delivered by
the delivery worker; a server stopped mid-session and restarted loses none and gets each
key exactly once; the presigned URLs fetch the images."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from PIL import Image

from ibtrader.adapters.charts.files import ChartFiles
from ibtrader.adapters.charts.render import render_bars_png, render_equity_png
from ibtrader.adapters.objects.minio_store import MinioObjectStore
from ibtrader.adapters.objects.object_sink import ObjectSink
from ibtrader.app import open_engine
from ibtrader.config import Settings
from ibtrader.services.chart_recorder import ChartRecorder
from ibtrader.services.delivery import DeliveryWorker
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.integration.session_child import FAST_HISTORY, STRATEGY, SYMBOL, side_of, signal_now
from tests.integration.test_minio_store import FAST, wait_for
from tests.loops import loop_runner
from tests.services.test_chart_recorder import DAY, Bars, a_fill, hour_bars
from tests.web.harness import LoopThread

pytestmark = pytest.mark.integration

run = pytest.fixture(loop_runner, name="run")
T = TypeVar("T")


def bucket(server, **options) -> MinioObjectStore:
    return MinioObjectStore(server.endpoint, "test", "test", "charts", region="us-east-1",
                            **options)


def recorder_for(tmp_path, server, journal) -> ChartRecorder:
    files = ChartFiles(tmp_path / "objects", "charts", journal=journal, remote=bucket(server))
    return ChartRecorder(Bars({("AAPL", "1 hour"): hour_bars()}), files, render_bars_png,
                         render_equity_png, bar_size_for=lambda _s, _st: "1 hour")


async def chart(recorder: ChartRecorder, calls: list, timeout: float = 20.0) -> list[str]:
    """Make the charts of `calls` (thunks), waiting until every one is saved and queued."""
    keys: list[str] = []
    recorder.chart_saved += keys.append
    for call in calls:
        call()
    deadline = asyncio.get_running_loop().time() + timeout
    while len(keys) < len(calls):
        assert asyncio.get_running_loop().time() < deadline, keys
        await asyncio.sleep(0.01)
    recorder.chart_saved -= keys.append
    return keys


def utc_day(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).date().isoformat()


def png_size(data: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.size


def test_charts_reach_the_bucket_and_a_server_outage_loses_none(
        tmp_path, s3_server, journal, outbox, run):
    recorder = recorder_for(tmp_path, s3_server, journal)
    store = bucket(s3_server)
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": store})], backoff=FAST,
                            idle_wait=0.02).start()

    def decisions(start: int, n: int) -> list:
        made = [a_decision(a_signal(i), NOW + i) for i in range(start, start + n)]
        return [functools.partial(recorder.on_decision, d) for d in made]

    async def session() -> tuple[list[str], list[str]]:
        recorder.start()
        before = await chart(recorder, [*decisions(0, 4), lambda: recorder.on_fill(a_fill("E1")),
                                        lambda: recorder.publish_equity_curve(DAY, [(NOW, 1e5),
                                                                            (NOW + 60, 1.01e5)])])
        await asyncio.to_thread(wait_for, lambda: "minio" not in outbox.stats())
        s3_server.stop()  # mid-session: the engine goes on, charts are kept and queued
        during = await chart(recorder, [*decisions(100, 5),
                                        lambda: recorder.on_fill(a_fill("E2"))])
        await asyncio.to_thread(wait_for, lambda: worker.failures["minio"] >= 2)
        assert outbox.stats()["minio"].depth == 6
        s3_server.start()  # moto comes back empty, on the same port
        await asyncio.to_thread(wait_for, lambda: "minio" not in outbox.stats(), 20)
        await recorder.stop()
        return before, during

    try:
        before, during = run(session(), timeout=60)
    finally:
        worker.stop()
    assert f"fills/{DAY}/E1.png" in before and f"equity/{DAY}.png" in before
    assert f"fills/{DAY}/E2.png" in during
    # the server's second life holds what was charted while it was down, each decodes
    assert store.list() == sorted(during)
    for key in during:
        assert png_size(store.get(key)) == (1000, 600)
    puts = s3_server.puts()
    assert {k: puts[f"charts/{k}"] for k in before + during} == dict.fromkeys(before + during, 1)
    assert sum(n for path, n in puts.items() if path.startswith("charts/")) == 12
    # the URL handed out (to an n8n workflow, say) fetches the image itself
    with urllib.request.urlopen(recorder.chart_url(during[0]), timeout=5) as answer:
        assert answer.read() == (tmp_path / "objects" / "charts" / during[0]).read_bytes()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read()


def test_the_latest_chart_is_uploaded_at_once_with_a_url_that_fetches_it(
        tmp_path, s3_server, journal, outbox, run, caplog):
    recorder = recorder_for(tmp_path, s3_server, journal)

    async def ask() -> tuple[str | None, bytes, str | None]:
        recorder.start()
        url = await recorder.latest_chart_url("AAPL", "1 hour")
        image = await asyncio.to_thread(fetch, url) if url else b""
        s3_server.stop()
        down = await recorder.latest_chart_url("AAPL", "1 hour")  # no URL to a missing image
        await recorder.stop()
        return url, image, down

    url, image, down = run(ask())
    assert url is not None and "/charts/latest/AAPL/1hour/" in url
    assert png_size(image) == (1000, 600)
    assert down is None and "no chart URL for AAPL 1 hour" in caplog.text
    assert outbox.records("minio") == []  # sent directly: it is wanted now, not later


def on_loop(runner: LoopThread, read: Callable[[], T]) -> T:
    """A journal read on the engine's loop thread (the journal's connection lives there)."""
    async def call() -> T:
        return read()
    return runner.run(call())


def test_a_simulated_session_charts_its_decisions_and_fills_into_the_bucket(
        tmp_path, s3_server):
    """The app's own composition (`open_engine`, simulated broker, auto-trade on) with
    `minio_endpoint` set: each decision and fill of the session is a PNG in the bucket,
    under the decision's id and the execution's id, and the day's equity curve when the
    day's performance is computed."""
    settings = Settings(data_dir=tmp_path, watchlist=(SYMBOL,), strategies=(STRATEGY,),
                        auto_trade=(STRATEGY,), history_lookback=FAST_HISTORY,
                        max_position_value=5_000, limit_price_policy="marketable:2",
                        breakeven_r=0.0, minio_endpoint=s3_server.endpoint,
                        minio_access_key="test", minio_secret_key="test")
    store = bucket(s3_server)
    runner = LoopThread()
    context = open_engine(settings)
    try:
        engine = runner.run(context.__aenter__())
        try:
            assert engine.charts is not None
            runner.run(asyncio.wait_for(asyncio.shield(engine.subscribed), 60))
            for i in range(2):  # in, then out: two decisions, two fills
                async def one(i: int = i) -> None:
                    signal_now(engine, side_of(i), f"charts {i}")
                runner.run(one())
                wait_for(lambda i=i: len(on_loop(runner, engine.journal.executions)) > i, 20)

            assert engine.performance is not None  # the day's row on demand: its curve
            day = runner.run(engine.performance.compute_now()).session_date

            def charted() -> list[str]:  # what the journal says happened, as chart keys
                decisions = on_loop(runner, engine.journal.decisions)
                fills = on_loop(runner, engine.journal.executions)
                return sorted([f"decisions/{utc_day(d.created)}/{d.id}.png" for d in decisions]
                              + [f"fills/{utc_day(f.time)}/{f.exec_id}.png" for f in fills]
                              + [f"equity/{day}.png"])
            # the first chart spawns the render process: allow for its start-up; an order
            # may fill in parts, so the wanted keys are read again each time
            with contextlib.suppress(AssertionError):
                wait_for(lambda: store.list() == charted(), 40)
            wanted = charted()
            assert store.list() == wanted
        finally:
            runner.run(context.__aexit__(None, None, None), 60)
    finally:
        runner.close()
    assert len([k for k in wanted if k.startswith("decisions/")]) == 2
    assert len([k for k in wanted if k.startswith("fills/")]) >= 2
    for key in wanted:
        assert png_size(store.get(key)) == ((1000, 400) if key.startswith("equity/")
                                            else (1000, 600))
    puts = s3_server.puts()
    assert all(puts[f"charts/{k}"] == 1 for k in wanted)
