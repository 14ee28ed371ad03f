"""Equity samples and daily performance rows in the journal (schema 4): a day's row is
upserted by its id, and every save is handed to the mirrors inside its transaction, so its
outbox record commits with it or not at all."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.adapters.journal.schema import BOOKKEEPING, MIGRATIONS
from ibtrader.adapters.journal.sqlite import _statements
from ibtrader.adapters.nocodb.journal_mirror import NocoMirror
from ibtrader.core.performance import DailyPerformance, EquitySample

ROW = DailyPerformance(account="DU1", session_date="2026-11-27", equity=100_010.0,
                       realized_pnl=-4.0, unrealized_pnl=12.5, trades=2, win_rate=0.5,
                       max_drawdown=100.0, computed=1_764_270_000.0)


class Recorder:
    """A test mirror: records each call, mirrors every row into a sink named "copy"."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self.fail = False

    def records(self, table, our_id, values):
        self.calls.append((table, our_id, dict(values)))
        if self.fail:
            raise RuntimeError("mirror broke")
        return [("copy", f"{table}/{our_id}", table, {"values": dict(values)})]


@pytest.fixture
def mirrored(tmp_path):
    recorder = Recorder()
    journal = SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[recorder])
    outbox = SqliteOutbox(journal.path)
    yield journal, recorder, outbox
    outbox.close()
    journal.close()


def test_a_saved_row_is_mirrored_with_the_schema_columns_and_committed_with_it(mirrored):
    journal, recorder, outbox = mirrored
    journal.save_daily_performance(ROW)
    assert recorder.calls == [("daily_performance", "DU1:2026-11-27", ROW.values())]
    [record] = outbox.records("copy")
    assert (record.record_id, record.kind) == ("daily_performance/DU1:2026-11-27",
                                               "daily_performance")
    assert record.payload["values"] == ROW.values()
    assert journal.daily_performance("DU1", "2026-11-27") == ROW


def test_computing_a_day_again_updates_its_one_row_and_queues_it_again(mirrored):
    journal, _recorder, outbox = mirrored
    journal.save_daily_performance(ROW)
    later = replace(ROW, equity=99_000.0, trades=3, win_rate=None, computed=ROW.computed + 60)
    journal.save_daily_performance(later)
    assert journal.daily_performances() == [later]
    [record] = outbox.records("copy")
    assert record.payload["values"]["trades"] == 3 and record.rev == 1  # re-queued, one record
    assert record.payload["values"]["win_rate"] is None


def test_a_failing_mirror_leaves_neither_the_row_nor_its_record(mirrored):
    journal, recorder, outbox = mirrored
    recorder.fail = True
    with pytest.raises(RuntimeError, match="mirror broke"):
        journal.save_daily_performance(ROW)
    assert journal.daily_performance("DU1", "2026-11-27") is None
    assert outbox.records("copy") == []


def test_the_nocodb_mirror_accepts_the_row_as_its_schema_declares(tmp_path):
    with SqliteOrderJournal(tmp_path / "j.sqlite", mirrors=[NocoMirror()]) as journal:
        journal.save_daily_performance(ROW)
    outbox = SqliteOutbox(tmp_path / "j.sqlite")
    [record] = outbox.records("nocodb")
    outbox.close()
    assert record.payload == {"id": "DU1:2026-11-27", "row": ROW.values()}


def test_samples_are_read_back_per_account_and_window(tmp_path):
    with SqliteOrderJournal(tmp_path / "j.sqlite") as journal:
        journal.record_equity_sample("DU1", EquitySample(10.0, 100.0, 1.0, 2.0))
        journal.record_equity_sample("DU1", EquitySample(20.0, 101.0))  # P&L unknown
        journal.record_equity_sample("DU2", EquitySample(15.0, 500.0, 0.0, 0.0))
        journal.record_equity_sample("DU1", EquitySample(30.0, 99.0, 1.0, 0.0))
        got = journal.equity_samples("DU1", 10.0, 30.0)
        assert got[0] == EquitySample(10.0, 100.0, 1.0, 2.0)
        assert got[1][:2] == (20.0, 101.0) and math.isnan(got[1].realized)
        assert len(got) == 2  # the end is excluded
        assert journal.sample_accounts(0.0, 100.0) == ["DU1", "DU2"]
        with pytest.raises(ValueError, match="equity must be a number"):
            journal.record_equity_sample("DU1", EquitySample(40.0, math.nan))


def test_a_version_3_journal_gains_the_tables_and_keeps_its_outbox(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(BOOKKEEPING)
    for version, name, sql in MIGRATIONS[:3]:  # as the previous release left it
        for statement in _statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    db.execute("INSERT INTO outbox VALUES ('copy', 'r', 'k', '{}', 1, 1, 0, 'pending', 0, 1,"
               " 0, '', NULL)")
    db.close()
    with SqliteOrderJournal(path) as journal:
        assert journal.schema_version == 4
        journal.save_daily_performance(ROW)
        assert journal.daily_performance("DU1", "2026-11-27") == ROW
    outbox = SqliteOutbox(path)
    assert [r.record_id for r in outbox.records("copy")] == ["r"]
    outbox.close()
