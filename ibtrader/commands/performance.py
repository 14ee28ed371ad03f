"""`ibtrader performance daily [--date YYYY-MM-DD]`: a day's performance from the journal.

Reads the journal file alone (no broker): the day's executions and the equity samples the
running app recorded. It prints the day's row and saves it, so the journal's mirror (NocoDB,
when configured) queues it in the outbox; the app's delivery worker sends it. Equity and
unrealized P&L are as of the day's last sample. Contract multipliers are not in the journal:
P&L of futures fills counts one unit per point here (the app's own row uses the real ones).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ibtrader.adapters.journal import SqliteOrderJournal
    from ibtrader.config import Settings
    from ibtrader.core.performance import DailyPerformance

PROG = "ibtrader performance"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "performance", help="a trading day's performance from the journal",
        description="A day's equity, P&L, closed round trips, win rate and drawdown, computed "
                    "from the journal file (no broker needed) and saved there.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    daily = actions.add_parser("daily", help="compute, save and print a day's row")
    daily.add_argument("--date", type=_date, metavar="YYYY-MM-DD",
                       help="the session date (default: today in session_timezone)")
    daily.add_argument("--account", metavar="CODE",
                       help="default: ib_account, else the one account sampled that day")
    daily.add_argument("--json", action="store_true", help="print the row as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import load_settings_or_exit

    settings = load_settings_or_exit(args)
    try:
        row = compute_day(settings, args.date, args.account)
    except LookupError as exc:
        print(f"{PROG} daily: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"id": row.id, **row.values()}))
    else:
        print_row(row, sys.stdout)
    return 0


def compute_day(settings: Settings, day: dt.date | None, account: str | None,
                now: float | None = None) -> DailyPerformance:
    """The day's row from the journal file, saved there (and so queued for its mirror)."""
    from ibtrader.adapters.journal import SqliteOrderJournal
    from ibtrader.app import journal_mirrors
    from ibtrader.core.performance import (
        daily_performance,
        day_bounds,
        session_date,
        session_zone,
    )

    now = time.time() if now is None else now
    zone = session_zone(settings.session_timezone)
    day = session_date(now, zone) if day is None else day
    start, end = day_bounds(day, zone)
    with SqliteOrderJournal(settings.journal_file, journal_mirrors(settings)) as journal:
        account = account or settings.ib_account or _sampled_account(journal, start, end, day)
        row = daily_performance(account, day, zone, journal.executions(),
                                journal.equity_samples(account, start, end), {}, now)
        journal.save_daily_performance(row)
    return row


def _sampled_account(journal: SqliteOrderJournal, start: float, end: float,
                     day: dt.date) -> str:
    accounts = journal.sample_accounts(start, end)
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise LookupError(f"no equity samples on {day} name the account: give --account")
    raise LookupError(f"{day} has samples of the accounts {', '.join(accounts)}: "
                      f"give --account")


def print_row(row: DailyPerformance, out: TextIO) -> None:
    computed = dt.datetime.fromtimestamp(row.computed, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"daily performance {row.id} (computed {computed} UTC)",
             f"  equity          {_money(row.equity, sign=False)}",
             f"  realized P&L    {_money(row.realized_pnl)}",
             f"  unrealized P&L  {_money(row.unrealized_pnl)}",
             f"  trades          {row.trades:>14}",
             f"  win rate        {'-' if row.win_rate is None else f'{row.win_rate:.1%}':>14}",
             f"  max drawdown    {_money(row.max_drawdown, sign=False)}"]
    print("\n".join(lines), file=out)


def _money(value: float | None, sign: bool = True) -> str:
    if value is None:
        return f"{'-':>14}"
    return f"{value:>+14,.2f}" if sign else f"{value:>14,.2f}"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None
