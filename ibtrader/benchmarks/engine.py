"""`ibtrader bench engine`: ticks through bars, indicators and strategies, and how long
a tick takes to become a signal.

The pipeline is the live one minus the socket: quotes in batches (as the broker adapter
delivers one list per socket read) go to one real `BarAggregator` per symbol (the five
default bar sizes), exactly as `MarketDataService._on_quotes` hands them over; the
aggregators' closed bars go through `QuoteFeed` (a `BarSource`) to
1. `runners`: one `StrategyRunner` per (strategy, symbol), driven as the trading engine's
   `_on_bar_closed` drives them (position from the account, then `on_bar`); latency is
   taken when `on_bar` returns signals: the core alone;
2. `engine`: the real `TradingEngine` with a real SQLite journal in a temp dir; latency is
   taken at its `signal_emitted`, which comes after the write-ahead commit of the signal
   and its decision.
Latency runs from the moment the batch holding the tick is handed in to that moment, so
it includes the ticks ahead of it in the batch. Two batch sizes run by default: 100
quotes, what the IB adapter was measured to deliver per socket read from the simulated
gateway streaming 100 symbols (it sends every symbol's quote each 250 ms), where at a
minute boundary one batch closes 100 bars and the last signal in it waits for all of
them; and 1, a lone tick. Garbage-collector pauses during each run are counted, as they
make most of the tail. The account is a fixed snapshot (flat, no
positions): both paths then see the same positions and must give the same signals.

The garbage collector runs under the app's policy (`ibtrader.runtime_gc.settle`: once
the strategies are warm, one collection, the survivors frozen, a higher young threshold),
applied in each run at the point the app applies it; `gc_policy=None` keeps CPython's
defaults, to compare. Batches that close bars are timed whole ("close bursts"): at a
minute boundary that is every symbol's close back to back, which bounds the latency of
the last signal in the batch from below.

Strategies (on "1 min" bars, warmed from seeded history so they can signal at once):
sma_cross (2 indicators), macd_cross (1), rsi_reversion (RSI + ATR): 5 per symbol.
Quotes are pre-generated before any timing: a seeded random walk per symbol, ~4 quotes a
second (IB's 250 ms snapshots) at a random phase per symbol, cumulative volume rising.
They are then frozen out of the garbage collector (`gc.freeze`): a live app never holds a
million quotes, so their cost to every full collection is not the pipeline's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import math
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ibtrader.core.bars import DEFAULT_BAR_SIZES, BarAggregator, feed_quotes, publish_forming
from ibtrader.core.events import Event
from ibtrader.core.market import Bar, Quote
from ibtrader.core.ports import AccountSnapshot
from ibtrader.runtime_gc import DEFAULT_POLICY, GcPolicy, Settled, restore, settle

GOAL_TICKS_PER_S = 200_000
GOAL_P99_US = 100.0
GOAL_INDICATOR_NS = 300.0
GOAL_SPEEDUP = 1_000
BAR_SIZE = "1 min"
STRATEGIES = (f"sma_cross:bar_size={BAR_SIZE}", f"macd_cross:bar_size={BAR_SIZE}",
              f"rsi_reversion:bar_size={BAR_SIZE}")
QUOTES_PER_SECOND = 4  # per symbol, as IB's 250 ms snapshots for stocks
HISTORY_BARS = 300  # 1-minute bars seeded per symbol: MACD(12, 26, 9) needs ~35
START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC).timestamp()  # on a minute boundary
STEP_SIGMA = 1e-4  # log-return per quote: a 1-minute bar moves ~0.15%
TIME_ZONE = "America/New_York"


# --- input: pre-generated quotes and history ---------------------------------------------

@dataclass
class Market:
    """Everything fed to a run, built once and shared by all runs (quotes are immutable)."""

    symbols: tuple[str, ...]
    history: dict[str, list[Bar]]  # symbol -> seeded 1-minute bars, oldest first
    quotes: list[Quote]  # in time order across symbols

    @property
    def ticks(self) -> int:
        return len(self.quotes)

    def batched(self, size: int) -> list[list[Quote]]:
        quotes = self.quotes
        return [quotes[i:i + size] for i in range(0, len(quotes), size)]


def make_market(symbols: int, seconds: float, seed: int = 11) -> Market:
    """`symbols` random walks: HISTORY_BARS minutes of history, then `seconds` of quotes
    in time order across symbols."""
    rng = np.random.default_rng(seed)
    names = tuple(f"S{i:03d}" for i in range(symbols))
    per_minute = 60 * QUOTES_PER_SECOND
    live = max(1, round(seconds * QUOTES_PER_SECOND))
    steps = HISTORY_BARS * per_minute + live
    start_prices = rng.uniform(20.0, 500.0, (symbols, 1))
    paths = start_prices * np.exp(np.cumsum(rng.normal(0.0, STEP_SIGMA, (symbols, steps)), 1))
    prices = np.round(paths, 2)
    sizes = rng.integers(1, 10, (symbols, steps)) * 100.0
    history = {name: _history_bars(prices[i, :-live], sizes[i, :-live], per_minute)
               for i, name in enumerate(names)}
    # Cumulative day volume goes on from the history's, as the broker's would.
    volumes = np.cumsum(sizes[:, -live:], 1) + sizes[:, :-live].sum(1, keepdims=True)
    phases = rng.uniform(0.0, 1.0 / QUOTES_PER_SECOND, symbols)
    order = np.argsort(phases).tolist()  # each round of quotes in time order across symbols
    last = prices[:, -live:].tolist()
    vols = volumes.tolist()
    quotes: list[Quote] = []
    append = quotes.append
    for k in range(live):
        base = START + k / QUOTES_PER_SECOND
        for i in order:
            p = last[i][k]
            append(Quote(names[i], round(p - 0.01, 2), round(p + 0.01, 2), p, 300.0, 300.0,
                         100.0, vols[i][k], base + phases[i]))
    return Market(names, history, quotes)


def _history_bars(prices: Any, sizes: Any, per_minute: int) -> list[Bar]:
    minutes = prices.reshape(-1, per_minute)
    volume = sizes.reshape(-1, per_minute).sum(1)
    first = START - len(minutes) * 60
    return [Bar(first + 60 * j, float(m[0]), float(m.max()), float(m.min()), float(m[-1]),
                float(v), count=per_minute)
            for j, (m, v) in enumerate(zip(minutes, volume, strict=True))]


# --- the bar source ------------------------------------------------------------------------

class QuoteFeed:
    """A `BarSource` over one `BarAggregator` per symbol, fed batches of quotes the way
    `MarketDataService._on_quotes` feeds them; `batch_ns` is when the current batch came."""

    def __init__(self, market: Market) -> None:
        self.bar_closed: Event[[str, str, Bar]] = Event("bar_closed")
        self.bar_forming: Event[[str, str, Bar]] = Event("bar_forming")
        self.history_ready: Event[[str]] = Event("history_ready")
        self.batch_ns = 0
        self.closed = 0  # bars of BAR_SIZE closed
        self.bursts: list[tuple[int, int]] = []  # (ns, bars closed) of batches closing bars
        self._aggregators: dict[str, BarAggregator] = {}
        for symbol in market.symbols:
            agg = BarAggregator(symbol, DEFAULT_BAR_SIZES, time_zone=TIME_ZONE)
            agg.seed(BAR_SIZE, market.history[symbol], as_of=START)
            agg.bar_closed += self.bar_closed.emit
            self._aggregators[symbol] = agg
        self.bar_closed += self._count

    def _count(self, symbol: str, bar_size: str, bar: Bar) -> None:
        if bar_size == BAR_SIZE:
            self.closed += 1

    def history(self, symbol: str, bar_size: str) -> list[Bar]:
        return self._aggregators[symbol].closed(bar_size)

    def announce(self) -> None:
        """Every symbol's history is in (the engine warms its strategies now)."""
        for symbol in self._aggregators:
            self.history_ready.emit(symbol)

    def on_quotes(self, quotes: list[Quote]) -> None:
        self.batch_ns = time.perf_counter_ns()
        closed_before = self.closed
        touched = feed_quotes(self._aggregators, quotes)  # as the Market Data Service does
        if touched and self.bar_forming:
            for agg in touched.values():
                publish_forming(agg, self.bar_forming.emit)
        if self.closed != closed_before:
            self.bursts.append((time.perf_counter_ns() - self.batch_ns,
                                self.closed - closed_before))


class FlatAccount:
    """The `AccountPort` of both paths: a fixed paper account holding nothing."""

    def __init__(self) -> None:
        self._snapshot = AccountSnapshot(equity=100_000.0, buying_power=400_000.0)

    def account(self) -> AccountSnapshot:
        return self._snapshot


class GcPauses:
    """Garbage-collector pauses while it is entered: the usual cause of latency tails."""

    def __init__(self) -> None:
        self.collections = 0
        self.total_ns = 0
        self.max_ns = 0
        self._began = 0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter_ns()
            return
        pause = time.perf_counter_ns() - self._began
        self.collections += 1
        self.total_ns += pause
        self.max_ns = max(self.max_ns, pause)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


# --- results -------------------------------------------------------------------------------

@dataclass
class PathResult:
    name: str
    latency_at: str  # where the signal is taken as out
    best_s: float
    ticks_per_s: float
    signals: int  # per run
    bars_closed: int  # 1-minute bars closed per run
    latency_us: dict[str, float | None]  # p50, p99, max over the signals of all runs
    latency_samples: int
    gc: dict[str, float]  # collections, total_ms, max_ms over all runs
    bursts: dict[str, float | None]  # batches that closed bars: their size and duration

    @property
    def ticks_ok(self) -> bool:
        return self.ticks_per_s >= GOAL_TICKS_PER_S

    @property
    def p99_ok(self) -> bool:
        p99 = self.latency_us["p99"]
        return p99 is not None and p99 < GOAL_P99_US

    def lines(self) -> list[str]:
        lat, gcs = self.latency_us, self.gc
        return [
            f"  {self.name:<8}{self.ticks_per_s:10,.0f} ticks/s (goal >= {GOAL_TICKS_PER_S:,}) "
            f"{_verdict(self.ticks_ok)}   {self.signals} signals from {self.bars_closed:,} bars",
            f"          p50 {_us(lat['p50'])}  p99 {_us(lat['p99'])} (goal < {GOAL_P99_US:g} us) "
            f"{_verdict(self.p99_ok)}  max {_us(lat['max'])}",
            f"          at {self.latency_at}; {self.latency_samples} samples; GC "
            f"{gcs['collections']:.0f} pauses, longest {gcs['max_ms']:.2f} ms",
            _burst_line(self.bursts, "" if self.name == "runners" else
                        ", their signals decided and journalled"),
        ]


def _burst_line(b: dict[str, float | None], extra: str) -> str:
    if not b["batches"]:
        return "          no batch closed a bar"
    return (f"          close bursts: a batch closing {b['closes']:.0f} bar(s) takes "
            f"{_us(b['p50_us'])} p50, {_us(b['p99_us'])} p99 = {_us(b['per_close_us'])} "
            f"per close (3 strategies each{extra}), over {b['batches']:.0f} batches")


@dataclass
class BatchResult:
    batch: int  # quotes per batch handed in
    runners: PathResult
    engine: PathResult


@dataclass
class EngineBench:
    symbols: int
    ticks: int
    market_seconds: float
    repeat: int
    strategies: tuple[str, ...]
    indicators_per_symbol: int
    results: list[BatchResult]  # the first: the batch size throughput is judged on
    journalled: int  # signals found in the last engine run's journal
    same_signals: bool  # every run of both paths gave the same signals
    indicators: list[dict[str, Any]] = field(default_factory=list)
    gc_policy: str = ""  # what the runs did about the garbage collector

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        first = self.results[0]
        out["goals"] = {"ticks_per_s": GOAL_TICKS_PER_S, "p99_us": GOAL_P99_US,
                        "indicator_ns": GOAL_INDICATOR_NS, "speedup": GOAL_SPEEDUP}
        out["pass"] = {"ticks_per_s": first.engine.ticks_ok,
                       "p99_runner": first.runners.p99_ok, "p99_engine": first.engine.p99_ok,
                       "indicators": all(r["pass"] for r in self.indicators)}
        return out

    def lines(self) -> list[str]:
        names = ", ".join(s.split(":")[0] for s in self.strategies)
        out = [f"{self.symbols} symbols x {self.indicators_per_symbol} indicators ({names} on "
               f"{BAR_SIZE} bars), {self.ticks:,} ticks ({self.market_seconds / 60:.0f} market "
               f"minutes), best of {self.repeat}; latency from the batch handed in",
               "  runners: ticks -> bars -> indicators -> strategies; engine: the same, then "
               "decision -> journal commit -> signal_emitted",
               f"  {self.gc_policy}"]
        for result in self.results:
            out.append(f"batches of {result.batch} quote{'s' if result.batch > 1 else ''}")
            out += result.runners.lines() + result.engine.lines()
        out.append(f"same signals on every run of both paths: "
                   f"{'yes' if self.same_signals else 'NO'}; in the journal: {self.journalled}")
        if self.indicators:
            out.append(f"{'indicator':<14}{'ns/update':>10}{'median':>9}{'ta 500 us':>11}"
                       f"{'speedup':>10}   goals: <= {GOAL_INDICATOR_NS:g} ns, "
                       f">= {GOAL_SPEEDUP:,}x")
            for row in self.indicators:
                out.append(f"{row['name']:<14}{row['incremental_ns']:>10.1f}"
                           f"{row['incremental_ns_median']:>9.1f}{row['ta_recompute_us']:>11.1f}"
                           f"{row['speedup']:>9,}x   {_verdict(row['pass'])}")
        return out


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} us"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _percentiles(ns: Sequence[int]) -> dict[str, float | None]:
    if not ns:  # no signal in the run: nothing to time (None keeps --json valid JSON)
        return {"p50": None, "p99": None, "max": None}
    us = sorted(x / 1_000.0 for x in ns)
    return {"p50": round(statistics.median(us), 1),
            "p99": round(us[min(len(us) - 1, math.ceil(0.99 * len(us)) - 1)], 1),
            "max": round(us[-1], 1)}


# --- the two paths -------------------------------------------------------------------------

@dataclass
class _Run:
    seconds: float
    signals: list[tuple[str, str, str, str]]  # (strategy, symbol, side, reason) in order
    latencies: list[int]
    bars_closed: int
    gc: GcPauses
    bursts: list[tuple[int, int]]
    settled: Settled | None
    journalled: int = 0


def _runner_run(market: Market, batches: list[list[Quote]], policy: GcPolicy | None) -> _Run:
    """Strategy runners fed as the engine's `_on_bar_closed` feeds them, no journal."""
    from ibtrader.core.strategies import load_strategy
    from ibtrader.core.strategy_runner import StrategyRunner
    from ibtrader.services.trading_engine import parse_strategy_spec

    feed = QuoteFeed(market)
    account = FlatAccount()
    specs = [parse_strategy_spec(text) for text in STRATEGIES]
    slots: dict[tuple[str, str], list[tuple[str, StrategyRunner]]] = {}
    for symbol in market.symbols:
        for spec in specs:
            runner = StrategyRunner(load_strategy(spec.name, **spec.params), symbol)
            runner.warm(feed.history(symbol, spec.bar_size))
            slots.setdefault((symbol, spec.bar_size), []).append((spec.name, runner))
    signals: list[tuple[str, str, str, str]] = []
    latencies: list[int] = []
    clock = time.perf_counter_ns

    def on_bar_closed(symbol: str, bar_size: str, bar: Bar) -> None:
        group = slots.get((symbol, bar_size))
        if not group:
            return
        position = account.account().positions.get(symbol, 0.0)
        for name, runner in group:
            runner.position = position
            out = runner.on_bar(bar)
            if out:
                now = clock()
                for signal in out:
                    latencies.append(now - feed.batch_ns)
                    signals.append((name, symbol, signal.side, signal.reason))

    feed.bar_closed += on_bar_closed
    on_quotes = feed.on_quotes
    settled = settle(policy) if policy else None  # the strategies are warm: as the app
    try:
        with GcPauses() as pauses:
            start = time.perf_counter()
            for batch in batches:
                on_quotes(batch)
            seconds = time.perf_counter() - start
    finally:
        if settled:
            restore(settled)
    return _Run(seconds, signals, latencies, feed.closed, pauses, feed.bursts, settled)


async def _engine_run(market: Market, batches: list[list[Quote]], folder: Path,
                      policy: GcPolicy | None) -> _Run:
    """The real TradingEngine over the feed, journalling to SQLite in `folder`."""
    from ibtrader.adapters.journal import SqliteJournal
    from ibtrader.config import Settings
    from ibtrader.core.decisions import SignalRecord
    from ibtrader.services.trading_engine import TradingEngine

    settings = Settings(data_dir=folder, watchlist=market.symbols, strategies=STRATEGIES)
    journal = SqliteJournal(settings.journal_file)
    feed = QuoteFeed(market)
    engine = TradingEngine(feed, journal, FlatAccount(), None, settings)
    signals: list[tuple[str, str, str, str]] = []
    latencies: list[int] = []
    clock = time.perf_counter_ns

    def on_signal(record: SignalRecord) -> None:
        latencies.append(clock() - feed.batch_ns)
        s = record.signal
        signals.append((record.strategy, s.symbol, s.side, s.reason))

    engine.signal_emitted += on_signal
    await engine.start()
    settled = None
    try:
        feed.announce()
        settled = settle(policy) if policy else None  # warm now: where the app settles
        on_quotes = feed.on_quotes
        with GcPauses() as pauses:
            start = time.perf_counter()
            for batch in batches:
                on_quotes(batch)
                # one loop turn per batch, as the adapter's one callback per socket read
                await asyncio.sleep(0)
            seconds = time.perf_counter() - start
    finally:
        if settled:
            restore(settled)
        await engine.stop()
        journal.close()
    with sqlite3.connect(settings.journal_file) as db:
        journalled = db.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
    return _Run(seconds, signals, latencies, feed.closed, pauses, feed.bursts, settled,
                journalled)


def _path(name: str, at: str, runs: list[_Run], ticks: int) -> PathResult:
    best = min(r.seconds for r in runs)
    lat = [x for r in runs for x in r.latencies]
    gcs = {"collections": sum(r.gc.collections for r in runs),
           "total_ms": round(sum(r.gc.total_ns for r in runs) / 1e6, 2),
           "max_ms": round(max(r.gc.max_ns for r in runs) / 1e6, 2)}
    return PathResult(name, at, round(best, 4), round(ticks / best), len(runs[0].signals),
                      runs[0].bars_closed, _percentiles(lat), len(lat), gcs,
                      _bursts([b for r in runs for b in r.bursts]))


def _bursts(bursts: list[tuple[int, int]]) -> dict[str, float | None]:
    """Batches that closed the most bars (a minute boundary: every symbol at once)."""
    if not bursts:
        return {"batches": 0, "closes": None, "p50_us": None, "p99_us": None,
                "per_close_us": None}
    most = max(n for _, n in bursts)
    full = [ns for ns, n in bursts if n == most]
    lat = _percentiles(full)
    p50 = lat["p50"]
    return {"batches": len(full), "closes": most, "p50_us": p50, "p99_us": lat["p99"],
            "per_close_us": None if p50 is None else round(p50 / most, 1)}


def _measure(market: Market, batch: int, repeat: int, policy: GcPolicy | None,
             say: Callable[[str], None]) -> tuple[BatchResult, list[_Run]]:
    batches = market.batched(batch)
    runner_runs, engine_runs = [], []
    for i in range(repeat):
        say(f"batches of {batch}, run {i + 1}/{repeat}: runners")
        runner_runs.append(_runner_run(market, batches, policy))
        say(f"batches of {batch}, run {i + 1}/{repeat}: engine")
        with tempfile.TemporaryDirectory(prefix="ibtrader-bench-") as folder:
            engine_runs.append(asyncio.run(_engine_run(market, batches, Path(folder),
                                                       policy)))
    n = market.ticks
    result = BatchResult(
        batch,
        _path("runners", "StrategyRunner.on_bar's return", runner_runs, n),
        _path("engine", "TradingEngine.signal_emitted, after the journal commit",
              engine_runs, n))
    return result, runner_runs + engine_runs


def run_engine_bench(symbols: int = 100, seconds: float = 2_400.0, *, ticks: int | None = None,
                     batches: Sequence[int] = (100, 1), repeat: int = 3, seed: int = 11,
                     indicator_updates: int = 200_000, recomputes: int = 300,
                     progress: Callable[[str], None] | None = None,
                     gc_policy: GcPolicy | None = DEFAULT_POLICY) -> EngineBench:
    """Run both paths `repeat` times per batch size over the same pre-generated quotes,
    then the per-indicator bench (skipped when `indicator_updates` is 0). `ticks`, when
    given, sets the market time: ticks / (symbols x 4 quotes a second). Throughput is
    judged on the first batch size. `gc_policy` is settled in each run once its
    strategies are warm (None: CPython's default collector settings throughout)."""
    if symbols < 1:
        raise ValueError(f"--symbols must be at least 1, got {symbols}")
    if ticks is not None:
        if ticks < symbols:
            raise ValueError(f"--ticks must be at least one per symbol ({symbols}), got {ticks}")
        seconds = ticks / (symbols * QUOTES_PER_SECOND)
    if not seconds > 0:
        raise ValueError(f"--seconds must be above 0, got {seconds}")
    if indicator_updates < 0:
        raise ValueError(f"--indicator-updates must be 0 (skip) or more, got {indicator_updates}")
    if not batches or min(batches) < 1 or repeat < 1:
        raise ValueError(f"--batch sizes and --repeat must be at least 1, got "
                         f"{list(batches)} and {repeat}")
    say = progress or (lambda _text: None)
    say("generating quotes")
    market = make_market(symbols, seconds, seed)
    results: list[BatchResult] = []
    runs: list[_Run] = []
    gc.collect()
    gc.freeze()
    try:
        for batch in dict.fromkeys(batches):
            result, done = _measure(market, batch, repeat, gc_policy, say)
            results.append(result)
            runs += done
    finally:
        gc.unfreeze()
    rows: list[dict[str, Any]] = []
    if indicator_updates:
        from ibtrader.core.indicators.bench import run_indicator_bench

        say("indicators")
        for row in run_indicator_bench(indicator_updates, recomputes):
            ok = row["incremental_ns"] <= GOAL_INDICATOR_NS and row["speedup"] >= GOAL_SPEEDUP
            rows.append({**row, "pass": ok})
    return EngineBench(
        symbols, market.ticks, market.ticks / (symbols * QUOTES_PER_SECOND), repeat, STRATEGIES,
        indicators_per_symbol=_indicator_count(), results=results,
        journalled=runs[-1].journalled, same_signals=all(r.signals == runs[0].signals
                                                         for r in runs),
        indicators=rows, gc_policy=_policy_text(runs, gc_policy))


def _policy_text(runs: list[_Run], policy: GcPolicy | None) -> str:
    if policy is None:
        return f"GC: CPython defaults {gc.get_threshold()}, nothing frozen after warm-up"
    frozen = max((r.settled.frozen for r in runs if r.settled), default=0)
    return (f"GC: app policy, settled after warm-up (collect, freeze ~{frozen:,} objects, "
            f"thresholds ({policy.gen0}, {policy.gen1}, {policy.gen2}))")


def _indicator_count() -> int:
    from ibtrader.core.strategies import load_strategy
    from ibtrader.services.trading_engine import parse_strategy_spec

    specs = [parse_strategy_spec(text) for text in STRATEGIES]
    return sum(len(load_strategy(s.name, **s.params).indicators()) for s in specs)
