"""The n8n fixture itself against a real n8n 2.41.1: a workflow JSON imported and published
before start answers on its production webhook, through a Code node (the task runner), and
again after a restart on the same data. Installed by scripts/services/install.sh when
missing (≈ 3 min for n8n from an empty cache)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.integration.n8n_server import N8nServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ≈ 30 s: three n8n boots

ECHO = Path(__file__).parent / "data" / "n8n_echo.json"


def test_an_imported_workflow_answers_its_webhook_across_a_restart(tmp_path):
    server = N8nServer(tmp_path / "n8n")
    server.import_workflow(ECHO)
    server.start()
    try:
        server.wait_webhook("ibtrader-echo")
        answer = requests.post(server.webhook_url("ibtrader-echo"),
                               json={"symbol": "AAPL", "x": 21}, timeout=15)
        assert answer.status_code == 200 and answer.json() == {"symbol": "AAPL", "doubled": 42}
        with pytest.raises(RuntimeError, match=r"not registered after 0\.5 s"):
            server.wait_webhook("not-there", timeout=0.5)

        server.stop()
        server.start()
        server.wait_webhook("ibtrader-echo")
        answer = requests.post(server.webhook_url("ibtrader-echo"),
                               json={"symbol": "MSFT", "x": 2.5}, timeout=15)
        assert answer.json() == {"symbol": "MSFT", "doubled": 5}
    finally:
        server.stop()
