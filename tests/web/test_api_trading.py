"""REST API v1 decisions, strategies, signals and performance over a real engine running
a strategy; decisions are made by the engine's own signal path, on its loop."""

from __future__ import annotations

import pytest

from ibtrader.core.broker import BrokerFill
from ibtrader.web.api.account import trade_stats
from tests.web.apiclient import running_api, wait_for
from tests.web.harness import signal_now

DECISIONS = "/api/v1/decisions"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("api_trading"),
                     strategies=("sma_cross",)) as running:
        yield running


def signal(api, symbol: str = "AAPL", side: str = "buy") -> None:
    signal_now(api.engine, api.bridge, symbol, side, reason="api test")


def pending(api, symbol: str = "AAPL") -> dict:
    return wait_for(lambda: [d for d in api.get(DECISIONS).get_json()["decisions"]
                             if d["symbol"] == symbol])[-1]


def test_a_pending_decision_is_listed_and_accepting_it_places_its_order(api):
    signal(api, "AAPL", "buy")
    decision = pending(api)
    assert (decision["state"], decision["side"], decision["strategy"]) == \
        ("pending", "buy", "sma_cross")
    assert decision["quantity"] > 0
    signals = api.get("/api/v1/signals", query_string={"symbol": "aapl"}).get_json()["signals"]
    assert signals[0]["id"] == decision["signal_id"]
    r = api.post(f"{DECISIONS}/{decision['id']}/accept")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "submitted"
    orders = api.get("/api/v1/orders", query_string={"status": "all"}).get_json()["orders"]
    assert decision["id"] in [o["decision_id"] for o in orders]
    again = api.post(f"{DECISIONS}/{decision['id']}/accept")
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "not_pending")
    listed = api.get(DECISIONS, query_string={"state": "submitted"}).get_json()["decisions"]
    assert decision["id"] in [d["id"] for d in listed]
    api.post("/api/v1/orders/cancel-all")


def test_dismissing_keeps_the_reason_and_a_second_answer_is_409(api):
    signal(api, "MSFT", "sell")
    decision = pending(api, "MSFT")
    r = api.post(f"{DECISIONS}/{decision['id']}/dismiss", {"reason": "not today"})
    assert r.status_code == 200
    assert (r.get_json()["state"], r.get_json()["reason"]) == ("dismissed", "not today")
    assert decision["id"] not in [d["id"] for d in api.get(DECISIONS).get_json()["decisions"]]
    assert api.post(f"{DECISIONS}/{decision['id']}/dismiss").status_code == 409
    bad = api.post(f"{DECISIONS}/{decision['id']}/dismiss", {"reason": 3})
    assert (bad.status_code, bad.get_json()["error"]["field"]) == (400, "reason")


def test_unknown_decisions_are_404(api):
    for verb in ("accept", "dismiss"):
        r = api.post(f"{DECISIONS}/nope/{verb}")
        assert r.status_code == 404 and "nope" in r.get_json()["error"]["message"]
    assert api.get(DECISIONS, query_string={"state": "maybe"}).status_code == 422


def test_strategies_are_switched_off_and_on(api):
    [strategy] = api.get("/api/v1/strategies").get_json()["strategies"]
    assert strategy["name"] == "sma_cross" and strategy["enabled"] is True
    assert set(strategy["symbols"]) == {"AAPL", "MSFT"}
    off = api.patch("/api/v1/strategies/sma_cross", {"enabled": False, "auto_trade": True})
    assert off.status_code == 200
    assert (off.get_json()["enabled"], off.get_json()["auto_trade"]) == (False, True)
    signal(api, "AAPL", "buy")  # a disabled strategy's signal is refused, never pending
    latest = wait_for(lambda: api.get(DECISIONS, query_string={"state": "all", "limit": 1})
                      .get_json()["decisions"])[0]
    assert latest["state"] == "refused"
    on = api.patch("/api/v1/strategies/sma_cross", {"enabled": True, "auto_trade": False})
    assert (on.get_json()["enabled"], on.get_json()["auto_trade"]) == (True, False)
    assert api.patch("/api/v1/strategies/nope", {"enabled": True}).status_code == 404
    assert api.patch("/api/v1/strategies/sma_cross", {}).status_code == 422
    assert api.patch("/api/v1/strategies/sma_cross", {"enabled": "no"}).status_code == 400


def test_performance_counts_a_closed_round_trip_with_the_pnl_of_its_fills(api):
    before = api.get("/api/v1/performance").get_json()
    fills = []
    for side in ("buy", "sell"):
        key = api.post("/api/v1/orders", {"symbol": "MSFT", "side": side, "quantity": 10}
                       ).get_json()["key"]
        fills.append(wait_for(lambda k=key: (o := api.get(f"/api/v1/orders/{k}").get_json())
                              ["state"] == "filled" and o["commission"] and o))
    buy, sell = fills
    expected = (sell["avg_fill_price"] - buy["avg_fill_price"]) * 10 \
        - buy["commission"] - sell["commission"]

    def settled() -> dict | None:
        now = api.get("/api/v1/performance").get_json()
        done = now["closed_trades"] == before["closed_trades"] + 1 and \
            now["realized_pnl"] - before["realized_pnl"] == pytest.approx(expected, abs=1e-6)
        return now if done else None

    after = wait_for(settled)
    assert after["closed_trades"] == 1  # the only round trip of this engine
    if expected > 0:
        assert (after["win_rate"], after["average_win"], after["max_drawdown"]) == \
            (1.0, pytest.approx(expected), 0.0)
    else:
        assert (after["win_rate"], after["average_loss"], after["max_drawdown"]) == \
            (0.0, pytest.approx(expected), pytest.approx(-expected))
    assert after["equity"] == api.get("/api/v1/account").get_json()["net_liquidation"]


def fill(n: int, symbol: str, side: str, quantity: float, price: float,
         commission: float = 0.0) -> BrokerFill:
    return BrokerFill(f"e{n}", "ref", n, n, symbol, side, quantity, price, 1000.0 + n,
                      commission)


def test_round_trips_go_flat_to_flat_and_a_flip_closes_one_and_opens_the_next():
    fills = [fill(1, "X", "BUY", 10, 100), fill(2, "X", "SELL", 5, 110),
             fill(3, "X", "SELL", 10, 95),  # closes the long (5 x -5), opens a short of 5
             fill(4, "X", "BUY", 5, 90),  # covers it: +25
             fill(5, "Y", "BUY", 2, 50), fill(6, "Y", "SELL", 2, 40, commission=0.0),
             fill(6, "Y", "SELL", 2, 40, commission=2.0),  # its commission report: -20 - 2
             fill(7, "Y", "BUY", 1, 40)]  # still open: not a trade
    stats = trade_stats(fills, {})
    assert stats == {"closed_trades": 3, "win_rate": pytest.approx(2 / 3),
                     "average_win": 25.0, "average_loss": -22.0, "max_drawdown": 22.0}
    assert trade_stats([], {})["win_rate"] is None
