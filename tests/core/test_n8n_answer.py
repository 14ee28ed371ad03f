"""The n8n decision workflow's answer, checked: a good answer becomes an Answer (and the
strategy's signal), each malformed one is refused with its own named code."""

from __future__ import annotations

import math
import re

import pytest

from ibtrader.core.advice import AnswerError
from ibtrader.core.market import Bar
from ibtrader.core.strategies import load_strategy
from ibtrader.core.strategies import n8n_answer as na
from ibtrader.core.strategies.n8n_answer import Answer, parse_answer

GOOD = {"action": "buy", "entry": 100.5, "stop": 98.0, "target": 106.0, "confidence": 0.8,
        "reason": "  breakout above the range  "}


def test_a_good_buy_and_sell_and_hold():
    assert parse_answer(GOOD, close=100.0) == Answer("buy", 100.5, 98.0, 106.0, 0.8,
                                                      "breakout above the range")
    sell = parse_answer({"action": "SELL", "entry": 99, "stop": 101, "target": 95,
                         "confidence": 1}, close=100.0)
    assert sell == Answer("sell", 99.0, 101.0, 95.0, 1.0, "")
    assert parse_answer({"action": "hold", "reason": "chop"}, close=100.0) == Answer(
        "hold", reason="chop")


def test_stop_and_target_may_be_left_to_the_sizing_rules():
    answer = parse_answer({"action": "buy", "entry": 100, "stop": None, "confidence": 0.5},
                          close=100.0)
    assert (answer.stop, answer.target) == (None, None)


CASES = [
    ([GOOD], na.NOT_AN_OBJECT, "must be a JSON object, not a list"),
    ("buy", na.NOT_AN_OBJECT, "not text"),
    (None, na.NOT_AN_OBJECT, "not null"),
    ({"entry": 100, "confidence": 0.5}, na.MISSING_ACTION, "no action"),
    ({**GOOD, "action": None}, na.MISSING_ACTION, "no action"),
    ({**GOOD, "action": "short"}, na.UNKNOWN_ACTION, "unknown action 'short'"),
    ({**GOOD, "action": 1}, na.UNKNOWN_ACTION, "unknown action 1"),
    ({**GOOD, "entry": None}, na.MISSING_FIELD, "no entry"),
    ({k: v for k, v in GOOD.items() if k != "confidence"}, na.MISSING_FIELD,
     "no confidence"),
    ({**GOOD, "entry": "100.5"}, na.NOT_A_NUMBER, "entry must be a number, not text"),
    ({**GOOD, "stop": True}, na.NOT_A_NUMBER, "stop must be a number, not true/false"),
    ({**GOOD, "target": [106]}, na.NOT_A_NUMBER, "target must be a number, not a list"),
    ({**GOOD, "entry": math.nan}, na.NOT_A_NUMBER, "finite"),
    ({**GOOD, "stop": -1}, na.NOT_POSITIVE, "stop must be a price above 0"),
    ({**GOOD, "stop": 101.0}, na.WRONG_SIDE, "a buy's stop must be below the entry"),
    ({**GOOD, "target": 100.5}, na.WRONG_SIDE, "a buy's target must be above the entry"),
    ({**GOOD, "action": "sell"}, na.WRONG_SIDE, "a sell's stop must be above the entry"),
    ({"action": "sell", "entry": 100, "stop": 102, "target": 103, "confidence": 0.5},
     na.WRONG_SIDE, "a sell's target must be below the entry"),
    ({**GOOD, "entry": 120.0}, na.ENTRY_AWAY, "20.0% away from the last close 100"),
    ({**GOOD, "confidence": 1.5}, na.CONFIDENCE_RANGE, "confidence 1.5 is outside 0..1"),
    ({**GOOD, "confidence": -0.1}, na.CONFIDENCE_RANGE, "outside 0..1"),
    ({"action": "hold", "confidence": 7}, na.CONFIDENCE_RANGE, "outside 0..1"),
    ({**GOOD, "reason": 42}, na.REASON_NOT_TEXT, "reason must be text"),
    ({**GOOD, "reason": "x" * 501}, na.REASON_TOO_LONG, "501 characters long"),
]


@pytest.mark.parametrize(("data", "code", "message"), CASES,
                         ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)])
def test_every_malformed_answer_is_refused_with_its_reason(data, code, message):
    with pytest.raises(AnswerError, match=re.escape(message)) as refused:
        parse_answer(data, close=100.0)
    assert refused.value.code == code


BAR = Bar(1_700_000_000.0, 99.0, 101.0, 98.5, 100.0, 5_000.0)
VALUES = {"sma_fast": 99.5, "sma_slow": 98.0, "rsi": 61.0, "atr": 1.2}


def test_the_strategy_turns_an_answer_into_a_signal_or_none():
    strategy = load_strategy("n8n_decision", min_confidence=0.6)
    signal = strategy.answer("AAPL", BAR, VALUES, GOOD)
    assert signal is not None
    assert (signal.symbol, signal.side, signal.strength, signal.stop, signal.target) == (
        "AAPL", "buy", 0.8, 98.0, 106.0)
    assert signal.time == BAR.time and signal.reason == "breakout above the range"
    assert signal.values == {**VALUES, "entry": 100.5, "confidence": 0.8}
    assert strategy.answer("AAPL", BAR, VALUES, {"action": "hold"}) is None
    assert strategy.answer("AAPL", BAR, VALUES, {**GOOD, "confidence": 0.5}) is None
    with pytest.raises(AnswerError, match=r"8\.0% away"):
        strategy.answer("AAPL", BAR, VALUES, {**GOOD, "entry": 108.0, "target": 110})


def test_the_question_carries_the_bar_and_indicator_values():
    strategy = load_strategy("n8n_decision", fast=5, slow=10)
    question = strategy.question("AAPL", "5 mins", BAR, {**VALUES, "rsi": None}, -10.0)
    assert question["symbol"] == "AAPL" and question["bar_size"] == "5 mins"
    assert question["bar"]["close"] == 100.0 and question["time"] == BAR.time
    assert question["indicators"] == {**VALUES, "rsi": None}
    assert question["position"] == -10.0 and question["params"]["fast"] == 5


def test_it_cannot_run_in_a_backtest_and_says_so():
    strategy = load_strategy("n8n_decision")
    with pytest.raises(RuntimeError, match="runs live only"):
        strategy.on_bar(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="need fast < slow"):
        load_strategy("n8n_decision", fast=50, slow=20)
