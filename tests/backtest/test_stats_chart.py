"""Statistics on series small enough to check by hand, and the equity PNG."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from ibtrader.backtest.broker import Trade
from ibtrader.backtest.chart import equity_png
from ibtrader.backtest.stats import compute_stats, max_drawdown_pct, sharpe_ratio

DAY = 86_400.0


def trade(pnl: float) -> Trade:
    return Trade(0, 1, 0.0, DAY, "long", 1.0, 100.0, 100.0 + pnl, pnl, 0.0, "signal")


def test_max_drawdown_is_the_deepest_fall_from_a_running_peak() -> None:
    equity = np.array([100.0, 120.0, 90.0, 130.0, 104.0, 125.0])
    # 120 -> 90 is -25%; 130 -> 104 is -20%
    assert max_drawdown_pct(equity) == pytest.approx(-25.0)
    assert max_drawdown_pct(np.array([1.0, 2.0, 3.0])) == 0.0


def test_win_rate_trades_exposure_and_returns() -> None:
    equity = np.array([1000.0, 1000.0, 1100.0, 1050.0, 1210.0])
    position = np.array([0.0, 5.0, 5.0, 0.0, 2.0])
    times = np.arange(5) * DAY
    stats = compute_stats(equity, position, [trade(10), trade(-3), trade(5), trade(0)],
                          times, 1000.0)
    assert stats.trades == 4
    assert stats.win_rate_pct == 50.0  # a zero P&L is not a win
    assert stats.exposure_pct == 60.0
    assert stats.total_return_pct == pytest.approx(21.0)
    assert stats.final_equity == 1210.0
    years = 4 * DAY / (365.25 * DAY)
    assert stats.cagr_pct == pytest.approx((1.21 ** (1 / years) - 1) * 100)


def test_sharpe_is_annualised_from_the_bar_spacing() -> None:
    returns = np.array([0.01, -0.005, 0.02, 0.0, 0.01])
    equity = 100.0 * np.cumprod(np.r_[1.0, 1.0 + returns])
    daily = sharpe_ratio(equity, np.arange(len(equity)) * DAY)
    hourly = sharpe_ratio(equity, np.arange(len(equity)) * 3600.0)
    per_bar = returns.mean() / returns.std(ddof=1)
    assert daily == pytest.approx(per_bar * math.sqrt(365.25))
    assert hourly == pytest.approx(per_bar * math.sqrt(365.25 * 24))
    assert math.isnan(sharpe_ratio(np.full(10, 5.0), np.arange(10) * DAY))


def test_no_trades_give_an_undefined_win_rate() -> None:
    stats = compute_stats(np.full(3, 10.0), np.zeros(3), [], np.arange(3) * DAY, 10.0)
    assert math.isnan(stats.win_rate_pct) and stats.trades == 0


def test_the_equity_png_is_a_real_drawing() -> None:
    rng = np.random.default_rng(3)
    equity = 10_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, 5000))
    png = equity_png(equity, np.arange(5000) * 3600.0, "test run", 10_000.0)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1200, 600)
    pixels = np.asarray(image)
    colours = {tuple(p) for p in pixels.reshape(-1, 3)[::7]}
    assert len(colours) > 20  # lines, fills and text, not a blank canvas
    blue = np.all(pixels == (20, 110, 190), axis=2)
    assert blue.any(axis=0).sum() > 1000  # the curve spans the plot's width


def test_a_flat_curve_still_draws() -> None:
    png = equity_png(np.full(3, 100.0), np.arange(3) * DAY, "flat", 100.0)
    assert Image.open(io.BytesIO(png)).size == (1200, 600)
    with pytest.raises(ValueError, match="no equity"):
        equity_png(np.zeros(0), np.zeros(0), "none", 1.0)
