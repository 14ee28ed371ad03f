"""Notifications through a real n8n 2.41.1: `ibtrader services init | check` import and
verify the workflow of resources/n8n/notifications.json through n8n's public API, and a
trading session through the app's own composition (simulated gateway, auto-trade on) sends
its events to the workflow's webhook, signed, each exactly once, n8n stopped mid-session.

What n8n did is read back from its execution list: per execution the webhook's input (the
event id header) and the "format message" node's output (the line a trader would get)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.n8n.api import N8nApi
from ibtrader.adapters.n8n.webhook import N8nSink
from ibtrader.adapters.n8n.workflow import default_workflow, find_workflow
from ibtrader.app import open_engine, start_simulator
from ibtrader.commands.services import check, check_n8n, init
from ibtrader.config import Settings
from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.core.outbox import OutboxRecord
from ibtrader.services.order_reports import OrderRefused
from ibtrader.sim.gateway import SimulatedGateway
from tests.integration.n8n_server import N8nServer
from tests.integration.session_child import FAST_HISTORY, STRATEGY, SYMBOL, signal_now

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # one n8n for the module

SECRET = "n8n-test-secret-7f3a"
PATH = "ibtrader-events"
FINISHED = ("success", "error", "crashed", "canceled")
SESSION_KINDS = {"signal", "decision", "order_filled", "order_rejected", "risk_limit",
                 "kill_switch", "connection_lost", "connection_restored"}


@pytest.fixture(scope="module")
def api_key(n8n) -> str:
    return n8n.create_api_key()


@pytest.fixture(scope="module")
def installed(n8n, api_key, tmp_path_factory) -> str:
    """The workflow imported and active by `services init`; its id."""
    settings = n8n_settings(n8n, api_key, tmp_path_factory.mktemp("init"))
    assert init(settings, lambda _line: None) == 0
    n8n.wait_webhook(PATH)
    with N8nApi(n8n.url, api_key) as api:
        return find_workflow(api, default_workflow()).workflow_id


def n8n_settings(n8n: N8nServer, api_key: str, data_dir: Path, **more: Any) -> Settings:
    values: dict[str, Any] = {"n8n_url": n8n.url, "n8n_api_key": api_key,
                              "n8n_webhook_secret": SECRET,
                              "n8n_webhook_url": n8n.webhook_url(PATH), **more}
    return Settings(data_dir=data_dir, **values)


# --- what n8n ran ----------------------------------------------------------------------------

def received(n8n: N8nServer, api_key: str, workflow_id: str) -> list[dict[str, Any]]:
    """Per execution: the event id it was posted, its status, the message it formatted
    (None when the workflow stopped before: a duplicate, a bad signature) and its error."""
    runs = []
    for execution in n8n.executions(api_key, workflow_id):
        result = (execution.get("data") or {}).get("resultData") or {}
        nodes = result.get("runData") or {}
        if execution["status"] not in FINISHED or "ibtrader event" not in nodes:
            runs.append({"event_id": None, "status": execution["status"], "message": None,
                         "error": ""})  # still running: its output is not all there yet
            continue
        [webhook] = nodes["ibtrader event"]
        headers = webhook["data"]["main"][0][0]["json"]["headers"]
        formatted = [item["json"] for run in nodes.get("format message", [])
                     for item in run["data"]["main"][0]]
        runs.append({"event_id": headers.get("x-ibtrader-event-id"),
                     "status": execution["status"],
                     "message": formatted[0] if formatted else None,
                     "error": (result.get("error") or {}).get("message", "")})
    return runs


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


# --- services init | check -------------------------------------------------------------------

def test_init_imports_the_workflow_once_and_check_then_passes(n8n, api_key, tmp_path):
    settings = n8n_settings(n8n, api_key, tmp_path / "data")
    before = check_n8n(settings)
    assert (before.reachable, before.authenticated, before.schema) == (True, True, False)
    assert "missing" in before.detail and before.hint == "ibtrader services init"

    said: list[str] = []
    assert init(settings, said.append) == 0
    [first] = [line for line in said if line.startswith("n8n")]
    assert "workflow 'ibtrader notifications'" in first
    assert "credential 'ibtrader webhook secret'" in first and "activated" in first

    said.clear()
    assert init(settings, said.append) == 0  # the second run changes nothing
    [second] = [line for line in said if line.startswith("n8n")]
    assert second.endswith("already there, active"), second
    with N8nApi(n8n.url, api_key) as api:
        assert len(api.workflows("ibtrader notifications")) == 1
        assert [c["name"] for c in api.credentials()] == ["ibtrader webhook secret"]

    after = check_n8n(settings)
    assert (after.reachable, after.authenticated, after.schema) == (True, True, True)
    lines: list[str] = []
    check(settings, lines.append)
    assert any(line.startswith("n8n     OK") for line in lines), lines


def test_a_refused_api_key_fails_authentication_with_a_hint(n8n, tmp_path):
    settings = n8n_settings(n8n, "not-a-key", tmp_path / "data")
    result = check_n8n(settings)
    assert (result.reachable, result.authenticated, result.failed) == (True, False, True)
    assert "n8n_api_key is refused" in result.hint and "Settings > n8n API" in result.hint
    said: list[str] = []
    assert check(settings, said.append) == 1
    assert any("fix: n8n_api_key is refused" in line for line in said), said

    down = check_n8n(n8n_settings(n8n, "x", tmp_path, n8n_url="http://127.0.0.1:9"))
    assert down.reachable is False and "docker compose" in down.hint


# --- the signature ---------------------------------------------------------------------------

def test_an_event_with_a_bad_signature_is_refused_by_the_workflow(n8n, api_key, installed):
    body = json.dumps({"id": "forged:1", "kind": "order_filled", "time": 1.0,
                       "data": {"symbol": "AAPL"}}).encode()
    forged = "sha256=" + hmac.new(b"not the secret", body, hashlib.sha256).hexdigest()
    for signature in (forged, None):
        headers = {"Content-Type": "application/json", "X-Ibtrader-Event-Id": "forged:1"}
        if signature:
            headers["X-Ibtrader-Signature"] = signature
        assert requests.post(n8n.webhook_url(PATH), data=body, headers=headers,
                             timeout=10).status_code == 200  # answered before it runs
    # the same event signed with the secret, through the app's sink, goes through
    sink = N8nSink(n8n.webhook_url(PATH), SECRET, timeout=10)
    sink.deliver(OutboxRecord("n8n", "signed:1", "kill_switch",
                              {"time": 1.0, "data": {"engaged": True, "reason": "test"}},
                              time.time(), 0, 0.0, "", None))

    def settled() -> list[dict[str, Any]]:
        runs = received(n8n, api_key, installed)
        ours = [r for r in runs if r["event_id"] in ("forged:1", "signed:1")]
        return ours if len(ours) == 3 and all(r["status"] in FINISHED for r in runs) else []

    runs = wait_for(settled, 20, "three executions")
    forged_runs = [r for r in runs if r["event_id"] == "forged:1"]
    assert all(r["status"] == "error" and r["message"] is None for r in forged_runs)
    assert all("refused: bad or missing X-Ibtrader-Signature" in r["error"]
               for r in forged_runs)
    [signed] = [r for r in runs if r["event_id"] == "signed:1"]
    assert signed["status"] == "success"
    assert signed["message"]["message"] == "ibtrader: Kill switch ENGAGED: test"


# --- a session -------------------------------------------------------------------------------

def queued_events(journal_file: Path) -> dict[str, str]:
    """Event id -> kind of every notification the journal queued for n8n."""
    db = sqlite3.connect(f"file:{journal_file}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT record_id, kind FROM outbox WHERE sink='n8n'"))
    finally:
        db.close()


def test_a_session_notifies_every_event_exactly_once_across_an_n8n_restart(
        n8n, api_key, installed, tmp_path):
    gateway: SimulatedGateway = start_simulator(Settings(data_dir=tmp_path / "sim"))
    settings = n8n_settings(
        n8n, api_key, tmp_path / "data", broker="ib", ib_host="127.0.0.1", ib_port=gateway.port,
        watchlist=(SYMBOL,), strategies=(STRATEGY,), auto_trade=(STRATEGY,),
        history_lookback=FAST_HISTORY, max_position_value=5_000,
        limit_price_policy="marketable:2", breakeven_r=0.0, n8n_timeout=3.0,
        max_order_value=0, max_position_value_per_symbol=0, max_gross_exposure=0)
    journal_file = settings.journal_file

    def kinds() -> Counter[str]:
        return Counter(queued_events(journal_file).values())

    def depth() -> int:
        box = SqliteOutbox(journal_file)
        try:
            return box.depth()[0]
        finally:
            box.close()

    async def until(condition: Callable[[], Any], timeout: float, what: str) -> None:
        await asyncio.to_thread(wait_for, condition, timeout, what)

    async def session() -> None:
        async with open_engine(settings) as engine:
            await asyncio.wait_for(asyncio.shield(engine.subscribed), 60)
            signal_now(engine, "buy", "session buy")  # signal, decision, an order filled
            await until(lambda: kinds()["order_filled"] == 1, 15, "the fill")
            assert engine.orders is not None
            # far beyond the paper account's buying power: the gateway rejects it
            await engine.orders.place(OrderRequest(SYMBOL, "buy", 50_000,
                                                   new_client_key(time.time())))
            await until(lambda: kinds()["order_rejected"] == 1, 15, "the rejection")
            with pytest.raises(OrderRefused):  # over max_order_quantity: a risk limit hit
                await engine.orders.place(OrderRequest(SYMBOL, "buy", 200_000,
                                                       new_client_key(time.time())))
            await until(lambda: depth() == 0, 30, "the first events delivered")

            await asyncio.to_thread(n8n.stop)  # n8n goes down mid-session
            await asyncio.to_thread(gateway.inject, "outage:0.5")
            await until(lambda: kinds()["connection_restored"] == 1, 15, "the reconnection")
            await engine.orders.kill_switch()
            await until(lambda: kinds()["kill_switch"] >= 1, 5, "the kill switch")
            await asyncio.sleep(1.0)  # the worker tries and fails: the events wait
            assert depth() > 0

            await asyncio.to_thread(n8n.start)
            await until(lambda: depth() == 0, 60, "the waiting events delivered")

    try:
        asyncio.run(asyncio.wait_for(session(), 150))
    finally:
        gateway.stop()

    queued = queued_events(journal_file)
    assert set(queued.values()) >= SESSION_KINDS, Counter(queued.values())

    def all_formatted() -> list[dict[str, Any]]:
        everything = received(n8n, api_key, installed)
        runs = [r for r in everything if r["event_id"] in queued]
        done = {r["event_id"] for r in runs if r["message"] is not None}
        finished = all(r["status"] in FINISHED for r in everything)
        return runs if done == set(queued) and finished else []

    runs = wait_for(all_formatted, 30, "every event formatted by the workflow")
    deliveries = Counter(r["event_id"] for r in runs)
    formatted = Counter(r["event_id"] for r in runs if r["message"] is not None)
    assert formatted == Counter(set(queued)), "each event formatted exactly once"
    assert deliveries == Counter(set(queued)), "each event posted exactly once"
    messages = {r["message"]["kind"]: r["message"]["message"] for r in runs}
    assert messages["order_filled"].startswith("ibtrader: Filled buy ")
    assert f" {SYMBOL} at " in messages["order_filled"]
    assert messages["order_rejected"].startswith(f"ibtrader: Rejected buy 50000 {SYMBOL}: ")
    assert "MUST EXCEED THE INITIAL MARGIN" in messages["order_rejected"]  # the broker's why
    assert messages["risk_limit"].startswith(f"ibtrader: Risk limit max_order_quantity on "
                                             f"{SYMBOL}")
    assert messages["connection_lost"].startswith("ibtrader: Connection to the broker lost")
    assert messages["kill_switch"].startswith("ibtrader: Kill switch ENGAGED")
