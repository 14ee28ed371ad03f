"""Tickets: what goes to the broker, and refs a retry rebuilds identically."""

from __future__ import annotations

import pytest

from ibtrader.core.broker import OrderTicket
from ibtrader.core.market import Instrument
from ibtrader.core.orders.request import OrderRequest
from ibtrader.core.orders.tickets import (
    TicketError,
    build_tickets,
    leg_requests,
    parent_key,
)

AAPL = Instrument("AAPL", "STK", "SMART", "USD", con_id=265598, min_tick=0.01)
KEY = "ibt-018f00000000abcdef01234567"


def req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {"symbol": "AAPL", "side": "buy", "quantity": 100,
                               "client_key": KEY}
    return OrderRequest(**(base | kw))  # type: ignore[arg-type]


def test_a_plain_order_is_one_transmitted_ticket() -> None:
    [t] = build_tickets(req(order_type="stp-lmt", stop=191.0, limit=191.5, tif="gtc",
                            outside_rth=True), AAPL)
    assert t == OrderTicket(order_ref=KEY, instrument=AAPL, side="BUY", quantity=100,
                            order_type="STP LMT", limit_price=191.5, stop_price=191.0,
                            tif="GTC", outside_rth=True, transmit=True)


def test_trailing_percent_and_amount() -> None:
    [pct] = build_tickets(req(side="sell", order_type="trail", trail_percent=1.5), AAPL)
    assert (pct.side, pct.order_type, pct.trail_percent, pct.trail_amount) == (
        "SELL", "TRAIL", 1.5, None)
    [amt] = build_tickets(req(order_type="trail", trail_amount=0.35), AAPL)
    assert (amt.trail_amount, amt.trail_percent) == (0.35, None)


def test_a_bracket_is_parent_then_take_profit_then_stop_loss() -> None:
    parent, tp, sl = build_tickets(req(order_type="lmt", limit=190.0, take_profit=195.0,
                                       stop_loss=185.0, tif="gtc"), AAPL)
    assert (parent.order_ref, parent.order_type, parent.limit_price, parent.side) == (
        KEY, "LMT", 190.0, "BUY")
    assert (tp.order_ref, tp.order_type, tp.limit_price, tp.side, tp.quantity) == (
        KEY + "-tp", "LMT", 195.0, "SELL", 100)
    assert (sl.order_ref, sl.order_type, sl.stop_price, sl.side, sl.quantity) == (
        KEY + "-sl", "STP", 185.0, "SELL", 100)
    # Only the last leg transmits, so nothing works before the whole bracket has arrived.
    assert [t.transmit for t in (parent, tp, sl)] == [False, False, True]
    assert parent.parent_ref == "" and tp.parent_ref == sl.parent_ref == KEY
    assert tp.oca_group == sl.oca_group == KEY + "-oca" and parent.oca_group == ""
    assert tp.tif == sl.tif == "GTC"


def test_a_sell_bracket_exits_with_buys() -> None:
    _, tp, sl = build_tickets(req(side="sell", take_profit=180.0, stop_loss=195.0), AAPL)
    assert (tp.side, tp.limit_price, sl.side, sl.stop_price) == ("BUY", 180.0, "BUY", 195.0)


def test_a_single_protective_leg_transmits_last() -> None:
    parent, sl = build_tickets(req(stop_loss=185.0), AAPL)
    assert (parent.transmit, sl.transmit, sl.order_ref) == (False, True, KEY + "-sl")


def test_a_retry_rebuilds_the_same_tickets() -> None:
    request = req(order_type="lmt", limit=190.0, take_profit=195.0, stop_loss=185.0)
    assert build_tickets(request, AAPL) == build_tickets(request, AAPL)
    assert {parent_key(t.order_ref) for t in build_tickets(request, AAPL)} == {KEY}


def test_float_noise_is_removed_from_prices() -> None:
    [t] = build_tickets(req(order_type="lmt", limit=0.1 + 0.2 + 189.7), AAPL)
    assert t.limit_price == 190.0


def test_leg_requests_match_the_leg_tickets() -> None:
    request = req(order_type="lmt", limit=190.0, take_profit=195.0, stop_loss=185.0,
                  decision_id="d1", source="decision")
    tp, sl = leg_requests(request)
    assert (tp.client_key, tp.side, tp.order_type, tp.limit) == (KEY + "-tp", "sell", "lmt",
                                                                 195.0)
    assert (sl.client_key, sl.side, sl.order_type, sl.stop) == (KEY + "-sl", "sell", "stp",
                                                                185.0)
    assert tp.decision_id == sl.decision_id == "d1"
    assert not tp.is_bracket and leg_requests(req()) == []
    _, tp_ticket, sl_ticket = build_tickets(request, AAPL)
    assert [t.order_ref for t in build_tickets(tp, AAPL)] == [tp_ticket.order_ref]
    assert build_tickets(sl, AAPL)[0].stop_price == sl_ticket.stop_price


def test_the_contract_must_be_the_requests() -> None:
    msft = Instrument("MSFT", "STK", "SMART", "USD", con_id=272093)
    with pytest.raises(TicketError, match="request for AAPL given the contract of MSFT"):
        build_tickets(req(), msft)
