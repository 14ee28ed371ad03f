"""The SQLite journal: what goes in comes out, in WAL mode, across a reopen, with a
versioned schema; and a write is cheap enough for the engine's loop."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

import pytest

from ibtrader.adapters.journal import JournalError, SqliteJournal
from ibtrader.adapters.journal.schema import LATEST
from ibtrader.core.decisions import (
    DecisionContext,
    DecisionState,
    SignalRecord,
    decide,
    new_id,
)
from ibtrader.core.indicators import SuperTrendValue
from ibtrader.core.sizing import SizingRules
from ibtrader.core.strategy import Signal

S = DecisionState
NOW = 1_700_000_000.0


def a_signal(i: int = 0, symbol: str = "AAPL", strategy: str = "supertrend") -> SignalRecord:
    st = SuperTrendValue(99.0, 1, 103.0, math.inf)
    values = {"atr": 1.5, "rsi": math.nan, "st": st, "htf": None}
    signal = Signal(symbol, "buy", 0.7, "SuperTrend turned bullish", values, 97.0, 106.0,
                    NOW - 3600)
    return SignalRecord(new_id(NOW + i), strategy, "1 hour", signal, NOW + i)


def a_decision(record: SignalRecord, now: float = NOW):
    ctx = DecisionContext(price=100.0, equity=100_000.0, buying_power=1e6, position=0.0)
    return decide(record, ctx, SizingRules(), now)


@pytest.fixture
def journal(tmp_path):
    with SqliteJournal(tmp_path / "data" / "journal.sqlite") as j:
        yield j


def test_signal_round_trip_with_indicator_values_as_json(journal):
    record = a_signal()
    journal.record_signal(record)
    (back,) = journal.signals()
    assert back.id == record.id and back.strategy == "supertrend" and back.bar_size == "1 hour"
    s = back.signal
    assert (s.symbol, s.side, s.strength, s.stop, s.target, s.time) == (
        "AAPL", "buy", 0.7, 97.0, 106.0, NOW - 3600)
    # a named tuple becomes an object, nan becomes null
    assert dict(s.values) == {"atr": 1.5, "rsi": None, "st": {"value": 99.0, "direction": 1,
                                                          "upper": 103.0, "lower": None},
                              "htf": None}


def test_decision_round_trip_update_and_trail(journal):
    record = a_signal()
    journal.record_signal(record)
    decision = a_decision(record)
    journal.record_decision(decision)
    assert journal.decision(decision.id) == decision
    accepted = decision.moved(S.ACCEPTED, NOW + 5, "accepted by the trader")
    journal.update_decision(accepted)
    submitted = accepted.moved(S.SUBMITTED, NOW + 6, "handed to the order manager")
    journal.update_decision(submitted)
    assert journal.decision(decision.id) == submitted
    assert journal.decision_trail(decision.id) == [
        (NOW, S.PENDING, ""), (NOW + 5, S.ACCEPTED, "accepted by the trader"),
        (NOW + 6, S.SUBMITTED, "handed to the order manager")]
    assert journal.decisions(S.PENDING) == []
    assert [d.id for d in journal.decisions(S.SUBMITTED)] == [decision.id]


def test_recent_reads_newest_first_and_filtered(journal):
    for i, symbol in enumerate(["AAPL", "MSFT", "AAPL", "NVDA"]):
        record = a_signal(i, symbol)
        journal.record_signal(record)
        journal.record_decision(a_decision(record, NOW + i))
    assert [r.signal.symbol for r in journal.signals()] == ["NVDA", "AAPL", "MSFT", "AAPL"]
    assert [r.signal.symbol for r in journal.signals(limit=2)] == ["NVDA", "AAPL"]
    assert len(journal.signals(symbol="AAPL")) == 2
    assert journal.signals(strategy="other") == []
    assert [d.symbol for d in journal.decisions(symbol="MSFT")] == ["MSFT"]
    with pytest.raises(ValueError, match="limit must be a whole number"):
        journal.signals(limit=0)


def test_a_decision_needs_its_signal_and_updates_need_the_decision(journal):
    orphan = a_decision(a_signal())
    with pytest.raises(sqlite3.IntegrityError):
        journal.record_decision(orphan)
    assert journal.decisions() == []  # nothing half-written
    with pytest.raises(JournalError, match="not in the journal"):
        journal.update_decision(orphan.moved(S.DISMISSED, NOW))


def test_wal_mode_and_a_second_reader_sees_commits(tmp_path):
    path = tmp_path / "j.sqlite"
    with SqliteJournal(path) as writer, SqliteJournal(path) as reader:
        assert writer.journal_mode == "wal"
        assert (tmp_path / "j.sqlite-wal").exists()
        record = a_signal()
        writer.record_signal(record)
        assert [r.id for r in reader.signals()] == [record.id]


def test_reopen_keeps_everything_and_does_not_migrate_twice(tmp_path):
    path = tmp_path / "j.sqlite"
    with SqliteJournal(path) as j:
        record = a_signal()
        j.record_signal(record)
        j.record_decision(a_decision(record))
        assert j.schema_version == LATEST == 4  # 2: orders (issue 4), 3: outbox, 4: daily
    with SqliteJournal(path) as j:
        assert j.schema_version == LATEST
        assert [r.id for r in j.signals()] == [record.id] and len(j.decisions()) == 1
    db = sqlite3.connect(path)
    assert db.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (LATEST,)
    db.close()


def test_a_journal_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    SqliteJournal(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version 99, newer than this ibtrader"):
        SqliteJournal(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match="cannot be opened"):
        SqliteJournal(path)


def test_write_cost(journal, capsys):
    """A signal plus its decision per write pair: small enough for the loop (see sqlite.py)."""
    n = 500
    records = [a_signal(i) for i in range(n)]
    decisions = [a_decision(r) for r in records]
    start = time.perf_counter()
    for record, decision in zip(records, decisions, strict=True):
        journal.record_signal(record)
        journal.record_decision(decision)
    per_write = (time.perf_counter() - start) / (2 * n)
    with capsys.disabled():
        print(f"\njournal: {per_write * 1e6:.1f} us per write (WAL, synchronous=NORMAL)")
    assert per_write < 0.005  # 5 ms would be a stall; measured tens of µs here


def test_atomic_writes_commit_together_or_not_at_all(journal):
    record, orphan = a_signal(1), a_decision(a_signal(2))
    with pytest.raises(sqlite3.IntegrityError), journal.atomic():
        journal.record_signal(record)
        journal.record_decision(orphan)  # its signal was never written
    assert journal.signals() == [] and journal.decisions() == []
    with journal.atomic():
        journal.record_signal(record)
        journal.record_decision(a_decision(record))
    assert len(journal.signals()) == 1 and len(journal.decisions()) == 1


def test_checkpoints_run_off_the_writers_thread_and_keep_the_wal_small(tmp_path, monkeypatch):
    """The engine's commits never checkpoint (the fsyncs); a thread of the journal's own
    does, so the WAL is recycled instead of growing with every write."""
    monkeypatch.setattr("ibtrader.adapters.journal.checkpoint.CHECK_EVERY", 0.05)
    path = tmp_path / "journal.sqlite"
    with SqliteJournal(path) as j:
        assert j._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        sizes = []
        for round_ in range(6):
            for i in range(300):
                record = a_signal(round_ * 1_000 + i)
                with j.atomic():
                    j.record_signal(record)
                    j.record_decision(a_decision(record))
            time.sleep(0.12)  # a checkpoint or two
            sizes.append(Path(f"{path}-wal").stat().st_size)
        assert j._checkpointer.checkpoints >= 6
        assert len(j.signals(limit=10_000)) == 1_800
    # without checkpoints the WAL would hold all 1,800 pairs; recycled, it stops growing
    assert max(sizes[3:]) <= max(sizes[:3]) * 1.5
    assert not j._checkpointer._thread.is_alive()
