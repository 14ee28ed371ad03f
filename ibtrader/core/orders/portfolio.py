"""Positions and P&L built from executions, and how they compare with the broker's.

Conventions, chosen to match what IB shows (and what the simulator's PaperAccount books):

- Average cost, not FIFO. IB's portfolio window, its position messages and its
  commissionReport.realizedPNL all work on an average cost per position.
- Commissions live in the cost, like IB's avgCost: an opening fill's commission raises a
  long's cost (lowers a short's) by commission / (quantity x multiplier). `avg_cost` is per
  unit of price; IB's `avgCost` is that times the multiplier (`Position.ib_avg_cost`).
  `avg_price` is the same average over the raw fill prices.
- Realized P&L is net: a close realizes (price - avg_cost) x quantity x multiplier, less
  the closing fill's commission (IB's realizedPNL). A fill that goes through zero closes
  the whole position first, then opens the rest; its commission is split by quantity.
- A fill arrives before its commission (NaN until the commission report re-sends the same
  exec_id). It counts as commission-free until then; the report updates it and the
  symbol's position is rebuilt from its fills in time order, so the result is the same as
  if the commission had come with the fill. An exec_id is never counted twice.
- Unrealized P&L is against the mark: the last price given to `mark`, else the latest
  fill price. Daily P&L = realized by fills since `start_day` + the change in unrealized
  since then (what PaperAccount's DailyPnL does, and IB's for positions opened today).
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ibtrader.core.broker import BrokerFill, BrokerPosition

QTY_EPS = 1e-9  # a quantity below this is flat (fractional FX and shares are floats)
_BUY = frozenset({"BUY", "BOT"})
_SELL = frozenset({"SELL", "SLD"})


def fill_sign(side: str) -> int:
    """+1 for a buy, -1 for a sell; IB's execution sides (BOT/SLD) are accepted too."""
    upper = side.upper()
    if upper in _BUY:
        return 1
    if upper in _SELL:
        return -1
    raise ValueError(f"fill side must be BUY or SELL, not {side!r}")


class FillResult(enum.Enum):
    ADDED = "added"  # a new execution, booked
    COMMISSION = "commission"  # a known execution re-sent with its commission: updated
    DUPLICATE = "duplicate"  # seen already, nothing new: ignored
    CONFLICT = "conflict"  # same exec_id, different symbol/side/quantity/price: ignored


@dataclass(frozen=True, slots=True)
class Position:
    """One symbol's position and P&L at its mark. Money is in the account currency."""

    symbol: str
    quantity: float  # signed: short below zero
    avg_cost: float  # per unit of price, opening commissions included (0 when flat)
    avg_price: float  # per unit of price, fill prices only
    realized_pnl: float  # since the first fill given, net of commissions
    realized_today: float  # by fills at or after the day's start
    unrealized_pnl: float
    daily_pnl: float
    mark: float
    multiplier: float
    commissions: float  # paid so far (known ones)
    pending_commissions: int  # fills whose commission report has not come yet

    @property
    def ib_avg_cost(self) -> float:
        """IB's avgCost: the cost per contract, multiplier included."""
        return self.avg_cost * self.multiplier

    @property
    def market_value(self) -> float:
        return self.quantity * self.mark * self.multiplier


class _Book:
    """One symbol's running average-cost book (mutable; internal)."""

    __slots__ = ("avg_cost", "avg_price", "commissions", "day_open", "last_price", "pending",
                 "quantity", "realized", "realized_today")

    def __init__(self) -> None:
        self.quantity = 0.0
        self.avg_cost = 0.0
        self.avg_price = 0.0
        self.realized = 0.0
        self.realized_today = 0.0
        self.commissions = 0.0
        self.pending = 0
        self.last_price = math.nan
        # (quantity, avg_cost) as the day started: taken before the first fill of the day
        self.day_open: tuple[float, float] | None = None

    def copy(self) -> _Book:
        twin = _Book()
        for name in self.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin

    def at_day_start(self) -> tuple[float, float]:
        return self.day_open or (self.quantity, self.avg_cost)

    def apply(self, fill: BrokerFill, multiplier: float, today: bool) -> float:
        """Book one fill; return the P&L it realized (net of its closing commission)."""
        if today and self.day_open is None:
            self.day_open = (self.quantity, self.avg_cost)
        sign = fill_sign(fill.side)
        commission = 0.0 if math.isnan(fill.commission) else fill.commission
        self.pending += math.isnan(fill.commission)
        self.commissions += commission
        self.last_price = fill.price
        size = fill.quantity
        closing = min(size, abs(self.quantity)) if self.quantity * sign < 0 else 0.0
        opening = size - closing
        close_commission = commission * closing / size
        realized = 0.0
        if closing > QTY_EPS:
            held = 1 if self.quantity > 0 else -1
            realized = (held * closing * (fill.price - self.avg_cost) * multiplier
                        - close_commission)
            self.quantity -= held * closing
            if abs(self.quantity) <= QTY_EPS:
                self.quantity = self.avg_cost = self.avg_price = 0.0
        if opening > QTY_EPS:
            unit_cost = fill.price + sign * (commission - close_commission) / (
                opening * multiplier)
            held_size = abs(self.quantity)
            total = held_size + opening
            self.avg_cost = (held_size * self.avg_cost + opening * unit_cost) / total
            self.avg_price = (held_size * self.avg_price + opening * fill.price) / total
            self.quantity += sign * opening
        self.realized += realized
        if today:
            self.realized_today += realized
        return realized


def _check_fill(fill: BrokerFill) -> None:
    fill_sign(fill.side)
    if not fill.exec_id:
        raise ValueError(f"{fill.symbol}: a fill without an exec_id cannot be de-duplicated")
    if not (math.isfinite(fill.quantity) and fill.quantity > 0):
        raise ValueError(f"{fill.symbol} {fill.exec_id}: fill quantity must be above zero, "
                         f"not {fill.quantity}")
    if not math.isfinite(fill.price):
        raise ValueError(f"{fill.symbol} {fill.exec_id}: fill price {fill.price} is not a "
                         "number")
    if not (math.isnan(fill.commission) or math.isfinite(fill.commission)):
        raise ValueError(f"{fill.symbol} {fill.exec_id}: commission {fill.commission} is not "
                         "a number")


def _same_execution(a: BrokerFill, b: BrokerFill) -> bool:
    return (a.symbol == b.symbol and fill_sign(a.side) == fill_sign(b.side)
            and abs(a.quantity - b.quantity) <= QTY_EPS and a.price == b.price)


class Portfolio:
    """Positions from executions. Pure: times come with the fills and with `start_day`.

    `multipliers` maps a symbol to its contract multiplier (futures: ES is 50); a symbol
    not in it has a multiplier of 1. Set it before the symbol's first fill, or call
    `set_multiplier`, which rebuilds the symbol's position.
    """

    def __init__(self, multipliers: Mapping[str, float] | None = None) -> None:
        self._multipliers: dict[str, float] = {}
        for symbol, multiplier in (multipliers or {}).items():
            self._multipliers[symbol] = _check_multiplier(symbol, multiplier)
        self._fills: dict[str, list[BrokerFill]] = {}  # per symbol, in time order
        # per symbol, the book as it stood before each of its fills: a commission report
        # (nearly always for the latest fill) replays from there, not from the first fill
        self._before: dict[str, list[_Book]] = {}
        self._by_exec: dict[str, BrokerFill] = {}
        self._realized_by_exec: dict[str, float] = {}
        self._books: dict[str, _Book] = {}
        self._marks: dict[str, float] = {}
        self._day_start = -math.inf
        self._day_marks: dict[str, float] = {}  # the marks when the day started

    # ----- input --------------------------------------------------------------------------
    def apply(self, fill: BrokerFill) -> FillResult:
        """Book an execution, or update its commission when the same exec_id comes again."""
        _check_fill(fill)
        known = self._by_exec.get(fill.exec_id)
        if known is not None:
            if not _same_execution(known, fill):
                return FillResult.CONFLICT
            if math.isnan(fill.commission) or fill.commission == known.commission:
                return FillResult.DUPLICATE
            self._replace(known, fill)
            return FillResult.COMMISSION
        self._by_exec[fill.exec_id] = fill
        fills = self._fills.setdefault(fill.symbol, [])
        self._before.setdefault(fill.symbol, [])
        # a late report goes in time order (after fills of the same time: arrival order)
        at = bisect.bisect_right(fills, fill.time, key=lambda f: f.time)
        fills.insert(at, fill)
        self._replay(fill.symbol, at)
        return FillResult.ADDED

    def apply_all(self, fills: Iterable[BrokerFill]) -> list[FillResult]:
        return [self.apply(fill) for fill in fills]

    def mark(self, symbol: str, price: float) -> None:
        """The price `symbol` is valued at from now on; a missing price (NaN, 0) is ignored."""
        if math.isfinite(price) and price > 0:
            self._marks[symbol] = price

    def start_day(self, now: float, marks: Mapping[str, float] | None = None) -> None:
        """Start a new trading day at `now`: daily P&L counts from here, against the marks
        (given here, or the latest ones) as they stand."""
        for symbol, price in (marks or {}).items():
            self.mark(symbol, price)
        self._day_start = now
        self._day_marks = {s: self._mark_of(s) for s in self._books}
        # The day's base is rebuilt from the fills, not remembered as a number, so that a
        # commission arriving later for an older fill moves it as it moves everything else.
        for symbol in self._fills:
            self._replay(symbol, 0)

    def set_multiplier(self, symbol: str, multiplier: float) -> None:
        self._multipliers[symbol] = _check_multiplier(symbol, multiplier)
        if symbol in self._fills:
            self._replay(symbol, 0)

    # ----- output -------------------------------------------------------------------------
    def multiplier(self, symbol: str) -> float:
        return self._multipliers.get(symbol, 1.0)

    def symbols(self) -> list[str]:
        return sorted(self._books)

    def position(self, symbol: str) -> Position:
        book = self._books.get(symbol) or _Book()
        unrealized = self._unrealized(symbol)
        daily = book.realized_today + unrealized - self._unrealized_at_day_start(symbol)
        return Position(symbol, book.quantity, book.avg_cost, book.avg_price, book.realized,
                        book.realized_today, unrealized, daily, self._mark_of(symbol),
                        self.multiplier(symbol), book.commissions, book.pending)

    def positions(self, include_flat: bool = False) -> list[Position]:
        """Every symbol's position (flat ones too when asked: they keep realized P&L)."""
        every = (self.position(s) for s in self.symbols())
        return [p for p in every if include_flat or abs(p.quantity) > QTY_EPS]

    def totals(self) -> tuple[float, float, float]:
        """(daily, unrealized, realized) over every symbol, like IB's account P&L."""
        every = [self.position(s) for s in self.symbols()]
        return (sum(p.daily_pnl for p in every), sum(p.unrealized_pnl for p in every),
                sum(p.realized_pnl for p in every))

    def realized_of(self, exec_id: str) -> float:
        """What one execution realized (compare with IB's commissionReport.realizedPNL)."""
        try:
            return self._realized_by_exec[exec_id]
        except KeyError:
            raise KeyError(f"no execution {exec_id!r} in the portfolio") from None

    # ----- internals ----------------------------------------------------------------------
    def _mark_of(self, symbol: str) -> float:
        mark = self._marks.get(symbol)
        if mark is not None:
            return mark
        book = self._books.get(symbol)
        return book.last_price if book is not None else math.nan

    def _unrealized(self, symbol: str) -> float:
        book = self._books.get(symbol)
        if book is None or abs(book.quantity) <= QTY_EPS:
            return 0.0
        return book.quantity * (self._mark_of(symbol) - book.avg_cost) * self.multiplier(symbol)

    def _unrealized_at_day_start(self, symbol: str) -> float:
        book, mark = self._books.get(symbol), self._day_marks.get(symbol)
        if book is None or mark is None:
            return 0.0
        quantity, avg_cost = book.at_day_start()
        if abs(quantity) <= QTY_EPS:
            return 0.0
        return quantity * (mark - avg_cost) * self.multiplier(symbol)

    def _replace(self, old: BrokerFill, new: BrokerFill) -> None:
        self._by_exec[new.exec_id] = new
        fills = self._fills[new.symbol]
        # search from the end: the report is nearly always for one of the latest fills
        at = next(i for i in range(len(fills) - 1, -1, -1) if fills[i] is old)
        fills[at] = new
        self._replay(new.symbol, at)

    def _replay(self, symbol: str, start: int) -> None:
        """Rebuild the symbol's book from its fill number `start` on."""
        fills, before = self._fills[symbol], self._before[symbol]
        if start < len(before):  # a fill changed or came in before the latest ones
            book = before[start]  # dropped from the list below: ours to move on
            del before[start:]
        else:  # a new latest fill: the current book goes on from where it is
            book = self._books.get(symbol) or _Book()
        multiplier = self.multiplier(symbol)
        for fill in fills[start:]:
            before.append(book.copy())
            self._realized_by_exec[fill.exec_id] = book.apply(
                fill, multiplier, fill.time >= self._day_start)
        self._books[symbol] = book


def _check_multiplier(symbol: str, multiplier: float) -> float:
    if not (math.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"{symbol}: multiplier must be above zero, not {multiplier}")
    return float(multiplier)


# ----- comparison with the broker -------------------------------------------------------------

ACCOUNT = "(account)"  # the symbol of a discrepancy in an account-wide value
# IB's account value tags and the total of ours each one is compared with
_ACCOUNT_TAGS = {"RealizedPnL": 2, "UnrealizedPnL": 1, "DailyPnL": 0}


@dataclass(frozen=True, slots=True)
class Discrepancy:
    symbol: str  # ACCOUNT for an account-wide value
    what: str  # "quantity", "avg_cost", or an account value tag such as "RealizedPnL"
    ours: float
    theirs: float

    def __str__(self) -> str:
        return f"{self.symbol} {self.what}: ours {self.ours:g}, broker's {self.theirs:g}"


@dataclass(frozen=True, slots=True)
class Tolerance:
    quantity: float = 1e-6  # units
    avg_cost: float = 1e-4  # per contract (IB's avgCost scale), absolute
    avg_cost_rel: float = 1e-7  # ... or relative, whichever is larger
    money: float = 0.01  # account values, in the account currency


def compare(ours: Portfolio, broker_positions: Iterable[BrokerPosition],
            account_values: Mapping[str, float | str] | None = None,
            tolerance: Tolerance = Tolerance()) -> list[Discrepancy]:
    """Every way our positions disagree with the broker's, beyond `tolerance`.

    Quantities are compared for every symbol either side holds (a missing one is flat);
    average costs where both hold the same quantity (IB's avgCost includes the multiplier).
    `account_values` may carry IB's RealizedPnL, UnrealizedPnL and DailyPnL tags: each one
    present is compared with our total (so pass only tags that cover the same fills).
    """
    theirs = {p.symbol: p for p in broker_positions}
    found: list[Discrepancy] = []
    for symbol in sorted(set(theirs) | set(ours.symbols())):
        mine = ours.position(symbol)
        broker = theirs.get(symbol) or BrokerPosition(symbol, 0.0, 0.0)
        if abs(mine.quantity - broker.quantity) > tolerance.quantity:
            found.append(Discrepancy(symbol, "quantity", mine.quantity, broker.quantity))
        elif abs(mine.quantity) > QTY_EPS and not math.isclose(
                mine.ib_avg_cost, broker.avg_cost, rel_tol=tolerance.avg_cost_rel,
                abs_tol=tolerance.avg_cost):
            found.append(Discrepancy(symbol, "avg_cost", mine.ib_avg_cost, broker.avg_cost))
    totals = ours.totals()
    for tag, index in _ACCOUNT_TAGS.items():
        if account_values is None or tag not in account_values:
            continue
        raw = account_values[tag]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"account value {tag}={raw!r} is not a number") from None
        if abs(totals[index] - value) > tolerance.money:
            found.append(Discrepancy(ACCOUNT, tag, totals[index], value))
    return found

