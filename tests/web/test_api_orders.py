"""REST API v1 orders over a real engine (simulator): place, retry, refuse, preview,
modify, cancel, the kill switch."""

from __future__ import annotations

import pytest

from tests.web.apiclient import running_api, wait_for

ORDERS = "/api/v1/orders"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("api_orders")) as running:
        yield running


def bid(api, symbol: str = "AAPL") -> float:
    return api.get(f"/api/v1/quotes/{symbol}").get_json()["bid"]


def order_count(api) -> int:
    return len(api.get(ORDERS, query_string={"status": "all"}).get_json()["orders"])


def test_a_market_order_round_trip_fills_and_shows_in_positions_and_the_list(api):
    r = api.post(ORDERS, {"symbol": "msft", "side": "buy", "quantity": 3})
    assert r.status_code == 201
    placed = r.get_json()
    key = placed["key"]
    assert r.headers["Location"].endswith(f"{ORDERS}/{key}")
    assert (placed["symbol"], placed["side"], placed["quantity"], placed["source"]) == \
        ("MSFT", "buy", 3, "api")
    filled = wait_for(lambda: (o := api.get(f"{ORDERS}/{key}").get_json())["state"] == "filled"
                      and o)
    assert filled["filled"] == 3 and filled["avg_fill_price"] > 0
    positions = wait_for(lambda: [p for p in api.get("/api/v1/positions").get_json()["positions"]
                                  if p["symbol"] == "MSFT"])
    assert positions[0]["quantity"] >= 3
    assert key in [o["key"] for o in api.get(ORDERS, query_string={"status": "all"})
                   .get_json()["orders"]]
    assert key not in [o["key"] for o in api.get(ORDERS).get_json()["orders"]]  # open only
    events = api.get(f"{ORDERS}/{key}/events").get_json()["events"]
    assert events[0]["kind"] == "created"
    assert events[-1]["state_after"] == "filled"


def test_a_retry_with_a_known_client_key_answers_200_with_the_same_order_never_sent_twice(api):
    body = {"symbol": "AAPL", "side": "buy", "quantity": 1, "order_type": "lmt",
            "limit": round(bid(api) * 0.97, 2), "client_key": "retry-test-1"}
    first = api.post(ORDERS, body)
    again = api.post(ORDERS, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["key"] == again.get_json()["key"] == "retry-test-1"
    keys = [o["key"] for o in api.get(ORDERS, query_string={"status": "all"})
            .get_json()["orders"]]
    assert keys.count("retry-test-1") == 1
    assert api.delete(f"{ORDERS}/retry-test-1").status_code == 200


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"side": "buy", "quantity": -5}, 422, "invalid_field", "quantity"),
    ({"side": "hold", "quantity": 5}, 422, "invalid_field", "side"),
    ({"side": "buy", "quantity": 5, "order_type": "lmt"}, 422, "order_refused", "limit"),
    ({"side": "buy", "quantity": 5, "order_type": "lmt", "limit": "OFF_TICK"}, 422,
     "order_refused", "limit"),
    ({"side": "buy", "quantity": 5, "order_type": "lmt", "limit": "FAR"}, 422,
     "order_refused", "limit"),
    ({"side": "buy", "quantity": 5, "order_type": "market-ish"}, 422, "invalid_field",
     "order_type"),
    ({"side": "buy", "quantity": "5"}, 400, "wrong_type", "quantity"),
    ({"side": "buy", "quantity": [5]}, 400, "wrong_type", "quantity"),
    ({"side": "buy", "quantity": 5, "outside_rth": "yes"}, 400, "wrong_type", "outside_rth"),
    ({"side": "buy", "qty": 5}, 400, "unknown_field", "qty"),
])
def test_bad_orders_are_refused_with_the_field_named_and_nothing_is_sent(api, body, status,
                                                                         code, field):
    price = bid(api)
    if body.get("limit") == "OFF_TICK":
        body = {**body, "limit": round(price * 0.99, 2) + 0.004}
    elif body.get("limit") == "FAR":
        body = {**body, "limit": round(price * 0.5, 2)}
    before = order_count(api)
    r = api.post(ORDERS, {"symbol": "AAPL", **body})
    error = r.get_json()["error"]
    assert (r.status_code, error["code"], error["field"]) == (status, code, field), error
    assert field in error["message"] or error.get("problems")
    if body.get("limit") and status == 422:
        expected = "off_tick" if round(body["limit"], 2) != body["limit"] else "price_band"
        assert [p["code"] for p in error["problems"]] == [expected]
    assert order_count(api) == before


def test_bodies_that_are_not_json_objects_are_400(api):
    r = api.client.post(ORDERS, data="{not json", headers={**api.headers,
                                                          "Content-Type": "application/json"})
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "bad_json")
    r = api.post(ORDERS, [{"symbol": "AAPL"}])
    assert (r.status_code, r.get_json()["error"]["code"]) == (400, "not_an_object")


def test_a_preview_lists_every_problem_with_its_field_and_sends_nothing(api):
    before = order_count(api)
    far = api.post(f"{ORDERS}/preview", {"symbol": "AAPL", "side": "buy", "quantity": 5,
                                         "order_type": "lmt", "limit": round(bid(api) / 2, 2)})
    assert far.status_code == 200
    assert far.get_json()["ok"] is False
    assert [(p["code"], p["field"]) for p in far.get_json()["problems"]] == \
        [("price_band", "limit")]
    typed = api.post(f"{ORDERS}/preview", {"symbol": "AAPL", "side": "sell", "quantity": 0,
                                           "order_type": "stp", "stop": -1})
    assert {p["field"] for p in typed.get_json()["problems"]} == {"quantity", "stop"}
    fine = api.post(f"{ORDERS}/preview", {"symbol": "AAPL", "side": "buy", "quantity": 5})
    assert fine.get_json() == {"ok": True, "problems": []}
    assert order_count(api) == before


def test_a_working_limit_order_is_modified_then_cancelled(api):
    price = bid(api)
    r = api.post(ORDERS, {"symbol": "AAPL", "side": "buy", "quantity": 2,
                          "order_type": "lmt", "limit": round(price * 0.97, 2)})
    key = r.get_json()["key"]
    wait_for(lambda: api.get(f"{ORDERS}/{key}").get_json()["state"] == "working")
    lower = round(price * 0.96, 2)
    changed = api.patch(f"{ORDERS}/{key}", {"limit": lower, "quantity": 4})
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["limit"], changed.get_json()["quantity"]) == (lower, 4)
    refused = api.patch(f"{ORDERS}/{key}", {"limit": round(price * 0.5, 2)})
    assert (refused.status_code, refused.get_json()["error"]["field"]) == (422, "limit")
    assert api.patch(f"{ORDERS}/{key}", {}).status_code == 422
    assert api.patch(f"{ORDERS}/{key}", {"limit": "low"}).status_code == 400
    assert api.delete(f"{ORDERS}/{key}").status_code == 200
    done = wait_for(lambda: (o := api.get(f"{ORDERS}/{key}").get_json())["state"] == "cancelled"
                    and o)
    assert done["is_final"] and done["limit"] == lower
    assert api.patch(f"{ORDERS}/{key}", {"limit": lower}).status_code == 409


def test_unknown_orders_are_404_naming_them(api):
    for r in (api.get(f"{ORDERS}/ibt-nope"), api.delete(f"{ORDERS}/ibt-nope"),
              api.patch(f"{ORDERS}/ibt-nope", {"quantity": 1}),
              api.get(f"{ORDERS}/ibt-nope/events")):
        assert r.status_code == 404
        assert r.get_json()["error"]["code"] == "not_found"
        assert "ibt-nope" in r.get_json()["error"]["message"]


def test_cancel_all_cancels_every_working_order(api):
    price = bid(api, "MSFT")
    keys = [api.post(ORDERS, {"symbol": "MSFT", "side": "buy", "quantity": 1,
                              "order_type": "lmt", "limit": round(price * f, 2)})
            .get_json()["key"] for f in (0.97, 0.98)]
    wait_for(lambda: all(api.get(f"{ORDERS}/{k}").get_json()["state"] == "working"
                         for k in keys))
    r = api.post(f"{ORDERS}/cancel-all")
    assert r.status_code == 200
    assert set(keys) <= {o["key"] for o in r.get_json()["orders"]}
    wait_for(lambda: not api.get(ORDERS).get_json()["orders"])


def test_the_kill_switch_blocks_new_entries_until_released(api):
    assert api.get("/api/v1/kill-switch").get_json() == {"engaged": False}
    report = api.post("/api/v1/kill-switch", {"flatten": False})
    assert report.status_code == 200 and report.get_json()["engaged"] is True
    assert api.get("/api/v1/kill-switch").get_json() == {"engaged": True}
    refused = api.post(ORDERS, {"symbol": "AAPL", "side": "buy", "quantity": 1})
    assert refused.status_code == 422
    assert "kill_switch" in [p["code"] for p in refused.get_json()["error"]["problems"]]
    assert api.post("/api/v1/kill-switch", {"flatten": "yes"}).status_code == 400
    assert api.delete("/api/v1/kill-switch").get_json() == {"engaged": False}
    assert api.post(ORDERS, {"symbol": "AAPL", "side": "buy", "quantity": 1}).status_code == 201


def test_without_an_api_key_the_orders_api_answers_401(api):
    r = api.client.post(ORDERS, json={"symbol": "AAPL", "side": "buy", "quantity": 1})
    assert r.status_code == 401
    assert api.client.get(ORDERS).status_code == 401
