"""The journal's mirror hook: every write hands its row (as stored, after an upsert) to the
mirrors inside the write's transaction, and their outbox records commit with it or not at
all — so a remote copy is never queued for a row that is not there, nor missed for one that is."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ibtrader.adapters.journal import JournalError, SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.core.decisions import DecisionState
from ibtrader.core.orders.lifecycle import apply_fill, mark_sent, new_order
from tests.adapters.test_journal import NOW, a_decision, a_signal
from tests.adapters.test_journal_orders import fill, request


class Recorder:
    """Mirrors every row into a sink named "copy", keyed by table and id."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []

    def records(self, table, our_id, values):
        self.calls.append((table, our_id, dict(values)))
        yield "copy", f"{table}/{our_id}", table, {"values": dict(values)}


@pytest.fixture
def mirrored(tmp_path):
    recorder = Recorder()
    journal = SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[recorder])
    outbox = SqliteOutbox(journal.path)
    yield journal, recorder, outbox
    outbox.close()
    journal.close()


def queued(outbox: SqliteOutbox) -> dict[str, dict]:
    return {r.record_id: r.payload["values"] for r in outbox.records("copy")}


def test_signals_and_each_state_of_a_decision_are_mirrored(mirrored):
    journal, _recorder, outbox = mirrored
    signal = a_signal()
    decision = a_decision(signal)
    with journal.atomic():
        journal.record_signal(signal)
        journal.record_decision(decision)
    journal.update_decision(decision.moved(DecisionState.DISMISSED, NOW + 5, "not today"))
    rows = queued(outbox)
    assert rows[f"signals/{signal.id}"]["symbol"] == "AAPL"
    assert rows[f"signals/{signal.id}"]["indicator_values"].startswith("{")
    assert rows[f"decisions/{decision.id}"]["state"] == "dismissed"  # the newest state
    [record] = [r for r in outbox.records("copy") if r.kind == "decisions"]
    assert record.rev == 1  # queued again, not twice


def test_orders_events_and_executions_are_mirrored_as_stored(mirrored):
    journal, recorder, outbox = mirrored
    order, events = new_order(request("ibt-7"), 1000.0)
    journal.save_order(order, events)
    order, events = mark_sent(order, 7, 1000.1)
    journal.save_order(order, events)
    order, events = apply_fill(order, fill("ibt-7", "e1", 40, 1000.3))
    journal.save_order(order, events)
    journal.record_execution(fill("ibt-7", "e1", 40, 1000.3), "ibt-7")
    journal.record_execution(fill("", "e1", 40, 1000.3, commission=1.5), "")  # commission
    rows = queued(outbox)
    assert rows["orders/ibt-7"]["state"] == order.state.value
    assert rows["orders/ibt-7"]["filled"] == 40 and rows["orders/ibt-7"]["adopted"] is False
    kinds = [(k, v["kind"]) for k, v in rows.items() if k.startswith("order_events/")]
    assert [kind for _key, kind in kinds] == ["created", "sent", "fill"]
    assert [key for key, _kind in kinds] == [f"order_events/ibt-7:{n}" for n in (1, 2, 3)]
    # the upsert's result, not the repeat's input: the key kept, the commission added
    assert rows["executions/e1"]["client_key"] == "ibt-7"
    assert rows["executions/e1"]["commission"] == 1.5
    assert sum(1 for t, _i, _v in recorder.calls if t == "executions") == 2


def test_a_failed_write_queues_nothing(mirrored):
    journal, _recorder, outbox = mirrored
    signal = a_signal()
    with pytest.raises(JournalError):  # a decision that is not in the journal
        journal.update_decision(a_decision(signal))
    assert queued(outbox) == {}


def test_a_mirror_that_raises_rolls_the_write_back(tmp_path):
    class Broken:
        def records(self, table, our_id, values):
            raise ValueError(f"cannot mirror {table}")

    journal = SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[Broken()])
    with pytest.raises(ValueError, match="cannot mirror signals"):
        journal.record_signal(a_signal())
    assert journal.signals() == []
    journal.close()


def test_without_mirrors_nothing_is_queued(tmp_path):
    journal = SqliteOrderJournal(tmp_path / "j.sqlite")
    journal.record_signal(a_signal())
    order, events = new_order(replace(request("ibt-1")), 1000.0)
    journal.save_order(order, events)
    outbox = SqliteOutbox(journal.path)
    assert outbox.stats() == {}
    outbox.close()
    journal.close()
