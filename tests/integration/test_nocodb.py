"""The NocoDB journal mirror against a real NocoDB 0.301.3 (npm, Node 24) started on 127.0.0.1:
tables made once from resources/nocodb/schema.json, rows upserted by our id (an update,
never a second row), records delivered through the real outbox and DeliveryWorker, nothing
lost or doubled across a NocoDB outage, and a refused token said plainly.

The server is installed by scripts/services/install.sh when missing (≈ 2.5 min for NocoDB
from an empty cache), so these tests never skip."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest

from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.nocodb import (
    MirrorMissing,
    NocoAuthError,
    NocoClient,
    NocoSink,
    NocoUnavailable,
    SchemaError,
    check_columns,
    decision_values,
    default_schema,
    ensure_mirror,
    find_mirror,
    row_record,
    signal_values,
)
from ibtrader.adapters.nocodb.schema import parse_schema
from ibtrader.core.decisions import DecisionState
from ibtrader.core.outbox import Backoff, OutboxRecord
from ibtrader.services.delivery import DeliveryWorker
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.integration.nocodb_server import NocoServer

pytestmark = pytest.mark.integration

SCHEMA = default_schema()
FAST = Backoff(first=0.05, cap=0.3, jitter=0.2)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def client(noco) -> Iterator[NocoClient]:
    c = NocoClient(noco.url, noco.api_token())
    yield c
    c.close()


def waiting(outbox: SqliteOutbox) -> int:
    stats = outbox.stats().get("nocodb")
    return 0 if stats is None else stats.depth


def a_record(table: str, our_id: str, values: dict, rev: int = 0) -> OutboxRecord:
    record_id, kind, payload = row_record(table, our_id, values, SCHEMA)
    return OutboxRecord("nocodb", record_id, kind, payload, NOW, 0, NOW, "", None, rev)


def by_id(client: NocoClient, table_id: str) -> dict[str, dict]:
    return {row["ibtrader_id"]: row for row in client.rows(table_id)}


def test_init_creates_the_typed_tables_once(client):
    first = ensure_mirror(client, "init_test", SCHEMA)
    assert set(first.table_ids) == set(SCHEMA.tables)
    assert first.created == ["base init_test"] + [f"table {t}" for t in SCHEMA.tables]

    again = ensure_mirror(client, "init_test", SCHEMA)
    assert not again.changed and again.table_ids == first.table_ids
    assert check_columns(client, again, SCHEMA) == []
    assert [b["title"] for b in client.bases()].count("init_test") == 1

    columns = {c["title"]: c for c in client.table(first.table_ids["executions"])["columns"]}
    assert {n: columns[n]["uidt"] for n in ("ibtrader_id", "price", "broker_id", "time")} == {
        "ibtrader_id": "SingleLineText", "price": "Decimal", "broker_id": "Number",
        "time": "DateTime"}
    # our id is declared unique (NocoDB's community edition records it, its paid plans
    # enforce it); one row per id is kept by the sink's upsert (test below)
    assert columns["ibtrader_id"]["unique"]

    # a column added to the schema later is added to the existing table, nothing else
    raw = {"key": "ibtrader_id", "tables": {
        name: dict(t.columns) for name, t in SCHEMA.tables.items()}}
    raw["tables"]["decisions"]["broker_note"] = "longtext"
    grown = ensure_mirror(client, "init_test", parse_schema(raw))
    assert grown.created == ["column decisions.broker_note"]


def test_an_upsert_twice_leaves_one_row_with_the_newer_values(client):
    ensure_mirror(client, "upsert_test", SCHEMA)
    sink = NocoSink(client, "upsert_test", SCHEMA)
    signal = a_signal()
    decision = a_decision(signal)
    sink.deliver(a_record("decisions", decision.id, decision_values(decision)))
    later = decision.moved(DecisionState.ACCEPTED, NOW + 30, "accepted by the trader")
    sink.deliver(a_record("decisions", later.id, decision_values(later), rev=1))
    sink.deliver(a_record("decisions", later.id, decision_values(later), rev=1))  # a resend

    table = find_mirror(client, "upsert_test", SCHEMA).table_ids["decisions"]
    assert client.count(table) == 1
    (row,) = client.rows(table)
    assert row["ibtrader_id"] == decision.id and row["state"] == "accepted"
    assert row["reason"] == "accepted by the trader"
    assert row["quantity"] == pytest.approx(decision.quantity)
    assert row["updated"].startswith(time.strftime("%Y-%m-%d %H:%M:%S",
                                                   time.gmtime(NOW + 30)))


def test_records_go_through_the_outbox_and_the_worker(client, journal, outbox):
    ensure_mirror(client, "outbox_test", SCHEMA)
    signal = a_signal()
    decision = a_decision(signal)
    with journal.atomic():
        journal.record_signal(signal)
        journal.enqueue("nocodb", *row_record("signals", signal.id, signal_values(signal),
                                              SCHEMA))
        journal.record_decision(decision)
        journal.enqueue("nocodb", *row_record("decisions", decision.id,
                                              decision_values(decision), SCHEMA))
    journal.enqueue("nocodb", *row_record("executions", "0001f.01", {
        "client_key": "K1", "broker_id": 7, "perm_id": 9001, "symbol": "AAPL", "side": "BOT",
        "quantity": 10, "price": 100.25, "time": NOW, "commission": 1.0}, SCHEMA))
    journal.enqueue("nocodb", *row_record("daily_performance", "DU1/2026-11-27", {
        "session_date": "2026-11-27", "account": "DU1", "equity": 100_512.5, "trades": 3,
        "win_rate": 0.667, "max_drawdown": -120.0}, SCHEMA))
    # a row the schema does not know is kept as failed, not retried forever
    journal.enqueue("nocodb", "orders/bad", "orders", {"id": "bad", "row": {"colour": "red"}})

    worker = DeliveryWorker(outbox, [NocoSink(client, "outbox_test", SCHEMA)],
                            backoff=FAST).start()
    try:
        wait_for(lambda: waiting(outbox) == 0)
    finally:
        worker.stop()
    assert outbox.stats()["nocodb"].failed == 1
    (failed,) = outbox.records("nocodb", "failed")
    assert "orders.colour is not a column" in failed.last_error

    tables = find_mirror(client, "outbox_test", SCHEMA).table_ids
    assert set(by_id(client, tables["signals"])) == {signal.id}
    assert by_id(client, tables["decisions"])[decision.id]["signal_id"] == signal.id
    execution = by_id(client, tables["executions"])["0001f.01"]
    assert (execution["price"], execution["broker_id"]) == (100.25, 7)
    daily = by_id(client, tables["daily_performance"])["DU1/2026-11-27"]
    assert (daily["equity"], daily["trades"]) == (100_512.5, 3)


def test_nocodb_down_mid_session_every_record_arrives_exactly_once(tmp_path, journal, outbox):
    server = NocoServer(tmp_path / "nocodb").start()
    try:
        client = NocoClient(server.url, server.api_token(), timeout=2)
        ensure_mirror(client, "ibtrader", SCHEMA)
        worker = DeliveryWorker(outbox, [NocoSink(client, "ibtrader", SCHEMA)], backoff=FAST,
                                idle_wait=0.05).start()

        def session(first: int, count: int) -> None:
            for i in range(first, first + count):
                signal = a_signal(i)
                decision = a_decision(signal)
                with journal.atomic():
                    journal.record_signal(signal)
                    journal.enqueue("nocodb", *row_record("signals", signal.id,
                                                          signal_values(signal), SCHEMA))
                    journal.record_decision(decision)
                    journal.enqueue("nocodb", *row_record("decisions", decision.id,
                                                          decision_values(decision), SCHEMA))
                worker.wake()

        try:
            session(0, 5)
            wait_for(lambda: waiting(outbox) == 0)
            server.stop()  # NocoDB goes away mid-session; trading goes on
            session(5, 10)
            wait_for(lambda: worker.failures["nocodb"] >= 2)
            assert waiting(outbox) == 20  # waiting, none lost, none failed
            assert "nocodb" in outbox.stats() and outbox.stats()["nocodb"].failed == 0
            assert "NocoUnavailable" in worker.failing["nocodb"]
            server.start()  # same port, same data folder
            wait_for(lambda: waiting(outbox) == 0, timeout=20)
        finally:
            worker.stop()

        tables = find_mirror(client, "ibtrader", SCHEMA).table_ids
        for table, local in (("signals", journal.signals(limit=1000)),
                             ("decisions", journal.decisions(limit=1000))):
            remote = [row["ibtrader_id"] for row in client.rows(tables[table])]
            assert sorted(remote) == sorted(r.id for r in local)  # every id once
            assert client.count(tables[table]) == len(local) == 15
    finally:
        server.stop()


def test_a_bad_token_is_refused_with_a_clear_error_and_records_wait(noco, journal, outbox):
    bad = NocoClient(noco.url, "not-a-token")
    bad.ping()  # reachable: only the token is wrong
    with pytest.raises(NocoAuthError, match=r"API token is refused.*IBTRADER_NOCODB_API_TOKEN"):
        ensure_mirror(bad, "ibtrader", SCHEMA)
    signal = a_signal()
    journal.enqueue("nocodb", *row_record("signals", signal.id, signal_values(signal), SCHEMA))
    worker = DeliveryWorker(outbox, [NocoSink(bad, "ibtrader", SCHEMA)], backoff=FAST).start()
    try:
        wait_for(lambda: worker.failures["nocodb"] >= 1)
    finally:
        worker.stop()
    assert "NocoAuthError" in worker.failing["nocodb"]
    assert waiting(outbox) == 1 and outbox.stats()["nocodb"].failed == 0


def test_records_wait_for_services_init_then_arrive(client, journal, outbox):
    signal = a_signal()
    decision = a_decision(signal)
    journal.enqueue("nocodb", *row_record("decisions", decision.id, decision_values(decision),
                                          SCHEMA))
    worker = DeliveryWorker(outbox, [NocoSink(client, "late_init", SCHEMA)],
                            backoff=FAST).start()
    try:
        wait_for(lambda: "no base 'late_init'" in worker.failing.get("nocodb", ""))
        # an older schema's tables: the missing column would make NocoDB refuse the row
        raw = {"key": "ibtrader_id", "tables": {
            name: dict(t.columns) for name, t in SCHEMA.tables.items()}}
        del raw["tables"]["decisions"]["detail"]
        ensure_mirror(client, "late_init", parse_schema(raw))
        wait_for(lambda: "lacks the columns decisions.detail" in worker.failing["nocodb"])
        assert waiting(outbox) == 1
        ensure_mirror(client, "late_init", SCHEMA)  # what `ibtrader services init` runs
        wait_for(lambda: waiting(outbox) == 0)
    finally:
        worker.stop()
    table = find_mirror(client, "late_init", SCHEMA).table_ids["decisions"]
    (row,) = client.rows(table)
    assert row["ibtrader_id"] == decision.id and "nocodb" not in outbox.stats()


def test_missing_tables_and_an_absent_server_say_what_to_do(client):
    with pytest.raises(MirrorMissing, match=r"no base 'never_made'.*services init"):
        find_mirror(client, "never_made", SCHEMA)
    started = time.monotonic()
    with pytest.raises(NocoUnavailable, match=r"cannot connect.*is NocoDB running"):
        NocoClient("http://127.0.0.1:9", "token").bases()
    assert time.monotonic() - started < 2
    with pytest.raises(ValueError, match="must look like http://host:port"):
        NocoClient("127.0.0.1:8080", "token")
    with pytest.raises(ValueError, match="token is empty"):
        NocoClient("http://127.0.0.1:8080", "")


def test_rows_are_checked_against_the_schema_when_queued():
    with pytest.raises(ValueError, match=r"decisions.colour is not a column"):
        row_record("decisions", "D1", {"colour": "red"}, SCHEMA)
    with pytest.raises(ValueError, match=r"executions.broker_id is an integer column"):
        row_record("executions", "E1", {"broker_id": 1.5}, SCHEMA)
    with pytest.raises(ValueError, match="no table 'trades'"):
        row_record("trades", "T1", {}, SCHEMA)
    with pytest.raises(ValueError, match="must not contain"):
        NocoClient("http://127.0.0.1:9", "token").find("t1", "ibtrader_id", "a,b")


@pytest.mark.parametrize(("raw", "problem"), [
    ({"key": "ibtrader_id"}, "non-empty 'tables'"),
    ({"key": "Id", "tables": {"t": {"Id": "text"}}}, "'key' must name our id's column"),
    ({"key": "k", "tables": {"t": {"k": "text", "p": "money"}}}, "t.p has type 'money'"),
    ({"key": "k", "tables": {"t": {"x": "text"}}}, "needs our id column 'k' of type text"),
])
def test_a_wrong_schema_file_says_what_is_wrong(raw, problem):
    with pytest.raises(SchemaError, match=re.escape(problem)):
        parse_schema(raw)
