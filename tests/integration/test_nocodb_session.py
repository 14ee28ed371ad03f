"""The journal mirrored into a real NocoDB during a real session: `open_engine` on the
simulated broker with auto-trade on, configured with `nocodb_url`, so the journal carries a
NocoMirror and the app's delivery worker a NocoSink. Signals, decisions (each state),
orders, their events and executions reach NocoDB once each, keyed by our id: through a
plain session, a NocoDB outage mid-session, and a kill -9 of the app with records waiting.
A last test measures how fast a backlog drains into NocoDB (printed with `-s`).

NocoDB 0.301.3 runs from npm under Node 24 on 127.0.0.1 (tests/integration/nocodb_server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.journal.rows import row_values
from ibtrader.adapters.nocodb import (
    NocoClient,
    NocoSink,
    default_schema,
    ensure_mirror,
    find_mirror,
)
from ibtrader.adapters.nocodb.journal_mirror import NocoMirror
from ibtrader.app import Engine, open_engine, open_order_manager
from ibtrader.config import Settings
from ibtrader.core.decisions import DecisionState
from ibtrader.core.orders.request import OrderRequest, new_client_key
from ibtrader.services.delivery import DeliveryWorker
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.integration.nocodb_server import NocoServer
from tests.integration.node_services import REPO
from tests.integration.session_child import STRATEGY, session_settings, side_of, signal_now
from tests.web.harness import LoopThread

pytestmark = pytest.mark.integration

SCHEMA = default_schema()
T = TypeVar("T")
MIRRORED = ("signals", "decisions", "orders", "order_events", "executions")
# per table, values a trader reads off the mirror, compared with the journal's
COMPARED = {
    "signals": ("symbol", "side", "reason", "strategy", "stop"),
    "decisions": ("signal_id", "state", "action", "quantity", "entry_price", "refusal_code"),
    "orders": ("decision_id", "symbol", "side", "state", "quantity", "filled", "avg_price",
               "broker_id", "parent_key"),
    "order_events": ("client_key", "seq", "kind", "state_before", "state_after"),
    "executions": ("client_key", "symbol", "side", "quantity", "price", "commission"),
}


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met in {timeout} s: {what or condition}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def client(noco) -> Iterator[NocoClient]:
    c = NocoClient(noco.url, noco.api_token(), timeout=5)
    yield c
    c.close()


def settings_for(noco: NocoServer, client: NocoClient, data_dir: Path, base: str) -> Settings:
    ensure_mirror(client, base, SCHEMA)  # what `ibtrader services init` does
    return session_settings(data_dir, noco.url, noco.api_token(), base)


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[tuple[Engine, LoopThread]]:
    """The app's engine on a loop thread, its symbol streaming; stopped afterwards."""
    runner = LoopThread()
    context = open_engine(settings)
    try:
        engine = runner.run(context.__aenter__())
        try:
            runner.run(asyncio.wait_for(asyncio.shield(engine.subscribed), 60))
            yield engine, runner
        finally:
            runner.run(context.__aexit__(None, None, None), 60)
    finally:
        runner.close()


def on_loop(runner: LoopThread, call: Callable[[], T]) -> T:
    """`call()` on the engine's loop (its services are not thread-safe)."""
    async def run() -> T:
        return call()

    return runner.run(run())


def trade(engine: Engine, runner: LoopThread, first: int, count: int,
          pause: float = 0.25, drain: bool = False) -> None:
    """Signals in, out, in...; with `drain`, each one's records are delivered before the
    next signal changes its rows again (so the mirror's rows are updated, not just made)."""
    for i in range(first, first + count):
        on_loop(runner, functools.partial(signal_now, engine, side_of(i), f"session {i}"))
        time.sleep(pause)  # let the order fill before the next signal turns it around
        if drain:
            wait_for(lambda: engine.outbox_depth()[0] == 0, what="records delivered")


def local_rows(journal_file: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The journal's mirrored tables, read as the mirror reads them: our id -> values."""
    db = sqlite3.connect(f"file:{journal_file}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return {table: dict(row_values(table, dict(row))
                            for row in db.execute(f"SELECT * FROM {table}"))
                for table in MIRRORED}
    finally:
        db.close()


def mismatch(client: NocoClient, base: str, journal_file: Path) -> str | None:
    """What differs between NocoDB and the journal (None: the mirror is exact)."""
    tables = find_mirror(client, base, SCHEMA).table_ids
    local = local_rows(journal_file)
    for table in MIRRORED:
        remote = client.rows(tables[table])
        ids = Counter(row["ibtrader_id"] for row in remote)
        doubled = sorted(i for i, n in ids.items() if n > 1)
        if doubled:
            return f"{table}: ids in more than one row: {doubled}"
        if set(ids) != set(local[table]):
            return (f"{table}: missing {sorted(set(local[table]) - set(ids))}, "
                    f"extra {sorted(set(ids) - set(local[table]))}")
        for row in remote:
            ours = local[table][row["ibtrader_id"]]
            for column in COMPARED[table]:
                if not same(row.get(column), ours.get(column)):
                    return (f"{table} {row['ibtrader_id']}.{column}: NocoDB has "
                            f"{row.get(column)!r}, the journal {ours.get(column)!r}")
    return None


def wait_mirrored(engine: Engine, client: NocoClient, base: str, journal_file: Path,
                  timeout: float = 30.0) -> None:
    """Until the queue is empty and NocoDB equals the journal; else fail saying how not."""
    problem: str | None = "the queue is not empty"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine.outbox_depth()[0] == 0:
            problem = mismatch(client, base, journal_file)
            if problem is None:
                return
        time.sleep(0.2)
    raise AssertionError(f"the mirror is not exact after {timeout} s: {problem}")


def same(remote: Any, local: Any) -> bool:
    if isinstance(local, (int, float)) and not isinstance(local, bool) and remote is not None:
        return float(remote) == pytest.approx(float(local), rel=1e-9, abs=1e-9)
    if local == "" and remote is None:  # NocoDB keeps an empty text as null
        return True
    return bool(remote == local)


def row_of(client: NocoClient, table_id: str, our_id: str) -> dict[str, Any]:
    [row] = client.find(table_id, "ibtrader_id", our_id)
    return row


def counts(journal_file: Path) -> dict[str, int]:
    return {table: len(rows) for table, rows in local_rows(journal_file).items()}


def test_a_session_is_mirrored_row_for_row(noco, client, tmp_path):
    settings = settings_for(noco, client, tmp_path / "data", "session")
    with running(settings) as (engine, runner):
        trade(engine, runner, 0, 4, drain=True)
        wait_for(lambda: counts(settings.journal_file)["executions"] >= 2, what="fills")
        # a decision the trader answers after NocoDB has it: its row updated, not doubled
        on_loop(runner, lambda: engine.trading.set_auto_trade(STRATEGY, False))
        trade(engine, runner, 4, 1, drain=True)
        [asked] = on_loop(runner, engine.trading.pending)
        tables = find_mirror(client, "session", SCHEMA).table_ids
        assert row_of(client, tables["decisions"], asked.id)["state"] == "pending"
        runner.run(engine.trading.accept(asked.id))
        wait_mirrored(engine, client, "session", settings.journal_file)
        local = local_rows(settings.journal_file)
    assert mismatch(client, "session", settings.journal_file) is None
    assert row_of(client, tables["decisions"], asked.id)["state"] == "submitted"
    assert len(local["signals"]) == 5 and len(local["decisions"]) == 5
    assert {d["state"] for d in local["decisions"].values()} & {"submitted", "filled"}
    assert len(local["orders"]) >= 2 and len(local["order_events"]) > len(local["orders"])
    # what a trader reads there: a decision's order, filled, at the journal's price
    filled = [o for o in client.rows(tables["orders"]) if o["state"] == "filled"]
    assert filled and all(o["decision_id"] in local["decisions"] for o in filled)
    for execution in client.rows(tables["executions"]):
        assert local["orders"][execution["client_key"]]["symbol"] == "AAPL"
        assert execution["price"] > 0 and execution["time"].startswith("20")


def test_nocodb_down_mid_session_every_record_arrives_exactly_once(noco, client, tmp_path):
    settings = settings_for(noco, client, tmp_path / "data", "outage")
    journal_file = settings.journal_file
    with running(settings) as (engine, runner):
        trade(engine, runner, 0, 2)
        wait_for(lambda: engine.outbox_depth()[0] == 0 and counts(journal_file)["executions"],
                 what="the first records delivered")
        noco.stop()  # NocoDB goes away; trading goes on
        try:
            before = counts(journal_file)
            depths = []
            for i in range(2, 6):
                trade(engine, runner, i, 1)
                depths.append(engine.outbox_depth()[0])
            wait_for(lambda: "nocodb" in engine.failing_sinks(), what="the sink failing")
            during = counts(journal_file)
            waiting, oldest = engine.outbox_depth()
            error = engine.failing_sinks()["nocodb"]
        finally:
            noco.start()  # same port, same data folder
        # records kept coming, and waited: the queue only grew while NocoDB was away
        assert during["signals"] == before["signals"] + 4
        assert depths == sorted(depths) and depths[0] > 0 and waiting > depths[0]
        assert oldest is not None and oldest > 0
        assert "NocoUnavailable" in error and "is NocoDB running?" in error
        wait_for(lambda: engine.outbox_depth() == (0, None), timeout=40,
                 what="the queue draining after the restart")
        wait_mirrored(engine, client, "outage", journal_file)
        assert engine.delivery is not None  # none waiting, none given up as failed
        assert "nocodb" not in engine.delivery.outbox.stats()
    assert mismatch(client, "outage", journal_file) is None
    assert counts(journal_file)["signals"] == 6


def test_orders_placed_through_the_order_manager_are_mirrored(noco, client, tmp_path):
    """The `ibtrader orders` path (`open_order_manager`): its journal mirrors too, and its
    records go out while it runs."""
    settings = settings_for(noco, client, tmp_path / "data", "tickets")
    runner = LoopThread()
    context = open_order_manager(settings)
    try:
        manager = runner.run(context.__aenter__())
        try:
            for side in ("buy", "sell"):
                request = OrderRequest("AAPL", side, 10, new_client_key(time.time()))
                runner.run(manager.place(request))
            wait_for(lambda: counts(settings.journal_file)["executions"] >= 2, what="fills")
            wait_for(lambda: mismatch(client, "tickets", settings.journal_file) is None,
                     what="the orders in NocoDB")
        finally:
            runner.run(context.__aexit__(None, None, None), 60)
    finally:
        runner.close()
    tables = find_mirror(client, "tickets", SCHEMA).table_ids
    orders = client.rows(tables["orders"])
    assert sorted(o["side"] for o in orders) == ["buy", "sell"]
    assert all(o["state"] == "filled" and o["source"] == "ticket" for o in orders)
    assert mismatch(client, "tickets", settings.journal_file) is None


def outbox_states(journal_file: Path) -> Counter[str]:
    outbox = SqliteOutbox(journal_file)
    try:
        return Counter({state: len(outbox.records("nocodb", state))
                        for state in ("pending", "delivered", "failed")})
    finally:
        outbox.close()


def test_a_kill_9_with_records_waiting_delivers_them_at_the_next_start(noco, client, tmp_path):
    settings = settings_for(noco, client, tmp_path / "data", "killed")
    journal_file = settings.journal_file
    log = tmp_path / "child.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.session_child", str(settings.data_dir),
             noco.url, noco.api_token(), "killed"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: child.poll() is not None or "signals 3" in log.read_text(),
                 timeout=60, what="the child trading")
        assert child.poll() is None, log.read_text()[-3000:]
        # frozen at a moment when some records are delivered and some wait (each signal
        # queues a burst that NocoDB takes in a second or so), then killed there
        deadline = time.monotonic() + 30
        while True:
            os.kill(child.pid, signal.SIGSTOP)
            states = outbox_states(journal_file)
            if (states["delivered"] and states["pending"]) or time.monotonic() > deadline:
                break
            os.kill(child.pid, signal.SIGCONT)
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert states["delivered"] and states["pending"], states
    signals_at_kill = counts(journal_file)["signals"]

    with running(settings) as (engine, _runner):  # the next start, nothing traded
        wait_mirrored(engine, client, "killed", journal_file, timeout=40)
    assert mismatch(client, "killed", journal_file) is None
    tables = find_mirror(client, "killed", SCHEMA).table_ids
    assert client.count(tables["signals"]) == signals_at_kill >= 3


@pytest.mark.slow
def test_delivery_rate_to_nocodb(client, tmp_path, capsys):
    """How fast a backlog drains: records/s the NocoSink upserts into the real NocoDB
    (one lane; each record a look-up by our id, then an insert or an update)."""
    ensure_mirror(client, "rate", SCHEMA)
    n = 40  # signals, each with its decision: 2n records, then n updates
    with SqliteOrderJournal(tmp_path / "j.sqlite", [NocoMirror()]) as journal:
        signals = [a_signal(i) for i in range(n)]
        decisions = [a_decision(s) for s in signals]
        started = time.perf_counter()
        for s, d in zip(signals, decisions, strict=True):
            journal.record_signal(s)
            journal.record_decision(d)
        per_write = (time.perf_counter() - started) / (2 * n)
        outbox = SqliteOutbox(journal.path)
        rates = []
        try:
            for phase in ("insert", "update"):
                if phase == "update":  # each decision's next state: the same rows again
                    for d in decisions:
                        journal.update_decision(d.moved(DecisionState.DISMISSED, NOW + 9, "x"))
                queued = outbox.stats()["nocodb"].depth
                worker = DeliveryWorker(outbox, [NocoSink(client, "rate", SCHEMA)],
                                        idle_wait=0.02)
                started = time.perf_counter()
                worker.start()
                try:
                    wait_for(lambda: "nocodb" not in outbox.stats(), timeout=60)
                finally:
                    worker.stop()
                rates.append((phase, queued, queued / (time.perf_counter() - started)))
        finally:
            outbox.close()
    tables = find_mirror(client, "rate", SCHEMA).table_ids
    assert client.count(tables["decisions"]) == n and client.count(tables["signals"]) == n
    with capsys.disabled():
        print(f"\nNocoDB mirror: {per_write * 1e6:.0f} us per journal write with the mirror; "
              + "; ".join(f"{phase}: {count} records at {rate:.0f} records/s"
                          for phase, count, rate in rates))
    assert all(rate > 2 for _phase, _count, rate in rates)  # a backlog drains, not crawls
