"""Strategies: what runs, and the trader's switches (enabled, auto-trade) per strategy."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from ibtrader.services.trading_engine import StrategyStatus
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import bool_field, call, engine, invalid, json_object, not_found

SWITCHES = ("enabled", "auto_trade")


def strategy_json(status: StrategyStatus) -> dict[str, Any]:
    return {"name": status.name, "bar_size": status.bar_size, "enabled": status.enabled,
            "auto_trade": status.auto_trade, "symbols": list(status.symbols),
            "failed": dict(status.failed), "refused": dict(status.refused)}


@blueprint.get("/strategies")
def list_strategies() -> Response:
    bridge = engine()
    statuses = call(lambda: bridge.engine.trading.status())
    return jsonify({"strategies": [strategy_json(s) for s in statuses]})


@blueprint.patch("/strategies/<name>")
def change_strategy(name: str) -> Response:
    body = json_object(SWITCHES)
    enabled, auto = bool_field(body, "enabled"), bool_field(body, "auto_trade")
    if enabled is None and auto is None:
        raise invalid("enabled", "give enabled and/or auto_trade (true or false)")
    bridge = engine()

    def change() -> StrategyStatus | None:
        trading = bridge.engine.trading
        if name not in {s.name for s in trading.status()}:
            return None
        if auto is not None:  # first: the one that may refuse, so nothing half-changes
            trading.set_auto_trade(name, auto)
        if enabled is not None:
            trading.set_enabled(name, enabled)
        return next(s for s in trading.status() if s.name == name)

    try:
        status = call(change)
    except ValueError as exc:  # auto-trade refused: no order port
        raise invalid("auto_trade", str(exc)) from None
    if status is None:
        raise not_found("strategy", name)
    return jsonify(strategy_json(status))
