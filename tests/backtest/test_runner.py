"""The backtest runner's trading semantics on bars small enough to check by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ibtrader.backtest.bars import BarSeries
from ibtrader.backtest.runner import BacktestConfig, BacktestRunner, RunOutput
from ibtrader.backtest.synthetic import random_walk
from ibtrader.core.strategies import load_strategy
from ibtrader.core.strategy import NO_SIGNALS, BarContext, Signal, Strategy
from ibtrader.sim.commissions import PercentOfValue

#            open   high   low    close
ROWS = [(100.0, 101.0, 99.0, 100.0),
        (102.0, 104.0, 101.0, 103.0),
        (104.0, 106.0, 103.0, 105.0),
        (105.0, 107.0, 95.0, 96.0),
        (96.0, 97.0, 94.0, 95.0),
        (95.0, 96.0, 90.0, 91.0)]


def bars() -> BarSeries:
    o, h, low, c = (np.array(col) for col in zip(*ROWS, strict=True))
    return BarSeries("TEST", 3600.0 * np.arange(len(ROWS)), o, h, low, c,
                     np.full(len(ROWS), 1000.0))


class Scripted(Strategy):
    """Signals at fixed bars: {bar: [(side, stop, target), ...]}."""

    name = "scripted"

    def __init__(self, script: dict[int, list[tuple[str, float | None, float | None]]]):
        super().__init__()
        self.script = script
        self.positions: dict[int, float] = {}

    def on_bar(self, ctx: BarContext) -> Sequence[Signal]:
        i = int(ctx.bar.time // 3600)
        self.positions[i] = ctx.position
        return [self.signal(ctx, side, "script", stop=stop, target=target)
                for side, stop, target in self.script.get(i, [])] or NO_SIGNALS


def run(script: dict, **config: object) -> RunOutput:
    settings = {"sizing": "all-in", **config}
    return BacktestRunner(Scripted(script), bars(), BacktestConfig(**settings)).run()


def test_next_open_fills_at_the_following_open_and_close_fills_at_the_close() -> None:
    script = {1: [("buy", None, None)], 3: [("exit", None, None)]}
    nxt = run(script, fill="next-open").trades
    assert [(t.entry_bar, t.entry_price, t.size, t.exit_bar, t.exit_price) for t in nxt] == [
        (2, 104.0, 96.0, 4, 96.0)]  # 10000 // 104 = 96 units
    now = run(script, fill="close").trades
    assert [(t.entry_bar, t.entry_price, t.size, t.exit_bar, t.exit_price) for t in now] == [
        (1, 103.0, 97.0, 3, 96.0)]
    assert nxt[0].pnl == pytest.approx(96 * (96.0 - 104.0))


def test_the_strategy_sees_the_position_held_at_each_close() -> None:
    strategy = Scripted({1: [("buy", None, None)], 3: [("exit", None, None)]})
    BacktestRunner(strategy, bars(), BacktestConfig(sizing="all-in",
                                                    prefilter=False)).run()
    assert strategy.positions == {0: 0.0, 1: 0.0, 2: 96.0, 3: 96.0, 4: 0.0, 5: 0.0}


def test_a_stop_on_the_signal_exits_when_a_later_bar_reaches_it() -> None:
    out = run({1: [("buy", 97.0, None)]})
    (trade,) = out.trades
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (3, 97.0, "stop")
    assert out.final_position == 0


def test_a_target_exits_at_its_limit_when_the_high_reaches_it() -> None:
    (trade,) = run({0: [("buy", 90.0, 105.5)]}).trades
    assert (trade.entry_bar, trade.entry_price) == (1, 102.0)
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (2, 105.5, "target")


def test_a_short_stop_can_trigger_in_its_entry_bar_on_the_high() -> None:
    # short at bar 4's open (96), stop 96.5: that same bar trades up to 97
    (trade,) = run({3: [("sell", 96.5, None)]}).trades
    assert (trade.side, trade.entry_bar, trade.entry_price) == ("short", 4, 96.0)
    assert (trade.exit_bar, trade.exit_price, trade.exit_reason) == (4, 96.5, "stop")


def test_a_stop_gapped_through_fills_at_the_open() -> None:
    series = bars()
    series.open[3], series.high[3] = 96.0, 97.0  # bar 3 opens below the stop at 100
    strategy = Scripted({1: [("buy", 100.0, None)]})
    (trade,) = BacktestRunner(strategy, series, BacktestConfig(sizing="all-in")).run().trades
    assert (trade.exit_bar, trade.exit_price) == (3, 96.0)


def test_a_reversal_closes_first_then_opens_the_other_way() -> None:
    out = run({1: [("buy", None, None)], 2: [("sell", None, None)]})
    long_, = out.trades
    assert (long_.side, long_.entry_price, long_.exit_price) == ("long", 104.0, 105.0)
    # after the close the cash is 10000 + 96 * 1 = 10096: 10096 // 105 = 96 units short
    assert out.final_position == -96.0
    assert out.equity[-1] == pytest.approx(10_096 + 96 * (105.0 - 91.0))


def test_risk_sizing_risks_the_percent_over_the_stop_distance() -> None:
    out = run({1: [("buy", 97.0, None)]}, sizing="risk", risk_pct=1.0)
    assert out.trades[0].size == 14  # 1% of 10000 = 100 over (104 - 97) = 14.3
    assert out.trades[0].pnl == pytest.approx(14 * (97.0 - 104.0))


def test_risk_sizing_without_a_stop_assumes_the_fallback_distance() -> None:
    out = run({1: [("buy", None, None)]}, sizing="risk", risk_pct=1.0, fallback_stop_pct=2.0)
    assert out.final_position == 48  # 100 over 2% of 104 (2.08) = 48.08


def test_risk_sizing_never_exceeds_the_cash() -> None:
    out = run({1: [("buy", 103.9, None)]}, sizing="risk", risk_pct=5.0)
    assert out.trades[0].size == 96  # 500 / 0.1 = 5000 units wanted; cash buys 96


def test_a_percent_commission_is_charged_on_both_fills_and_in_the_sizing() -> None:
    out = run({1: [("buy", None, None)], 3: [("exit", None, None)]},
              commissions=PercentOfValue(0.001))
    (trade,) = out.trades
    assert trade.size == 96  # 10000 // (104 * 1.001)
    entry, exit_ = 96 * 104.0 * 0.001, 96 * 96.0 * 0.001
    assert trade.commission == pytest.approx(entry + exit_)
    assert trade.pnl == pytest.approx(96 * (96.0 - 104.0) - entry - exit_)
    assert out.equity[-1] == pytest.approx(10_000 + trade.pnl)


def test_the_equity_curve_marks_the_position_at_every_close() -> None:
    out = run({1: [("buy", None, None)], 3: [("exit", None, None)]})
    cash_in_trade = 10_000 - 96 * 104.0
    expected = [10_000, 10_000, cash_in_trade + 96 * 105, cash_in_trade + 96 * 96,
                10_000 - 96 * 8, 10_000 - 96 * 8]
    assert out.equity.tolist() == pytest.approx(expected)
    assert out.position.tolist() == [0, 0, 96, 96, 0, 0]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="fill must be next-open or close"):
        BacktestConfig(fill="tomorrow")
    with pytest.raises(ValueError, match="sizing must be all-in or risk"):
        BacktestRunner(Scripted({}), bars(), BacktestConfig(sizing="half"))
    with pytest.raises(ValueError, match="range is empty"):
        BacktestRunner(Scripted({}), bars().between(1e9, None), BacktestConfig())


def trades_of(out: RunOutput) -> list[tuple]:
    return [(t.entry_bar, t.exit_bar, t.side, t.size, t.entry_price, t.exit_price,
             round(t.pnl, 6), t.exit_reason) for t in out.trades]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pre_filter_gives_the_trades_of_the_full_loop(seed: int) -> None:
    series = random_walk(3000, seed, trend=0.0003 * (seed - 2))
    runs = []
    for prefilter in (True, False):
        strategy = load_strategy("sma_cross", fast=10, slow=20)
        runner = BacktestRunner(strategy, series,
                                BacktestConfig(sizing="all-in", prefilter=prefilter))
        output = runner.run()
        runs.append((trades_of(output), output.equity.tolist(), output.bars_visited))
    (fast, fast_eq, fast_visits), (full, full_eq, full_visits) = runs
    assert len(fast) > 50
    assert fast == full and fast_eq == full_eq
    assert fast_visits < full_visits / 4  # it did skip most bars


@pytest.mark.parametrize("name,params", [
    ("sma_cross", {}), ("rsi_reversion", {}), ("macd_cross", {}),
    ("bollinger_breakout", {}), ("supertrend", {"htf_period": 10}),
])
def test_lean_market_orders_and_batch_indicators_change_nothing(name: str,
                                                                params: dict) -> None:
    """The same trades with every order through the matching engine, and with every
    indicator fed bar by bar as live: the fast paths are only faster."""
    series = random_walk(2500, 11, trend=0.0002)
    results = []
    for lean, incremental in ((True, False), (False, False), (True, True)):
        config = BacktestConfig(sizing="risk", lean=lean, incremental=incremental,
                                commissions=PercentOfValue(0.0005))
        output = BacktestRunner(load_strategy(name, **params), series, config).run()
        results.append(output)
    base = results[0]
    assert base.trades, f"{name} made no trades on the test data"
    for other in results[1:]:
        # bars, sides, sizes and exit kinds exactly; prices to the indicators' 1e-9
        assert [t[:4] + t[7:] for t in trades_of(other)] == [
            t[:4] + t[7:] for t in trades_of(base)]
        got = [x for t in other.trades for x in (t.entry_price, t.exit_price, t.pnl)]
        assert got == pytest.approx(
            [x for t in base.trades for x in (t.entry_price, t.exit_price, t.pnl)], rel=1e-9)
        assert other.equity.tolist() == pytest.approx(base.equity.tolist(), rel=1e-9)


def test_progress_is_reported_in_order_up_to_the_end() -> None:
    seen: list[tuple[int, int]] = []
    series = random_walk(5000, 4)
    runner = BacktestRunner(load_strategy("rsi_reversion"), series, BacktestConfig())
    runner.run(lambda done, total: seen.append((done, total)))
    assert len(seen) > 50 and seen[-1] == (5000, 5000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
