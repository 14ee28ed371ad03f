"""Two years of daily bars look like a market: fat tails, volatility clustering, trends
and ranges, and prices that stay positive and sane."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ibtrader.sim.market.prices import Bar
from tests.sim.market.conftest import AAPL, NOW, UNIVERSE, model

TWO_YEARS = 730 * 86400


def autocorrelation(x: np.ndarray, lag: int) -> float:
    return float(np.corrcoef(x[:-lag], x[lag:])[0, 1])


@pytest.fixture(scope="module")
def history() -> tuple[list[Bar], list[str]]:
    """Weekday session bars (real hours), with the daily process's regime of each day."""
    m = model(around_the_clock=False)
    bars = m.bars(int(NOW) - TWO_YEARS, int(NOW), 86400)
    return bars, [m.regime(m.calendar.session_day(b.time)) for b in bars]


def returns(bars: list[Bar]) -> np.ndarray:
    return np.diff(np.log([b.close for b in bars]))


def test_two_years_of_trading_days(history):
    bars, _ = history
    assert 515 <= len(bars) <= 525
    for bar in bars:
        assert 0 < bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume > 0 and bar.count > 0


def test_fat_tails(history):
    r = returns(history[0])
    excess_kurtosis = float(((r - r.mean()) ** 4).mean() / r.var() ** 2 - 3)
    assert excess_kurtosis > 2.0  # 7.1 with this seed; a Gaussian gives 0
    assert np.abs(r).max() > 4 * r.std()


def test_volatility_clusters(history):
    size = np.abs(returns(history[0]))
    lags = [autocorrelation(size, k) for k in range(1, 11)]
    assert np.mean(lags) > 0.08  # 0.19 with this seed; about 0 without clustering
    assert autocorrelation(size, 1) > 0.1


def test_annual_volatility_is_near_the_instruments(history):
    annualised = float(returns(history[0]).std() * np.sqrt(252))
    assert 0.6 * AAPL.annual_vol < annualised < 1.5 * AAPL.annual_vol


def test_trends_and_ranges_both_happen(history):
    bars, regimes = history
    r = returns(bars)
    runs = [(label, len(list(group))) for label, group in itertools.groupby(regimes)]
    for label in ("up", "down", "range"):
        assert any(n >= 5 for lab, n in runs if lab == label), label
    by_regime = {label: r[np.array(regimes[1:]) == label] for label in ("up", "down")}
    # trends drift: about a third of a daily sigma per day
    assert by_regime["up"].mean() > 0.15 * r.std()
    assert by_regime["down"].mean() < -0.15 * r.std()
    # ranges mean-revert: consecutive returns inside a ranging stretch are anti-correlated
    inside = [(r[i - 1], r[i]) for i in range(1, len(r))
              if regimes[i] == regimes[i + 1] == regimes[i - 1] == "range"]
    before, after = np.array(inside).T
    assert np.corrcoef(before, after)[0, 1] < -0.05


def test_prices_stay_positive_and_sane_for_decades():
    for symbol in ("AAPL", "NVDA", "EUR", "ES"):
        instrument = UNIVERSE.by_symbol(symbol)[0]
        m = model(instrument, cache_days=1)
        # one second a year, 2015 to 2074
        first = m.first_time()
        prices = [m.last_at(first + 3600 + year * 365 * 86400) for year in range(60)]
        ratio = np.array(prices) / instrument.start_price
        assert (ratio > 1 / 20).all() and (ratio < 20).all(), symbol
