"""The delivery worker, with the real outbox and a real object sink (a folder store standing
where MinIO would be): everything queued arrives, a failing store delays records without
losing them, retries back off, and a worker that died mid-send is made good by the next."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.object_sink import ObjectSink, object_record
from ibtrader.core.outbox import Backoff
from ibtrader.services.delivery import DeliveryWorker

FAST = Backoff(first=0.05, cap=0.4, jitter=0.0)


class RecordingOutbox(SqliteOutbox):
    """The real outbox, noting the delays the worker asks for."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.delays: list[float] = []

    def reschedule(self, record, error, delay):  # type: ignore[override]
        self.delays.append(delay)
        super().reschedule(record, error, delay)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def journal(tmp_path):
    with SqliteOrderJournal(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def outbox(journal):
    box = RecordingOutbox(journal.path)
    yield box
    box.close()


@pytest.fixture
def remote(tmp_path) -> FolderObjectStore:
    return FolderObjectStore(tmp_path / "remote")


def queue_charts(journal, n: int, start: int = 0) -> list[str]:
    keys = []
    for i in range(start, start + n):
        record_id, kind, payload = object_record("charts", f"decisions/D{i}.png",
                                                 data=f"png {i}".encode(), kind="chart")
        journal.enqueue("minio", record_id, kind, payload)
        keys.append(f"decisions/D{i}.png")
    return keys


def test_every_queued_object_arrives_and_the_queue_empties(journal, outbox, remote):
    keys = queue_charts(journal, 25)
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], backoff=FAST,
                            idle_wait=0.02).start()
    try:
        wait_for(lambda: outbox.stats().get("minio") is None)
        assert any(t.name == "outbox-minio" for t in threading.enumerate())
    finally:
        worker.stop()
    assert remote.list() == sorted(keys)
    assert remote.get("decisions/D7.png") == b"png 7"
    assert worker.delivered == {"minio": 25} and worker.failures == {"minio": 0}
    assert outbox.depth() == (0, None)


def test_a_large_object_goes_by_file_path_not_through_sqlite(journal, outbox, remote, tmp_path):
    blob = tmp_path / "equity.png"
    blob.write_bytes(b"\x89PNG" + bytes(3_000_000))
    with pytest.raises(ValueError, match="pass path="):
        object_record("charts", "daily/equity.png", data=blob.read_bytes())
    journal.enqueue("minio", *object_record("charts", "daily/equity.png", path=blob))
    assert len(outbox.records("minio")[0].payload["path"]) < 200
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], idle_wait=0.02).start()
    try:
        wait_for(lambda: remote.exists("daily/equity.png"))
    finally:
        worker.stop()
    assert remote.get("daily/equity.png") == blob.read_bytes()


def test_a_failing_store_delays_records_with_growing_waits_and_loses_none(
        journal, outbox, tmp_path):
    root = tmp_path / "remote"
    root.write_text("not a folder: every put fails")  # a real failure of the real store
    keys = queue_charts(journal, 5)
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": FolderObjectStore(root)})],
                            backoff=FAST, idle_wait=0.02).start()
    try:
        wait_for(lambda: len(outbox.delays) >= 5)
        waiting = outbox.stats()["minio"]
        assert waiting.depth == 5 and waiting.failed == 0
        assert "minio" in worker.failing
        # one attempt per round, not one per record: the rest of the batch is postponed
        assert outbox.delays[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]
        attempts = sorted(r.attempts for r in outbox.records("minio"))
        assert attempts[-1] >= 5 and attempts[0] == 0
        root.unlink()  # the store is back
        wait_for(lambda: outbox.stats().get("minio") is None)
    finally:
        worker.stop()
    assert FolderObjectStore(root).list() == sorted(keys)
    assert "minio" not in worker.failing


def test_a_record_whose_file_is_gone_is_set_aside_and_the_rest_go_on(
        journal, outbox, remote, tmp_path):
    doomed = tmp_path / "doomed.png"
    doomed.write_bytes(b"x")
    journal.enqueue("minio", *object_record("charts", "a.png", path=doomed))
    queue_charts(journal, 2)
    doomed.unlink()
    journal.enqueue("minio", *object_record("nobucket", "b.png", data=b"y"))
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], idle_wait=0.02).start()
    try:
        wait_for(lambda: outbox.stats()["minio"].depth == 0)
    finally:
        worker.stop()
    assert outbox.stats()["minio"].failed == 2
    errors = {r.record_id: r.last_error for r in outbox.records("minio", state="failed")}
    assert "doomed.png is gone" in errors["charts/a.png"]
    assert "no store for bucket 'nobucket'" in errors["nobucket/b.png"]
    assert remote.list() == ["decisions/D0.png", "decisions/D1.png"]


def test_records_claimed_by_a_worker_that_died_go_out_on_the_next_start(
        journal, outbox, remote):
    keys = queue_charts(journal, 10)
    dead = SqliteOutbox(journal.path)
    claimed = dead.claim("minio", limit=4, lease=3600.0)  # sent, then killed before marking
    dead.close()
    assert len(claimed) == 4
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], idle_wait=0.02).start()
    try:
        wait_for(lambda: outbox.stats().get("minio") is None, timeout=3.0)
    finally:
        worker.stop()
    assert remote.list() == sorted(keys)


def test_records_backed_off_in_a_previous_run_go_out_at_once_at_the_next_start(
        journal, outbox, remote):
    keys = queue_charts(journal, 5)
    for record in outbox.claim("minio"):  # the last run's service was down for a while
        outbox.reschedule(record, "ObjectStoreUnavailable: connection refused", delay=300.0)
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], idle_wait=0.02).start()
    try:
        wait_for(lambda: outbox.stats().get("minio") is None, timeout=3.0)
    finally:
        worker.stop()
    assert remote.list() == sorted(keys)


def test_a_worker_only_takes_records_of_its_sinks(journal, outbox, remote):
    journal.enqueue("nocodb", "ord-1", "order", {"state": "filled"})
    queue_charts(journal, 1)
    worker = DeliveryWorker(outbox, [ObjectSink({"charts": remote})], idle_wait=0.02).start()
    try:
        wait_for(lambda: "minio" not in outbox.stats())
    finally:
        worker.stop()
    assert outbox.stats()["nocodb"].depth == 1  # waits for its sink to be configured


def test_bad_worker_settings_are_refused(outbox, remote):
    sink = ObjectSink({"charts": remote})
    with pytest.raises(ValueError, match="distinct names"):
        DeliveryWorker(outbox, [sink, ObjectSink({"charts": remote})])
    with pytest.raises(ValueError, match="batch"):
        DeliveryWorker(outbox, [sink], batch=0)
