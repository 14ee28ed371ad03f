"""Seeded random-walk OHLCV bars, for parity tests and benchmarks (no data to ship).

`trend` is the drift per bar as a fraction (e.g. 0.0005 trends up, 0 ranges); bars are
hourly and around the clock. Opens gap a little from the previous close, so fills at the
next open differ from fills at the close.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bars import BarSeries

START = 1_577_836_800.0  # 2020-01-01T00:00:00Z
HOUR = 3600.0


def random_walk(n: int, seed: int, trend: float = 0.0, volatility: float = 0.01,
                start_price: float = 100.0, symbol: str = "SYN") -> BarSeries:
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(trend, volatility, n)))
    previous = np.r_[start_price, close[:-1]]
    open_ = previous * np.exp(rng.normal(0.0, volatility * 0.2, n))
    spread = np.abs(rng.normal(0.0, volatility * 0.3, (2, n)))
    high = np.maximum(open_, close) * (1.0 + spread[0])
    low = np.minimum(open_, close) * (1.0 - spread[1])
    volume = rng.integers(100, 10_000, n).astype(float)
    time = START + HOUR * np.arange(n)
    return BarSeries(symbol, time, open_, high, low, close, volume)


def write_csv(bars: BarSeries, path: Path | str) -> Path:
    """The bars as backtesting.py's sample files are: a Date column (ISO, UTC) and
    Open, High, Low, Close, Volume."""
    path = Path(path)
    stamps = np.asarray(bars.time, dtype="datetime64[s]").astype(str)
    rows = np.column_stack([stamps, *(np.char.mod("%.10g", a) for a in (
        bars.open, bars.high, bars.low, bars.close, bars.volume))])
    with path.open("w", encoding="utf-8") as out:
        out.write("Date,Open,High,Low,Close,Volume\n")
        out.write("\n".join(",".join(row) for row in rows.tolist()))
        out.write("\n")
    return path
