"""`GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the REST API, as Python data.

It describes what the views do (tests hold it to that: every route of the app is in it
and every path in it is a route, and schemathesis checks real answers against it). The
value shapes are serialize.py's; every error is `{"error": {"code", "message", ...}}`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Response, jsonify

from ibtrader.core.decisions import DecisionState
from ibtrader.core.orders.lifecycle import OrderState
from ibtrader.core.orders.request import ORDER_TYPES, SIDES, TIFS
from ibtrader.web.api import blueprint
from ibtrader.web.security import COOKIE_NAME

PREFIX = "/api/v1"
Schema = dict[str, Any]

ERROR_TEXT = {400: "Malformed request: bad JSON, a wrong JSON type, an unknown field",
              401: "No credentials, or unknown ones", 403: "Revoked key or failed CSRF check",
              404: "Not found (the error names what)", 409: "Conflict with the current state",
              422: "Well-formed but refused; `field` names the input to fix",
              503: "The engine (or the job runner) is not available",
              504: "The engine did not answer in time"}


# ----- schema helpers ------------------------------------------------------------------------

def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def num(nullable: bool = False) -> Schema:
    return {"type": ["number", "null"]} if nullable else {"type": "number"}


def text(nullable: bool = False, **extra: Any) -> Schema:
    return {"type": ["string", "null"] if nullable else "string", **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (),
        additional: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties,
                      "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def listing(key: str, item: str) -> Schema:
    return obj({key: array(ref(item))}, (key,))


# ----- the shapes ----------------------------------------------------------------------------

def schemas() -> dict[str, Schema]:
    problem = obj({"code": text(), "message": text(), "field": text()}, ("code", "message"))
    price = {"type": "number", "exclusiveMinimum": 0}
    return {
        "Error": obj({"error": obj({
            "code": text(), "message": text(), "field": text(),
            "problems": array(problem)}, ("code", "message"))}, ("error",)),
        "Problem": problem,
        "Quote": obj({"symbol": text(), "bid": num(True), "ask": num(True), "last": num(True),
                      "bid_size": num(True), "ask_size": num(True), "volume": num(True),
                      "time": num()}, ("symbol", "bid", "ask", "last", "time")),
        "Bar": obj({"time": num(), "open": num(), "high": num(), "low": num(),
                    "close": num(), "volume": num(True)},
                   ("time", "open", "high", "low", "close", "volume")),
        "Order": obj({
            "key": text(), "symbol": text(), "side": text(enum=list(SIDES)),
            "quantity": num(), "order_type": text(enum=list(ORDER_TYPES)),
            "limit": num(True), "stop": num(True), "tif": text(enum=list(TIFS)),
            "state": text(enum=[s.value for s in OrderState]), "filled": num(),
            "remaining": num(), "avg_fill_price": num(True), "commission": num(True),
            "source": text(), "decision_id": text(True), "parent_key": text(True),
            "created": num(), "updated": num(), "last_error": text(True),
            "is_final": {"type": "boolean"}},
            ("key", "symbol", "side", "quantity", "order_type", "state", "filled",
             "remaining", "is_final")),
        "OrderEvent": obj({"kind": text(), "time": num(), "state_before": text(),
                           "state_after": text(), "detail": {"type": "object"}},
                          ("kind", "time", "state_before", "state_after")),
        "OrderBody": obj({
            "symbol": text(minLength=1, examples=["AAPL"]),
            "side": text(enum=list(SIDES)),
            "quantity": {"type": "number", "exclusiveMinimum": 0, "examples": [1]},
            "order_type": text(enum=list(ORDER_TYPES), default="mkt"),
            "limit": price, "stop": price,
            "trail": {"oneOf": [price, text(pattern=r"^[0-9.]+%$")],
                      "description": "an amount in price units, or a percent as \"1.5%\""},
            "tif": text(enum=list(TIFS), default="day"),
            "outside_rth": {"type": "boolean", "default": False},
            "take_profit": price, "stop_loss": price,
            "policy": text(description="lmt only: join, mid, marketable:N, last:N"),
            "chase": text(description="lmt only: EVERY:TICKS:MAX[%][:cancel|market]"),
            "client_key": text(pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
                               description="idempotency key: a retry with a known key "
                                           "answers 200 with that order, never sends twice")},
            ("symbol", "side", "quantity")),
        "OrderChange": obj({"quantity": {"type": "number", "exclusiveMinimum": 0},
                            "limit": price, "stop": price}),
        "Preview": obj({"ok": {"type": "boolean"}, "problems": array(problem)},
                       ("ok", "problems")),
        "KillSwitch": obj({"engaged": {"type": "boolean"}}, ("engaged",)),
        "KillSwitchReport": obj({
            "engaged": {"type": "boolean"}, "time": num(), "cancelled": array(text()),
            "flattening": array(ref("Order")), "still_open": array(ref("Order")),
            "positions_after": {"type": "object", "additionalProperties": num(True)},
            "errors": array(text())}, ("engaged", "cancelled", "flattening", "still_open")),
        "Position": obj({"symbol": text(), "quantity": num(), "avg_price": num(True),
                         "mark": num(True), "market_value": num(True),
                         "unrealized_pnl": num(True), "realized_pnl": num(True),
                         "daily_pnl": num(True)}, ("symbol", "quantity")),
        "Account": obj({"net_liquidation": num(True), "buying_power": num(True),
                        "cash": num(True), "daily_pnl": num(True),
                        "unrealized_pnl": num(True), "realized_pnl": num(True),
                        "kill_switch": {"type": "boolean"}}),
        "Performance": obj({
            "equity": num(True), "realized_pnl": num(True), "unrealized_pnl": num(True),
            "daily_pnl": num(True), "closed_trades": {"type": "integer", "minimum": 0},
            "win_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "average_win": num(True), "average_loss": num(True),
            "max_drawdown": num(True)},
            ("equity", "realized_pnl", "unrealized_pnl", "daily_pnl", "closed_trades",
             "win_rate", "average_win", "average_loss", "max_drawdown")),
        "DailyPerformance": obj({
            "id": text(description="account:YYYY-MM-DD"),
            "session_date": text(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), "account": text(),
            "equity": num(True), "realized_pnl": num(), "unrealized_pnl": num(True),
            "trades": {"type": "integer", "minimum": 0},
            "win_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "max_drawdown": {"type": "number", "minimum": 0}, "computed": num()},
            ("id", "session_date", "account", "equity", "realized_pnl", "unrealized_pnl",
             "trades", "win_rate", "max_drawdown", "computed")),
        "Bars": obj({
            "symbol": text(), "bar_size": text(), "bars": array(ref("Bar")),
            "forming": {"oneOf": [ref("Bar"), {"type": "null"}]},
            "indicators": {"type": "object", "additionalProperties": array(
                obj({"time": num()}, ("time",), additional=True))}},
            ("symbol", "bar_size", "bars", "forming", "indicators")),
        "Signal": obj({"id": text(), "strategy": text(), "bar_size": text(),
                       "symbol": text(), "side": text(), "strength": num(True),
                       "reason": text(), "stop": num(True), "target": num(True),
                       "time": num(), "created": num(), "values": {"type": "object"}},
                      ("id", "strategy", "symbol", "side", "time")),
        "Decision": obj({
            "id": text(), "signal_id": text(), "strategy": text(), "symbol": text(),
            "state": text(enum=[s.value for s in DecisionState]), "side": text(True),
            "action": text(True), "quantity": num(), "entry_price": num(True),
            "stop": num(True), "target": num(True), "risk_amount": num(True),
            "reason": text(), "refusal_code": text(True), "created": num(),
            "updated": num(), "expires": num(True)},
            ("id", "strategy", "symbol", "state", "quantity")),
        "Strategy": obj({"name": text(), "bar_size": text(), "enabled": {"type": "boolean"},
                         "auto_trade": {"type": "boolean"}, "symbols": array(text()),
                         "failed": {"type": "object", "additionalProperties": text()},
                         "refused": {"type": "object", "additionalProperties": text(),
                                     "description": "symbol -> why the last answer of an "
                                                    "asking strategy (n8n_decision) gave "
                                                    "no signal"}},
                        ("name", "bar_size", "enabled", "auto_trade", "symbols", "failed",
                         "refused")),
        "StrategyChange": obj({"enabled": {"type": "boolean"},
                               "auto_trade": {"type": "boolean"}}),
        "BacktestJob": {"type": "object", "description": (
            "strategy, params, symbol (the simulator's history) or csv (a file name in "
            "<data_dir>/backtest-data: the API reads no other file), bar_size, "
            "start/end (ISO-8601 or epoch seconds), cash, commission, fill, sizing, "
            "risk_pct; every bad field is named in a 422"),
            "required": ["strategy"]},
        "BacktestStarted": obj({"id": text(), "status": text()}, ("id", "status")),
        "BacktestStatus": obj({
            "id": text(), "state": text(enum=["queued", "running", "done", "failed",
                                              "cancelled"]),
            "progress": obj({"done": num(), "total": num()}, additional=True),
            "error": text(True), "created": num(True), "started": num(True),
            "finished": num(True), "job": {"type": "object"}},
            ("id", "state"), additional=True),
        "BacktestResult": obj({"stats": {"type": "object"}, "trades": array({}),
                               "equity": array(obj({"time": num(), "value": num(True)},
                                                   ("time", "value")))},
                              ("stats", "trades", "equity"), additional=True),
        "Health": obj({"status": text(enum=["ok", "degraded"]), "engine": text(),
                       "broker": {"type": "object"}, "data_age_seconds": num(True),
                       "outbox": {"type": "object"}, "last_error": {},
                       "streams": {"type": "integer"}, "time": num()},
                      ("status", "engine", "broker"), additional=True),
        "Session": obj({"principal": obj({"kind": text(), "name": text()},
                                         ("kind", "name")),
                        "csrf_token": text(True)}, ("principal",), additional=True),
        "AuditEntries": obj({"entries": array({"type": "object"})}, ("entries",)),
    }


# ----- the operations ------------------------------------------------------------------------

def _errors(*codes: int) -> dict[str, Any]:
    content = {"application/json": {"schema": ref("Error")}}
    return {str(c): {"description": ERROR_TEXT[c], "content": content} for c in codes}


AUTH = (401, 403)
ENGINE = (503, 504)


def op(summary: str, ok: Schema | None, *, status: int = 200, errors: tuple[int, ...] = (),
       body: Schema | None = None, body_required: bool = True,
       params: list[Schema] | None = None, public: bool = False,
       content_type: str = "application/json", tag: str = "") -> dict[str, Any]:
    answer: dict[str, Any] = {"description": summary}
    if ok is not None:
        answer["content"] = {content_type: {"schema": ok}}
    if status == 201:
        answer["headers"] = {"Location": {"schema": {"type": "string"},
                                          "description": "the new order's URL"}}
    responses = {str(status): answer}
    every = (*(() if public else AUTH), *errors)
    responses.update(_errors(*sorted(set(every))))
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if tag:
        operation["tags"] = [tag]
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": body_required,
                                    "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    return operation


def path_param(name: str, description: str, example: str = "") -> Schema:
    param = {"name": name, "in": "path", "required": True, "description": description,
             "schema": {"type": "string", "pattern": r"^[^/]+$"}}
    if example:
        param["example"] = example
    return param


def query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def limit_param(default: int, high: int) -> Schema:
    return query("limit", {"type": "integer", "minimum": 1, "maximum": high,
                           "default": default}, f"how many (1 to {high})")


def paths() -> dict[str, dict[str, Any]]:
    key = path_param("key", "the order's client key (ibt-...)")
    symbol = path_param("symbol", "a symbol the engine streams", "AAPL")
    decision = path_param("decision_id", "the decision's id")
    job = path_param("job_id", "the backtest job's id")
    decision_states = ["pending", "all", *(s.value for s in DecisionState
                                           if s is not DecisionState.PENDING)]
    # refused: 422 (validation, risk), unknown order 404, not modifiable 409
    change = (*ENGINE, 400, 404, 409, 422)
    return {
        "/health": {"get": op("Broker connection, data age, outbox, last error (public; "
                              "503 with the same body while degraded)", ref("Health"),
                              errors=(503,), public=True, tag="monitoring")},
        "/session": {"get": op("Who is signed in, and the CSRF token for cookie writes",
                               ref("Session"), tag="auth")},
        "/audit": {"get": op("The newest audit-log entries (write calls)",
                             ref("AuditEntries"), errors=(400,),
                             params=[limit_param(100, 1000)], tag="auth")},
        "/openapi.json": {"get": op("This document", {"type": "object"}, tag="meta")},
        "/events": {"get": op(
            "Server-Sent Events: a `snapshot` event, then each engine event "
            "(quotes, order, fill, positions, account, signal, decision, connection, risk, "
            "error, resync); 503 too_many_streams beyond the limit", {"type": "string"},
            errors=ENGINE, content_type="text/event-stream", tag="stream")},
        "/account": {"get": op("The account snapshot", ref("Account"), errors=(503,),
                               tag="account")},
        "/positions": {"get": op("Open positions and their P&L",
                                 listing("positions", "Position"), errors=(503,),
                                 tag="account")},
        "/performance": {"get": op(
            "Equity, P&L, closed round trips (flat to flat), win rate, average win and "
            "loss, largest fall of cumulative realized P&L", ref("Performance"),
            errors=ENGINE, tag="account")},
        "/performance/daily": {"post": op(
            "Compute today's row now (equity, realized and unrealized P&L, round trips "
            "closed today, win rate, drawdown of the day's equity curve), save it in the "
            "journal and its mirror, and return it", ref("DailyPerformance"),
            errors=ENGINE, tag="account")},
        "/orders": {
            "get": op("Orders, oldest first", listing("orders", "Order"),
                      errors=(422, 503), tag="orders", params=[
                          query("status", {"type": "string", "enum": ["open", "all"],
                                           "default": "open"},
                                "open: not final yet; all: also filled/cancelled/rejected"),
                          query("symbol", {"type": "string", "maxLength": 100},
                                "only this symbol")]),
            "post": op("Place an order (validated and risk-checked like the desktop "
                       "ticket); 200 with the known order when client_key was used before",
                       ref("Order"), status=201, body=ref("OrderBody"),
                       errors=(*ENGINE, 400, 422), tag="orders")},
        "/orders/preview": {"post": op(
            "What placing this body would meet now, each problem with its field; "
            "nothing is sent", ref("Preview"), body=ref("OrderBody"),
            errors=(*ENGINE, 400), tag="orders")},
        "/orders/cancel-all": {"post": op("Cancel every open order of the account",
                                          listing("orders", "Order"), errors=ENGINE,
                                          tag="orders")},
        "/orders/{key}": {
            "parameters": [key],
            "get": op("One order", ref("Order"), errors=(*ENGINE, 404), tag="orders"),
            "patch": op("Modify a working order (validated and risk-checked again)",
                        ref("Order"), body=ref("OrderChange"), errors=change, tag="orders"),
            "delete": op("Request the order's cancellation", ref("Order"),
                         errors=(*ENGINE, 404, 422), tag="orders")},
        "/orders/{key}/events": {
            "parameters": [key],
            "get": op("The order's journalled history, oldest first",
                      obj({"key": text(), "events": array(ref("OrderEvent"))},
                          ("key", "events")), errors=(*ENGINE, 404), tag="orders")},
        "/kill-switch": {
            "get": op("Whether the kill switch is engaged", ref("KillSwitch"),
                      errors=ENGINE, tag="orders"),
            "post": op("Engage: auto-trade off, every open order cancelled, positions "
                       "closed at market if `flatten`; only reducing orders pass until "
                       "released", ref("KillSwitchReport"),
                       body=obj({"flatten": {"type": "boolean", "default": False}}),
                       body_required=False, errors=(*ENGINE, 400, 422), tag="orders"),
            "delete": op("Release: new entries allowed again", ref("KillSwitch"),
                         errors=ENGINE, tag="orders")},
        "/quotes": {"get": op(
            "Latest quotes, all or the symbols asked for", listing("quotes", "Quote"),
            errors=(404, 422, 503), tag="market",
            params=[query("symbols", {"type": "string"}, "comma-separated, e.g. AAPL,MSFT")])},
        "/quotes/{symbol}": {"parameters": [symbol],
                             "get": op("One symbol's latest quote", ref("Quote"),
                                       errors=(404, 503), tag="market")},
        "/bars/{symbol}": {"parameters": [symbol], "get": op(
            "Closed bars (the newest `limit`), the forming bar, and indicators over the "
            "closed bars (warm-up values are null)", ref("Bars"),
            errors=(*ENGINE, 400, 404, 422), tag="market", params=[
                query("bar_size", {"type": "string", "default": "1 min"},
                      "one the engine keeps: 1 min, 5 mins, 15 mins, 1 hour, 1 day"),
                limit_param(300, 5000),
                query("indicators", {"type": "string"},
                      "comma-separated name[:param...], e.g. sma:20,ema:50,bbands:20:2,"
                      "rsi:14,vwap")])},
        "/signals": {"get": op("The newest signals first", listing("signals", "Signal"),
                               errors=(*ENGINE, 400, 422), tag="trading", params=[
                                   limit_param(100, 1000),
                                   query("symbol", {"type": "string", "maxLength": 32},
                                         "only this symbol")])},
        "/decisions": {"get": op(
            "Decisions: the pending ones (oldest first) or the journal's (newest first)",
            listing("decisions", "Decision"), errors=(*ENGINE, 400, 422), tag="trading",
            params=[query("state", {"type": "string", "enum": decision_states,
                                    "default": "pending"}, "which decisions"),
                    limit_param(100, 1000),
                    query("symbol", {"type": "string", "maxLength": 32},
                          "only this symbol")])},
        "/decisions/{decision_id}/accept": {"parameters": [decision], "post": op(
            "Accept a pending decision: it goes to the Order Manager", ref("Decision"),
            errors=(*ENGINE, 400, 404, 409), tag="trading")},
        "/decisions/{decision_id}/dismiss": {"parameters": [decision], "post": op(
            "Dismiss a pending decision", ref("Decision"),
            body=obj({"reason": text(maxLength=500)}), body_required=False,
            errors=(*ENGINE, 400, 404, 409, 422), tag="trading")},
        "/strategies": {"get": op("Running strategies and their switches",
                                  listing("strategies", "Strategy"), errors=ENGINE,
                                  tag="trading")},
        "/strategies/{name}": {
            "parameters": [path_param("name", "a running strategy's name", "sma_cross")],
            "patch": op("Turn a strategy on/off, or its auto-trade", ref("Strategy"),
                        body=ref("StrategyChange"), errors=(*ENGINE, 400, 404, 422),
                        tag="trading")},
        "/backtests": {"post": op("Start a backtest job in another process",
                                  ref("BacktestStarted"), status=202,
                                  body=ref("BacktestJob"), errors=(400, 422, 503),
                                  tag="backtests")},
        "/backtests/{job_id}": {"parameters": [job], "get": op(
            "A job's state and progress", ref("BacktestStatus"), errors=(404, 503),
            tag="backtests")},
        "/backtests/{job_id}/result": {"parameters": [job], "get": op(
            "A finished job's statistics, trades and equity curve (409 until done)",
            ref("BacktestResult"), errors=(404, 409, 503), tag="backtests")},
    }


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "ibtrader REST API", "version": "1",
                 "description": "The trading engine over HTTP: account, orders (the same "
                                "validation and risk checks as the desktop ticket), market "
                                "data, decisions, strategies, backtests. Every error is "
                                "{\"error\": {\"code\", \"message\", \"field\"?, "
                                "\"problems\"?}}."},
        "paths": {PREFIX + path: item for path, item in paths().items()},
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer",
                           "description": "an API key as a Bearer token"},
                "Session": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME,
                            "description": "the dashboard's session; writes also need the "
                                           "X-CSRF-Token header from GET /api/v1/session"}},
        },
        "security": [{"ApiKey": []}, {"Bearer": []}, {"Session": []}],
    }


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())
