"""Shared by the indicator tests: data, parameter sets, and value comparison."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ibtrader.core.indicators.frames import HistoryBar, iter_bars
from ibtrader.core.indicators.sample import random_ohlcv

SEEDS = (0, 1, 2)
N_BARS = 5_000
TOL = 1e-9

# Every indicator with its defaults and with a second, unusual parameter set.
CASES: list[tuple[str, dict[str, Any]]] = [
    ("sma", {}), ("sma", {"period": 5}),
    ("ema", {}), ("ema", {"period": 9}),
    ("rsi", {}), ("rsi", {"period": 7}),
    ("macd", {}), ("macd", {"fast": 5, "slow": 13, "signal": 4}),
    ("bbands", {}), ("bbands", {"period": 10, "k": 1.5}),
    ("atr", {}), ("atr", {"period": 5}),
    ("stoch", {}), ("stoch", {"period": 5, "smooth": 2}),
    ("vwap", {}), ("vwap", {"session_start_hour": 16.5}),
    ("rolling_vwap", {}), ("rolling_vwap", {"window": 5}),
    ("obv", {}),
    ("supertrend", {}), ("supertrend", {"atr_period": 7, "multiplier": 1.5}),
]


def case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, params = case
    return name + "".join(f"-{k}={v}" for k, v in params.items())


_FRAMES: dict[int, pd.DataFrame] = {}


def frame(seed: int) -> pd.DataFrame:
    if seed not in _FRAMES:
        _FRAMES[seed] = random_ohlcv(N_BARS, seed=seed)
    return _FRAMES[seed]


def bars(df: pd.DataFrame) -> list[HistoryBar]:
    return list(iter_bars(df))


def as_row(value: Any, width: int) -> np.ndarray:
    """An incremental value as a float row; None (warm-up) as NaNs."""
    if value is None:
        return np.full(width, np.nan)
    return np.atleast_1d(np.asarray(value, dtype=float))


def as_matrix(result: pd.Series | pd.DataFrame) -> np.ndarray:
    return result.to_numpy(dtype=float).reshape(len(result), -1)


def same(a: Any, b: Any) -> bool:
    """Exact equality of two values, NaN equal to NaN (previews must match to the bit)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, tuple):
        return type(a) is type(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_close(
    actual: np.ndarray, expected: np.ndarray, tol: float = TOL, what: str = ""
) -> None:
    """Equal within `tol`, with NaN exactly where the reference has NaN."""
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    mismatch = np.argwhere(nan_a != nan_e)
    assert not len(mismatch), f"{what}: NaN mismatch at rows {mismatch[:5, 0].tolist()}"
    diff = np.abs(np.where(nan_a, 0.0, actual - expected))
    worst = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff[worst] <= tol, (
        f"{what}: |diff| {diff[worst]:.3g} > {tol} at row {worst[0]}: "
        f"{actual[worst[0]]} vs {expected[worst[0]]}"
    )


def exact_bbands(close: np.ndarray, period: int, k: float) -> np.ndarray:
    """Bollinger columns (mid, upper, lower, pct_b, width) from a two-pass,
    extended-precision mean and population std of every window: the truth, which
    pandas' sliding sums approach to ~1e-10 on long series and miss in constant windows."""
    windows = sliding_window_view(close.astype(np.longdouble), period)
    mid = windows.mean(axis=1)
    std = np.sqrt(((windows - mid[:, None]) ** 2).mean(axis=1))
    upper, lower = mid + k * std, mid - k * std
    band = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_b = np.where(band > 0, (close[period - 1 :] - lower) / band, np.nan)
    columns = np.stack([mid, upper, lower, pct_b, band / mid * 100]).T.astype(float)
    return np.vstack([np.full((period - 1, 5), np.nan), columns])
