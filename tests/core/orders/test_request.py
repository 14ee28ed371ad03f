"""Order requests: client keys, and the text a trader types into the CLI or the API."""

from __future__ import annotations

import pytest

from ibtrader.core.orders.pricing import ChaseRule, PolicyKind, PricePolicy
from ibtrader.core.orders.request import (
    OrderInputError,
    OrderRequest,
    new_client_key,
    parse_order_type,
    parse_request,
    parse_trail,
)

NOW = 1_780_000_000.0


def test_client_keys_are_unique_prefixed_and_sort_by_creation_time() -> None:
    keys = [new_client_key(NOW + i * 0.001) for i in range(200)]
    assert len(set(keys)) == 200
    assert all(k.startswith("ibt-") for k in keys)
    assert keys == sorted(keys)
    assert len(set(new_client_key(NOW) for _ in range(100))) == 100  # same millisecond


def test_a_bracket_buy_limit_from_cli_text() -> None:
    r = parse_request("aapl", "BUY", "100", now=NOW, order_type="limit", limit="189.50",
                      take_profit="195", stop_loss="185.25", tif="GTC")
    assert (r.symbol, r.side, r.quantity, r.order_type) == ("AAPL", "buy", 100, "lmt")
    assert (r.limit, r.take_profit, r.stop_loss, r.tif) == (189.5, 195.0, 185.25, "gtc")
    assert r.is_bracket and r.signed_quantity == 100
    assert r.client_key.startswith("ibt-") and r.source == "cli" and r.created == NOW


def test_trail_text_is_an_amount_or_a_percent() -> None:
    assert parse_trail("0.5") == (0.5, None)
    assert parse_trail("1.5%") == (None, 1.5)
    r = parse_request("SPY", "sell", "10", now=NOW, order_type="trail", trail="2%")
    assert (r.trail_amount, r.trail_percent, r.signed_quantity) == (None, 2.0, -10)


@pytest.mark.parametrize(("text", "kind"), [("stp-lmt", "stp-lmt"), ("stop limit", None),
                                            ("STP LMT", "stp-lmt"), ("market", "mkt")])
def test_order_type_words(text: str, kind: str | None) -> None:
    if kind is None:
        with pytest.raises(OrderInputError, match="'stop limit' is not one of mkt, lmt"):
            parse_order_type(text)
    else:
        assert parse_order_type(text) == kind


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"side": "long"}, "side: 'long' is not one of buy, sell"),
    ({"quantity": "ten"}, "quantity: 'ten' is not a number"),
    ({"quantity": "-5"}, "quantity: must be above 0, got '-5'"),
    ({"quantity": "nan"}, "quantity: 'nan' is not a finite number"),
    ({"limit": "0"}, "limit: must be above 0, got '0'"),
    ({"stop": "abc"}, "stop: 'abc' is not a number"),
    ({"trail": "120%"}, "trail: a percent trail must be between 0 and 100, got '120%'"),
    ({"trail": "-1"}, "trail: must be above 0, got '-1'"),
    ({"tif": "gtd"}, "tif: 'gtd' is not one of day, gtc, ioc"),
    ({"symbol": "AA PL"}, "symbol: 'AA PL' is not a symbol"),
    ({"take_profit": "x"}, "take_profit: 'x' is not a number"),
])
def test_bad_text_names_the_field_and_the_problem(kwargs: dict[str, str], message: str) -> None:
    fields = {"symbol": "AAPL", "side": "buy", "quantity": "10"} | kwargs
    symbol, side, quantity = fields.pop("symbol"), fields.pop("side"), fields.pop("quantity")
    with pytest.raises(OrderInputError) as err:
        parse_request(symbol, side, quantity, now=NOW, **fields)
    assert str(err.value).startswith(message)


def test_thousands_separators_are_accepted() -> None:
    assert parse_request("EURUSD", "buy", "25,000", now=NOW).quantity == 25_000


def test_policy_and_chase_use_the_pricing_forms() -> None:
    r = parse_request("AAPL", "buy", "10", now=NOW, order_type="lmt", policy="marketable:2",
                      chase="5:1:10:market")
    assert r.price_policy == PricePolicy(PolicyKind.MARKETABLE, 2)
    assert r.chase == ChaseRule(5.0, 1, 10.0, "market")
    with pytest.raises(OrderInputError, match=r"^policy: unknown price policy 'best'"):
        parse_request("AAPL", "buy", "10", now=NOW, policy="best")
    with pytest.raises(OrderInputError, match=r"^chase: chase '5:1': write EVERY_SECONDS"):
        parse_request("AAPL", "buy", "10", now=NOW, chase="5:1")


def test_constructor_refuses_unknown_words() -> None:
    with pytest.raises(OrderInputError, match="order_type: must be one of mkt, lmt"):
        OrderRequest("AAPL", "buy", 1, "k", order_type="moc")
    with pytest.raises(OrderInputError, match="source: must be one of ticket, decision"):
        OrderRequest("AAPL", "buy", 1, "k", source="robot")
    with pytest.raises(OrderInputError, match="client_key: is empty"):
        OrderRequest("AAPL", "buy", 1, " ")
