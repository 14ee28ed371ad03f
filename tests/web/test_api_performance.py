"""POST /api/v1/performance/daily over a real engine (simulated broker): a round trip's P&L
in today's row, the row saved in the journal, the account's equity sampled for it."""

from __future__ import annotations

import time

import pytest

from ibtrader.core.performance import session_date, session_zone
from tests.web.apiclient import running_api, wait_for

DAILY = "/api/v1/performance/daily"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("api_performance")) as running:
        yield running


def filled(api, side: str) -> dict:
    key = api.post("/api/v1/orders", {"symbol": "AAPL", "side": side, "quantity": 10}
                   ).get_json()["key"]
    return wait_for(lambda: (o := api.get(f"/api/v1/orders/{key}").get_json())
                    ["state"] == "filled" and o["commission"] and o)


def test_todays_row_counts_a_round_trip_and_is_saved_in_the_journal(api):
    buy, sell = filled(api, "buy"), filled(api, "sell")
    expected = (sell["avg_fill_price"] - buy["avg_fill_price"]) * 10 \
        - buy["commission"] - sell["commission"]
    r = api.post(DAILY)
    assert r.status_code == 200, r.get_json()
    row = r.get_json()
    today = session_date(time.time(), session_zone("America/New_York")).isoformat()
    assert (row["id"], row["session_date"], row["account"]) == \
        (f"DU1234567:{today}", today, "DU1234567")
    assert row["trades"] == 1 and row["win_rate"] == (1.0 if expected > 0 else 0.0)
    assert row["realized_pnl"] == pytest.approx(expected, abs=1e-6)
    assert row["equity"] == pytest.approx(
        api.get("/api/v1/account").get_json()["net_liquidation"], rel=1e-3)
    assert row["unrealized_pnl"] == pytest.approx(0.0, abs=1e-6)  # flat again
    assert row["max_drawdown"] >= 0.0
    saved = api.on_loop(lambda: api.engine.journal.daily_performance("DU1234567", today))
    assert {"id": saved.id, **saved.values()} == row


def test_the_route_is_documented_with_its_row(api):
    document = api.get("/api/v1/openapi.json").get_json()
    post = document["paths"][DAILY]["post"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == \
        {"$ref": "#/components/schemas/DailyPerformance"}
    schema = document["components"]["schemas"]["DailyPerformance"]
    assert set(schema["required"]) == {"id", "session_date", "account", "equity",
                                       "realized_pnl", "unrealized_pnl", "trades", "win_rate",
                                       "max_drawdown", "computed"}
