"""Reproducible synthetic OHLCV history for tests and benchmarks (not market-like data,
just enough texture: drift, volatility clusters, price gaps, overnight time gaps, flat
and zero-volume bars)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SESSION_START = 1_704_205_800.0  # 2024-01-02 14:30 UTC, a US equity open
BARS_PER_SESSION = 390  # one-minute bars of a 6.5 h session


def random_ohlcv(n: int = 5_000, seed: int = 0, bar_seconds: float = 60.0) -> pd.DataFrame:
    """`n` bars with columns time (epoch seconds), open, high, low, close, volume.

    Sessions of 390 bars separated by overnight gaps in time and in price.
    """
    rng = np.random.default_rng(seed)
    sigma = 0.0015 * np.exp(np.cumsum(rng.normal(0.0, 0.05, n)).clip(-2.0, 2.0))
    returns = rng.normal(0.0, 1.0, n) * sigma  # volatility that clusters
    session = np.arange(n) // BARS_PER_SESSION
    first_of_session = np.r_[False, session[1:] != session[:-1]]
    gaps = np.where(first_of_session, rng.normal(0.0, 0.02, n), 0.0)
    close = 100.0 * np.exp(np.cumsum(returns + gaps))
    open_ = np.r_[100.0, close[:-1]] * np.exp(np.where(first_of_session, gaps, 0.0) * 0.5)
    spread = np.abs(rng.normal(0.0, 1.0, (2, n))) * sigma * close
    high = np.maximum(open_, close) + spread[0]
    low = np.minimum(open_, close) - spread[1]
    volume = rng.integers(0, 5_000, n).astype(float) * (rng.random(n) > 0.02)
    flat = rng.random(n) < 0.01  # a few bars where nothing traded but the print
    high = np.where(flat, close, high)
    low = np.where(flat, close, low)
    open_ = np.where(flat, close, open_)
    minute = np.arange(n) % BARS_PER_SESSION
    time = SESSION_START + session * 86_400.0 + minute * bar_seconds
    return pd.DataFrame(
        {"time": time, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )
