"""The engine's values as JSON-ready dicts: one shape each, for the REST API, the event
stream and the dashboard alike (the OpenAPI document describes the same shapes).

Numbers that are not finite (a mark before the first quote, say) become None: JSON has no
NaN, and a browser's JSON.parse refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ibtrader.core.decisions import Decision, SignalRecord
from ibtrader.core.market import Bar, Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.portfolio import Position


def number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def quote_json(quote: Quote) -> dict[str, Any]:
    return {"symbol": quote.symbol, "bid": number(quote.bid), "ask": number(quote.ask),
            "last": number(quote.last), "bid_size": number(quote.bid_size),
            "ask_size": number(quote.ask_size), "volume": number(quote.volume),
            "time": quote.time}


def bar_json(bar: Bar) -> dict[str, Any]:
    return {"time": bar.time, "open": bar.open, "high": bar.high, "low": bar.low,
            "close": bar.close, "volume": number(bar.volume)}


def order_json(order: Order) -> dict[str, Any]:
    request = order.request
    return {
        "key": order.client_key, "symbol": request.symbol, "side": request.side,
        "quantity": request.quantity, "order_type": request.order_type,
        "limit": request.limit, "stop": request.stop, "tif": request.tif,
        "state": order.state.value, "filled": order.filled,
        "remaining": order.remaining, "avg_fill_price": number(order.avg_price),
        "commission": number(order.commission), "source": request.source,
        "decision_id": request.decision_id or None, "parent_key": order.parent_key or None,
        "created": order.created, "updated": order.updated,
        "last_error": order.last_error or None, "is_final": order.is_final,
    }


def position_json(position: Position) -> dict[str, Any]:
    return {"symbol": position.symbol, "quantity": position.quantity,
            "avg_price": number(position.avg_price), "mark": number(position.mark),
            "market_value": number(position.market_value),
            "unrealized_pnl": number(position.unrealized_pnl),
            "realized_pnl": number(position.realized_pnl),
            "daily_pnl": number(position.daily_pnl)}


def decision_json(decision: Decision) -> dict[str, Any]:
    return {"id": decision.id, "signal_id": decision.signal_id,
            "strategy": decision.strategy, "symbol": decision.symbol,
            "state": decision.state.value, "side": decision.side or None,
            "action": decision.action or None, "quantity": decision.quantity,
            "entry_price": number(decision.entry_price), "stop": decision.stop,
            "target": decision.target, "risk_amount": number(decision.risk_amount),
            "reason": decision.reason, "refusal_code": decision.refusal_code or None,
            "created": decision.created, "updated": decision.updated,
            "expires": decision.expires}


def signal_json(record: SignalRecord) -> dict[str, Any]:
    signal = record.signal
    return {"id": record.id, "strategy": record.strategy, "bar_size": record.bar_size,
            "symbol": signal.symbol, "side": signal.side, "strength": number(signal.strength),
            "reason": signal.reason, "stop": signal.stop, "target": signal.target,
            "time": signal.time, "created": record.created,
            "values": plain(signal.values)}


def plain(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Indicator values as JSON: numbers (non-finite ones as None), else their text."""
    out: dict[str, Any] = {}
    for name, value in (values or {}).items():
        if value is None or isinstance(value, (bool, str)):
            out[name] = value
        elif isinstance(value, (int, float)):
            out[name] = number(float(value))
        elif hasattr(value, "_asdict"):  # a multi-value indicator (bands, macd lines)
            out[name] = plain(value._asdict())
        else:
            out[name] = str(value)
    return out
