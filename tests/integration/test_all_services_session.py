"""One trading session with all three backing services for real, as a trader would run them:
`ibtrader services init` makes NocoDB's tables, the S3 buckets and the n8n workflow, `check`
passes, then the app's own composition (`open_engine`, simulated broker, auto-trade on)
trades, charts and computes its daily performance while NocoDB and n8n are stopped and the
S3 server hangs, all at once, mid-session. When they are back, every record is there
exactly once: NocoDB's rows (decisions, orders, their events, executions, signals, the daily
row) equal the journal's, the charts bucket holds each local chart PNG once, byte for byte,
and n8n ran each queued event once.

NocoDB 0.301.3 and n8n 2.41.1 run from npm under Node 24, the S3 server is moto (the
unchanged `minio` client talks to it); all on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from pathlib import Path

import pytest

from ibtrader.adapters.nocodb import NocoClient, find_mirror
from ibtrader.app import minio_store
from ibtrader.commands.services import check, init
from ibtrader.config import Settings
from tests.integration.n8n_server import N8nServer
from tests.integration.nocodb_server import NocoServer
from tests.integration.s3server import S3Server
from tests.integration.session_child import session_settings
from tests.integration.test_n8n_notifications import (
    FINISHED,
    PATH,
    SECRET,
    queued_events,
    received,
)
from tests.integration.test_nocodb_session import (
    SCHEMA,
    mismatch,
    on_loop,
    running,
    trade,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE = "everything"


def all_services(data_dir: Path, noco: NocoServer, n8n: N8nServer, api_key: str,
                 s3: S3Server) -> Settings:
    settings = session_settings(data_dir, noco.url, noco.api_token(), BASE)
    return dataclasses.replace(
        settings, minio_endpoint=s3.endpoint, minio_access_key="test", minio_secret_key="test",
        n8n_url=n8n.url, n8n_api_key=api_key, n8n_webhook_secret=SECRET,
        n8n_webhook_url=n8n.webhook_url(PATH), n8n_timeout=3.0)


def local_charts(settings: Settings) -> dict[str, bytes]:
    root = settings.objects_dir / settings.minio_bucket_charts
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*.png")}


def remote_charts(settings: Settings) -> dict[str, bytes]:
    bucket = minio_store(settings, settings.minio_bucket_charts)
    return {key: bucket.get(key) for key in bucket.list()}


def daily_rows(client: NocoClient) -> list[dict]:
    tables = find_mirror(client, BASE, SCHEMA).table_ids
    return client.rows(tables["daily_performance"])


def test_a_session_reaches_every_service_exactly_once_across_an_outage_of_all_three(
        noco, n8n, s3_server, tmp_path):
    api_key = n8n.create_api_key()
    settings = all_services(tmp_path / "data", noco, n8n, api_key, s3_server)
    said: list[str] = []
    assert init(settings, said.append) == 0, said
    n8n.wait_webhook(PATH)
    said.clear()
    assert check(settings, said.append) == 0, said

    client = NocoClient(noco.url, noco.api_token(), timeout=5)
    journal_file = settings.journal_file
    with running(settings) as (engine, runner):
        assert engine.performance is not None and engine.charts is not None
        trade(engine, runner, 0, 2)
        runner.run(engine.performance.compute_now())
        wait_for(lambda: engine.outbox_depth()[0] == 0, timeout=60,
                 what="the first records delivered")
        first_charts = set(local_charts(settings))
        assert any(k.startswith("decisions/") for k in first_charts)
        assert any(k.startswith("fills/") for k in first_charts)

        # all three go away at once; trading, charting and journalling go on
        noco.stop()
        n8n.stop()
        s3_server.pause()  # moto keeps objects in memory: it hangs instead of restarting
        try:
            trade(engine, runner, 2, 2)
            runner.run(engine.performance.compute_now())  # the daily row again, updated
            wait_for(lambda: {"nocodb", "n8n", "minio"} <= set(engine.failing_sinks()),
                     timeout=90, what="every sink failing")
            waiting = engine.delivery.outbox.stats()  # type: ignore[union-attr]
            assert all(waiting[s].depth > 0 for s in ("nocodb", "n8n", "minio")), waiting
            assert engine.outbox_depth()[1] > 0  # the oldest's age shows
        finally:
            s3_server.resume()
            noco.start()
            n8n.start()
        wait_for(lambda: engine.outbox_depth() == (0, None), timeout=150,
                 what="the queue draining after the outage")
        stats = on_loop(runner, engine.delivery.outbox.stats)  # type: ignore[union-attr]
        assert not stats, f"records given up as undeliverable: {stats}"

    # NocoDB: the journal's rows, each once (mismatch compares ids and values per table)
    assert mismatch(client, BASE, journal_file) is None
    [daily] = daily_rows(client)
    assert daily["trades"] >= 1 and daily["equity"] > 0  # the second computation's values

    # S3: every chart made locally is in the bucket once (a key is one object), same bytes
    local = local_charts(settings)
    assert set(local) > first_charts and any(k.startswith("equity/") for k in local)
    assert remote_charts(settings) == local

    # n8n: each event the journal queued ran through the workflow once, formatted
    queued = queued_events(journal_file)
    assert {"signal", "decision", "order_filled", "daily_summary"} <= set(queued.values())

    def formatted() -> list[dict]:
        runs = received(n8n, api_key, _workflow_id(n8n, api_key))
        done = {r["event_id"] for r in runs if r["message"] is not None}
        settled = all(r["status"] in FINISHED for r in runs)
        return runs if settled and set(queued) <= done else []

    runs = wait_for_value(formatted, 60)
    counts = Counter(r["event_id"] for r in runs if r["message"] is not None)
    assert counts == Counter(set(queued)), "each event formatted exactly once"
    client.close()


def _workflow_id(n8n: N8nServer, api_key: str) -> str:
    from ibtrader.adapters.n8n.api import N8nApi
    from ibtrader.adapters.n8n.workflow import default_workflow, find_workflow

    with N8nApi(n8n.url, api_key) as api:
        return find_workflow(api, default_workflow()).workflow_id


def wait_for_value(make, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = make()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing after {timeout} s from {make.__name__}")
        time.sleep(0.5)
