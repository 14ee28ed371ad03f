"""From a signal to a decision: opens, reversals, exits, refusals, auto-trade, and the
state table a decision lives by."""

from __future__ import annotations

import pytest

from ibtrader.core.decisions import (
    ALREADY_POSITIONED,
    AUTO_TRADE_UNAVAILABLE,
    NOTHING_TO_EXIT,
    STRATEGY_DISABLED,
    TRANSITIONS,
    DecisionContext,
    DecisionError,
    DecisionState,
    SignalRecord,
    decide,
    new_id,
)
from ibtrader.core.sizing import SIZE_ZERO, STOP_WRONG_SIDE, SizingRules
from ibtrader.core.strategy import Signal

S = DecisionState
RULES = SizingRules(max_position_value=0)
NOW = 1_700_000_000.0


def record(side: str, stop: float | None = None, **values: float) -> SignalRecord:
    signal = Signal("AAPL", side, 0.8, "test", values, stop, None, NOW - 60)
    return SignalRecord("sig1", "sma_cross", "1 min", signal, NOW)


def ctx(**kw) -> DecisionContext:
    return DecisionContext(**({"price": 100.0, "equity": 100_000.0, "buying_power": 1e6,
                               "position": 0.0} | kw))


def test_an_entry_waits_for_the_trader_with_size_stop_and_target():
    d = decide(record("buy", stop=98.0), ctx(ttl=120), RULES, NOW)
    assert d.state is S.PENDING and d.expires == NOW + 120
    assert (d.side, d.action, d.quantity, d.closes) == ("buy", "open", 250, 0)
    assert (d.entry_price, d.stop, d.target, d.risk_amount) == (100.0, 98.0, 104.0, 500.0)
    assert (d.signal_id, d.strategy, d.symbol) == ("sig1", "sma_cross", "AAPL")
    assert d.detail["stop_source"] == "signal"


def test_a_reversal_closes_then_opens():
    d = decide(record("sell", stop=102.0), ctx(position=40.0), RULES, NOW)
    assert (d.side, d.action, d.closes, d.quantity) == ("sell", "reverse", 40, 290)


def test_an_exit_closes_the_whole_position():
    d = decide(record("exit"), ctx(position=-70.0), RULES, NOW)
    assert (d.side, d.action, d.quantity, d.closes, d.state) == ("buy", "close", 70, 70, S.PENDING)


@pytest.mark.parametrize(("rec", "context", "code", "text"), [
    (record("buy"), ctx(enabled=False), STRATEGY_DISABLED, "sma_cross is disabled"),
    (record("buy"), ctx(position=10.0), ALREADY_POSITIONED, "already long 10 AAPL"),
    (record("sell"), ctx(position=-5.0), ALREADY_POSITIONED, "already short 5"),
    (record("exit"), ctx(), NOTHING_TO_EXIT, "no position in AAPL"),
    (record("buy", stop=101.0), ctx(), STOP_WRONG_SIDE, "must be below"),
    (record("buy"), ctx(equity=10.0), SIZE_ZERO, "rounds to zero"),
])
def test_refusals_are_recorded_with_their_reason(rec, context, code, text):
    d = decide(rec, context, RULES, NOW)
    assert d.state is S.REFUSED and d.refusal_code == code and text in d.reason
    assert d.is_final and d.expires is None


def test_auto_trade_accepts_at_once_or_is_refused_without_a_port():
    d = decide(record("buy", atr=1.0), ctx(auto_trade=True), RULES, NOW)
    assert d.state is S.ACCEPTED and d.expires is None and d.stop == 98.0
    d = decide(record("buy"), ctx(auto_trade=True, can_submit=False), RULES, NOW)
    assert d.state is S.REFUSED and d.refusal_code == AUTO_TRADE_UNAVAILABLE
    assert "no order-submission port" in d.reason and d.quantity > 0


def test_transitions_follow_the_table():
    d = decide(record("buy"), ctx(), RULES, NOW)
    accepted = d.moved(S.ACCEPTED, NOW + 1, "yes")
    assert accepted.state is S.ACCEPTED and accepted.expires is None and accepted.updated == NOW + 1
    submitted = accepted.moved(S.SUBMITTED, NOW + 2)
    with pytest.raises(DecisionError, match="is submitted: it cannot become dismissed"):
        submitted.moved(S.DISMISSED, NOW + 3)
    with pytest.raises(DecisionError, match="pending: it cannot become submitted"):
        d.moved(S.SUBMITTED, NOW)
    assert all(not TRANSITIONS[s] for s in (S.DISMISSED, S.EXPIRED, S.REFUSED, S.SUBMITTED))


def test_ids_sort_by_time_and_do_not_collide():
    ids = [new_id(NOW + i / 100) for i in range(2_000)]  # 10 ms apart
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and len(ids[0]) == 26
