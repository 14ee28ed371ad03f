"""The outbox in the journal's file: a record is queued with the local row it mirrors or not
at all, claimed and marked by the delivery side's own connection, counted per sink fast;
an older journal gains the table on open (schema version 3)."""

from __future__ import annotations

import sqlite3
import statistics
import time

import pytest

from ibtrader.adapters.journal import SqliteJournal, SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.journal.schema import BOOKKEEPING, LATEST, MIGRATIONS
from ibtrader.adapters.journal.sqlite import _statements
from tests.adapters.test_journal import a_decision, a_signal


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def journal(tmp_path):
    with SqliteOrderJournal(tmp_path / "journal.sqlite") as j:
        yield j


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def outbox(journal, clock):
    box = SqliteOutbox(journal.path, clock=clock)
    yield box
    box.close()


def test_a_version_2_journal_gains_the_outbox_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(BOOKKEEPING)
    for version, name, sql in MIGRATIONS[:2]:  # a file as the previous release left it
        for statement in _statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    db.execute("INSERT INTO order_refusals (time, client_key, symbol, request_json, "
               "problems_json) VALUES (1, 'k', 'AAPL', '{}', '[]')")
    db.close()
    with SqliteOrderJournal(path) as journal:
        assert journal.schema_version == LATEST == 4  # 4: daily performance
        journal.enqueue("minio", "charts/a.png", "chart", {"x": 1}, now=5.0)
    db = sqlite3.connect(path)
    assert db.execute("SELECT version, name FROM schema_migrations WHERE version=3").fetchone(
        ) == (3, "outbox for remote sinks")
    assert db.execute("SELECT COUNT(*) FROM order_refusals").fetchone() == (1,)
    assert db.execute("SELECT sink, record_id, state FROM outbox").fetchall() == [
        ("minio", "charts/a.png", "pending")]
    db.close()


def test_the_record_commits_with_the_local_row_or_not_at_all(journal, outbox):
    record = a_signal()
    journal.record_signal(record)
    decision = a_decision(record)
    with pytest.raises(RuntimeError, match="crash"), journal.atomic():
        journal.record_decision(decision)
        journal.enqueue("nocodb", decision.id, "decision", {"id": decision.id})
        raise RuntimeError("crash before commit")
    assert journal.decision(decision.id) is None and outbox.records("nocodb") == []

    with journal.atomic():
        journal.record_decision(decision)
        journal.enqueue("nocodb", decision.id, "decision", {"id": decision.id})
        assert outbox.records("nocodb") == []  # not visible to the worker before the commit
    (queued,) = outbox.records("nocodb")
    assert (queued.record_id, queued.kind, queued.payload) == (
        decision.id, "decision", {"id": decision.id})
    assert journal.decision(decision.id) is not None


def test_a_bad_record_is_refused_and_rolls_back_its_transaction(journal, outbox):
    record = a_signal()
    with pytest.raises(ValueError, match="not plain JSON"), journal.atomic():
        journal.record_signal(record)
        journal.enqueue("nocodb", record.id, "signal", {"when": object()})
    assert journal.signals() == []


def test_queued_again_before_delivery_goes_out_once_with_the_newest_payload(
        journal, outbox, clock):
    journal.enqueue("nocodb", "ord-1", "order", {"state": "submitted"}, now=100.0)
    journal.enqueue("nocodb", "ord-1", "order", {"state": "filled"}, now=101.0)
    (record,) = outbox.claim("nocodb")
    assert record.payload == {"state": "filled"} and record.created == 100.0
    assert record.rev == 1


def test_queued_again_while_in_flight_is_sent_again_not_lost(journal, outbox):
    journal.enqueue("nocodb", "ord-1", "order", {"state": "submitted"}, now=100.0)
    (sending,) = outbox.claim("nocodb")
    journal.enqueue("nocodb", "ord-1", "order", {"state": "filled"}, now=1_000.0)
    assert outbox.mark_delivered(sending) is False  # the older payload went out
    (again,) = outbox.claim("nocodb")
    assert again.payload == {"state": "filled"}
    assert outbox.mark_delivered(again) is True
    assert outbox.stats() == {}


def test_queued_again_after_delivery_is_pending_again_with_a_fresh_age(journal, outbox, clock):
    journal.enqueue("nocodb", "ord-1", "order", {"state": "submitted"}, now=100.0)
    (r,) = outbox.claim("nocodb")
    outbox.mark_delivered(r)
    journal.enqueue("nocodb", "ord-1", "order", {"state": "filled"}, now=900.0)
    stats = outbox.stats()["nocodb"]
    assert (stats.depth, stats.oldest_created) == (1, 900.0)


def test_a_failure_is_retried_after_its_delay_only(journal, outbox, clock):
    journal.enqueue("minio", "k1", "object", {}, now=clock.now)
    (r,) = outbox.claim("minio")
    outbox.reschedule(r, "ObjectStoreUnavailable: connection refused", delay=4.0)
    assert outbox.claim("minio") == []
    assert outbox.next_due(["minio"]) == clock.now + 4.0
    clock.now += 4.0
    (again,) = outbox.claim("minio")
    assert (again.attempts, again.last_error) == (
        1, "ObjectStoreUnavailable: connection refused")


def test_a_claim_is_a_lease_that_a_restart_releases(journal, outbox, clock):
    for i in range(3):
        journal.enqueue("minio", f"k{i}", "object", {}, now=clock.now)
    assert len(outbox.claim("minio", limit=2, lease=60.0)) == 2
    (third,) = outbox.claim("minio")  # the claimed two are not handed out twice
    assert third.record_id == "k2"
    # the worker dies without marking: the next start gets them all back at once
    restarted = SqliteOutbox(journal.path, clock=clock)
    assert restarted.release_claims() == 3
    assert sorted(r.record_id for r in restarted.claim("minio")) == ["k0", "k1", "k2"]
    restarted.close()


def test_undeliverable_records_are_kept_and_counted_not_retried(journal, outbox, clock):
    journal.enqueue("minio", "gone.png", "chart", {"path": "/nope"}, now=10.0)
    journal.enqueue("minio", "ok.png", "chart", {}, now=20.0)
    gone, ok = outbox.claim("minio")
    outbox.mark_failed(gone, "file is gone")
    outbox.postpone(ok, 0.0)
    stats = outbox.stats()["minio"]
    assert (stats.depth, stats.oldest_created, stats.failed) == (1, 20.0, 1)
    assert [r.record_id for r in outbox.claim("minio")] == ["ok.png"]
    (failed,) = outbox.records("minio", state="failed")
    assert failed.last_error == "file is gone"


def test_stats_per_sink_and_the_health_view(journal, outbox, clock):
    journal.enqueue("minio", "a", "chart", {}, now=900.0)
    journal.enqueue("minio", "b", "chart", {}, now=950.0)
    journal.enqueue("nocodb", "c", "order", {}, now=990.0)
    stats = outbox.stats()
    assert {s: (v.depth, v.oldest_created) for s, v in stats.items()} == {
        "minio": (2, 900.0), "nocodb": (1, 990.0)}
    assert outbox.depth() == (3, 100.0)  # clock at 1000: the oldest waited 100 s


def test_stats_stay_quick_with_a_long_history(journal, outbox, tmp_path):
    rows = [("nocodb", f"r{i}", "order", "{}", float(i), float(i), 0,
             "delivered", 0, 0.0, 0, "", float(i)) for i in range(100_000)]
    rows += [("nocodb", f"p{i}", "order", "{}", 1e6 + i, 1e6 + i, 0,
              "pending", 0, 0.0, 0, "", None) for i in range(500)]
    with journal.atomic() as db:
        db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       rows)
    plan = " ".join(str(r) for r in journal._db.execute(
        "EXPLAIN QUERY PLAN SELECT sink, COUNT(*), MIN(created) FROM outbox "
        "WHERE state='pending' GROUP BY sink"))
    assert "outbox_waiting" in plan  # the partial index of waiting rows, not a table scan
    costs = []
    for _ in range(50):
        start = time.perf_counter()
        stats = outbox.stats()
        costs.append(time.perf_counter() - start)
    assert stats["nocodb"].depth == 500
    median = statistics.median(costs)
    print(f"\noutbox.stats(): {median * 1e3:.3f} ms median with 100,500 rows, 500 waiting")
    assert median < 0.005


def test_enqueue_is_cheap_enough_for_the_engine_loop(journal):
    """The engine's cost of mirroring a decision: one extra INSERT in its transaction."""
    def run(with_outbox: bool) -> list[float]:
        costs = []
        for i in range(400):
            record = a_signal(i + (10_000 if with_outbox else 0))
            decision = a_decision(record)
            start = time.perf_counter()
            with journal.atomic():
                journal.record_signal(record)
                journal.record_decision(decision)
                if with_outbox:
                    journal.enqueue("nocodb", decision.id, "decision",
                                    {"id": decision.id, "symbol": "AAPL", "qty": 10})
            costs.append(time.perf_counter() - start)
        return costs

    plain, mirrored = run(False), run(True)
    extra = statistics.median(mirrored) - statistics.median(plain)
    p99 = sorted(mirrored)[int(len(mirrored) * 0.99)]
    print(f"\nsignal+decision commit: {statistics.median(plain) * 1e6:.0f} us median; with "
          f"outbox record: {statistics.median(mirrored) * 1e6:.0f} us (+{extra * 1e6:.0f} us),"
          f" p99 {p99 * 1e6:.0f} us")
    assert statistics.median(mirrored) < 0.001


def test_the_delivery_side_needs_a_migrated_journal(tmp_path):
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    with pytest.raises(RuntimeError, match="no outbox table"):
        SqliteOutbox(path)
    SqliteJournal(path).close()
    SqliteOutbox(path).close()
