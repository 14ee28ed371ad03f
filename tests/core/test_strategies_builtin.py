"""Each built-in strategy on bar series built by hand, driven as an engine drives it.

Every series is small and readable (a fall then a rise, a quiet range then a jump), so
that the bar where a signal must come is known, and the signal's side, reason, strength,
stop and the indicator values behind it can be checked against the bars themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import fmean
from typing import Any

import pandas as pd
import pytest

from ibtrader.core.market import Bar
from ibtrader.core.strategies import BUILT_INS, load_strategy
from ibtrader.core.strategies.common import HigherTimeframeTrend, RsiExtremes
from ibtrader.core.strategy import Signal

from .strategy_drive import bars_from_closes, drive, ramp

V_DOWN_UP = [130.0 - i for i in range(30)] + [101.0 + 2 * i for i in range(20)]
V_UP_DOWN = [100.0 + i for i in range(30)] + [129.0 - 2 * i for i in range(20)]


def sma(closes: list[float], end: int, n: int) -> float:
    return fmean(closes[end - n + 1:end + 1])


def first_cross(closes: list[float], fast: int, slow: int, up: bool) -> int:
    """The first bar where SMA(fast) crosses SMA(slow), by hand from the closes."""
    for i in range(slow, len(closes)):
        before = sma(closes, i - 1, fast) - sma(closes, i - 1, slow)
        now = sma(closes, i, fast) - sma(closes, i, slow)
        if (before < 0 < now) if up else (before > 0 > now):
            return i
    raise AssertionError("no cross in the series")


class TestSmaCross:
    def test_one_golden_cross_buys_at_the_bar_it_happens(self) -> None:
        run = drive(load_strategy("sma_cross", fast=5, slow=10), bars_from_closes(V_DOWN_UP))
        at = first_cross(V_DOWN_UP, 5, 10, up=True)
        assert at == 34  # five bars after the low at bar 29
        assert run.sides() == [(at, "buy")]
        signal = run.signals[0][1]
        assert signal.symbol == "TEST" and signal.strength == 1.0
        assert signal.reason == "golden cross: SMA(5) crossed above SMA(10)"
        assert signal.values["fast"] == pytest.approx(sma(V_DOWN_UP, at, 5))
        assert signal.values["slow"] == pytest.approx(sma(V_DOWN_UP, at, 10))
        assert signal.values["fast"] > signal.values["slow"]
        assert signal.stop is None  # always in the market: the opposite cross is the exit
        assert signal.time == bars_from_closes(V_DOWN_UP)[at].time

    def test_one_death_cross_sells(self) -> None:
        run = drive(load_strategy("sma_cross", fast=5, slow=10), bars_from_closes(V_UP_DOWN))
        assert run.sides() == [(first_cross(V_UP_DOWN, 5, 10, up=False), "sell")]
        assert run.signals[0][1].reason.startswith("death cross: SMA(5) crossed below")

    def test_each_cross_reverses_the_position_with_one_signal(self) -> None:
        closes = V_DOWN_UP + [137.0 - 3 * i for i in range(20)]
        run = drive(load_strategy("sma_cross", fast=5, slow=10), bars_from_closes(closes))
        assert run.sides() == [(34, "buy"), (54, "sell")]
        assert run.positions[-1] == -1.0  # the sell closed the long and opened a short

    def test_a_cross_the_same_way_as_the_position_closes_it_and_opens_afresh(self) -> None:
        run = drive(load_strategy("sma_cross", fast=5, slow=10), bars_from_closes(V_DOWN_UP),
                    position=100.0)
        assert [s.side for _, s in run.signals] == ["exit", "buy"]
        assert {i for i, _ in run.signals} == {34}

    def test_a_touch_is_not_a_cross(self) -> None:
        # fast == slow exactly on bar 45, then above: backtesting.py's crossover does not
        # count it either, and parity with it matters more than catching this trend
        closes = ramp(130, 100, 41) + ramp(100.5, 120, 40)
        run = drive(load_strategy("sma_cross", fast=5, slow=10), bars_from_closes(closes))
        assert run.values[45]["fast"] == run.values[45]["slow"]
        assert run.signals == []

    def test_ema_kind_buys_where_the_exponential_averages_cross(self) -> None:
        closes = ramp(130, 100, 41) + ramp(100.2, 104, 20)
        fast = pd.Series(closes).ewm(span=5, adjust=False).mean()
        slow = pd.Series(closes).ewm(span=10, adjust=False).mean()
        crosses = [i for i in range(10, len(closes))
                   if fast[i - 1] < slow[i - 1] and fast[i] > slow[i]]
        run = drive(load_strategy("sma_cross", fast=5, slow=10, kind="ema"),
                    bars_from_closes(closes))
        assert crosses == [51] and run.sides() == [(51, "buy")]
        buy = run.signals[0][1]
        assert buy.reason == "golden cross: EMA(5) crossed above EMA(10)"
        assert buy.values["fast"] == pytest.approx(fast[51], abs=1e-9)
        assert buy.values["slow"] == pytest.approx(slow[51], abs=1e-9)
        # the simple averages cross elsewhere on the same bars
        assert drive(load_strategy("sma_cross", fast=5, slow=10),
                     bars_from_closes(closes)).sides() == [(47, "buy")]

    def test_nothing_before_the_slow_average_is_ready(self) -> None:
        run = drive(load_strategy("sma_cross", fast=2, slow=40), bars_from_closes(V_DOWN_UP))
        assert all(i > 40 for i, _ in run.signals)


class TestRsiReversion:
    FALL_RISE = ramp(100, 70, 31) + ramp(71, 100, 30)

    def test_buys_when_rsi_climbs_back_over_oversold_then_exits_at_the_middle(self) -> None:
        run = drive(load_strategy("rsi_reversion"), bars_from_closes(self.FALL_RISE))
        assert [side for _, side in run.sides()] == ["buy", "exit"]
        (i_buy, buy), (i_exit, out) = run.signals
        assert run.values[i_buy - 1]["rsi"].rsi < 30.0 <= buy.values["rsi"]
        assert i_buy > 30  # after the low, on the way back up
        assert buy.reason == f"RSI {buy.values['rsi']:.1f} back above 30"
        # an unbroken fall takes RSI to 0: as oversold as it gets, the strongest signal
        assert buy.values["rsi_extreme"] == 0.0 and buy.strength == 1.0
        # a stop 3 ATRs below the entry close: the protection when no reversion comes
        assert buy.stop == pytest.approx(buy.values["close"] - 3 * buy.values["atr"])
        assert run.values[i_exit - 1]["rsi"].rsi < 50.0 <= out.values["rsi"]
        assert run.positions[-1] == 0.0

    def test_the_mirror_sells_and_covers(self) -> None:
        closes = [200 - c for c in self.FALL_RISE]
        run = drive(load_strategy("rsi_reversion"), bars_from_closes(closes))
        assert [side for _, side in run.sides()] == ["sell", "exit"]
        sell = run.signals[0][1]
        assert sell.stop == pytest.approx(sell.values["close"] + 3 * sell.values["atr"])
        assert sell.values["rsi"] <= 70.0 and sell.values["rsi_extreme"] == 100.0

    def test_shorts_off_and_no_stop(self) -> None:
        closes = [200 - c for c in self.FALL_RISE]
        assert drive(load_strategy("rsi_reversion", shorts=False),
                     bars_from_closes(closes)).signals == []
        run = drive(load_strategy("rsi_reversion", stop_atr=0), bars_from_closes(self.FALL_RISE))
        assert run.signals[0][1].stop is None

    def test_strength_grades_how_deep_the_oversold_stay_went(self) -> None:
        # a choppy slide: RSI goes below 30 without reaching 0, then the bounce
        closes = [100, 101, 100, 101, 100, 99, 100, 99, 98, 99, 98, 97, 98, 97, 96, 97, 96,
                  95, 96, 95, 93, 92, 91, 92, 93, 94, 95]
        run = drive(load_strategy("rsi_reversion"), bars_from_closes(closes))
        i, buy = run.first("buy")
        stay = [v["rsi"].rsi for v in run.values[:i] if v["rsi"] and v["rsi"].rsi < 30]
        assert stay and buy.values["rsi_extreme"] == min(stay) > 0.0
        assert buy.strength == pytest.approx(0.5 + 0.5 * (30 - min(stay)) / 30)
        assert 0.5 < buy.strength < 1.0

    def test_no_exit_without_a_position(self) -> None:
        run = drive(load_strategy("rsi_reversion"), bars_from_closes(self.FALL_RISE), position=0)
        assert [side for _, side in run.sides()] == ["buy"]


class TestMacdCross:
    FALL_RISE = ramp(100, 70, 60) + ramp(71, 100, 30)
    # a long rise, a dip, a rise again: both crosses happen above the zero line
    RISE_DIP_RISE = (*ramp(100, 130, 60), 128.0, 126.0, 124.0, 123.0, *ramp(124, 140, 20))

    def test_buys_on_the_cross_above_the_signal_line(self) -> None:
        run = drive(load_strategy("macd_cross"), bars_from_closes(self.FALL_RISE))
        assert [side for _, side in run.sides()] == ["buy"]
        i, buy = run.signals[0]
        before = run.values[i - 1]["macd"]
        assert before.macd < before.signal and buy.values["macd"] > buy.values["signal"]
        assert buy.values["hist"] == pytest.approx(buy.values["macd"] - buy.values["signal"])
        assert i > 59  # once price has turned

    def test_sell_then_buy_above_zero_without_the_filter(self) -> None:
        run = drive(load_strategy("macd_cross"), bars_from_closes(self.RISE_DIP_RISE))
        sides = [side for _, side in run.sides()]
        assert sides[-2:] == ["sell", "buy"]
        assert all(s.values["macd"] > 0 for _, s in run.signals[-2:])

    def test_zero_filter_refuses_the_buy_above_zero_and_closes_the_short(self) -> None:
        run = drive(load_strategy("macd_cross", zero_filter=True),
                    bars_from_closes(self.RISE_DIP_RISE))
        assert [side for _, side in run.sides()][-2:] == ["sell", "exit"]
        assert "short closed, no long" in run.signals[-1][1].reason
        flat = drive(load_strategy("macd_cross", zero_filter=True),
                     bars_from_closes(self.RISE_DIP_RISE), position=0)
        assert "buy" not in [side for _, side in flat.sides()]


class TestBollingerBreakout:
    QUIET = [100.0, 101.0] * 15  # 30 bars in a narrow range: mid 100.5, bands 100.5 +- 1

    def test_breakout_above_buys_with_the_stop_on_the_middle_band(self) -> None:
        run = drive(load_strategy("bollinger_breakout"),
                    bars_from_closes([*self.QUIET, 103.0, 104.0, 100.0]))
        assert run.sides() == [(30, "buy"), (32, "exit")]
        buy = run.signals[0][1]
        assert buy.values["pct_b"] > 1.0 and buy.values["upper"] < 103.0
        assert buy.stop == buy.values["mid"]
        assert buy.reason == "close broke out above the upper band"
        assert 0.5 < buy.strength <= 1.0
        assert run.signals[1][1].values["pct_b"] <= 0.5

    def test_breakdown_below_sells_and_shorts_can_be_off(self) -> None:
        closes = [*self.QUIET, 98.0]
        run = drive(load_strategy("bollinger_breakout"), bars_from_closes(closes))
        assert run.sides() == [(30, "sell")]
        assert run.signals[0][1].stop == run.signals[0][1].values["mid"]
        off = drive(load_strategy("bollinger_breakout", shorts=False), bars_from_closes(closes))
        assert off.signals == []

    def test_a_breakout_against_a_short_reverses_it(self) -> None:
        # short on the breakdown at bar 30, then a gap straight through the upper band
        run = drive(load_strategy("bollinger_breakout"),
                    bars_from_closes([*self.QUIET, 98.0, 105.0]))
        assert run.sides() == [(30, "sell"), (31, "buy")]
        assert run.positions[-1] == 1.0

    def test_a_bigger_breakout_is_stronger(self) -> None:
        small = drive(load_strategy("bollinger_breakout"),
                      bars_from_closes([*self.QUIET, 102.0])).signals[0][1]
        big = drive(load_strategy("bollinger_breakout"),
                    bars_from_closes([*self.QUIET, 104.0])).signals[0][1]
        assert small.strength < big.strength


ST = {"atr_period": 3, "multiplier": 1.0, "htf_multiple": 3, "htf_period": 8,
      "rsi_period": 5, "volume_period": 5}
# a steady rise (the higher timeframe is up), a four-bar pullback that turns the
# SuperTrend bearish at bar 42, and a recovery that turns it bullish at bar 45
RISE_PULLBACK = [*ramp(100, 130, 41), 129.0, 128.0, 127.0, 126.0, 128.0, 130.0, 132.0]
FALL_BOUNCE = [260.0 - c for c in RISE_PULLBACK]  # the mirror: turns bearish at bar 45
TURN = 45


def volumes(n: int, loud: dict[int, float]) -> list[float]:
    return [loud.get(i, 1_000.0) for i in range(n)]


def supertrend_run(closes: list[float], loud_at: int = TURN, position: float | None = None,
                   **params: object) -> list[tuple[int, Signal]]:
    bars = bars_from_closes(closes, volumes(len(closes), {loud_at: 3_000.0}))
    return drive(load_strategy("supertrend", **{**ST, **params}), bars, position=position).signals


class TestSuperTrend:
    def test_bullish_turn_with_every_filter_agreeing_buys_with_an_atr_stop(self) -> None:
        signals = supertrend_run(RISE_PULLBACK, target_r=2.0)
        assert [(i, s.side) for i, s in signals] == [(TURN, "buy")]
        buy = signals[0][1]
        v = buy.values
        assert v["htf_trend"] == 1 and v["htf_close"] > v["htf_ema"]
        assert v["rsi"] < 70.0
        assert v["volume"] == 3_000.0 > v["volume_avg"] == pytest.approx(1_400.0)
        assert v["close"] > v["supertrend"]  # the line is now below price: support
        assert buy.stop == pytest.approx(v["close"] - 2.0 * v["atr"])
        assert buy.target == pytest.approx(v["close"] + 2.0 * 2.0 * v["atr"])
        assert buy.reason == "SuperTrend turned bullish, filters agree"

    def test_volume_at_its_average_refuses(self) -> None:
        assert supertrend_run(RISE_PULLBACK, loud_at=-1) == []

    def test_overbought_rsi_refuses(self) -> None:
        rsi = supertrend_run(RISE_PULLBACK)[0][1].values["rsi"]  # 57.8 on the turn bar
        assert supertrend_run(RISE_PULLBACK, rsi_max=rsi + 0.1)
        assert supertrend_run(RISE_PULLBACK, rsi_max=rsi) == []

    def test_higher_timeframe_down_refuses_a_long(self) -> None:
        # FALL_BOUNCE turns bullish at bar 42 inside a downtrend: loud volume, RSI low
        signals = supertrend_run(FALL_BOUNCE, loud_at=42, shorts=False)
        assert signals == []

    def test_the_mirror_sells_with_the_stop_above(self) -> None:
        signals = supertrend_run(FALL_BOUNCE)
        assert [(i, s.side) for i, s in signals] == [(TURN, "sell")]
        sell = signals[0][1]
        assert sell.values["htf_trend"] == -1 and sell.values["rsi"] > 30.0
        assert sell.stop == pytest.approx(sell.values["close"] + 2.0 * sell.values["atr"])
        assert sell.target is None
        assert supertrend_run(FALL_BOUNCE, shorts=False) == []

    def test_oversold_rsi_refuses_a_short(self) -> None:
        rsi = supertrend_run(FALL_BOUNCE)[0][1].values["rsi"]
        assert supertrend_run(FALL_BOUNCE, rsi_min=min(50.0, rsi + 0.1)) == []

    def test_a_refused_turn_against_the_position_exits_it(self) -> None:
        # long through the pullback: the bearish turn at 42 is refused as a short (the
        # higher timeframe is up) but the long it turned against is closed
        signals = supertrend_run(RISE_PULLBACK, position=50.0)
        assert (signals[0][0], signals[0][1].side) == (42, "exit")
        assert signals[0][1].reason == ("SuperTrend turned; no reversal: "
                                        "the higher timeframe disagrees")

    def test_nothing_while_the_filters_warm_up(self) -> None:
        assert supertrend_run(RISE_PULLBACK, htf_period=20) == []


@pytest.mark.parametrize("cls", BUILT_INS, ids=lambda c: c.name)
def test_signal_values_are_copies_not_the_engines_dicts(cls: type) -> None:
    """An engine rewrites ctx.values each bar: what a signal carries must not change."""
    closes = V_DOWN_UP + V_UP_DOWN + [100.0, 101.0] * 15 + [104.0, 100.0, 96.0, 100.0]
    run = drive(cls(), bars_from_closes(closes, volumes(len(closes), {})))
    for _i, signal in run.signals:
        assert all(not isinstance(v, dict) for v in signal.values.values())
    snapshot = [dict(s.values) for _, s in run.signals]
    assert snapshot == [s.values for _, s in run.signals]


def test_the_bench_times_quiet_and_signal_bars_of_every_built_in() -> None:
    from ibtrader.core.strategies.bench import run_strategy_bench

    rows = run_strategy_bench(4_000, repeat=1)
    assert [r["strategy"] for r in rows] == [cls.name for cls in BUILT_INS]
    for row in rows:
        assert row["signal_bars"] > 0, row  # random bars trigger every built-in
        assert 0 < row["quiet_ns"] < row["signal_ns"], row


class TestHigherTimeframeTrend:
    """supertrend's higher-timeframe filter: buckets of `multiple` bars on the clock."""

    @staticmethod
    def hourly(closes: list[float], start: float = 1_700_006_400.0) -> list[Bar]:
        # 1_700_006_400 is a multiple of 4 h: buckets of 4 hourly bars start at bar 0
        return [Bar(start + i * 3_600.0, c, c, c, c, 1.0) for i, c in enumerate(closes)]

    def test_closes_of_each_four_hour_bucket_feed_the_ema(self) -> None:
        closes = [100.0 + (i % 7) - i * 0.1 for i in range(80)]
        htf = HigherTimeframeTrend(multiple=4, period=5)
        got = [htf.update(bar) for bar in self.hourly(closes)]
        bucket_closes = pd.Series(closes[3::4])  # the last bar of each 4-bar bucket
        ema = bucket_closes.ewm(span=5, adjust=False).mean()
        for i, value in enumerate(got):
            done = (i + 1) // 4  # buckets closed by bar i
            if done < 5:
                assert value is None, i  # the EMA of 5 buckets is not ready before
                continue
            close, expected = float(bucket_closes[done - 1]), float(ema[done - 1])
            assert value.close == close and value.ema == pytest.approx(expected, abs=1e-9)
            assert value.trend == (close > expected) - (close < expected)

    def test_the_same_bar_gets_the_same_value_whatever_bar_the_feed_began_with(self) -> None:
        closes = [100.0 + 10 * math.sin(i / 9) for i in range(800)]
        bars = self.hourly(closes)
        full, late = HigherTimeframeTrend(4, 10), HigherTimeframeTrend(4, 10)
        a = [full.update(bar) for bar in bars]
        b = [None] * 37 + [late.update(bar) for bar in bars[37:]]  # starts mid-bucket
        for i in range(700, 800):  # long after both EMAs forgot their seeds
            assert b[i].close == a[i].close and b[i].trend == a[i].trend
            assert b[i].ema == pytest.approx(a[i].ema, rel=1e-9)

    def test_a_bucket_cut_by_the_session_gap_closes_on_the_next_bar(self) -> None:
        # sessions of 6 hourly bars from 00:00 UTC, 18 h apart: the bucket 04:00-08:00
        # holds 04:00 and 05:00 only; its close (05:00's) is known at the next 00:00 bar
        bars = [Bar(1_700_006_400.0 + d * 86_400.0 + h * 3_600.0, c, c, c, c, 1.0)
                for d in range(3) for h, c in enumerate([10, 11, 12, 13, 14 + d, 15 + d])]
        htf = HigherTimeframeTrend(multiple=4, period=1)
        got = [htf.update(bar) for bar in bars]
        assert got[3].close == 13  # 03:00 ends the bucket 00:00-04:00
        assert got[5].close == 13  # 05:00 does not end its bucket: nothing new yet
        assert got[6].close == 15  # the next day's first bar: the cut bucket closed
        assert got[6].ema == 15  # an EMA of one close is that close


@pytest.mark.parametrize("make", [lambda: HigherTimeframeTrend(3, 4),
                                  lambda: RsiExtremes(5, 30.0, 70.0)],
                         ids=["htf_trend", "rsi_extremes"])
def test_preview_of_a_forming_bar_is_its_close_value_and_changes_nothing(
        make: Callable[[], Any]) -> None:
    closes = [100.0 + 8 * math.sin(i / 3) for i in range(60)]
    bars = bars_from_closes(closes)
    indicator, twin = make(), make()
    for bar in bars[:-1]:
        indicator.update(bar)
        twin.update(bar)
    before = indicator.value
    assert indicator.preview(bars[-1]) == twin.update(bars[-1])
    assert indicator.value == before  # the preview committed nothing
    assert indicator.update(bars[-1]) == twin.value
