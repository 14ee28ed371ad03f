"""The mirror's rows for the journal's values, column for column as the journal writes them
(the JSON extras as the same JSON text), ready for `row_record`."""

from __future__ import annotations

import math
from typing import Any

from ibtrader.adapters.journal.sqlite import to_json
from ibtrader.core.decisions import Decision, SignalRecord


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def signal_values(record: SignalRecord) -> dict[str, Any]:
    s = record.signal
    return {"created": record.created, "bar_time": s.time, "strategy": record.strategy,
            "bar_size": record.bar_size, "symbol": s.symbol, "side": s.side,
            "strength": s.strength, "reason": s.reason, "stop": _num(s.stop),
            "target": _num(s.target), "indicator_values": to_json(s.values)}


def decision_values(d: Decision) -> dict[str, Any]:
    return {"signal_id": d.signal_id, "created": d.created, "updated": d.updated,
            "strategy": d.strategy, "symbol": d.symbol, "state": d.state.value,
            "side": d.side, "action": d.action, "quantity": d.quantity, "closes": d.closes,
            "entry_price": _num(d.entry_price), "stop": _num(d.stop),
            "target": _num(d.target), "risk_amount": d.risk_amount, "reason": d.reason,
            "refusal_code": d.refusal_code, "expires": d.expires,
            "detail": to_json(d.detail)}
