"""`Strategy.candidate_bars`: a strategy's own vectorised pre-filter. A backtest calls
`on_bar` only on the bars it names, so it must never change a trade - only the time taken."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from ibtrader.backtest import runner as runner_module
from ibtrader.backtest.runner import BacktestConfig, BacktestRunner, RunOutput
from ibtrader.backtest.synthetic import random_walk
from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.strategies import load_strategy
from ibtrader.core.strategies.sma_cross import SmaCross
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Param, Signal, Strategy
from ibtrader.sim.commissions import PercentOfValue


class RsiBands(Strategy):
    """What a trader might write: long when RSI climbs back over `low`, short when it
    falls back under `high`, each with a stop 3% away, and a pre-filter of their own."""

    name = "rsi_bands"
    params = (Param("period", int, 14, low=2, high=100),
              Param("low", float, 30.0), Param("high", float, 70.0))

    def indicators(self) -> dict[str, Indicator[Any]]:
        return {"rsi": make_indicator("rsi", period=self.p.period)}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        now, before = ctx.values["rsi"], ctx.prev["rsi"]
        if before is None:
            return NO_SIGNALS
        price = ctx.bar.close
        if before < self.p.low <= now:
            return [self.signal(ctx, "buy", "rsi up", stop=price * 0.97)]
        if before > self.p.high >= now:
            return [self.signal(ctx, "sell", "rsi down", stop=price * 1.03)]
        return NO_SIGNALS

    def candidate_bars(self, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
        rsi = values.get("rsi")
        if rsi is None:
            return None
        with np.errstate(invalid="ignore"):  # NaN in the warm-up: never a cross
            up = (rsi[:-1] < self.p.low) & (rsi[1:] >= self.p.low)
            down = (rsi[:-1] > self.p.high) & (rsi[1:] <= self.p.high)
        return np.flatnonzero(up | down) + 1


def trades_of(out: RunOutput) -> list[tuple[Any, ...]]:
    return [tuple(t) for t in out.trades]


def both_ways(make: Any, series: Any, **config: Any) -> tuple[RunOutput, RunOutput]:
    runs = [BacktestRunner(make(), series, BacktestConfig(prefilter=on, **config)).run()
            for on in (True, False)]
    return runs[0], runs[1]


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_traders_own_pre_filter_gives_the_trades_of_the_full_loop(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner_module, "GATHER_BLOCK", 16)  # many blocks of candidates
    series = random_walk(4000, seed, trend=0.0002 * (seed - 6))
    fast, full = both_ways(RsiBands, series, sizing="risk",
                           commissions=PercentOfValue(0.0005))
    assert len(fast.trades) > 20
    assert {t.exit_reason for t in fast.trades} >= {"stop", "signal"}
    assert trades_of(fast) == trades_of(full)
    assert fast.equity.tolist() == full.equity.tolist()
    assert fast.final_position == full.final_position
    assert fast.bars_visited < full.bars_visited / 2


class Recorder(SmaCross):
    """SmaCross that notes what each `on_bar` saw, with a pre-filter naming every bar."""

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.seen: dict[float, tuple[Any, ...]] = {}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        self.seen[ctx.bar.time] = (tuple(ctx.bar), dict(ctx.values), dict(ctx.prev),
                                   ctx.position)
        return super().on_bar(ctx)

    def candidate_bars(self, values: Mapping[str, np.ndarray]) -> np.ndarray | None:
        return np.arange(len(values["slow"]))


@pytest.mark.parametrize("block", [4096, 7])
def test_the_strategy_sees_the_same_bars_values_and_position_either_way(
        block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values gathered at once for the candidate bars (in blocks) equal those read bar by
    bar, including the warm-up's None and the bar before the first one."""
    monkeypatch.setattr(runner_module, "GATHER_BLOCK", block)
    series = random_walk(600, 3)
    with_filter, without = Recorder(), Recorder()
    BacktestRunner(with_filter, series, BacktestConfig(sizing="all-in")).run()
    BacktestRunner(without, series, BacktestConfig(sizing="all-in", prefilter=False)).run()
    assert len(with_filter.seen) == len(without.seen) == 600
    assert with_filter.seen == without.seen
    first = with_filter.seen[series.time[0]]
    assert first[1] == {"fast": None, "slow": None} and first[2] == {"fast": None,
                                                                      "slow": None}
    warm = with_filter.seen[series.time[19]]  # SMA(20) has its first value on bar 19
    assert warm[1]["slow"] is not None and warm[2]["slow"] is None


def test_sma_cross_names_exactly_the_bars_where_it_signals() -> None:
    series = random_walk(3000, 9)
    recorder = Recorder()
    BacktestRunner(recorder, series, BacktestConfig(sizing="all-in")).run()
    signalled = [i for i, t in enumerate(series.time.tolist())
                 if SmaCross.on_bar(recorder, _context(recorder.seen[t]))]
    strategy = load_strategy("sma_cross")
    runner = BacktestRunner(strategy, series, BacktestConfig())
    assert strategy.candidate_bars(runner.feed.arrays).tolist() == signalled
    assert strategy.candidate_bars({"fast": runner.feed.arrays["fast"]}) is None


def _context(seen: tuple[Any, ...]) -> BarContext:
    from ibtrader.core.indicators.frames import HistoryBar

    ctx = BarContext("SYN")
    ctx.bar, ctx.values, ctx.prev, ctx.position = HistoryBar(*seen[0]), *seen[1:]
    return ctx


def test_a_strategy_without_a_pre_filter_is_called_on_every_bar() -> None:
    series = random_walk(1500, 2)
    strategy = load_strategy("rsi_reversion")
    assert strategy.candidate_bars({}) is None
    output = BacktestRunner(strategy, series, BacktestConfig()).run()
    assert output.bars_visited == len(series)


class Wrong(SmaCross):
    def __init__(self, bars: Any) -> None:
        super().__init__()
        self.bars = bars

    def candidate_bars(self, values: Mapping[str, np.ndarray]) -> Any:
        return self.bars


@pytest.mark.parametrize("bars,message", [
    (np.array([5, 3, 9]), r"bar numbers in \[0, 200\) in increasing order"),
    (np.array([4, 4]), "increasing order"),
    (np.array([-1, 3]), r"in \[0, 200\)"),
    (np.array([3, 200]), r"in \[0, 200\)"),
    (np.array([1.0, 2.0]), "1-D array of bar numbers, got float64"),
    (np.array([[1, 2]]), r"shape \(1, 2\)"),
])
def test_a_pre_filter_with_bad_bar_numbers_is_refused(bars: np.ndarray,
                                                      message: str) -> None:
    runner = BacktestRunner(Wrong(bars), random_walk(200, 1), BacktestConfig())
    with pytest.raises(ValueError, match=f"sma_cross.candidate_bars must return .*{message}"):
        runner.run()


def test_an_empty_pre_filter_means_no_trades() -> None:
    output = BacktestRunner(Wrong(np.array([], dtype=int)), random_walk(300, 1),
                            BacktestConfig()).run()
    assert output.trades == [] and output.bars_visited == 0
    assert output.equity.tolist() == [10_000.0] * 300
