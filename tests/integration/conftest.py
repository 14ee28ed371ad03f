"""Fixtures for integration tests: real backing services started on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from tests.integration.n8n_server import N8nServer
from tests.integration.nocodb_server import NocoServer
from tests.integration.s3server import S3Server


@pytest.fixture(scope="module")
def noco(tmp_path_factory) -> Iterator[NocoServer]:
    """A real NocoDB for the module (≈ 4 s to start), with its own data folder."""
    server = NocoServer(tmp_path_factory.mktemp("nocodb")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def n8n(tmp_path_factory) -> Iterator[N8nServer]:
    """A real n8n for the module (≈ 10 s to start), with its own data folder."""
    server = N8nServer(tmp_path_factory.mktemp("n8n")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_server_with_auth(tmp_path) -> Iterator[S3Server]:
    """An S3 server that checks access keys (moto's IAM: unknown keys are refused)."""
    server = S3Server(tmp_path, enforce_auth=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def journal(tmp_path) -> Iterator[SqliteOrderJournal]:
    """The local journal whose outbox the services are fed from."""
    with SqliteOrderJournal(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def outbox(journal: SqliteOrderJournal) -> Iterator[SqliteOutbox]:
    box = SqliteOutbox(journal.path)
    yield box
    box.close()
