"""The pieces a backtest runs once per trade, made lean: a signal is still a checked,
read-only value, and sizing without commission gives the units of the general rule."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtrader.backtest.broker import BacktestInstrument
from ibtrader.backtest.sizing import Sizer
from ibtrader.core.strategy import Signal
from ibtrader.sim.commissions import NoCommission, PercentOfValue


def test_a_signal_keeps_its_fields_and_defaults() -> None:
    signal = Signal("AAPL", "buy", 0.5, "why", {"rsi": 28.0}, 95.0, 110.0, 1_700_000_000.0)
    assert (signal.symbol, signal.side, signal.strength, signal.reason, signal.values,
            signal.stop, signal.target, signal.time) == (
        "AAPL", "buy", 0.5, "why", {"rsi": 28.0}, 95.0, 110.0, 1_700_000_000.0)
    plain = Signal("AAPL", "exit")
    assert (plain.strength, plain.reason, plain.values, plain.stop, plain.target,
            plain.time) == (1.0, "", {}, None, None, 0.0)
    assert Signal("AAPL", "sell", time=5.0, stop=101.0).stop == 101.0


def test_each_signal_gets_its_own_values_dict() -> None:
    first, second = Signal("AAPL", "buy"), Signal("AAPL", "buy")
    first.values["note"] = 1  # type: ignore[index]
    assert second.values == {}


def test_a_signal_is_read_only_and_a_changed_copy_is_checked_again() -> None:
    signal = Signal("AAPL", "buy", 0.7)
    with pytest.raises(AttributeError):
        signal.side = "sell"  # type: ignore[misc]
    assert signal._replace(side="sell").side == "sell"
    with pytest.raises(ValueError, match="side must be buy, sell or exit, not 'long'"):
        signal._replace(side="long")
    with pytest.raises(ValueError, match="strength must be in"):
        signal._replace(strength=2.0)
    assert pickle.loads(pickle.dumps(signal)) == signal


INSTRUMENT = BacktestInstrument("SYN")


@given(price=st.floats(0.01, 5_000.0), cash=st.floats(-1_000.0, 1e7))
def test_all_in_without_commission_buys_what_a_zero_commission_rule_buys(
        price: float, cash: float) -> None:
    free = Sizer("all-in", NoCommission(), INSTRUMENT)
    general = Sizer("all-in", PercentOfValue(0.0), INSTRUMENT)  # the general steps, fee 0
    units = free.size(price, cash, cash, None)
    assert units == general.size(price, cash, cash, None)
    assert units * price <= max(cash, 0.0)  # never more than the cash
    assert (units + 1) * price > max(cash, 0.0) * (1 - 1e-12)  # and not one unit less


def test_risk_sizing_is_capped_by_all_in_without_commission() -> None:
    sizer = Sizer("risk", NoCommission(), INSTRUMENT, risk_pct=50.0)
    # 50% of 10,000 over a 1.0 stop distance wants 5,000 units; the cash buys 99
    assert sizer.size(100.0, 10_000.0, 10_000.0, 99.0) == 99.0
    assert sizer.size(100.0, 10_000.0, 10_000.0, 0.0) == 50.0  # 5,000 over 100 of risk
