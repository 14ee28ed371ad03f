"""Orders: list, get, place, preview, modify, cancel, cancel-all, and the kill switch.

Reads come from the bridge's order snapshot (no hop to the engine's loop); every command
runs on the loop through `bridge.call` and goes through the Order Manager: the same
validation, pre-trade risk, journal and never-twice rule as the desktop ticket. A retry
with a `client_key` the manager knows answers 200 with that order; nothing is sent again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from flask import Response, jsonify, url_for

from ibtrader.core.orders.lifecycle import Order, OrderEvent
from ibtrader.core.orders.request import OrderRequest, parse_price, parse_quantity
from ibtrader.services.order_reports import (
    NOT_MODIFIABLE,
    UNKNOWN_ORDER,
    KillSwitchReport,
    OrderRefused,
)
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import (
    FieldErrors,
    bool_field,
    call,
    engine,
    invalid,
    json_object,
    not_found,
    number_field,
    query_choice,
    query_text,
)
from ibtrader.web.api.order_body import FIELDS, Problem, parse_order, refusal_problems
from ibtrader.web.errors import ApiError
from ibtrader.web.serialize import number, order_json

CHANGE_FIELDS = ("quantity", "limit", "stop")
KILL_SWITCH_TIMEOUT = 30.0


class _Refused(Exception):
    """An `OrderRefused` with each problem's field, worked out on the engine's loop."""

    def __init__(self, refused: OrderRefused, problems: list[Problem]) -> None:
        super().__init__(str(refused))
        self.refused = refused
        self.problems = problems


def _refused_error(exc: _Refused) -> ApiError:
    codes = exc.refused.codes
    if UNKNOWN_ORDER in codes:
        return not_found("order", exc.refused.key)
    if NOT_MODIFIABLE in codes:
        return ApiError(409, "not_modifiable", str(exc.refused))
    return FieldErrors("order_refused", str(exc.refused), exc.problems)


def _input_error(problems: list[Problem]) -> FieldErrors:
    return FieldErrors("invalid_field", "; ".join(m for _c, m, _f in problems), problems)


def _parsed() -> OrderRequest:
    request, problems = parse_order(json_object(FIELDS))
    if request is None:
        raise _input_error(problems)
    return request


# ----- reads ------------------------------------------------------------------------------

@blueprint.get("/orders")
def list_orders() -> Response:
    status = query_choice("status", ("open", "all"), "open")
    symbol = (query_text("symbol") or "").upper()
    orders = [o for o in engine().snapshot.orders.values()
              if (status == "all" or not o["is_final"]) and (not symbol or o["symbol"] == symbol)]
    orders.sort(key=lambda o: (o["created"], o["key"]))
    return jsonify({"orders": orders})


@blueprint.get("/orders/<key>")
def get_order(key: str) -> Response:
    bridge = engine()
    found = bridge.snapshot.orders.get(key)
    if found is None:  # the snapshot keeps the latest final orders only; the manager all
        order = call(lambda: bridge.engine.orders.order(key))
        if order is None:
            raise not_found("order", key)
        found = order_json(order)
    return jsonify(found)


@blueprint.get("/orders/<key>/events")
def order_events(key: str) -> Response:
    bridge = engine()

    def read() -> list[OrderEvent] | None:
        if bridge.engine.orders.order(key) is None:
            return None
        return bridge.engine.journal.order_events(key)

    events = call(read)
    if events is None:
        raise not_found("order", key)
    return jsonify({"key": key, "events": [
        {"kind": e.kind, "time": e.time, "state_before": e.state_before.value,
         "state_after": e.state_after.value, "detail": dict(e.detail)} for e in events]})


# ----- place / preview ----------------------------------------------------------------------

@blueprint.post("/orders")
def place_order() -> tuple[Response, int] | Response:
    request = _parsed()
    bridge = engine()

    async def place() -> tuple[Order, bool]:
        om = bridge.engine.orders
        known = om.order(request.client_key)
        if known is not None:
            return known, False
        try:
            return await om.place(request), True
        except OrderRefused as exc:
            raise _Refused(exc, refusal_problems(exc.problems, request,
                                                 om.instrument(request.symbol),
                                                 om.quote(request.symbol))) from None

    try:
        order, created = call(place)
    except _Refused as exc:
        raise _refused_error(exc) from None
    body = jsonify(order_json(order))
    if not created:
        return body
    body.headers["Location"] = url_for("api.get_order", key=order.client_key)
    return body, 201


@blueprint.post("/orders/preview")
def preview_order() -> Response:
    """What placing this body would meet now: every problem, each with its field; nothing
    is sent or journalled. Input problems come back here too (ok false), so that a form
    can show them as the trader types."""
    request, problems = parse_order(json_object(FIELDS))
    if request is None:
        return jsonify({"ok": False, "problems": _problem_list(problems)})
    bridge = engine()

    async def judge() -> list[Problem]:
        om = bridge.engine.orders
        try:
            quote = await om.current_quote(request.symbol)  # qualifies on first use
            priced = request
            if request.price_policy is not None and request.limit is None \
                    and request.order_type == "lmt" and quote is not None:
                instrument = om.instrument(request.symbol)
                tick = instrument.min_tick if instrument is not None else 0.01
                priced = request.with_changes(
                    limit=request.price_policy.price(request.side, quote, tick))
            found = om.preview(priced)
        except OrderRefused as exc:
            found = exc.problems
        except ValueError as exc:  # a price policy that cannot price this quote
            found = [("pricing", str(exc))]
        return refusal_problems(found, request, om.instrument(request.symbol),
                                om.quote(request.symbol))

    found = call(judge)
    return jsonify({"ok": not found, "problems": _problem_list(found)})


def _problem_list(problems: list[Problem]) -> list[dict[str, Any]]:
    out = []
    for code, message, field in problems:
        item: dict[str, Any] = {"code": code, "message": message}
        if field:
            item["field"] = field
        out.append(item)
    return out


# ----- modify / cancel ------------------------------------------------------------------------

@blueprint.patch("/orders/<key>")
def modify_order(key: str) -> Response:
    body = json_object(CHANGE_FIELDS)
    changes: dict[str, float] = {}
    for name in CHANGE_FIELDS:
        value = number_field(body, name)
        if value is None:
            continue
        text = str(value)
        try:
            changes[name] = parse_quantity(text) if name == "quantity" else \
                parse_price(text, name)
        except ValueError as exc:
            raise invalid(name, getattr(exc, "message", str(exc))) from None
    if not changes:
        raise invalid("quantity", "give at least one of quantity, limit, stop")
    bridge = engine()

    async def modify() -> Order:
        om = bridge.engine.orders
        try:
            return await om.modify(key, **changes)
        except OrderRefused as exc:
            order = om.order(key)
            if order is None:
                raise _Refused(exc, []) from None
            candidate = order.request.with_changes(**changes)
            raise _Refused(exc, refusal_problems(exc.problems, candidate,
                                                 om.instrument(order.request.symbol),
                                                 om.quote(order.request.symbol))) from None

    try:
        return jsonify(order_json(call(modify)))
    except _Refused as exc:
        raise _refused_error(exc) from None


@blueprint.delete("/orders/<key>")
def cancel_order(key: str) -> Response:
    bridge = engine()

    async def cancel() -> Order:
        try:
            return await bridge.engine.orders.cancel(key)
        except OrderRefused as exc:
            raise _Refused(exc, [(c, m, None) for c, m in exc.problems]) from None

    try:
        return jsonify(order_json(call(cancel)))
    except _Refused as exc:
        raise _refused_error(exc) from None


@blueprint.post("/orders/cancel-all")
def cancel_all() -> Response:
    bridge = engine()
    orders = call(lambda: bridge.engine.orders.cancel_all())
    return jsonify({"orders": [order_json(o) for o in orders]})


# ----- kill switch ----------------------------------------------------------------------------

@blueprint.get("/kill-switch")
def kill_switch_status() -> Response:
    bridge = engine()
    return jsonify({"engaged": bool(call(lambda: bridge.engine.orders.kill_switch_engaged))})


@blueprint.post("/kill-switch")
def engage_kill_switch() -> Response:
    body = json_object(("flatten",), required=False)
    flatten = bool_field(body, "flatten") or False
    bridge = engine()
    # it waits up to 10 s for the broker's answers; shielded: never stopped half-way
    report: KillSwitchReport = call(
        lambda: asyncio.shield(bridge.engine.orders.kill_switch(flatten=flatten)),
        KILL_SWITCH_TIMEOUT)
    return jsonify({
        "engaged": True, "time": report.time, "cancelled": list(report.cancelled),
        "flattening": [order_json(o) for o in report.flattening],
        "still_open": [order_json(o) for o in report.still_open],
        "positions_after": {s: number(q) for s, q in report.positions_after.items()},
        "errors": list(report.errors)})


@blueprint.delete("/kill-switch")
def release_kill_switch() -> Response:
    bridge = engine()

    def release() -> bool:
        bridge.engine.orders.release_kill_switch()
        return bridge.engine.orders.kill_switch_engaged

    return jsonify({"engaged": bool(call(release))})
