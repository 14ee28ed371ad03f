"""`NocoMirror` on a real journal: every table the NocoDB schema has becomes one "nocodb"
record per row, checked against the schema as it is written; and the app's wiring (the
mirror on the journal, the sink on the delivery worker) when `nocodb_url` is set. The rows
reaching a real NocoDB are tested in tests/integration/test_nocodb_session.py."""

from __future__ import annotations

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.nocodb import NocoSink, SchemaError, default_schema
from ibtrader.adapters.nocodb.journal_mirror import NocoMirror
from ibtrader.adapters.nocodb.schema import parse_schema
from ibtrader.app import journal_mirrors, remote_sinks
from ibtrader.config import Settings
from ibtrader.core.decisions import DecisionState
from ibtrader.core.orders.lifecycle import apply_fill, mark_sent, new_order
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.adapters.test_journal_orders import fill, request

SCHEMA = default_schema()


def test_every_schema_table_is_queued_for_nocodb_as_its_rows(tmp_path):
    with SqliteOrderJournal(tmp_path / "j.sqlite", [NocoMirror()]) as journal:
        signal = a_signal()
        decision = a_decision(signal)
        with journal.atomic():
            journal.record_signal(signal)
            journal.record_decision(decision)
        journal.update_decision(decision.moved(DecisionState.ACCEPTED, NOW + 2, "auto"))
        order, events = new_order(request("ibt-7"), 1000.0)
        journal.save_order(order, events)
        order, events = mark_sent(order, 7, 1000.1)
        journal.save_order(order, events)
        order, events = apply_fill(order, fill("ibt-7", "e1", 40, 1000.3))
        journal.save_order(order, events)
        journal.record_execution(fill("ibt-7", "e1", 40, 1000.3), "ibt-7")
        outbox = SqliteOutbox(journal.path)
        records = {r.record_id: r for r in outbox.records("nocodb")}
        outbox.close()
    assert sorted(records) == sorted([
        f"signals/{signal.id}", f"decisions/{decision.id}", "orders/ibt-7",
        "order_events/ibt-7:1", "order_events/ibt-7:2", "order_events/ibt-7:3",
        "executions/e1"])
    for record in records.values():  # what the sink will send: our id and a valid row
        row = SCHEMA.to_row(record.kind, record.payload["id"], record.payload["row"])
        assert row["ibtrader_id"] == record.record_id.split("/", 1)[1]
    assert records[f"decisions/{decision.id}"].payload["row"]["state"] == "accepted"
    assert records["orders/ibt-7"].payload["row"]["filled"] == 40
    assert records["executions/e1"].payload["row"]["price"] == pytest.approx(
        fill("ibt-7", "e1", 40, 1000.3).price)


def test_tables_outside_the_schema_get_no_record():
    mirror = NocoMirror()
    assert list(mirror.records("order_refusals", "r1", {"symbol": "AAPL"})) == []
    assert [kind for _s, _r, kind, _p in mirror.records(
        "daily_performance", "DU1/2026-11-27", {"equity": 100_000.0, "trades": 3})] == [
        "daily_performance"]


def test_a_row_nocodb_would_refuse_fails_the_write_and_leaves_nothing(tmp_path):
    raw = {"key": "ibtrader_id", "tables": {
        name: dict(t.columns) for name, t in SCHEMA.tables.items()}}
    del raw["tables"]["signals"]["strength"]  # an older schema than the journal's rows
    with SqliteOrderJournal(tmp_path / "j.sqlite", [NocoMirror(parse_schema(raw))]) as journal:
        with pytest.raises(SchemaError, match=r"signals.strength is not a column"):
            journal.record_signal(a_signal())
        assert journal.signals() == []
        outbox = SqliteOutbox(journal.path)
        assert outbox.stats() == {}
        outbox.close()
    with pytest.raises(ValueError, match="outbox sink name"):
        NocoMirror(sink="No Sink")


def test_the_app_mirrors_to_nocodb_only_when_it_is_configured(tmp_path):
    # (other services add their own mirrors and sinks: only NocoDB's are looked at here)
    plain = Settings(data_dir=tmp_path)
    assert not [m for m in journal_mirrors(plain) if isinstance(m, NocoMirror)]
    assert not [s for s in remote_sinks(plain) if s.name == "nocodb"]
    configured = Settings(data_dir=tmp_path, nocodb_url="http://127.0.0.1:8080",
                          nocodb_api_token="tok", nocodb_base="desk")
    [mirror] = [m for m in journal_mirrors(configured) if isinstance(m, NocoMirror)]
    assert mirror.sink == "nocodb"
    [sink] = [s for s in remote_sinks(configured) if s.name == "nocodb"]
    assert isinstance(sink, NocoSink) and sink.base == "desk"
    assert sink.client.url == "http://127.0.0.1:8080"
    no_token = Settings(data_dir=tmp_path, nocodb_url="http://127.0.0.1:8080")
    with pytest.raises(ValueError, match="IBTRADER_NOCODB_API_TOKEN"):
        remote_sinks(no_token)
