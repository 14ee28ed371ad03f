"""The composition root with and without the backing services: with `minio_endpoint` set, the
history cache lives in MinIO's marketdata bucket and the outbox's delivery worker runs with
the engine; a MinIO that is down costs neither history nor records, and the queue shows in
the health endpoint, the metrics and the desktop status bar. Without services nothing of it
runs. MinIO is a real S3 server (moto) on 127.0.0.1, driven by the unchanged minio client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests

from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.minio_store import MinioObjectStore
from ibtrader.adapters.objects.object_sink import object_record
from ibtrader.app import Engine, history_store, remote_sinks
from ibtrader.config import Settings
from ibtrader.web.runtime import WebRuntime
from tests.integration.s3server import S3Server, free_port
from tests.web.harness import LoopThread, running_engine, web_settings

pytestmark = pytest.mark.integration




def with_minio(tmp_path, server: S3Server, **values) -> Settings:
    return web_settings(tmp_path, minio_endpoint=server.endpoint, minio_access_key="test",
                        minio_secret_key="test", **values)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def lanes() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("outbox-"))


def queue_chart(runner: LoopThread, engine: Engine, key: str, data: bytes) -> None:
    async def write() -> None:  # on the engine's loop, as the engine writes its journal
        with engine.journal.atomic():
            engine.journal.enqueue("minio", *object_record("charts", key, data=data))
    runner.run(write())


def test_without_services_the_embedded_defaults_stay(tmp_path):
    settings = web_settings(tmp_path)
    assert isinstance(history_store(settings), FolderObjectStore)
    assert remote_sinks(settings) == []
    with running_engine(settings) as (engine, _bridge, _runner):
        assert engine.delivery is None
        assert engine.outbox_depth() == (0, None)
        assert lanes() == []
    assert list(settings.objects_dir.rglob("*.parquet"))  # the cache in the local folder


def test_with_minio_the_cache_is_in_its_bucket_and_charts_arrive(tmp_path, s3_server):
    settings = with_minio(tmp_path, s3_server)
    marketdata = MinioObjectStore(s3_server.endpoint, "test", "test", "marketdata")
    charts = MinioObjectStore(s3_server.endpoint, "test", "test", "charts")
    with running_engine(settings) as (engine, _bridge, runner):
        assert engine.delivery is not None
        assert lanes() == ["outbox-minio"]
        keys = marketdata.list()
        assert keys and all(k.endswith(".parquet") for k in keys)
        assert engine.market_data.history("AAPL", "1 min")

        queue_chart(runner, engine, "decisions/D1.png", b"PNG-D1")
        wait_for(lambda: charts.exists("decisions/D1.png"))
        assert charts.get("decisions/D1.png") == b"PNG-D1"
        wait_for(lambda: engine.outbox_depth() == (0, None))
    assert lanes() == []  # stopped with the engine, before the journal closed
    assert not list(settings.objects_dir.rglob("*.parquet"))  # nothing in the local folder
    assert s3_server.puts()["charts/decisions/D1.png"] == 1


def test_minio_down_costs_no_history_and_no_record_and_the_queue_shows(tmp_path, s3_server):
    s3_server.stop()  # down before the engine starts
    settings = with_minio(tmp_path, s3_server, web_port=free_port())
    with running_engine(settings) as (engine, _bridge, runner):
        assert engine.market_data.history("AAPL", "1 min")  # from the broker, not cached
        for n in range(3):
            queue_chart(runner, engine, f"fills/F{n}.png", b"PNG%d" % n)
        wait_for(lambda: engine.outbox_depth()[0] == 3)
        wait_for(lambda: "minio" in engine.failing_sinks())

        web = WebRuntime(settings).start()
        try:
            runner.run(_attach(web, engine))
            body = requests.get(f"{web.url}/api/v1/health", timeout=5).json()
            assert body["outbox"]["depth"] == 3
            assert body["outbox"]["oldest_age_seconds"] >= 0
            runner.run(_flush(web))
            metrics = requests.get(f"{web.url}/metrics", timeout=5,
                                   headers={"X-API-Key": _key(web)}).text
            assert "ibtrader_outbox_depth 3.0" in metrics
            runner.run(_detach(web))
        finally:
            web.stop()

        s3_server.start()  # back on the same port, empty: the sink recreates the bucket
        wait_for(lambda: engine.outbox_depth() == (0, None), timeout=30)
        assert "minio" not in engine.failing_sinks()
    charts = MinioObjectStore(s3_server.endpoint, "test", "test", "charts")
    assert charts.list("fills/") == ["fills/F0.png", "fills/F1.png", "fills/F2.png"]
    assert [s3_server.puts()[f"charts/fills/F{n}.png"] for n in range(3)] == [1, 1, 1]


async def _attach(web: WebRuntime, engine: Engine) -> None:
    web.attach(engine)


async def _flush(web: WebRuntime) -> None:
    assert web.context.bridge is not None
    web.context.bridge.flush()


async def _detach(web: WebRuntime) -> None:
    web.detach()


def _key(web: WebRuntime) -> str:
    return web.credentials.create_key("outbox-test").key


def test_status_bar_shows_the_outbox_only_when_something_waits_or_fails(qtbot):
    from ibtrader.gui.status_bar import StatusBar

    bar = StatusBar()
    qtbot.addWidget(bar)
    bar.show()
    assert not bar.outbox_label.isVisible()
    bar.show_outbox(3, 42.4, {})
    assert bar.outbox_label.isVisible()
    assert bar.outbox_label.text() == "outbox 3 waiting, oldest 42s"
    bar.show_outbox(12, 245.0, {"minio": "ObjectStoreUnavailable: unreachable"})
    assert "outbox 12 waiting, oldest 4m05s" in bar.outbox_label.text()
    assert "minio failing" in bar.outbox_label.text()
    assert "unreachable" in bar.outbox_label.toolTip()
    bar.show_outbox(0, None, {"nocodb": "HTTP 503"})  # nothing waits, but a service fails
    assert bar.outbox_label.isVisible() and "nocodb failing" in bar.outbox_label.text()
    bar.show_outbox(0, None, {})
    assert not bar.outbox_label.isVisible()
