"""A run's statistics from its equity curve and trades."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .broker import Trade

YEAR_SECONDS = 365.25 * 86_400


@dataclass(frozen=True)
class Stats:
    start_equity: float
    final_equity: float
    total_return_pct: float
    cagr_pct: float
    max_drawdown_pct: float  # the deepest fall from a peak, as a negative percent
    sharpe: float
    win_rate_pct: float
    trades: int
    exposure_pct: float  # bars with a position held at the close


def compute_stats(equity: np.ndarray, position: np.ndarray, trades: list[Trade],
                  times: np.ndarray, start_equity: float) -> Stats:
    final = float(equity[-1]) if len(equity) else start_equity
    total = (final / start_equity - 1.0) * 100.0
    span = float(times[-1] - times[0]) if len(times) > 1 else 0.0
    years = span / YEAR_SECONDS
    if years > 0 and final > 0:
        cagr = ((final / start_equity) ** (1.0 / years) - 1.0) * 100.0
    else:
        cagr = math.nan if final <= 0 else 0.0
    wins = sum(1 for t in trades if t.pnl > 0)
    return Stats(
        start_equity=start_equity,
        final_equity=final,
        total_return_pct=total,
        cagr_pct=cagr,
        max_drawdown_pct=max_drawdown_pct(equity),
        sharpe=sharpe_ratio(equity, times),
        win_rate_pct=100.0 * wins / len(trades) if trades else math.nan,
        trades=len(trades),
        exposure_pct=100.0 * float(np.count_nonzero(position)) / len(position)
        if len(position) else 0.0,
    )


def max_drawdown_pct(equity: np.ndarray) -> float:
    if len(equity) == 0:
        return 0.0
    peaks = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, equity / peaks - 1.0, 0.0)
    return float(falls.min()) * 100.0


def bars_per_year(times: np.ndarray) -> float:
    """Bars in a year at the median spacing of `times` (a day bar: 365.25 a year, since
    the calendar of the data is not known; stocks trade ~252 of those days)."""
    if len(times) < 2:
        return 0.0
    spacing = float(np.median(np.diff(times)))
    return YEAR_SECONDS / spacing if spacing > 0 else 0.0


def sharpe_ratio(equity: np.ndarray, times: np.ndarray) -> float:
    """Mean over standard deviation of the bar returns, annualised by the bar spacing
    (risk-free rate 0); NaN when the returns do not vary."""
    if len(equity) < 3:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(equity) / equity[:-1]
    returns = returns[np.isfinite(returns)]
    sd = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    if sd == 0.0:
        return math.nan
    return float(returns.mean()) / sd * math.sqrt(bars_per_year(times))
