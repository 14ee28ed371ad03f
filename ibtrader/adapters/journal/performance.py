"""Equity samples and daily performance rows in the journal file (schema version 4).

A mixin of `SqliteOrderJournal`: it shares the journal's one connection and writer. A
daily row is upserted by its id ("account:YYYY-MM-DD"), so computing a day again (at the
close, then on demand) leaves one row with the newest numbers, and every save is handed
to the journal's mirrors inside its transaction: the outbox record commits with the row.
Samples are local only (one a minute): the mirror gets the day's row, not its curve.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ibtrader.core.performance import DailyPerformance, EquitySample

from .rows import row_values
from .sqlite import _dicts, _num

if TYPE_CHECKING:
    from .sqlite import SqliteJournal

    _Base = SqliteJournal
else:
    _Base = object

TABLE = "daily_performance"


class PerformanceJournalMixin(_Base):
    """`record_equity_sample`, `save_daily_performance` and their reads."""

    def record_equity_sample(self, account: str, sample: EquitySample) -> None:
        if not math.isfinite(sample.equity):
            raise ValueError(f"equity sample at {sample.time}: equity must be a number, "
                             f"got {sample.equity}")
        self._db.execute(
            "INSERT INTO equity_samples (time, account, equity, realized, unrealized)"
            " VALUES (?, ?, ?, ?, ?)",
            (sample.time, account, sample.equity, _num(sample.realized),
             _num(sample.unrealized)))

    def save_daily_performance(self, row: DailyPerformance) -> None:
        """Insert or replace the day's row; its mirror records join the transaction."""
        values = row.values()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO daily_performance (id, session_date, account, equity,"
                " realized_pnl, unrealized_pnl, trades, win_rate, max_drawdown, computed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET equity=excluded.equity,"
                " realized_pnl=excluded.realized_pnl, unrealized_pnl=excluded.unrealized_pnl,"
                " trades=excluded.trades, win_rate=excluded.win_rate,"
                " max_drawdown=excluded.max_drawdown, computed=excluded.computed"
                " RETURNING *",
                (row.id, values["session_date"], values["account"], _num(row.equity),
                 row.realized_pnl, _num(row.unrealized_pnl), row.trades, _num(row.win_rate),
                 row.max_drawdown, row.computed))
            saved = _dicts(cursor)
            if self.mirrors:
                for found in saved:
                    self._mirror(TABLE, *row_values(TABLE, found))

    def prune_equity_samples(self, before: float) -> int:
        """Forget samples older than `before` (their days' rows stay); how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM equity_samples WHERE time < ?", (before,)).rowcount

    # --- reads -------------------------------------------------------------------------------

    def equity_samples(self, account: str, start: float, end: float) -> list[EquitySample]:
        """The account's samples in [start, end), oldest first."""
        rows = self._db.execute(
            "SELECT time, equity, realized, unrealized FROM equity_samples"
            " WHERE account=? AND time >= ? AND time < ? ORDER BY time, seq",
            (account, start, end))
        return [EquitySample(t, e, _nan(r), _nan(u)) for t, e, r, u in rows]

    def sample_accounts(self, start: float, end: float) -> list[str]:
        """The accounts sampled in [start, end) (the CLI's default when one was)."""
        rows = self._db.execute("SELECT DISTINCT account FROM equity_samples"
                                " WHERE time >= ? AND time < ? ORDER BY account", (start, end))
        return [a for (a,) in rows]

    def daily_performance(self, account: str, session_date: str) -> DailyPerformance | None:
        rows = self._db.execute("SELECT * FROM daily_performance WHERE account=? AND"
                                " session_date=?", (account, session_date))
        found = _dicts(rows)
        return _row(found[0]) if found else None

    def daily_performances(self, limit: int = 100) -> list[DailyPerformance]:
        """The newest days first (every account)."""
        rows = self._db.execute("SELECT * FROM daily_performance"
                                " ORDER BY session_date DESC, account LIMIT ?", (limit,))
        return [_row(r) for r in _dicts(rows)]


def _row(row: dict[str, Any]) -> DailyPerformance:
    return DailyPerformance(
        account=row["account"], session_date=row["session_date"], equity=row["equity"],
        realized_pnl=row["realized_pnl"], unrealized_pnl=row["unrealized_pnl"],
        trades=row["trades"], win_rate=row["win_rate"], max_drawdown=row["max_drawdown"],
        computed=row["computed"])


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
