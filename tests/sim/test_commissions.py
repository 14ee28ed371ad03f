from __future__ import annotations

import pytest

from ibtrader.sim.commissions import IBTieredStyle, NoCommission, PercentOfValue
from tests.sim.fakes import FUTURE, FX, STOCK

TIERED = IBTieredStyle()


def test_stock_per_share_between_min_and_max():
    assert TIERED.commission(STOCK, 1_000, 50.0) == pytest.approx(3.50)


def test_stock_minimum_applies_to_small_orders():
    assert TIERED.commission(STOCK, 10, 150.0) == pytest.approx(0.35)


def test_stock_maximum_is_one_percent_of_value_and_beats_the_minimum():
    # 10,000 shares at $0.05: per share $35, 1% of $500 is $5
    assert TIERED.commission(STOCK, 10_000, 0.05) == pytest.approx(5.0)
    # one $5 share: the 1% cap ($0.05) is below the $0.35 minimum, and wins
    assert TIERED.commission(STOCK, 1, 5.0) == pytest.approx(0.05)


def test_fx_is_two_tenths_of_a_basis_point_with_a_two_dollar_minimum():
    assert TIERED.commission(FX, 10_000_000, 1.10) == pytest.approx(220.0)
    assert TIERED.commission(FX, 20_000, 1.10) == pytest.approx(2.0)


def test_futures_per_contract():
    assert TIERED.commission(FUTURE, 3, 5000.0) == pytest.approx(2.55)


def test_nothing_traded_costs_nothing():
    assert TIERED.commission(STOCK, 0, 100.0) == 0.0


def test_percent_of_value_uses_the_multiplier():
    assert PercentOfValue(0.001).commission(FUTURE, 2, 5000.0) == pytest.approx(500.0)
    assert PercentOfValue(0.001).commission(STOCK, 100, 10.0) == pytest.approx(1.0)


def test_no_commission():
    assert NoCommission().commission(STOCK, 100, 10.0) == 0.0
