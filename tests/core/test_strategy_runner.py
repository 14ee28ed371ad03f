"""StrategyRunner: the values a strategy sees equal ta's batch values, prev is the bar
before, forming previews change nothing, warm-up emits nothing, re-sent bars are refused."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from ibtrader.core.indicators import compute_batch, make_indicator
from ibtrader.core.indicators.sample import random_ohlcv
from ibtrader.core.market import Bar
from ibtrader.core.strategies import load_strategy
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Signal, Strategy
from ibtrader.core.strategy_runner import StaleBar, StrategyRunner, bench_runner

N = 3_000


def bars_of(frame) -> list[Bar]:
    return [Bar(r.time, r.open, r.high, r.low, r.close, r.volume)
            for r in frame.itertuples(index=False)]


@pytest.fixture(scope="module")
def frame():
    return random_ohlcv(N, seed=7)


@pytest.fixture(scope="module")
def bars(frame) -> list[Bar]:
    return bars_of(frame)


class Recorder(Strategy):
    """Copies what it sees; a buy whenever the close is above the SMA, to count calls."""

    name = "recorder_test"
    sees_forming = True

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.seen: list[tuple[bool, float, dict[str, Any], dict[str, Any], float]] = []

    def indicators(self):
        return {"sma": make_indicator("sma", period=5), "atr": make_indicator("atr", period=7)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        self.seen.append((ctx.forming, ctx.bar.time, dict(ctx.values), dict(ctx.prev),
                          ctx.position))
        if ctx.values["sma"] is not None and ctx.bar.close > ctx.values["sma"]:
            return [self.signal(ctx, "buy", "above the average")]
        return NO_SIGNALS


def test_values_equal_ta_batch_after_warmup(frame, bars):
    strategy = load_strategy("supertrend")
    runner = StrategyRunner(strategy, "AAPL")
    runner.warm(bars[:1_000])
    atr, rsi = [], []
    for bar in bars[1_000:]:
        runner.on_bar(bar)
        atr.append(runner.values["atr"])
        rsi.append(runner.values["rsi"])
    want_atr = compute_batch("atr", frame, period=10).to_numpy()[1_000:]
    want_rsi = compute_batch("rsi", frame, period=14).to_numpy()[1_000:]
    np.testing.assert_allclose(atr, want_atr, rtol=0, atol=1e-9)
    np.testing.assert_allclose(rsi, want_rsi, rtol=0, atol=1e-9)
    st = compute_batch("supertrend", frame, atr_period=10, multiplier=3.0)
    last = runner.values["st"]
    assert math.isclose(last.value, st.iloc[-1, 0], abs_tol=1e-9)


def test_signals_are_the_crosses_of_the_batch_averages(frame, bars):
    runner = StrategyRunner(load_strategy("sma_cross", fast=10, slow=30), "AAPL")
    got = [(s.time, s.side) for bar in bars for s in runner.on_bar(bar) if s.side != "exit"]
    fast = compute_batch("sma", frame, period=10).to_numpy()
    slow = compute_batch("sma", frame, period=30).to_numpy()
    want = []
    for i in range(1, N):
        if np.isnan(slow[i - 1]):
            continue
        if fast[i - 1] < slow[i - 1] and fast[i] > slow[i]:
            want.append((frame.time[i], "buy"))
        elif fast[i - 1] > slow[i - 1] and fast[i] < slow[i]:
            want.append((frame.time[i], "sell"))
    assert len(want) > 20  # the series has plenty of crosses to compare
    assert got == want


def test_prev_is_the_bar_before_and_position_is_passed(bars):
    strategy = Recorder()
    runner = StrategyRunner(strategy, "MSFT")
    runner.position = -3.0
    for bar in bars[:50]:
        runner.on_bar(bar)
    seen = strategy.seen
    assert [s[1] for s in seen] == [b.time for b in bars[:50]]
    assert seen[0][3] == {"sma": None, "atr": None}
    for before, now in itertools.pairwise(seen):
        assert now[3] == before[2]
    assert seen[4][2]["sma"] == pytest.approx(sum(b.close for b in bars[:5]) / 5, abs=1e-12)
    assert {s[4] for s in seen} == {-3.0}


def test_forming_preview_does_not_mutate(bars):
    live, twin = Recorder(), Recorder()
    runner, control = StrategyRunner(live, "X"), StrategyRunner(twin, "X")
    runner.warm(bars[:100])
    control.warm(bars[:100])
    for bar in bars[100:200]:
        # three ticks of the forming bar (the last one already the final bar), then it closes
        early = Bar(bar.time, bar.open, bar.open, bar.open, bar.open, 0.0)
        later = Bar(bar.time, bar.open, bar.open, bar.low, bar.low, bar.volume / 2)
        for forming in (early, later, bar):
            runner.on_forming(forming)
        a, b = runner.on_bar(bar), control.on_bar(bar)
        assert a == b
        assert runner.values == control.values and runner.prev == control.prev
    forming_seen = [s for s in live.seen if s[0]]
    closed_seen = [s for s in live.seen if not s[0]]
    assert len(forming_seen) == 300 and closed_seen == twin.seen
    # the last preview of each bar saw what its close then committed, prev = last closed
    for i in range(100):
        preview, closed = forming_seen[3 * i + 2], closed_seen[i]
        assert preview[2] == pytest.approx(closed[2], abs=1e-12)
        assert preview[3] == closed[3]


def test_forming_is_ignored_by_strategies_that_do_not_ask(bars):
    runner = StrategyRunner(load_strategy("sma_cross"), "X")
    runner.warm(bars[:100])
    before = dict(runner.values)
    assert runner.on_forming(bars[100]) is NO_SIGNALS
    assert runner.values == before and runner.bars_seen == 100


def test_warm_emits_nothing_and_skips_overlap(bars):
    strategy = Recorder()
    runner = StrategyRunner(strategy, "X")
    assert runner.warm(bars[:200]) == 200
    assert strategy.seen == [] and runner.bars_seen == 200
    assert runner.warm(bars[150:250]) == 50  # the overlap is skipped, the rest used
    assert runner.last_time == bars[249].time


def test_a_resent_bar_is_refused(bars):
    runner = StrategyRunner(load_strategy("sma_cross"), "X")
    runner.on_bar(bars[0])
    runner.on_bar(bars[1])
    values = dict(runner.values)
    with pytest.raises(StaleBar, match="does not start after"):
        runner.on_bar(bars[1])
    assert runner.values == values and runner.bars_seen == 2


def test_per_bar_cost_is_small(bars):
    ns = bench_runner(load_strategy("sma_cross"), bars)
    assert ns < 20_000  # generous for a loaded CI box; measured ~1-2 µs here
