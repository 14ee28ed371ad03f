"""The answer of an n8n decision workflow, checked: every way it can be wrong is named.

    parse_answer({"action": "buy", "entry": 101.2, "stop": 99.5, "target": 105,
                  "confidence": 0.7, "reason": "breakout above the range"}, close=101.0)

An answer is one JSON object. `action` is buy, sell or hold; a hold needs nothing else.
A buy or a sell needs `entry` (a price near the last close: the engine enters at market,
so an entry far away means the workflow looked at another chart) and `confidence` in
[0, 1]; `stop` and `target` are optional (null or absent: the sizing rules pick them),
and when given they must lie on their side of the entry. `reason` is optional text.
Unknown keys are ignored: a workflow may send more for its own use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ibtrader.core.advice import AnswerError

ACTIONS = ("buy", "sell", "hold")
MAX_REASON = 500

NOT_AN_OBJECT = "not_an_object"
MISSING_ACTION = "missing_action"
UNKNOWN_ACTION = "unknown_action"
MISSING_FIELD = "missing_field"
NOT_A_NUMBER = "not_a_number"
NOT_POSITIVE = "not_positive"
WRONG_SIDE = "wrong_side"
ENTRY_AWAY = "entry_away"
CONFIDENCE_RANGE = "confidence_out_of_range"
REASON_NOT_TEXT = "reason_not_text"
REASON_TOO_LONG = "reason_too_long"


@dataclass(frozen=True, slots=True)
class Answer:
    action: str
    entry: float | None = None
    stop: float | None = None
    target: float | None = None
    confidence: float | None = None
    reason: str = ""


def parse_answer(data: Any, *, close: float, max_entry_gap_pct: float = 5.0,
                 max_reason: int = MAX_REASON) -> Answer:
    """`data` (decoded JSON) as an Answer, or AnswerError naming what is wrong."""
    if not isinstance(data, dict):
        raise AnswerError(NOT_AN_OBJECT, f"the answer must be a JSON object, not "
                                         f"{_kind(data)}")
    if "action" not in data or data["action"] is None:
        raise AnswerError(MISSING_ACTION, "the answer has no action (buy, sell or hold)")
    action = data["action"]
    folded = action.strip().lower() if isinstance(action, str) else None
    if folded not in ACTIONS:
        raise AnswerError(UNKNOWN_ACTION, f"unknown action {action!r}: buy, sell or hold")
    reason = _reason(data.get("reason"), max_reason)
    confidence = _number(data, "confidence", required=folded != "hold")
    if confidence is not None and not 0.0 <= confidence <= 1.0:
        raise AnswerError(CONFIDENCE_RANGE, f"confidence {confidence:g} is outside 0..1")
    if folded == "hold":
        return Answer("hold", confidence=confidence, reason=reason)
    entry = _price(data, "entry", required=True)
    assert entry is not None
    gap = abs(entry / close - 1.0) * 100.0
    if gap > max_entry_gap_pct:
        raise AnswerError(ENTRY_AWAY, f"entry {entry:g} is {gap:.1f}% away from the last "
                                      f"close {close:g} (at most {max_entry_gap_pct:g}%)")
    stop = _price(data, "stop", required=False)
    target = _price(data, "target", required=False)
    stop_side, target_side = ("below", "above") if folded == "buy" else ("above", "below")
    for name, value, want in (("stop", stop, stop_side), ("target", target, target_side)):
        if value is not None and (value >= entry if want == "below" else value <= entry):
            raise AnswerError(WRONG_SIDE, f"a {folded}'s {name} must be {want} the entry: "
                                          f"{name} {value:g}, entry {entry:g}")
    return Answer(folded, entry, stop, target, confidence, reason)


def _number(data: dict[str, Any], name: str, *, required: bool) -> float | None:
    value = data.get(name)
    if value is None:
        if required:
            raise AnswerError(MISSING_FIELD, f"the answer has no {name}")
        return None
    # JSON true is no number, and "101.5" in quotes is a workflow bug worth reporting
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnswerError(NOT_A_NUMBER, f"{name} must be a number, not {_kind(value)} "
                                        f"{value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise AnswerError(NOT_A_NUMBER, f"{name} must be a finite number, got {value!r}")
    return number


def _price(data: dict[str, Any], name: str, *, required: bool) -> float | None:
    price = _number(data, name, required=required)
    if price is not None and price <= 0:
        raise AnswerError(NOT_POSITIVE, f"{name} must be a price above 0, got {price:g}")
    return price


def _reason(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnswerError(REASON_NOT_TEXT, f"reason must be text, not {_kind(value)}")
    if len(value) > limit:
        raise AnswerError(REASON_TOO_LONG, f"reason is {len(value)} characters long "
                                           f"(at most {limit})")
    return value.strip()


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
