"""Decisions: list them, and the trader's answer to a pending one (accept or dismiss).

Every read and answer runs on the engine's loop (`bridge.call`): pending decisions live in
the Trading Engine, the rest in its journal. Accepting hands the decision to the Order
Manager (the same path as the desktop's Accept button).
"""

from __future__ import annotations

import asyncio

from flask import Response, jsonify

from ibtrader.core.decisions import Decision, DecisionError, DecisionState
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import (
    call,
    engine,
    json_object,
    not_found,
    query_choice,
    query_int,
    query_text,
    text_field,
)
from ibtrader.web.errors import ApiError
from ibtrader.web.serialize import decision_json

# Accepting a reversal waits for its closing order to fill (up to 30 s) before it opens the
# new position; a shorter wait would cancel the submission half-way.
ANSWER_TIMEOUT = 45.0
STATES = ("pending", "all", *(s.value for s in DecisionState if s is not DecisionState.PENDING))


@blueprint.get("/decisions")
def list_decisions() -> Response:
    state = query_choice("state", STATES, "pending")
    limit = query_int("limit", 100, 1, 1000)
    symbol = query_text("symbol", max_length=32)
    symbol = symbol.upper() if symbol else None
    bridge = engine()

    def read() -> list[Decision]:
        if state == "pending":  # the engine's own list: what can still be answered
            pending = [d for d in bridge.engine.trading.pending()
                       if symbol is None or d.symbol == symbol]
            return pending[-limit:]
        wanted = None if state == "all" else DecisionState(state)
        return bridge.engine.journal.decisions(wanted, limit=limit, symbol=symbol)

    return jsonify({"decisions": [decision_json(d) for d in call(read)]})


def _answer(decision_id: str, answer: str, reason: str | None) -> Decision:
    bridge = engine()

    async def run() -> Decision:
        trading = bridge.engine.trading
        if bridge.engine.journal.decision(decision_id) is None:
            raise _Unknown()
        if answer == "accept":  # shielded: a timed-out answer must not cut it in half
            return await asyncio.shield(trading.accept(decision_id))
        return trading.dismiss(decision_id, reason or "dismissed by the trader")

    try:
        return call(run, ANSWER_TIMEOUT)
    except _Unknown:
        raise not_found("decision", decision_id) from None
    except DecisionError as exc:
        raise ApiError(409, "not_pending", str(exc)) from None


class _Unknown(Exception):
    pass


@blueprint.post("/decisions/<decision_id>/accept")
def accept_decision(decision_id: str) -> Response:
    json_object((), required=False)  # no fields, but a malformed body is still refused
    return jsonify(decision_json(_answer(decision_id, "accept", None)))


@blueprint.post("/decisions/<decision_id>/dismiss")
def dismiss_decision(decision_id: str) -> Response:
    body = json_object(("reason",), required=False)
    reason = text_field(body, "reason", max_length=500)
    return jsonify(decision_json(_answer(decision_id, "dismiss", reason)))
