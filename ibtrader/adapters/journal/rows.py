"""The journal's rows as plain JSON values, column for column, for the mirrors (see
`JournalMirror`): the JSON extras as the same JSON text the journal keeps, absent or
non-finite numbers as null, times as epoch seconds. Column names are the mirror's
(resources/nocodb/schema.json): `values_json` is `indicator_values`, `detail_json` is
`detail`, `request_json` is `request`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ibtrader.core.decisions import Decision, SignalRecord

from .jsontext import to_json


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


# the journal's column -> the mirror's, where they differ
_RENAMED = {"values_json": "indicator_values", "detail_json": "detail",
            "request_json": "request", "problems_json": "problems"}
# the journal's id column per table: it becomes the record's id, not a value
_ID_COLUMN = {"orders": "client_key", "executions": "exec_id"}


def row_values(table: str, row: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(our id, values) of a row as SQLite returned it (`RETURNING *`)."""
    values = {_RENAMED.get(k, k): (_num(v) if isinstance(v, float) else v)
              for k, v in row.items()}
    if table == "order_events":  # numbered per journal: the order's key and the number
        return f"{row['client_key']}:{row['seq']}", values
    id_column = _ID_COLUMN.get(table, "id")
    del values[id_column]
    if table == "orders":
        values["adopted"] = bool(values.get("adopted"))
    return str(row[id_column]), values
