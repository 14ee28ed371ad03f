"""Incremental indicators against ta's batch values, previews, warm starts."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ibtrader.core.indicators import (
    INDICATORS,
    Indicator,
    compute_batch,
    make_indicator,
    seed_from_history,
)
from ibtrader.core.indicators.frames import HistoryBar

from .indicator_helpers import (
    CASES,
    SEEDS,
    as_matrix,
    as_row,
    assert_close,
    bars,
    case_id,
    exact_bbands,
    frame,
    same,
)


def _incremental(name: str, params: dict[str, Any], rows: list[HistoryBar]) -> list[Any]:
    indicator = make_indicator(name, **params)
    return [indicator.update(bar) for bar in rows]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_incremental_equals_ta_batch(case: tuple[str, dict[str, Any]], seed: int) -> None:
    name, params = case
    df = frame(seed)
    batch = as_matrix(compute_batch(name, df, **params))
    values = _incremental(name, params, bars(df))
    warmup = make_indicator(name, **params).warmup

    # warm-up: None exactly before row warmup-1, where the batch's last column is NaN
    assert all(v is None for v in values[: warmup - 1])
    assert all(v is not None for v in values[warmup - 1 :])
    assert np.isnan(batch[: warmup - 1, -1]).all()
    assert not np.isnan(batch[warmup - 1]).any()

    # compared from the first complete value (ta's MACD and stoch have their first
    # column a few rows earlier: the incremental value waits for all of its fields)
    incremental = np.array([as_row(v, batch.shape[1]) for v in values])[warmup - 1 :]
    batch = batch[warmup - 1 :]
    if name == "bbands":
        # pandas' rolling std drifts (~1e-10 after 5,000 bars) and %b divides by the band
        # width, which amplifies that to ~1e-9: check %b against the exact value instead,
        # and everything else against ta
        assert_close(incremental[:, [0, 1, 2, 4]], batch[:, [0, 1, 2, 4]], what=name)
        truth = exact_bbands(df["close"].to_numpy(), params.get("period", 20), params.get("k", 2.0))
        assert_close(incremental, truth[warmup - 1 :], what=f"{name} vs exact")
        assert_close(incremental[:, 3], batch[:, 3], tol=1e-7, what=f"{name} %b vs ta")
    else:
        assert_close(incremental, batch, what=name)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_preview_is_update_without_the_commit(case: tuple[str, dict[str, Any]]) -> None:
    """preview(bar) == the following update(bar), to the bit; previews of other bars
    (ticks of a forming bar) in between change nothing."""
    name, params = case
    rows = bars(frame(0))[:1_200]
    previewed = make_indicator(name, **params)
    plain = make_indicator(name, **params)
    rng = random.Random(7)
    for bar in rows:
        before = previewed.value
        for _ in range(2):  # ticks: the forming bar wanders about
            tick = rows[rng.randrange(len(rows))]._replace(time=bar.time)
            previewed.preview(tick)
        assert same(previewed.value, before)
        expected = previewed.preview(bar)
        assert same(previewed.update(bar), expected)
        assert same(plain.update(bar), expected)


@pytest.mark.parametrize("split", [1, 13, 2_500, 4_999])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_seed_from_history_then_live_continues_the_batch(
    case: tuple[str, dict[str, Any]], split: int
) -> None:
    name, params = case
    df = frame(1)
    batch = as_matrix(compute_batch(name, df, **params))
    indicator = make_indicator(name, **params)
    indicator.update(bars(df)[-1])  # stale state: seeding must forget it
    seeded = seed_from_history(indicator, df.iloc[:split])
    live = [indicator.update(bar) for bar in bars(df.iloc[split:])]
    rows = np.array([as_row(v, batch.shape[1]) for v in [seeded, *live]])
    if name == "bbands":  # see test_incremental_equals_ta_batch
        batch = batch[:, [0, 1, 2, 4]]
        rows = rows[:, [0, 1, 2, 4]]
    first = max(0, indicator.warmup - split)  # rows before the first complete value
    assert np.isnan(rows[:first]).all()
    assert_close(rows[first:], batch[split - 1 + first :], what=f"{name} seeded at {split}")
    # and it is the very same state as feeding the bars one by one
    scratch = _incremental(name, params, bars(df))
    assert all(same(a, b) for a, b in zip(live, scratch[split:], strict=True))


def test_every_indicator_satisfies_the_protocol() -> None:
    for name in INDICATORS:
        indicator = make_indicator(name)
        assert isinstance(indicator, Indicator)
        assert indicator.value is None and not indicator.ready and indicator.warmup >= 1


@pytest.mark.parametrize("name", ["sma", "ema", "rsi", "macd", "bbands"])
def test_close_indicators_take_plain_floats(name: str) -> None:
    rows = bars(frame(2))[:300]
    by_bar, by_value = make_indicator(name), make_indicator(name)
    for bar in rows:
        assert same(by_value.preview_value(bar.close), by_bar.preview(bar))
        assert same(by_value.update_value(bar.close), by_bar.update(bar))


@pytest.mark.parametrize("name", list(INDICATORS))
def test_reset_forgets_everything(name: str) -> None:
    rows = bars(frame(2))[:200]
    indicator = make_indicator(name)
    first = [indicator.update(bar) for bar in rows]
    indicator.reset()
    assert indicator.value is None
    assert all(same(a, indicator.update(bar)) for a, bar in zip(first, rows, strict=True))


def _bar(t: float, o: float, h: float, low: float, c: float, v: float = 100.0) -> HistoryBar:
    return HistoryBar(t, o, h, low, c, v)


def test_supertrend_flips_down_when_the_trend_turns() -> None:
    up = [100.0 + i for i in range(40)]
    down = [up[-1] - 1.5 * i for i in range(1, 41)]
    closes = up + down
    rows = [_bar(60.0 * i, c - 0.2, c + 0.5, c - 0.5, c) for i, c in enumerate(closes)]
    st = make_indicator("supertrend", atr_period=5, multiplier=2.0)
    values = [st.update(bar) for bar in rows]
    directions = [v.direction for v in values if v is not None]
    assert directions[len(up) - 10] == 1 and directions[-1] == -1
    flips = [i for i in range(1, len(directions)) if directions[i] != directions[i - 1]]
    assert len(flips) == 1
    flip_bar = flips[0] + st.warmup - 1
    assert flip_bar >= len(up)  # only once prices fall
    for bar, v in zip(rows, values, strict=True):
        if v is not None:  # the line trails price: below in an up-trend, above in a down
            assert (v.value < bar.close) if v.direction > 0 else (v.value > bar.close)
            assert v.value == (v.lower if v.direction > 0 else v.upper)
    df = pd.DataFrame(rows)
    batch = compute_batch("supertrend", df, atr_period=5, multiplier=2.0)
    assert_close(np.array([as_row(v, 4) for v in values]), as_matrix(batch))


def test_supertrend_bands_only_tighten_while_the_trend_holds() -> None:
    df = frame(0)
    st = compute_batch("supertrend", df).dropna()
    close = df["close"].loc[st.index]
    same_dir = st["direction"] == st["direction"].shift()
    prev_close = close.shift()
    up = st["lower"]
    # in an up-trend the lower band never falls unless the previous close was below it
    falling = (up < up.shift()) & same_dir & (st["direction"] > 0) & (prev_close >= up.shift())
    assert not falling.any()


def test_vwap_restarts_each_session_day() -> None:
    day = 86_400.0
    t0 = 1_704_205_800.0  # 14:30 UTC
    rows = [
        _bar(t0, 10, 11, 9, 10, 100), _bar(t0 + 60, 10, 13, 11, 12, 300),
        _bar(t0 + day, 20, 21, 19, 20, 50),  # next day: a fresh start
        _bar(t0 + day + 60, 20, 23, 21, 22, 150),
    ]
    vwap = make_indicator("vwap")
    values = [vwap.update(bar) for bar in rows]
    assert values[0] == pytest.approx(10.0)
    assert values[1] == pytest.approx((10.0 * 100 + 12.0 * 300) / 400)
    assert values[2] == pytest.approx(20.0)  # the typical price of the day's first bar
    assert values[3] == pytest.approx((20.0 * 50 + 22.0 * 150) / 200)

    # datetimes work as well as epoch seconds, and the batch restarts at the same rows
    stamps = pd.to_datetime([bar.time for bar in rows], unit="s", utc=True)
    df = pd.DataFrame([bar._asdict() for bar in rows]).drop(columns="time").set_index(stamps)
    assert_close(as_matrix(compute_batch("vwap", df)), np.array(values)[:, None])
    by_datetime = make_indicator("vwap")
    assert [by_datetime.update(r._replace(time=s)) for r, s in zip(rows, stamps, strict=True)] \
        == pytest.approx(values)


def test_vwap_session_start_hour_moves_the_reset() -> None:
    t0 = 1_704_205_800.0  # 14:30 UTC
    rows = [_bar(t0 + 3_600.0 * h, 10 + h, 11 + h, 9 + h, 10 + h) for h in range(4)]
    midnight, afternoon = make_indicator("vwap"), make_indicator("vwap", session_start_hour=16)
    assert [midnight.update(r) for r in rows][2] == pytest.approx(11.0)  # 10, 11, 12 averaged
    assert [afternoon.update(r) for r in rows][2] == pytest.approx(12.0)  # 16:30: new session


def test_vwap_without_volume_is_nan_until_something_trades() -> None:
    vwap = make_indicator("vwap")
    assert np.isnan(vwap.update(_bar(0.0, 10, 11, 9, 10, 0)))
    assert vwap.update(_bar(60.0, 10, 11, 9, 10, 5)) == pytest.approx(10.0)


def _flat_then_moving() -> list[HistoryBar]:
    closes = [100.0] * 30 + [100.0 + 0.1 * i for i in range(30)] + [103.0] * 25
    return [_bar(60.0 * i, c, c, c, c) for i, c in enumerate(closes)]


def _run_checking_previews(name: str, params: dict[str, Any], rows: list[HistoryBar]) -> list:
    indicator = make_indicator(name, **params)
    values = []
    for bar in rows:
        preview = indicator.preview(bar)
        values.append(indicator.update(bar))
        assert same(preview, values[-1])
    return values


def test_flat_windows_stochastic_is_nan_like_ta() -> None:
    """A window without range: %K is 0/0 in ta (NaN), %D NaN while it is in the window."""
    rows = _flat_then_moving()
    expected = as_matrix(compute_batch("stoch", pd.DataFrame(rows), period=5, smooth=3))
    assert np.isnan(expected[10:]).any()
    values = _run_checking_previews("stoch", {"period": 5, "smooth": 3}, rows)
    assert_close(np.array([as_row(v, 2) for v in values]), expected)


def test_flat_windows_bollinger_bands_touch() -> None:
    """A window of one repeated close has std 0: the bands touch, %b is NaN (ta's own
    convention for touching bands). pandas' sliding sums leave a residue there after the
    window has moved (std ~3e-7, %b 0.5 in ta 0.11 / pandas 3.1): we give the exact 0."""
    rows = _flat_then_moving()
    values = _run_checking_previews("bbands", {"period": 5}, rows)
    got = np.array([as_row(v, 5) for v in values])
    assert_close(got, exact_bbands(np.array([r.close for r in rows]), 5, 2.0))
    last = values[-1]
    assert last.upper == last.lower == last.mid == 103.0 and np.isnan(last.pct_b)


@pytest.mark.parametrize("name", ["sma", "bbands", "rolling_vwap", "stoch"])
def test_running_sums_do_not_drift_over_a_long_session(name: str) -> None:
    """100,000 bars from price 10,000 down to ~1: still exact to ~1e-12 at the end."""
    n = 100_000
    closes = 10_000.0 * np.exp(np.linspace(0.0, -9.0, n)) * (1 + 0.01 * np.sin(np.arange(n)))
    rows = [_bar(0.0, c, c * 1.001, c * 0.999, c, 100.0 + (i % 7)) for i, c in enumerate(closes)]
    indicator = make_indicator(name)
    for bar in rows:
        value = indicator.update(bar)
    tail = pd.DataFrame(rows[-100:])
    expected = as_matrix(compute_batch(name, tail)).reshape(100, -1)[-1]
    assert_close(as_row(value, len(expected))[None, :], expected[None, :], tol=1e-11, what=name)


def test_ready_and_value_follow_warmup() -> None:
    rsi = make_indicator("rsi", period=3)
    rows = bars(frame(0))[:5]
    assert [rsi.update(b) is not None for b in rows] == [False, False, True, True, True]
    assert rsi.ready and rsi.value is not None


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("sma", {"period": 1}), ("ema", {"period": 1}), ("ema", {"period": 2}),
        ("rsi", {"period": 1}), ("rsi", {"period": 2}), ("atr", {"period": 1}),
        ("atr", {"period": 2}), ("stoch", {"period": 1, "smooth": 1}),
        ("stoch", {"period": 2, "smooth": 1}), ("stoch", {"period": 1, "smooth": 4}),
        ("macd", {"fast": 1, "slow": 2, "signal": 1}), ("bbands", {"period": 2, "k": 0.5}),
        ("rolling_vwap", {"window": 1}), ("supertrend", {"atr_period": 1, "multiplier": 0.5}),
    ],
)
def test_the_smallest_windows_agree_with_ta(name: str, params: dict[str, Any]) -> None:
    df = frame(2).iloc[:400]
    batch = as_matrix(compute_batch(name, df, **params))
    indicator = make_indicator(name, **params)
    values = _run_checking_previews(name, params, bars(df))
    warmup = indicator.warmup
    assert all(v is None for v in values[: warmup - 1])
    got = np.array([as_row(v, batch.shape[1]) for v in values])[warmup - 1 :]
    batch = batch[warmup - 1 :]
    if name == "bbands":
        # Two closes a hundredth of a cent apart make a band 1e-4 wide: %b and width are
        # ratios to it, so 1e-12 of price error in the bands (ours or pandas') is 1e-6 in
        # them. Check the bands in price, and %b and width as the price error they imply.
        assert_close(got[:, :3], batch[:, :3], what=name)
        truth = exact_bbands(df["close"].to_numpy(), 2, 0.5)[warmup - 1 :]
        band = truth[:, 1] - truth[:, 2]
        assert np.array_equal(np.isnan(got[:, 3]), np.isnan(truth[:, 3]))
        assert np.nanmax(np.abs(got[:, 3] - truth[:, 3]) * band) < 1e-9
        assert np.nanmax(np.abs(got[:, 4] - truth[:, 4]) * truth[:, 0] / 100) < 1e-9
    else:
        assert_close(got, batch, what=f"{name} {params}")
