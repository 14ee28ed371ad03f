"""Sizing by risk: the arithmetic a trader checks by hand, the caps, and every refusal."""

from __future__ import annotations

import math

import pytest

from ibtrader.core.sizing import (
    NO_BUYING_POWER,
    NO_EQUITY,
    NO_PRICE,
    SIZE_ZERO,
    STOP_WRONG_SIDE,
    TARGET_WRONG_SIDE,
    Refusal,
    Sizing,
    SizingRules,
    size_entry,
)

RULES = SizingRules(risk_per_trade_pct=0.5, reward_r=2.0, default_stop_pct=2.0,
                    stop_atr_multiple=2.0, max_position_value=0)


def sized(result: Sizing | Refusal) -> Sizing:
    assert isinstance(result, Sizing), result
    return result


def refused(result: Sizing | Refusal, code: str) -> str:
    assert isinstance(result, Refusal), result
    assert result.code == code
    return result.message


def test_long_with_the_signals_stop():
    # 0.5 % of 100k = 500 at risk; R = 3 -> 166.67 -> 166 whole shares
    s = sized(size_entry("buy", 100.0, 100_000, 1e9, RULES, stop=97.0))
    assert s.quantity == 166
    assert (s.stop, s.target, s.risk_per_unit) == (97.0, 106.0, 3.0)
    assert s.risk_amount == pytest.approx(498.0)
    assert s.stop_source == "signal" and s.capped_by == ""


def test_short_mirrors_long():
    s = sized(size_entry("sell", 50.0, 20_000, 1e9, RULES, stop=51.0))
    assert s.quantity == 100  # 100 at risk over R = 1
    assert (s.stop, s.target) == (51.0, 48.0)


def test_default_stop_from_atr_then_from_percent():
    atr = sized(size_entry("buy", 100.0, 100_000, 1e9, RULES, values={"atr": 1.25}))
    assert (atr.stop, atr.stop_source, atr.quantity) == (97.5, "atr", 200)
    pct = sized(size_entry("sell", 100.0, 100_000, 1e9, RULES, values={"atr": None}))
    assert (pct.stop, pct.stop_source, pct.quantity) == (102.0, "percent", 250)
    nan_atr = sized(size_entry("buy", 100.0, 100_000, 1e9, RULES, values={"atr": math.nan}))
    assert nan_atr.stop_source == "percent"


def test_signal_target_is_kept_and_no_target_when_reward_r_is_zero():
    s = sized(size_entry("buy", 100.0, 100_000, 1e9, RULES, stop=99.0, target=100.5))
    assert s.target == 100.5
    rules = SizingRules(reward_r=0.0, max_position_value=0)
    assert sized(size_entry("buy", 100.0, 100_000, 1e9, rules, stop=99.0)).target is None


def test_capped_by_max_position_value_and_buying_power():
    capped = SizingRules(max_position_value=10_000)
    s = sized(size_entry("buy", 100.0, 100_000, 1e9, capped, stop=99.0))  # wants 500
    assert (s.quantity, s.capped_by) == (100, "max_position_value")
    s = sized(size_entry("buy", 100.0, 100_000, 2_550.0, capped, stop=99.0))
    assert (s.quantity, s.capped_by) == (25, "buying_power")
    assert s.risk_amount == pytest.approx(25.0)


def test_whole_units_floor_and_exact_division_survives_rounding():
    # 0.3 % of 1000 = 3 over R 0.1 is 30 - float division gives 29.999999999999996
    rules = SizingRules(risk_per_trade_pct=0.3, max_position_value=0)
    assert sized(size_entry("buy", 10.0, 1_000, 1e9, rules, stop=9.9)).quantity == 30
    lots = SizingRules(quantity_step=25, max_position_value=0)
    assert sized(size_entry("buy", 10.0, 10_000, 1e9, lots, stop=9.0)).quantity == 50


def test_futures_multiplier_scales_risk_and_value():
    es = SizingRules(multiplier=50.0, max_position_value=0)
    # 500 at risk, R = 10 points * 50 = 500 per contract -> 1 contract
    s = sized(size_entry("buy", 5000.0, 100_000, 1e9, es, stop=4990.0))
    assert s.quantity == 1 and s.risk_amount == 500.0


@pytest.mark.parametrize(("kwargs", "code", "text"), [
    ({"equity": 0.0}, NO_EQUITY, "no equity"),
    ({"equity": math.nan}, NO_EQUITY, "no equity"),
    ({"price": 0.0}, NO_PRICE, "no usable price"),
    ({"price": math.nan}, NO_PRICE, "no usable price"),
    ({"buying_power": 0.0}, NO_BUYING_POWER, "no buying power"),
    ({"stop": 101.0}, STOP_WRONG_SIDE, "must be below the price 100 for a buy"),
    ({"stop": 100.0}, STOP_WRONG_SIDE, "below"),
    ({"target": 99.0}, TARGET_WRONG_SIDE, "must be above the price 100"),
    ({"stop": 50.0, "equity": 1_000.0}, SIZE_ZERO, "rounds to zero"),
    ({"buying_power": 50.0}, SIZE_ZERO, "capped by buying power"),
])
def test_refusals_say_why(kwargs, code, text):
    args = {"price": 100.0, "equity": 100_000.0, "buying_power": 1e9, "stop": 99.0,
            "target": None} | kwargs
    result = size_entry("buy", args.pop("price"), args.pop("equity"), args.pop("buying_power"),
                        RULES, **args)
    assert text in refused(result, code)


def test_short_stop_below_price_is_refused():
    message = refused(size_entry("sell", 100.0, 1e5, 1e9, RULES, stop=99.0), STOP_WRONG_SIDE)
    assert "above the price" in message


def test_bad_rules_and_sides_are_errors():
    with pytest.raises(ValueError, match="risk_per_trade_pct must be in"):
        SizingRules(risk_per_trade_pct=0)
    with pytest.raises(ValueError, match="reward_r"):
        SizingRules(reward_r=-1)
    with pytest.raises(ValueError, match="side must be buy or sell"):
        size_entry("exit", 100.0, 1e5, 1e9, RULES)
