"""A trading day's performance: equity, P&L, closed round trips, win rate, drawdown.

Pure: the numbers come from the journal's executions, the day's equity samples and the
caller's clock. A trade is a position from flat back to flat (a fill through zero closes
one and opens the next); its P&L is what its closing fills realized, net of commissions,
as the portfolio books it (average cost, like IB). A session date is the calendar day in
the session's time zone (America/New_York for US stocks), so a fill at 20:00 New York
belongs to that day, not to the next UTC one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ibtrader.core.broker import BrokerFill
from ibtrader.core.orders.portfolio import QTY_EPS, Portfolio, fill_sign

# --- round trips ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed trade: its symbol, when its last fill closed it, and its net P&L."""

    symbol: str
    closed: float
    pnl: float


def round_trips(fills: Iterable[BrokerFill], multipliers: Mapping[str, float]
                ) -> tuple[list[RoundTrip], Portfolio]:
    """The closed trades of `fills` in the order they closed, and the portfolio that booked
    them (commission reports included: each fill's final realized P&L). A repeated
    exec id (a commission report) counts once."""
    ordered = sorted(fills, key=lambda f: f.time)
    book = Portfolio(multipliers)
    book.apply_all(ordered)
    held: dict[str, float] = {}
    open_pnl: dict[str, float] = {}  # symbol -> realized so far by its open trade
    trades: list[RoundTrip] = []
    seen: set[str] = set()
    for fill in ordered:
        if fill.exec_id in seen:
            continue
        seen.add(fill.exec_id)
        before = held.get(fill.symbol, 0.0)
        after = held[fill.symbol] = before + fill_sign(fill.side) * fill.quantity
        pnl = open_pnl.pop(fill.symbol, 0.0) + book.realized_of(fill.exec_id)
        if abs(before) > QTY_EPS and (abs(after) <= QTY_EPS or before * after < 0):
            trades.append(RoundTrip(fill.symbol, fill.time, pnl))
            if abs(after) > QTY_EPS:
                open_pnl[fill.symbol] = 0.0  # the rest opened a trade the other way
        else:
            open_pnl[fill.symbol] = pnl
    return trades, book


def trade_stats(fills: Iterable[BrokerFill], multipliers: Mapping[str, float]
                ) -> dict[str, Any]:
    """Closed round trips of `fills`: their count, win rate, average win and loss, and
    the largest fall of cumulative realized P&L from a peak (money, >= 0)."""
    trades, _ = round_trips(fills, multipliers)
    pnls = [t.pnl for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p <= 0]
    cumulative, curve = 0.0, [0.0]
    for pnl in pnls:
        cumulative += pnl
        curve.append(cumulative)
    return {"closed_trades": len(pnls), "win_rate": win_rate(pnls),
            "average_win": _mean(wins), "average_loss": _mean(losses),
            "max_drawdown": _finite(max_drawdown(curve))}


def win_rate(pnls: Sequence[float]) -> float | None:
    """The share of trades that made money (a scratch counts as a loss); None: no trades."""
    return sum(1 for p in pnls if p > 0) / len(pnls) if pnls else None


def max_drawdown(curve: Iterable[float]) -> float:
    """The largest fall from a running peak of `curve` (money, >= 0); non-finite points
    (an equity not known yet) are skipped."""
    peak = -math.inf
    drawdown = 0.0
    for value in curve:
        if not math.isfinite(value):
            continue
        peak = max(peak, value)
        drawdown = max(drawdown, peak - value)
    return drawdown


# --- the session -----------------------------------------------------------------------------


def parse_session_close(text: str) -> str:
    """'16:00' -> '16:00' (normalised HH:MM); a ValueError says what is wrong."""
    try:
        parsed = dt.time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"must be a time of day as HH:MM, such as 16:00, got {text!r}") from None
    return parsed.strftime("%H:%M")


def session_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; a ValueError names it when it is not one."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"must be an IANA time zone such as America/New_York, "
                         f"got {name!r}") from None


def check_zone(name: str) -> str:
    session_zone(name)
    return name.strip()


def session_date(t: float, zone: ZoneInfo) -> dt.date:
    """The calendar day, in the session's zone, that epoch second `t` falls on."""
    return dt.datetime.fromtimestamp(t, zone).date()


def day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) of `day` in the session's zone, as epoch seconds (23 or 25 hours
    long on the days the clocks change)."""
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return start.timestamp(), end.timestamp()


def next_close(now: float, close: str, zone: ZoneInfo) -> tuple[dt.date, float]:
    """(session date, epoch second) of the first session close after `now`."""
    at = dt.time.fromisoformat(close)
    day = session_date(now, zone)
    while True:
        moment = dt.datetime.combine(day, at, zone).timestamp()
        if moment > now:
            return day, moment
        day += dt.timedelta(days=1)


# --- the day's row ---------------------------------------------------------------------------


class EquitySample(NamedTuple):
    """The account at one moment: equity from the broker, the book's P&L (NaN: unknown)."""

    time: float
    equity: float
    realized: float = math.nan  # realized by the journal's executions so far
    unrealized: float = math.nan  # of the open positions at their marks


@dataclass(frozen=True, slots=True)
class DailyPerformance:
    """One account's trading day, as the journal keeps it and the NocoDB mirror shows it
    (the columns of resources/nocodb/schema.json's daily_performance)."""

    account: str
    session_date: str  # YYYY-MM-DD in the session's zone
    equity: float | None  # the last sample's; None: never sampled that day
    realized_pnl: float  # by the day's fills, net of commissions
    unrealized_pnl: float | None  # at the last sample
    trades: int  # round trips closed that day
    win_rate: float | None  # 0..1; None: no trade closed
    max_drawdown: float  # the largest fall of the day's equity curve from a peak (money)
    computed: float  # when (epoch seconds)

    @property
    def id(self) -> str:
        return performance_id(self.account, self.session_date)

    def values(self) -> dict[str, Any]:
        """The row's columns but the id, as plain JSON values."""
        return {"session_date": self.session_date, "account": self.account,
                "equity": self.equity, "realized_pnl": self.realized_pnl,
                "unrealized_pnl": self.unrealized_pnl, "trades": self.trades,
                "win_rate": self.win_rate, "max_drawdown": self.max_drawdown,
                "computed": self.computed}


def performance_id(account: str, day: str) -> str:
    return f"{account}:{day}"


def daily_performance(account: str, day: dt.date, zone: ZoneInfo,
                      fills: Iterable[BrokerFill], samples: Iterable[EquitySample],
                      multipliers: Mapping[str, float], now: float) -> DailyPerformance:
    """The day's row. `fills` may reach back before the day (a position opened
    yesterday and closed today realizes against yesterday's cost); those after the day
    are left out. `samples` are the account's, any time: the day's make its curve."""
    start, end = day_bounds(day, zone)
    until_end = [f for f in fills if f.time < end]
    trades, book = round_trips(until_end, multipliers)
    today = [t for t in trades if start <= t.closed < end]
    # a commission report repeats its fill's exec id: each execution counts once
    day_ids = dict.fromkeys(f.exec_id for f in until_end if f.time >= start)
    realized = math.fsum(book.realized_of(exec_id) for exec_id in day_ids)
    curve = sorted((s for s in samples if start <= s.time < end), key=lambda s: s.time)
    last = curve[-1] if curve else None
    return DailyPerformance(
        account=account, session_date=day.isoformat(),
        equity=_finite(last.equity) if last else None,
        realized_pnl=realized,
        unrealized_pnl=_finite(last.unrealized) if last else None,
        trades=len(today), win_rate=win_rate([t.pnl for t in today]),
        max_drawdown=max_drawdown(s.equity for s in curve), computed=now)


def equity_curve(samples: Iterable[EquitySample], day: dt.date,
                 zone: ZoneInfo) -> list[tuple[float, float]]:
    """(time, equity) of the day's samples, oldest first: the chart of the day."""
    start, end = day_bounds(day, zone)
    return sorted((s.time, s.equity) for s in samples
                  if start <= s.time < end and math.isfinite(s.equity))


class PerformanceReader(Protocol):
    """What a day's row is computed from (the journal file)."""

    def equity_samples(self, account: str, start: float, end: float
                       ) -> list[EquitySample]: ...
    def executions(self, since: float = 0.0) -> list[BrokerFill]: ...


class PerformanceJournal(PerformanceReader, Protocol):
    """Where the service keeps its samples and rows (the journal file)."""

    def record_equity_sample(self, account: str, sample: EquitySample) -> None: ...
    def save_daily_performance(self, row: DailyPerformance) -> None: ...
    def daily_performance(self, account: str, session_date: str
                          ) -> DailyPerformance | None: ...
    def prune_equity_samples(self, before: float) -> int: ...


class ClosingReader(PerformanceReader, Protocol):
    """A reader of its own (a second connection to the file), for a worker thread."""

    def close(self) -> None: ...


def _mean(values: list[float]) -> float | None:
    return _finite(math.fsum(values) / len(values)) if values else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
