"""n8n_decision: the decision comes from an n8n workflow the trader built.

At each closed bar the engine posts the question (symbol, bar, indicator values, the
position, and - added by the adapter - a link to the chart image) to the webhook in the
`n8n_decision_url` setting; the workflow answers {action, entry, stop, target,
confidence, reason} (see n8n_answer.py), which becomes a signal sized and risk-checked
like any other. A timeout, an HTTP error or a malformed answer gives no signal: the
engine logs and publishes the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ibtrader.core.advice import AskingStrategy
from ibtrader.core.indicators import Indicator, make_indicator
from ibtrader.core.market import Bar
from ibtrader.core.strategy import Param, Signal

from .n8n_answer import parse_answer

QUESTION_VERSION = 1


class N8nDecision(AskingStrategy):
    name = "n8n_decision"
    title = "Decision from an n8n workflow"
    params = (
        Param("fast", int, 20, low=2, high=500, help="fast SMA sent to the workflow"),
        Param("slow", int, 50, low=2, high=1000, help="slow SMA sent to the workflow"),
        Param("rsi_period", int, 14, low=2, high=500, help="RSI period sent"),
        Param("atr_period", int, 14, low=1, high=500,
              help="ATR period sent (also the sizing's stop when the answer has none)"),
        Param("min_confidence", float, 0.0, low=0.0, high=1.0,
              help="answers less confident than this are taken as hold"),
        Param("max_entry_gap_pct", float, 5.0, low=0.01, high=100.0,
              help="refuse an entry further than this from the last close, in %"),
    )
    bar_size = "1 hour"
    advisor_hint = ("n8n_decision needs the n8n webhook that answers it: set the "
                    "n8n_decision_url setting (IBTRADER_N8N_DECISION_URL)")

    def validate(self) -> None:
        if self.p.fast >= self.p.slow:
            raise ValueError(f"n8n_decision: need fast < slow, got {self.p.fast} >= "
                             f"{self.p.slow}")

    def indicators(self) -> dict[str, Indicator[Any]]:
        p = self.p
        return {"sma_fast": make_indicator("sma", period=p.fast),
                "sma_slow": make_indicator("sma", period=p.slow),
                "rsi": make_indicator("rsi", period=p.rsi_period),
                "atr": make_indicator("atr", period=p.atr_period)}

    def question(self, symbol: str, bar_size: str, bar: Bar, values: Mapping[str, Any],
                 position: float) -> dict[str, Any]:
        return {"version": QUESTION_VERSION, "strategy": self.name, "symbol": symbol,
                "bar_size": bar_size, "time": bar.time,
                "bar": {"open": bar.open, "high": bar.high, "low": bar.low,
                        "close": bar.close, "volume": bar.volume},
                "indicators": {name: _plain(v) for name, v in values.items()},
                "params": self.p.as_dict(), "position": position}

    def answer(self, symbol: str, bar: Bar, values: Mapping[str, Any],
               reply: Any) -> Signal | None:
        answer = parse_answer(reply, close=bar.close,
                              max_entry_gap_pct=self.p.max_entry_gap_pct)
        if answer.action == "hold":
            return None
        confidence = answer.confidence if answer.confidence is not None else 1.0
        if confidence < self.p.min_confidence:
            return None
        reason = answer.reason or f"n8n workflow: {answer.action}"
        kept = {name: _plain(v) for name, v in values.items()}
        kept.update(entry=answer.entry, confidence=confidence)
        return Signal(symbol, answer.action, confidence, reason, kept, answer.stop,
                      answer.target, bar.time)


def _plain(value: Any) -> Any:
    """An indicator value as JSON: a number, or None while it warms up."""
    if value is None or isinstance(value, int | float):
        return value
    return float(value)
