"""`ibtrader bench outbox`: what the backing services cost the engine's loop, each against
its peer measured in the same run.

1. The journal's writes of one traded signal — the signal and its decision in one
   transaction, the decision's move to submitted, the order saved four times with its events
   (created, sent, working, filled), its execution and then its commission — timed as the
   loop pays them, into three journals in turns (signal by signal, so all three see the
   same machine load): no mirrors (the peer), the NocoDB mirror, and the NocoDB mirror
   plus the n8n notification mirror. Each mirror describes outbox records inside the write's
   transaction; what it costs is the difference. The outbox rows each configuration made
   are counted too.
2. The loop's lateness while a burst of decisions is charted (the real ChartRecorder and
   render_bars_png, CHART_BARS bars a chart): a 5 ms ticker on the loop, idle (the peer),
   with the charts drawn on the recorder's worker thread, and with them drawn in its render
   process (as the app runs it). Each recorder renders one chart before the burst, so the
   burst times the steady state, not the first import or the process's spawn.
"""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ibtrader.services.chart_recorder import CHART_BARS  # light: no matplotlib

if TYPE_CHECKING:
    from ibtrader.adapters.journal import SqliteOrderJournal
    from ibtrader.core.decisions import Decision
    from ibtrader.core.market import Bar

JOURNALS = ("no mirrors", "nocodb", "nocodb+notify")
CHARTING = ("idle", "worker thread", "render process")
WARMUP = 20  # traded signals per journal not counted: statement caches, first pages
TICK = 0.005  # the ticker's sleep, seconds
SYMBOL = "AAPL"
BAR_SIZE = "1 min"
NOW = 1_700_000_000.0
Writes = Callable[["SqliteOrderJournal"], None]


@dataclass(frozen=True)
class JournalCost:
    """Microseconds of journal writes per traded signal, in one configuration."""

    mirrors: str  # one of JOURNALS
    signals: int  # counted, after the warm-up
    p50_us: float
    p99_us: float
    mean_us: float
    outbox_rows: dict[str, int]  # per sink, for every signal written (warm-up too)
    ratio_p50: float  # p50 over the peer's (no mirrors)


@dataclass(frozen=True)
class LoopLateness:
    """How late a 5 ms ticker on the loop woke, in milliseconds, while charting."""

    charting: str  # one of CHARTING
    charts: int  # charts of the burst saved (0 for the idle peer)
    seconds: float  # from the first decision to the last chart saved (idle: as long)
    ticks: int
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class OutboxBenchResult:
    signals: int
    decisions: int
    seconds: float  # the whole run
    journal: tuple[JournalCost, ...]
    charts: tuple[LoopLateness, ...]

    def cost(self, mirrors: str) -> JournalCost:
        return next(c for c in self.journal if c.mirrors == mirrors)

    def lateness(self, charting: str) -> LoopLateness:
        return next(c for c in self.charts if c.charting == charting)

    def lines(self) -> list[str]:
        out = [f"journal writes of {self.signals} traded signals (signal+decision, decision "
               f"update, 4 order saves, 2 executions), in turns",
               f"{'us per traded signal':24}{'p50':>9}{'p99':>9}{'mean':>9}{'x p50':>8}"
               f"  outbox rows"]
        for c in self.journal:
            rows = ", ".join(f"{sink} {n}" for sink, n in sorted(c.outbox_rows.items())) \
                or "none"
            out.append(f"{c.mirrors:24}{c.p50_us:9.1f}{c.p99_us:9.1f}{c.mean_us:9.1f}"
                       f"{c.ratio_p50:8.2f}  {rows}")
        out += ["", f"loop lateness of a {TICK * 1000:g} ms ticker while {self.decisions} "
                    f"decisions are charted ({CHART_BARS} bars each)",
                f"{'ms':24}{'p50':>9}{'p99':>9}{'max':>9}{'ticks':>8}{'seconds':>9}"]
        for c in self.charts:
            out.append(f"{c.charting:24}{c.p50_ms:9.2f}{c.p99_ms:9.2f}{c.max_ms:9.2f}"
                       f"{c.ticks:8d}{c.seconds:9.2f}")
        out.append(f"({self.seconds:.1f} s in all)")
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_outbox_bench(signals: int = 2_000, decisions: int = 20, *,
                     progress: Callable[[str], None] | None = None) -> OutboxBenchResult:
    if signals < 1 or decisions < 1:
        raise ValueError(f"signals and decisions must be at least 1, got {signals} and "
                         f"{decisions}")
    say = progress or (lambda _text: None)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        say(f"journal: {signals} + {WARMUP} warm-up traded signals into each of "
            f"{len(JOURNALS)} journals")
        journal = journal_costs(Path(tmp) / "journals", signals)
        say(f"charts: a burst of {decisions} decisions, idle / worker thread / render process")
        charts = asyncio.run(chart_lateness(Path(tmp) / "charts", decisions))
    return OutboxBenchResult(signals, decisions, time.perf_counter() - started, journal, charts)


# --- 1. the journal's writes ---------------------------------------------------------------------


def journal_costs(folder: Path, signals: int) -> tuple[JournalCost, ...]:
    from ibtrader.adapters.journal import SqliteOrderJournal
    from ibtrader.adapters.journal.outbox import SqliteOutbox
    from ibtrader.adapters.nocodb.journal_mirror import NocoMirror
    from ibtrader.services.notifier import NotificationMirror

    mirrors: dict[str, list[Any]] = {
        "no mirrors": [], "nocodb": [NocoMirror()],
        "nocodb+notify": [NocoMirror(), NotificationMirror()]}
    journals = {name: SqliteOrderJournal(folder / f"{i}.sqlite", mirrors=mirrors[name])
                for i, name in enumerate(JOURNALS)}
    samples: dict[str, list[float]] = {name: [] for name in JOURNALS}
    try:
        # built before any timing: the engine's own work (deciding, the order's lifecycle)
        # is not the journal's, and all three journals get the very same rows
        plans = [traded_signal(i) for i in range(signals + WARMUP)]
        gc.collect()
        for i, plan in enumerate(plans):
            # a rotating order: no configuration always goes first (warm caches, a checkpoint)
            for k in range(len(JOURNALS)):
                name = JOURNALS[(i + k) % len(JOURNALS)]
                j = journals[name]
                start = time.perf_counter()
                for write in plan:
                    write(j)
                took = time.perf_counter() - start
                if i >= WARMUP:
                    samples[name].append(took)
        rows: dict[str, dict[str, int]] = {}
        for name, j in journals.items():
            box = SqliteOutbox(j.path)
            try:
                rows[name] = {sink: s.depth + s.failed for sink, s in box.stats().items()}
            finally:
                box.close()
    finally:
        for j in journals.values():
            j.close()
    peer = statistics.median(samples["no mirrors"])
    return tuple(_cost(name, samples[name], rows[name], peer) for name in JOURNALS)


def _cost(name: str, samples: list[float], rows: dict[str, int], peer: float) -> JournalCost:
    us = sorted(s * 1e6 for s in samples)
    return JournalCost(name, len(us), statistics.median(us), quantile(us, 0.99),
                       statistics.fmean(us), rows, statistics.median(samples) / peer)


def traded_signal(i: int) -> list[Writes]:
    """The journal writes of one signal traded end to end, as the engine and the order
    manager make them: the signal with its (auto-traded, so accepted) decision in one
    transaction, the decision submitted, the order created, sent, working and filled, the
    execution and then its commission report."""
    from ibtrader.core.broker import BrokerFill, BrokerOrderStatus
    from ibtrader.core.decisions import DecisionContext, DecisionState, SignalRecord, decide
    from ibtrader.core.orders.lifecycle import apply_fill, apply_status, mark_sent, new_order
    from ibtrader.core.orders.request import OrderRequest
    from ibtrader.core.sizing import SizingRules
    from ibtrader.core.strategy import Signal

    t = NOW + 60 * i
    values = {"atr": 1.5, "rsi": 55.2, "supertrend": 99.0, "direction": 1}
    signal = Signal(SYMBOL, "buy", 0.7, "SuperTrend turned bullish", values, 97.0, 106.0,
                    t - 60)
    record = SignalRecord(_id(t, i, 0), "supertrend", BAR_SIZE, signal, t)
    ctx = DecisionContext(price=100.0, equity=100_000.0, buying_power=1e6, position=0.0,
                          auto_trade=True)
    decision = decide(record, ctx, SizingRules(), t, decision_id=_id(t, i, 1))
    if decision.state is not DecisionState.ACCEPTED:
        raise RuntimeError(f"the bench's decision was {decision.state.value}, not accepted: "
                           f"{decision.reason}")
    submitted = decision.moved(DecisionState.SUBMITTED, t + 0.001)
    key = f"ibt-{i:08d}"
    request = OrderRequest(SYMBOL, "buy", decision.quantity, key, order_type="mkt",
                           decision_id=decision.id, source="decision", created=t + 0.001)
    qty = decision.quantity
    fill = BrokerFill(f"0000e{i:08x}.01.01", key, 7 + i, 9000 + i, SYMBOL, "BUY", qty, 100.02,
                      t + 0.05)
    commission = BrokerFill(fill.exec_id, key, fill.broker_id, fill.perm_id, SYMBOL, "BUY",
                            qty, 100.02, t + 0.05, commission=1.0)
    order, created = new_order(request, t + 0.001)
    sent, sent_events = mark_sent(order, fill.broker_id, t + 0.002)
    working, working_events = apply_status(sent, BrokerOrderStatus(
        key, fill.broker_id, fill.perm_id, "Submitted", 0, qty, math.nan, t + 0.02))
    filled, filled_events = apply_fill(working, fill)

    def signal_and_decision(j: SqliteOrderJournal) -> None:
        with j.atomic():
            j.record_signal(record)
            j.record_decision(decision)

    return [signal_and_decision,
            lambda j: j.update_decision(submitted),
            lambda j: j.save_order(order, created),
            lambda j: j.save_order(sent, sent_events),
            lambda j: j.save_order(working, working_events),
            lambda j: j.save_order(filled, filled_events),
            lambda j: j.record_execution(fill, key),
            lambda j: j.record_execution(commission, key)]


def _id(t: float, i: int, part: int) -> str:
    # the journal's 26-character shape (ms, then 14 hex digits), unique per signal and part
    return f"{int(t * 1000):012x}{i * 2 + part:014x}"


# --- 2. charts and the loop ----------------------------------------------------------------------


class _Bars:
    """The BarSource port over one symbol's bars in memory (the Market Data Service's)."""

    def __init__(self, bars: list[Bar]) -> None:
        from ibtrader.core.events import Event

        self.bar_closed: Event[Any] = Event("bar_closed")
        self.bar_forming: Event[Any] = Event("bar_forming")
        self._bars = bars

    def history(self, symbol: str, bar_size: str) -> list[Bar]:
        return self._bars if (symbol, bar_size) == (SYMBOL, BAR_SIZE) else []


def minute_bars(n: int, end: float = NOW) -> list[Bar]:
    """A wavy minute series with volume: what a chart of real bars draws."""
    from ibtrader.core.market import Bar

    out = []
    for i in range(n):
        o = 100 + 3 * math.sin(i / 9) + math.sin(i / 2.3)
        c = 100 + 3 * math.sin((i + 1) / 9) + math.sin((i + 1) / 2.3)
        out.append(Bar(end - 60 * (n - i), o, max(o, c) + 0.3, min(o, c) - 0.3, c,
                       1000 + 37 * (i % 11)))
    return out


def burst_decisions(k: int, first: int) -> list[Decision]:
    from ibtrader.core.decisions import DecisionContext, SignalRecord, decide
    from ibtrader.core.sizing import SizingRules
    from ibtrader.core.strategy import Signal

    out = []
    for i in range(first, first + k):
        t = NOW + i
        signal = Signal(SYMBOL, "buy", 0.7, "burst", {}, 97.0, 106.0, t - 60)
        record = SignalRecord(_id(t, i, 0), "supertrend", BAR_SIZE, signal, t)
        ctx = DecisionContext(price=100.0, equity=100_000.0, buying_power=1e6, position=0.0)
        out.append(decide(record, ctx, SizingRules(), t, decision_id=_id(t, i, 1)))
    return out


async def chart_lateness(folder: Path, decisions: int) -> tuple[LoopLateness, ...]:
    from ibtrader.adapters.charts.render import render_bars_png

    bars = minute_bars(CHART_BARS)
    render_bars_png(SYMBOL, BAR_SIZE, bars)  # matplotlib imported and warm before any timing
    thread = await _burst(folder / "thread", bars, decisions, in_process=False)
    process = await _burst(folder / "process", bars, decisions, in_process=True)
    # the peer: the same ticker on an idle loop, as long as the longer burst
    idle = await _ticking(max(thread.seconds, process.seconds, 0.5))
    return (LoopLateness("idle", 0, *idle), thread, process)


async def _burst(folder: Path, bars: list[Bar], decisions: int, *,
                 in_process: bool) -> LoopLateness:
    from ibtrader.adapters.charts.files import ChartFiles
    from ibtrader.adapters.charts.render import render_bars_png, render_equity_png
    from ibtrader.services.chart_recorder import ChartRecorder

    recorder = ChartRecorder(_Bars(bars), ChartFiles(folder, "charts"), render_bars_png,
                             render_equity_png, bar_size_for=lambda _s, _st: BAR_SIZE,
                             max_queue=max(decisions, 1) + 1, in_process=in_process)
    recorder.start()
    try:
        await _charted(recorder, burst_decisions(1, 0))  # the first: a spawn, an import
        gc.collect()
        late: list[float] = []
        stop = asyncio.Event()
        ticking = asyncio.ensure_future(_ticker(late, stop))
        await asyncio.sleep(0.05)  # the ticker running before the burst
        late.clear()
        started = time.perf_counter()
        await _charted(recorder, burst_decisions(decisions, 1))
        seconds = time.perf_counter() - started
        stop.set()
        await ticking
    finally:
        await recorder.stop()
    if recorder.failed or recorder.dropped:
        raise RuntimeError(f"charts failed ({recorder.failed}) or dropped ({recorder.dropped})")
    return LoopLateness(CHARTING[2] if in_process else CHARTING[1], decisions, seconds,
                        *_late(late))


async def _charted(recorder: Any, decisions: Sequence[Decision], timeout: float = 120.0
                   ) -> None:
    """Hand the decisions to the recorder as the engine does, and wait for every chart."""
    left = len(decisions)
    done = asyncio.Event()

    def on_saved(_key: str) -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.set()

    recorder.chart_saved += on_saved
    try:
        for d in decisions:
            recorder.on_decision(d)
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        recorder.chart_saved -= on_saved


async def _ticker(late: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK)
        late.append(time.perf_counter() - start - TICK)


async def _ticking(seconds: float) -> tuple[float, int, float, float, float]:
    late: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.ensure_future(_ticker(late, stop))
    await asyncio.sleep(0.05)
    late.clear()
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    stop.set()
    await ticking
    return (time.perf_counter() - started, *_late(late))


def _late(late: list[float]) -> tuple[int, float, float, float]:
    if not late:
        raise RuntimeError("the ticker never woke: the loop was held the whole time")
    ms = sorted(max(s, 0.0) * 1000 for s in late)
    return len(ms), statistics.median(ms), quantile(ms, 0.99), ms[-1]


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values by linear interpolation between the closest ranks."""
    pos = (len(ordered) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
