"""`ibtrader services check | init` against a real S3 server (moto, on 127.0.0.1) through the
unchanged minio client: one line per service with a fix hint for each failure, the outbox
per sink from the journal's file, exit 1 when a configured service fails; `init` creates the
buckets and is safe to run twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.objects.minio_store import MinioObjectStore
from ibtrader.adapters.objects.object_sink import object_record
from ibtrader.commands.services import check, check_n8n, check_nocodb, init, outbox_lines
from ibtrader.config import Settings
from tests.integration.s3server import S3Server, free_port

pytestmark = pytest.mark.integration




def settings(tmp_path: Path, endpoint: str = "", **values) -> Settings:
    keys = {"minio_access_key": "test", "minio_secret_key": "test"}
    return Settings(data_dir=tmp_path / "data", minio_endpoint=endpoint, **{**keys, **values})


def run(command, config: Settings) -> tuple[int, list[str]]:
    lines: list[str] = []
    status = command(config, lines.append)
    return status, "\n".join(lines).splitlines()


def line(lines: list[str], start: str) -> str:
    [found] = [x for x in lines if x.startswith(start)]
    return found


def test_nothing_configured_says_so_and_passes(tmp_path):
    status, lines = run(check, settings(tmp_path))
    assert status == 0
    for name in ("minio", "nocodb", "n8n"):
        assert "not configured" in line(lines, name)
    assert line(lines, "outbox").startswith("outbox  no journal yet at ")


def test_missing_buckets_fail_until_init_creates_them_and_init_is_safe_twice(tmp_path, s3_server):
    config = settings(tmp_path, s3_server.endpoint)
    status, lines = run(check, config)
    assert status == 1
    minio = line(lines, "minio")
    assert "reachable yes, authenticated yes, schema NO" in minio
    assert "bucket(s) missing: charts, marketdata" in minio
    assert "fix: ibtrader services init" in "\n".join(lines)

    status, lines = run(init, config)
    assert status == 0
    assert lines[:2] == ["minio   bucket charts: created", "minio   bucket marketdata: created"]
    assert line(lines, "nocodb").startswith("nocodb  not configured")
    assert line(lines, "n8n").startswith("n8n     not configured")
    status, lines = run(init, config)
    assert status == 0
    assert lines[:2] == ["minio   bucket charts: already there",
                         "minio   bucket marketdata: already there"]
    client = MinioObjectStore(s3_server.endpoint, "test", "test", "charts").client
    assert sorted(b.name for b in client.list_buckets()) == ["charts", "marketdata"]

    status, lines = run(check, config)
    assert status == 0
    assert "OK" in line(lines, "minio") and "schema yes" in line(lines, "minio")


def test_refused_keys_fail_authentication_with_the_settings_to_fix(tmp_path):
    with_auth = S3Server(tmp_path, enforce_auth=True).start()
    try:
        status, lines = run(check, settings(tmp_path, with_auth.endpoint,
                                            minio_access_key="AKIANOTAKEY"))
    finally:
        with_auth.stop()
    assert status == 1
    assert "reachable yes, authenticated NO, schema -" in line(lines, "minio")
    assert "minio_access_key / minio_secret_key" in "\n".join(lines)


def test_an_unreachable_server_fails_with_the_compose_hint(tmp_path):
    status, lines = run(check, settings(tmp_path, f"127.0.0.1:{free_port()}"))
    assert status == 1
    assert "reachable NO" in line(lines, "minio")
    assert "docker compose -f docker-compose.services.yml up -d minio" in "\n".join(lines)
    status, lines = run(init, settings(tmp_path, f"127.0.0.1:{free_port()}"))
    assert status == 1
    assert "unreachable" in line(lines, "minio   FAIL bucket charts")


def test_nocodb_and_n8n_unreachable_are_failures_with_hints():
    # their settings arrive with their adapters; the checks read them by name
    class Configured:
        nocodb_url = f"http://127.0.0.1:{free_port()}"
        nocodb_api_token = "token"
        n8n_url = f"http://127.0.0.1:{free_port()}/"

    nocodb = check_nocodb(Configured())  # type: ignore[arg-type]
    assert nocodb.failed and nocodb.reachable is False
    assert "GET /api/v1/health: connection refused" in nocodb.line()
    assert "up -d nocodb" in nocodb.line()
    n8n = check_n8n(Configured())  # type: ignore[arg-type]
    assert n8n.failed and "GET /healthz/readiness" in n8n.line()
    assert n8n.where == Configured.n8n_url.rstrip("/")


def test_the_outbox_per_sink_from_the_journal_file(tmp_path):
    journal_file = tmp_path / "journal.sqlite"
    now = time.time()
    with SqliteOrderJournal(journal_file) as journal:
        for n in range(3):
            journal.enqueue("minio", *object_record("charts", f"c/{n}.png", data=b"x"),
                            now=now - 90 + n)
        journal.enqueue("nocodb", "decision-1", "decision", {"id": "decision-1"}, now=now - 5)
    lines = outbox_lines(journal_file, now=now)
    assert lines == ["outbox  minio: 3 waiting, oldest 90s",
                     "outbox  nocodb: 1 waiting, oldest 5s"]


def test_the_command_line_runs_it_and_exits_1_on_a_failure(tmp_path, s3_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IBTRADER_")}
    env.update(IBTRADER_DATA_DIR=str(tmp_path / "data"), IBTRADER_MINIO_ENDPOINT=s3_server.endpoint,
               IBTRADER_MINIO_ACCESS_KEY="test", IBTRADER_MINIO_SECRET_KEY="test")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ibtrader", "services", *args], env=env,
                              capture_output=True, text=True, timeout=60)

    before = cli("check")
    assert before.returncode == 1, before.stderr
    assert "schema NO" in before.stdout
    assert cli("init").returncode == 0
    after = cli("check")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "buckets charts, marketdata exist" in after.stdout
