"""`ibtrader performance daily`: a day's row from the journal file alone (no broker),
printed and saved, and so queued for the NocoDB mirror when one is configured."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.journal.outbox import SqliteOutbox
from ibtrader.cli import main
from ibtrader.core.broker import BrokerFill
from ibtrader.core.performance import EquitySample, session_zone

NY = session_zone("America/New_York")
DAY = dt.date(2026, 11, 27)


def at(hhmm: str, day: dt.date = DAY) -> float:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm), NY).timestamp()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    for name in ("IBTRADER_IB_ACCOUNT", "IBTRADER_SESSION_TIMEZONE", "IBTRADER_JOURNAL_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IBTRADER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IBTRADER_NOCODB_URL", "http://127.0.0.1:9")  # mirrored, never sent
    with SqliteOrderJournal(tmp_path / "data" / "journal.sqlite") as journal:
        for n, (side, price, hhmm) in enumerate([("BUY", 100.0, "10:00"),
                                                 ("SELL", 103.0, "11:00"),
                                                 ("BUY", 100.0, "12:00"),
                                                 ("SELL", 99.0, "13:00"),
                                                 ("BUY", 100.0, "14:00")]):
            fill = BrokerFill(f"e{n}", "k", n, n, "AAPL", side, 10, price, at(hhmm), 1.0)
            journal.record_execution(fill, "k")
        for hhmm, equity in [("10:00", 50_000.0), ("11:00", 50_030.0), ("13:00", 49_990.0),
                             ("15:59", 50_005.0)]:
            journal.record_equity_sample("DU77", EquitySample(at(hhmm), equity, 0.0, -11.0))
    return tmp_path / "data"


def test_the_day_is_printed_saved_and_queued_for_the_mirror(data_dir, capsys):
    assert main(["performance", "daily", "--date", "2026-11-27"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("daily performance DU77:2026-11-27 (computed ")
    lines = dict(line.strip().rsplit(None, 1) for line in out.splitlines()[1:])
    lines = {name.strip(): value for name, value in lines.items()}
    # a win (103 - 100.1) x 10 - 1 = +28 and a loss (99 - 100.1) x 10 - 1 = -12; the last
    # buy is still open (its commission is in its cost); the curve fell 50,030 -> 49,990
    assert lines == {"equity": "50,005.00", "realized P&L": "+16.00",
                     "unrealized P&L": "-11.00", "trades": "2", "win rate": "50.0%",
                     "max drawdown": "40.00"}
    with SqliteOrderJournal(data_dir / "journal.sqlite") as journal:
        row = journal.daily_performance("DU77", "2026-11-27")
    assert (row.trades, row.win_rate, row.realized_pnl) == (2, 0.5, pytest.approx(16.0))
    outbox = SqliteOutbox(data_dir / "journal.sqlite")
    [record] = outbox.records("nocodb")
    outbox.close()
    assert record.record_id == "daily_performance/DU77:2026-11-27"
    assert record.payload["row"]["realized_pnl"] == pytest.approx(16.0)


def test_json_output_and_a_day_without_samples_needs_the_account(data_dir, capsys):
    assert main(["performance", "daily", "--date", "2026-11-28", "--account", "DU77",
                 "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row == {"id": "DU77:2026-11-28", "session_date": "2026-11-28", "account": "DU77",
                   "equity": None, "realized_pnl": 0.0, "unrealized_pnl": None, "trades": 0,
                   "win_rate": None, "max_drawdown": 0.0, "computed": row["computed"]}
    assert main(["performance", "daily", "--date", "2026-11-28"]) == 2
    assert "no equity samples on 2026-11-28 name the account: give --account" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["performance", "daily", "--date", "27/11/2026"])
    assert "is not a date as YYYY-MM-DD" in capsys.readouterr().err
