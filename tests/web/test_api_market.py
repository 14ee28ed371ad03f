"""REST API v1 market data over a real engine: quotes, bars with indicators, signals."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from ibtrader.core.indicators import make_indicator
from tests.web.apiclient import running_api

BARS = "/api/v1/bars"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with running_api(tmp_path_factory.mktemp("api_market")) as running:
        yield running


def test_quotes_come_from_the_engine_all_or_the_symbols_asked_for(api):
    every = api.get("/api/v1/quotes").get_json()["quotes"]
    assert {q["symbol"] for q in every} == {"AAPL", "MSFT"}
    asked = api.get("/api/v1/quotes", query_string={"symbols": "msft,AAPL"}).get_json()
    assert [q["symbol"] for q in asked["quotes"]] == ["MSFT", "AAPL"]
    one = api.get("/api/v1/quotes/aapl").get_json()
    assert one["bid"] < one["ask"]
    missing = api.get("/api/v1/quotes", query_string={"symbols": "AAPL,ZZZZ"})
    assert missing.status_code == 404 and "ZZZZ" in missing.get_json()["error"]["message"]
    assert api.get("/api/v1/quotes/ZZZZ").status_code == 404


def test_bars_come_with_the_forming_bar_and_indicators_equal_to_the_incremental_ones(api):
    r = api.get(f"{BARS}/AAPL", query_string={"bar_size": "1 min", "limit": 120,
                                              "indicators": "sma:20,bbands:20:2.5,rsi:14,vwap"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    bars = body["bars"]
    assert len(bars) == 120 and body["bar_size"] == "1 min"
    assert [b["time"] for b in bars] == sorted(b["time"] for b in bars)
    assert body["forming"] is None or body["forming"]["time"] > bars[-1]["time"]
    sma = body["indicators"]["sma:20"]
    assert [p["time"] for p in sma] == [b["time"] for b in bars]
    assert all(p["value"] is None for p in sma[:19])  # warm-up: null, not NaN
    closes = [b["close"] for b in bars]
    assert sma[-1]["value"] == pytest.approx(sum(closes[-20:]) / 20)
    bands = body["indicators"]["bbands:20:2.5"][-1]
    assert bands["lower"] < bands["mid"] < bands["upper"]
    rsi = make_indicator("rsi", period=14)
    for bar in bars:
        expected = rsi.update(SimpleNamespace(**bar))
    assert body["indicators"]["rsi:14"][-1]["value"] == pytest.approx(expected, rel=1e-6)
    vwap = body["indicators"]["vwap"][-1]["value"]
    assert min(b["low"] for b in bars) <= vwap <= max(b["high"] for b in bars)


@pytest.mark.parametrize(("query", "status", "field", "words"), [
    ({"bar_size": "2 mins"}, 422, "bar_size", "1 min, 5 mins"),
    ({"limit": 0}, 422, "limit", "between 1 and 5000"),
    ({"limit": 5001}, 422, "limit", "between 1 and 5000"),
    ({"limit": "many"}, 400, "limit", "integer"),
    ({"indicators": "sma:0"}, 422, "indicators", "period"),
    ({"indicators": "magic:3"}, 422, "indicators", "unknown indicator"),
    ({"indicators": "sma:x"}, 422, "indicators", "integer"),
])
def test_bad_bar_queries_name_the_parameter(api, query, status, field, words):
    r = api.get(f"{BARS}/AAPL", query_string=query)
    error = r.get_json()["error"]
    assert (r.status_code, error["field"]) == (status, field)
    assert words in error["message"]


def test_bars_of_a_symbol_not_streamed_are_404(api):
    r = api.get(f"{BARS}/ZZZZ")
    assert r.status_code == 404 and "ZZZZ" in r.get_json()["error"]["message"]


def test_the_limit_takes_the_newest_bars(api):
    every = api.get(f"{BARS}/MSFT", query_string={"limit": 5000}).get_json()["bars"]
    last = api.get(f"{BARS}/MSFT", query_string={"limit": 3}).get_json()["bars"]
    assert last == every[-3:]
    assert all(math.isfinite(b["close"]) for b in every)


def test_signals_list_is_empty_without_strategies_and_checks_its_limit(api):
    assert api.get("/api/v1/signals").get_json() == {"signals": []}
    assert api.get("/api/v1/signals", query_string={"limit": 0}).status_code == 422
