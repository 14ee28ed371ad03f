"""The indicator registry, parameter checking, the batch API's frame handling, bench."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from ibtrader.core.indicators import (
    INDICATORS,
    MACD,
    RSI,
    SuperTrend,
    compute_batch,
    make_indicator,
    seed_from_history,
)
from ibtrader.core.indicators.bench import run_indicator_bench

from .indicator_helpers import as_matrix, frame


def test_registry_lists_every_indicator_with_its_parameters() -> None:
    assert set(INDICATORS) == {
        "sma", "ema", "rsi", "macd", "bbands", "atr", "stoch", "vwap", "rolling_vwap", "obv",
        "supertrend",
    }
    for name, info in INDICATORS.items():
        indicator = make_indicator(name)
        assert type(indicator) is info.cls and indicator.name == name
        assert indicator.params() == info.defaults
        for spec in info.params:
            assert spec.type in (int, float)
            assert spec.min <= spec.default <= spec.max
        # the batch's columns are the incremental value's fields
        columns = compute_batch(name, frame(0).iloc[:100])
        names = [columns.name] if isinstance(columns, pd.Series) else list(columns.columns)
        assert tuple(names) == info.outputs


def test_make_indicator_passes_parameters() -> None:
    rsi = make_indicator("rsi", period=7)
    assert isinstance(rsi, RSI) and rsi.period == 7 and rsi.warmup == 7
    st = make_indicator("supertrend", atr_period=7, multiplier=2)
    assert isinstance(st, SuperTrend) and st.multiplier == 2.0
    assert make_indicator("macd", fast=3, slow=5, signal=2).warmup == 6


@pytest.mark.parametrize(
    ("name", "params", "words"),
    [
        ("rsi", {"period": 0}, ["rsi", "period", "[1, 10000]", "0"]),
        ("sma", {"period": -3}, ["period", "[1, 10000]"]),
        ("ema", {"period": 10_001}, ["period", "[1, 10000]"]),
        ("atr", {"period": 14.5}, ["period", "integer"]),
        ("atr", {"period": True}, ["period", "integer"]),
        ("bbands", {"period": 1}, ["period", "[2, 10000]"]),
        ("bbands", {"k": 0}, ["k", "(0.0, 10.0]"]),
        ("supertrend", {"multiplier": -1.0}, ["supertrend", "multiplier", "(0.0, 100.0]", "-1.0"]),
        ("supertrend", {"multiplier": float("nan")}, ["multiplier", "(0.0, 100.0]"]),
        ("supertrend", {"multiplier": "3"}, ["multiplier", "a number"]),
        ("macd", {"fast": 26, "slow": 12}, ["fast", "slow", "smaller"]),
        ("vwap", {"session_start_hour": 25}, ["session_start_hour", "[0.0, 24.0]"]),
        ("rsi", {"periods": 14}, ["unknown", "periods", "allowed: period"]),
        ("obv", {"period": 14}, ["unknown", "allowed: none"]),
    ],
)
def test_bad_parameters_are_refused_with_the_allowed_range(
    name: str, params: dict, words: list[str]
) -> None:
    with pytest.raises(ValueError) as made:
        make_indicator(name, **params)
    with pytest.raises(ValueError) as batched:
        compute_batch(name, frame(0).iloc[:50], **params)
    for error in (made, batched):
        for word in words:
            assert word in str(error.value)


def test_constructors_check_their_parameters_too() -> None:
    with pytest.raises(ValueError, match=r"rsi: period must be an integer in \[1, 10000\]"):
        RSI(0)
    with pytest.raises(ValueError, match="fast must be smaller than slow"):
        MACD(fast=9, slow=9)
    assert make_indicator("atr", period=14.0).params() == {"period": 14}  # integral float


def test_unknown_indicator_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown indicator 'kama'.*rsi"):
        make_indicator("kama")
    with pytest.raises(ValueError, match="unknown indicator"):
        compute_batch("kama", frame(0))


def test_batch_restores_any_index() -> None:
    df = frame(0).iloc[:300]
    on_range = compute_batch("macd", df)
    stamps = pd.to_datetime(df["time"], unit="s", utc=True)
    odd = pd.Index(np.arange(300)[::-1] * 7 + 3)  # integers, descending: no RangeIndex
    for index in (pd.DatetimeIndex(stamps), odd):
        result = compute_batch("macd", df.set_index(index))
        assert result.index.equals(index)
        assert np.array_equal(as_matrix(result), as_matrix(on_range), equal_nan=True)


def test_batch_on_frames_shorter_than_the_warmup() -> None:
    df = frame(0).iloc[:5]
    for name in INDICATORS:
        result = as_matrix(compute_batch(name, df))
        assert result.shape[0] == 5
    assert np.isnan(as_matrix(compute_batch("atr", df))).all()  # ta itself raises here
    assert np.isnan(as_matrix(compute_batch("supertrend", df))).all()


def test_batch_and_seeding_need_the_columns_they_read() -> None:
    closes = frame(0)[["close"]].iloc[:100]
    assert compute_batch("ema", closes).notna().any()
    assert seed_from_history(make_indicator("ema"), closes) is not None
    with pytest.raises(ValueError, match=r"atr: the frame lacks column.*high"):
        compute_batch("atr", closes)
    with pytest.raises(ValueError, match="lacks column"):
        seed_from_history(make_indicator("atr"), closes)
    no_times = frame(0).drop(columns="time").iloc[:100]
    with pytest.raises(ValueError, match="needs bar times"):
        compute_batch("vwap", no_times)
    with pytest.raises(ValueError, match="needs bar times"):
        seed_from_history(make_indicator("vwap"), no_times)


def test_core_indicators_import_nothing_outside_core() -> None:
    code = (
        "import sys, ibtrader.core.indicators, ibtrader.core.indicators.bench\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'PySide6', 'qasync', "
        "'flask', 'waitress', 'ib_async', 'requests', 'minio', 'pyqtgraph'}\n"
        "       or (m.startswith('ibtrader.') and not m.startswith('ibtrader.core'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_reports_every_indicator() -> None:
    rows = run_indicator_bench(n_updates=2_000, recomputes=2)
    assert [r["name"] for r in rows] == list(INDICATORS)
    for row in rows:
        assert row["incremental_ns"] > 0 and row["ta_recompute_us"] > 0 and row["speedup"] > 1
