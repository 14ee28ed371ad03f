"""`ibtrader bench api` end to end, briefly: every phase runs against the real server and
engine from a separate load process, and what it reports adds up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ibtrader.benchmarks.api import run_api_bench


@pytest.fixture(scope="module")
def result():
    return run_api_bench(seconds=0.6, symbols=20, order_rate=10.0, rate=20.0)


def test_every_phase_is_answered_without_errors(result):
    for phase in (result.peer_quotes, result.quotes, result.cost, result.peer_cost):
        assert phase["errors"] == 0 and phase["requests"] > 0
        assert set(phase["statuses"]) == {"200"}
    assert set(result.orders["statuses"]) == {"201"}  # each order placed, none refused


def test_the_quotes_phase_reads_every_streaming_symbol(result):
    assert result.symbols == 20
    quotes = result.quotes
    assert quotes["requests_per_s"] > 0 and quotes["p99_ms"] >= quotes["p50_ms"]


def test_the_cost_is_the_web_threads_cpu_per_request_and_share_of_a_core(result):
    cost = result.cost
    assert cost["cpu_seconds"] > 0
    # cpu_seconds is reported rounded to 0.1 ms
    assert cost["cpu_ms_per_request"] == pytest.approx(
        1000 * cost["cpu_seconds"] / cost["requests"], rel=0.02)
    assert result.loop_cost_pct == pytest.approx(100 * cost["cpu_seconds"] / cost["seconds"],
                                                 rel=0.02)
    text = "\n".join(result.lines())
    assert "GET /api/v1/quotes" in text and "cost to the engine" in text


def test_the_load_process_counts_statuses_and_connection_errors():
    spec = {"url": "http://127.0.0.1:9", "path": "/", "key": "k", "seconds": 0.3}
    out = subprocess.run([sys.executable, "-m", "ibtrader.benchmarks.api_load",
                          json.dumps(spec)], capture_output=True, text=True, timeout=30)
    report = json.loads(out.stdout)
    assert report["requests"] == 0 and report["errors"] > 0
    assert "ConnectionRefusedError" in report["first_errors"][0]
