"""Strategy parameters and signals: what a trader types is checked, and a mistake is
refused with a message naming the strategy, the parameter and what is allowed."""

from __future__ import annotations

import math

import pytest

from ibtrader.core.strategies import STRATEGIES, load_strategy, strategy_class
from ibtrader.core.strategy import Param, Signal


class TestValuesFromText:
    """A command line (`--param fast=10`) gives text; each type parses its own words."""

    def test_ints_floats_bools_and_choices_parse(self) -> None:
        s = load_strategy("sma_cross", fast="5", slow=" 30 ", kind="ema")
        assert (s.p.fast, s.p.slow, s.p.kind) == (5, 30, "ema")
        assert type(s.p.fast) is int
        r = load_strategy("rsi_reversion", oversold="25.5", shorts="false")
        assert r.p.oversold == 25.5 and r.p.shorts is False
        assert load_strategy("rsi_reversion", shorts="yes").p.shorts is True

    def test_choice_is_matched_regardless_of_case(self) -> None:
        assert load_strategy("sma_cross", kind="EMA").p.kind == "ema"

    def test_whole_float_is_an_int_and_ints_widen_to_float(self) -> None:
        assert load_strategy("sma_cross", fast=5.0).p.fast == 5
        assert load_strategy("sma_cross", fast="1e1").p.fast == 10
        assert type(load_strategy("supertrend", multiplier=2).p.multiplier) is float

    def test_defaults_fill_what_is_not_given(self) -> None:
        s = load_strategy("sma_cross")
        assert s.p.as_dict() == {"fast": 10, "slow": 20, "kind": "sma"}
        assert s.describe() == "sma_cross(fast=10, slow=20, kind='sma')"


class TestRefusals:
    @pytest.mark.parametrize(("params", "message"), [
        ({"fast": "ten"}, "sma_cross: fast must be an integer in [1, 1000], got 'ten'"),
        ({"fast": "2.5"}, "sma_cross: fast must be an integer in [1, 1000], got '2.5'"),
        ({"fast": 0}, "sma_cross: fast must be an integer in [1, 1000], got 0"),
        ({"slow": 6000}, "sma_cross: slow must be an integer in [2, 5000], got 6000"),
        ({"fast": True}, "sma_cross: fast must be an integer in [1, 1000], got True"),
        ({"kind": "wma"}, "sma_cross: kind must be one of sma, ema, got 'wma'"),
        ({"kind": 1}, "sma_cross: kind must be one of sma, ema, got 1"),
    ])
    def test_bad_value_names_strategy_param_and_allowed(self, params: dict, message: str) -> None:
        with pytest.raises(ValueError) as err:
            load_strategy("sma_cross", **params)
        assert str(err.value) == message

    @pytest.mark.parametrize("text", ["nan", "inf", "-inf", ""])
    def test_non_finite_or_empty_numbers_are_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"supertrend: multiplier must be a number in "
                                             r"\[0.5, 20\]"):
            load_strategy("supertrend", multiplier=text)

    def test_bool_accepts_only_yes_no_words(self) -> None:
        with pytest.raises(ValueError, match="shorts must be true or false, got 'maybe'"):
            load_strategy("rsi_reversion", shorts="maybe")
        with pytest.raises(ValueError, match="shorts must be true or false, got 1"):
            load_strategy("rsi_reversion", shorts=1)  # a number is not a yes/no answer

    def test_unknown_param_is_refused_with_a_suggestion(self) -> None:
        with pytest.raises(ValueError) as err:
            load_strategy("sma_cross", fats=5)
        assert str(err.value) == ("sma_cross: unknown parameter(s) fats (did you mean fast?); "
                                  "allowed: fast, slow, kind")

    def test_unknown_strategy_lists_the_known_ones(self) -> None:
        with pytest.raises(ValueError, match="unknown strategy 'smacross'; known: "
                                             "bollinger_breakout, macd_cross, n8n_decision"):
            strategy_class("smacross")

    @pytest.mark.parametrize(("name", "params", "message"), [
        ("sma_cross", {"fast": 20, "slow": 20}, "fast must be below slow, got fast=20, slow=20"),
        ("sma_cross", {"fast": 50}, "fast must be below slow, got fast=50, slow=20"),
        ("macd_cross", {"fast": 30}, "fast must be below slow, got fast=30, slow=26"),
        ("rsi_reversion", {"exit_level": 75},
         "need oversold < exit_level < overbought, got 30 < 75 < 70"),
    ])
    def test_cross_param_rules(self, name: str, params: dict, message: str) -> None:
        with pytest.raises(ValueError) as err:
            load_strategy(name, **params)
        assert str(err.value) == f"{name}: {message}"


class TestParamDeclaration:
    """Mistakes in a strategy's own declaration are caught when the class is defined."""

    def test_default_outside_bounds(self) -> None:
        with pytest.raises(ValueError, match=r"param period: the default 1 is not an integer "
                                             r"in \[2, 50\]"):
            Param("period", int, 1, low=2, high=50)

    def test_default_not_a_choice(self) -> None:
        with pytest.raises(ValueError, match="the default 'wma' is not one of sma, ema"):
            Param("kind", str, "wma", choices=("sma", "ema"))

    @pytest.mark.parametrize(("kwargs", "message"), [
        ({"name": "bad name", "type": int, "default": 1}, "must be an identifier"),
        ({"name": "n", "type": list, "default": []}, "type must be int, float, str or bool"),
        ({"name": "n", "type": int, "default": 5, "low": 10, "high": 1}, "low 10 is above"),
        ({"name": "b", "type": bool, "default": True, "low": 0}, "bounds need an int or float"),
        ({"name": "k", "type": str, "default": "a", "choices": ("a", 2)}, "choice 2 is not a str"),
    ])
    def test_malformed_params(self, kwargs: dict, message: str) -> None:
        with pytest.raises((ValueError, TypeError), match=message):
            Param(**kwargs)

    def test_every_built_in_declares_help_and_valid_defaults(self) -> None:
        for name, cls in STRATEGIES.items():
            assert cls.name == name and cls.title
            for p in cls.params:
                assert p.help, f"{name}.{p.name} has no help text"
            cls()  # the defaults pass the cross-param rules too


class TestSignal:
    def test_strength_outside_0_1_is_refused(self) -> None:
        for bad in (-0.1, 1.5, math.nan):
            with pytest.raises(ValueError, match="strength must be in"):
                Signal("AAPL", "buy", bad)

    def test_side_and_symbol_are_checked(self) -> None:
        with pytest.raises(ValueError, match="side must be buy, sell or exit, not 'long'"):
            Signal("AAPL", "long")
        with pytest.raises(ValueError, match="needs the symbol"):
            Signal("", "buy")

    def test_params_are_read_only_once_built(self) -> None:
        s = load_strategy("sma_cross")
        with pytest.raises(AttributeError, match="fixed once the strategy is built"):
            s.p.fast = 3
        with pytest.raises(AttributeError, match="no parameter 'fastest'"):
            _ = s.p.fastest
