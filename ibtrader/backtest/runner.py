"""The backtest loop: a strategy, bar by bar, with its orders filled by the simulator's
matching engine.

Each bar the runner (1) turns the signals of the bar before into orders (fill
"next-open"), (2) lets the engine match the working orders against the bar, (3) calls
`strategy.on_bar` exactly as a live engine would, and with fill "close" sends the new
orders at once at the bar's close. Bars where nothing can happen (no orders waiting, no
stop or target within the bar's range, not among the strategy's `candidate_bars`) are
skipped, and the equity curve is computed afterwards from the position changes. What the
strategy sees on its candidate bars is read with numpy a block at a time.

Plain market orders (no stop, no target) take the broker's lean path by default: the
same fill rule and paper account, without the engine's order objects (see broker.py);
`BacktestConfig(lean=False)` sends every order through the engine, and tests check that
both give the same trades.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ibtrader.core.indicators.frames import HistoryBar
from ibtrader.core.strategy import BarContext, Signal, Strategy
from ibtrader.sim.commissions import CommissionSchedule, NoCommission

from .bars import BarSeries, iso_time
from .broker import BacktestInstrument, BarBroker, Trade
from .feed import Gathered, IndicatorFeed
from .sizing import Sizer

FILLS = ("next-open", "close")
# candidate bars whose rows and indicator values are read in one go with numpy: reading
# them one at a time cost more than the strategy's decision
GATHER_BLOCK = 4096
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BacktestConfig:
    cash: float = 10_000.0
    fill: str = "next-open"
    sizing: str = "risk"
    commissions: CommissionSchedule = field(default_factory=NoCommission)
    risk_pct: float = 1.0
    fallback_stop_pct: float = 2.0
    prefilter: bool = True  # use the strategy's vectorised candidate bars if it has them
    incremental: bool = False  # feed every indicator bar by bar (as live), no batch
    lean: bool = True  # plain market orders filled beside the engine (see broker.py)

    def __post_init__(self) -> None:
        if self.fill not in FILLS:
            raise ValueError(f"fill must be next-open or close, not {self.fill!r}")
        if not (self.cash > 0 and np.isfinite(self.cash)):
            raise ValueError(f"cash must be above zero, got {self.cash!r}")


@dataclass
class RunOutput:
    """What the loop produced; `report.BacktestReport.of` turns it into the report."""

    bars: BarSeries
    trades: list[Trade]
    equity: np.ndarray  # at each bar's close
    position: np.ndarray  # signed quantity held at each bar's close
    skipped: list[str]  # entries not taken (and orders the engine refused), with why
    final_position: float
    bars_visited: int


class BacktestRunner:
    def __init__(self, strategy: Strategy, bars: BarSeries, config: BacktestConfig,
                 instrument: Any = None) -> None:
        if len(bars) == 0:
            raise ValueError("no bars to test: the range is empty")
        self.strategy = strategy
        self.bars = bars
        self.config = config
        self.instrument = instrument or BacktestInstrument(bars.symbol)
        self.broker = BarBroker(self.instrument, config.cash, config.commissions,
                                 lean=config.lean)
        self.sizer = Sizer(config.sizing, config.commissions, self.instrument,
                           config.risk_pct, config.fallback_stop_pct)
        self.feed = IndicatorFeed(strategy.indicators(), bars, incremental=config.incremental)
        self.ctx = BarContext(bars.symbol)
        self.skipped: list[str] = []
        # the account after each bar that traded: bar, cash, quantity, futures' basis
        self._marks: tuple[list[int], list[float], list[float], list[float]] = (
            [], [], [], [])
        self._rows = (bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume)
        self._fee = config.commissions.commission
        # with a pre-filter: the candidate bars, and one block of them gathered with the
        # indicator values there and before (a block, so memory stays small)
        self._cands: np.ndarray | None = None
        self._block: tuple[int, list[HistoryBar], Gathered] = (-1, [], [])

    # ----- the loop -----------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> RunOutput:
        # The loop makes no reference cycles, but its allocations trigger full collections
        # that walk every object of the process (pandas, numpy...): ~15% of a run's time.
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(progress)
        finally:
            if enabled:
                gc.enable()

    def _run(self, progress: Progress | None) -> RunOutput:
        b = self.bars
        n = len(b)
        broker = self.broker
        every_bar = not self.feed.vectorised
        found = None if every_bar or not self.config.prefilter else self._candidates(n)
        cands: Sequence[int] = range(n) if found is None else found.tolist()
        self._cands = found
        next_open = self.config.fill == "next-open"
        ptr, i, visited, count = 0, 0, 0, len(cands)
        pending: Sequence[Signal] = ()
        report_every = max(n // 100, 1)
        reported = 0
        low, high = b.low, b.high
        times, opens, closes = self._rows[0], self._rows[1], self._rows[4]
        while i < n:
            if pending or every_bar or broker.busy:
                j = i
            else:
                while ptr < count and cands[ptr] < i:
                    ptr += 1
                j = cands[ptr] if ptr < count else n
                if broker.has_exits and j > i:
                    stop, target = broker.exit_levels()
                    j = _first_touch(low, high, i, j, stop, target, broker.position)
                if j >= n:
                    break
            visited += 1
            changed = False
            if pending or broker.busy or broker.has_exits:
                now, price = times.item(j), opens.item(j)
                if pending:
                    self._act(pending, now, price)
                    pending = ()
                if broker.busy or broker.has_exits:
                    broker.fill_market(price, now, j)
                    if broker.engine_working:
                        broker.match(self._bar(j), j)
                    changed = True
            if ptr < count and cands[ptr] == j:
                signals = self._strategy_bar(j, ptr)
                ptr += 1
                if signals:
                    if next_open:
                        pending = signals
                    else:
                        now, c = times.item(j), closes.item(j)
                        self._act(signals, now, c)
                        broker.on_bar(HistoryBar(now, c, c, c, c, 0.0), j)
                        changed = True
            if changed:
                self._mark(j)
            if progress is not None and j - reported >= report_every:
                reported = j
                progress(j, n)
            i = j + 1
        if progress is not None:
            progress(n, n)
        equity, position = self._curve()
        return RunOutput(b, list(broker.trades), equity, position,
                         self.skipped + broker.rejections, broker.position, visited)

    def _candidates(self, n: int) -> np.ndarray | None:
        """The strategy's own pre-filter (`Strategy.candidate_bars`), checked: the loop
        relies on sorted bar numbers in range."""
        found = self.strategy.candidate_bars(self.feed.arrays)
        if found is None:
            return None
        bars = np.asarray(found)
        owner = self.strategy.name or type(self.strategy).__name__
        if bars.ndim != 1 or (bars.size and bars.dtype.kind not in "iu"):
            raise ValueError(f"{owner}.candidate_bars must return a 1-D array of bar numbers, "
                             f"got {bars.dtype} with shape {bars.shape}")
        if bars.size and (bars[0] < 0 or bars[-1] >= n or np.any(np.diff(bars) <= 0)):
            raise ValueError(f"{owner}.candidate_bars must return bar numbers in [0, {n}) "
                             f"in increasing order")
        return bars.astype(np.intp, copy=False)

    def _bar(self, j: int) -> HistoryBar:
        t, o, h, low, c, v = self._rows  # .item: a Python float, not a numpy scalar
        return HistoryBar(t.item(j), o.item(j), h.item(j), low.item(j), c.item(j), v.item(j))

    def _strategy_bar(self, j: int, k: int) -> Sequence[Signal]:
        """`on_bar` on bar j, the k-th candidate bar."""
        ctx = self.ctx
        if self._cands is not None:  # read from the candidates' block, gathered at once
            block, at = divmod(k, GATHER_BLOCK)
            number, bars, columns = self._block
            if number != block:
                chunk = self._cands[block * GATHER_BLOCK:(block + 1) * GATHER_BLOCK]
                bars, columns = self.bars.rows_at(chunk), self.feed.gather(chunk)
                self._block = (block, bars, columns)
            bar = bars[at]
            values: dict[str, Any] = {}
            prev: dict[str, Any] = {}
            for name, now, before in columns:
                values[name] = now[at]
                prev[name] = before[at]
        else:
            feed = self.feed
            bar = self._bar(j)
            values, prev = feed.values_pair(j)
            if feed.live:
                for name, indicator in feed.live.items():
                    prev[name] = indicator.value
                    values[name] = indicator.update(bar)
        ctx.bar = bar
        ctx.values = values
        ctx.prev = prev
        ctx.position = self.broker.position
        return self.strategy.on_bar(ctx)

    # ----- signals to orders --------------------------------------------------------------
    def _act(self, signals: Sequence[Signal], now: float, price: float) -> None:
        broker = self.broker
        planned = broker.position
        for signal in signals:
            side = signal.side
            if side == "exit":
                if planned:
                    broker.close(now)
                    planned = 0.0
                continue
            sign = 1.0 if side == "buy" else -1.0
            if planned * sign > 0:
                continue  # already in that direction: no pyramiding
            available = broker.equity(price)  # what a close at `price` leaves
            if planned:
                available -= self._fee(self.instrument, abs(planned), price)
                broker.close(now)
                planned = 0.0
            stop, target = _exits_for(signal, price, sign)
            size = self.sizer.size(price, available, available, stop)
            if size <= 0:
                self.skipped.append(f"{iso_time(now)} {side}: not enough cash for "
                                    f"one unit at {price:g}")
                continue
            broker.open(side, size, now, stop, target)
            planned = sign * size

    # ----- equity -------------------------------------------------------------------------
    def _mark(self, j: int) -> None:
        account = self.broker.account
        held = account.positions.get(self.instrument.con_id)
        at, cash, qty, basis = self._marks
        at.append(j)
        cash.append(account.cash)
        if held is None:
            qty.append(0.0)
            basis.append(0.0)
        else:
            qty.append(held.quantity)
            basis.append(held.avg_price if held.sec_type == "FUT" else 0.0)

    def _curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Equity and position at every bar's close, from the marks (vectorised)."""
        n = len(self.bars)
        marked, cash_at, qty_at, basis_at = self._marks  # after the start: -1, cash, flat
        cash = np.array([self.config.cash, *cash_at], dtype=float)
        qty = np.array([0.0, *qty_at], dtype=float)
        basis = np.array([0.0, *basis_at], dtype=float)
        # mark k holds from its bar up to the next mark's (the marks' bars increase)
        starts = np.array([0, *marked], dtype=np.intp)
        which = np.repeat(np.arange(len(starts)), np.diff(starts, append=n))
        mult = float(getattr(self.instrument, "multiplier", 1.0))
        position = qty[which]
        equity = cash[which] + position * mult * (self.bars.close - basis[which])
        return equity, position


def _first_touch(low: np.ndarray, high: np.ndarray, start: int, end: int,
                 stop: float | None, target: float | None, position: float) -> int:
    """The first bar in [start, end) whose range reaches the stop or the target, else end."""
    lo, hi = low[start:end], high[start:end]
    hit = np.zeros(len(lo), dtype=bool)
    if position > 0:
        if stop is not None:
            hit |= lo <= stop
        if target is not None:
            hit |= hi >= target
    else:
        if stop is not None:
            hit |= hi >= stop
        if target is not None:
            hit |= lo <= target
    found = np.flatnonzero(hit)
    return start + int(found[0]) if len(found) else end


def _exits_for(signal: Signal, price: float, sign: float) -> tuple[float | None, float | None]:
    """The signal's stop and target, each kept only on the right side of the entry (a
    stop above a long's entry would close it at once)."""
    stop = signal.stop if signal.stop is not None and (price - signal.stop) * sign > 0 else None
    target = signal.target if signal.target is not None and (
        signal.target - price) * sign > 0 else None
    return stop, target
