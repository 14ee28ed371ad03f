"""placeOrder as ib_async encodes it, walked field by field for every server version."""

from __future__ import annotations

import math
import sys

import pytest
from ib_async import Order

from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol.codec import ProtocolError
from ibtrader.sim.protocol.wire import WireContract, WireOrder

from .conftest import VERSIONS
from .order_cases import CASES, place

UNSET = sys.float_info.max


def unset_to_none(value: float) -> float | None:
    return None if value is None or value == UNSET else float(value)


def expected_view(order: Order) -> dict[str, object]:
    """What the typed accessors must say, derived from the ib_async order itself."""
    return {
        "order_id": order.orderId, "action": order.action,
        "total_quantity": float(order.totalQuantity), "order_type": order.orderType,
        "lmt_price": unset_to_none(order.lmtPrice), "aux_price": unset_to_none(order.auxPrice),
        "tif": order.tif, "oca_group": order.ocaGroup, "oca_type": order.ocaType,
        "account": order.account, "order_ref": order.orderRef, "transmit": order.transmit,
        "parent_id": order.parentId, "outside_rth": order.outsideRth,
        "trailing_percent": unset_to_none(order.trailingPercent),
        "trail_stop_price": unset_to_none(order.trailStopPrice),
        "lmt_price_offset": unset_to_none(order.lmtPriceOffset), "what_if": order.whatIf,
        "good_till_date": order.goodTillDate, "good_after_time": order.goodAfterTime,
        "cash_qty": unset_to_none(order.cashQty), "algo_strategy": order.algoStrategy,
        "algo_params": [(p.tag, p.value) for p in order.algoParams],
    }


def parsed_orders(client, case) -> tuple[list[Order], list[rq.PlaceOrder]]:
    _, orders = place(client, case)
    requests = client.requests()
    assert all(isinstance(r, rq.PlaceOrder) for r in requests)
    return orders, requests  # type: ignore[return-value]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_typed_view_matches_the_ib_async_order(offline, version, case):
    orders, requests = parsed_orders(offline(version), case)
    assert len(requests) == len(orders)
    for order, req in zip(orders, requests, strict=True):
        assert req.unread == (), "the layout walk did not reach the end of the message"
        assert req.order_id == order.orderId
        view = {name: getattr(req.order, name) for name in expected_view(order)}
        assert view == expected_view(order)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_version_gated_fields(offline, version, case):
    orders, requests = parsed_orders(offline(version), case)
    for order, req in zip(orders, requests, strict=True):
        w = req.order
        assert ("faProfile" in w) == (version < 177)
        if version < 177:
            assert w["faProfile"] == order.faProfile
        gates = {"duration": 158, "postToAts": 160, "autoCancelParent": 162,
                 "advancedErrorOverride": 166, "manualOrderTime": 169}
        for name, since in gates.items():
            assert (name in w) == (version >= since), name
        assert w["usePriceMgmtAlgo"] == ("1" if order.usePriceMgmtAlgo else "0")


def test_bracket_holds_parent_and_first_child(offline):
    orders, requests = parsed_orders(offline(178), CASES["bracket"])
    parent, take_profit, stop_loss = (r.order for r in requests)
    assert [o.transmit for o in (parent, take_profit, stop_loss)] == [False, False, True]
    assert take_profit.parent_id == stop_loss.parent_id == parent.order_id == orders[0].orderId
    assert parent.parent_id == 0
    assert (take_profit.oca_group, take_profit.oca_type) == ("oca-bracket", 1)
    assert stop_loss.order_type == "STP" and stop_loss.aux_price == 140.0
    assert {o.order_ref for o in (parent, take_profit, stop_loss)} == {"bracket-1"}


@pytest.mark.parametrize("version", VERSIONS)
def test_conditions(offline, version):
    _, (req,) = parsed_orders(offline(version), CASES["conditions"])
    items = req.order.group("conditions")
    assert [c["condType"] for c in items] == ["1", "3", "4", "5", "6", "7"]
    assert items[0] == {"condType": "1", "conjunction": "a", "isMore": "1", "price": "155.0",
                        "conId": "265598", "exch": "SMART", "triggerMethod": "2"}
    assert items[1]["conjunction"] == "o" and items[1]["time"] == "20250102 10:00:00 US/Eastern"
    assert items[2] == {"condType": "4", "conjunction": "a", "isMore": "0", "percent": "30"}
    assert items[3]["symbol"] == "IBM"
    assert items[5]["changePercent"] == "2.5"
    assert (req.order["conditionsIgnoreRth"], req.order["conditionsCancelOrder"]) == ("1", "1")
    assert req.order.lmt_price == 150.0  # fields after the conditions are still in place
    assert req.unread == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_combo(offline, version):
    _, (req,) = parsed_orders(offline(version), CASES["combo"])
    assert req.contract.sec_type == "BAG"
    legs = req.order.group("comboLegs")
    assert [(leg["conId"], leg["ratio"], leg["action"]) for leg in legs] == [
        ("1001", "1", "BUY"), ("1002", "2", "SELL")]
    assert req.order.group("orderComboLegs") == [{"price": "1.5"}, {"price": ""}]
    assert req.order.group("smartComboRoutingParams") == [{"tag": "NonGuaranteed", "value": "1"}]
    assert req.order.total_quantity == 1.0 and req.order.lmt_price == 1.25


@pytest.mark.parametrize("version", VERSIONS)
def test_peg_groups(offline, version):
    client = offline(version)
    _, (best,) = parsed_orders(client, CASES["peg_best_ibkrats"])
    _, (mid,) = parsed_orders(client, CASES["peg_mid_ibkrats"])
    _, (bench,) = parsed_orders(client, CASES["peg_bench"])
    assert bench.order["referenceContractId"] == "8314"
    assert bench.order["referenceExchangeId"] == "SMART"
    if version >= 170:
        assert best.order["minTradeQty"] == "50"
        assert best.order["competeAgainstBestOffset"] == "Infinite"
        assert (best.order["midOffsetAtWhole"], best.order["midOffsetAtHalf"]) == ("0.01", "0.005")
        assert mid.order["midOffsetAtWhole"] == "0.02" and mid.order["minTradeQty"] == "10"
    else:
        assert "minTradeQty" not in best.order and "midOffsetAtWhole" not in mid.order


@pytest.mark.parametrize("version", VERSIONS)
def test_delta_neutral_scale_hedge(offline, version):
    client = offline(version)
    _, (vol,) = parsed_orders(client, CASES["volatility_delta_neutral"])
    _, (scale,) = parsed_orders(client, CASES["scale_and_hedge"])
    assert vol.order["volatility"] == "25.0"
    assert vol.order["deltaNeutralConId"] == "265598"
    assert vol.order["deltaNeutralContract"] == "1"
    assert vol.order["deltaNeutralContract.price"] == "187.0"
    assert vol.contract.strike == 200.0 and vol.contract.right == "C"
    assert scale.order["scaleRandomPercent"] == "1" and scale.order["hedgeParam"] == "1.2"
    assert scale.order.lmt_price == 50.0 and vol.unread == scale.unread == ()


def test_what_if_and_cash_quantity(offline):
    client = offline(178)
    _, (what_if,) = parsed_orders(client, CASES["what_if"])
    _, (misc,) = parsed_orders(client, CASES["advisor_and_misc"])
    assert what_if.order.what_if is True
    assert misc.order.cash_qty == 5000.0 and misc.order.total_quantity == 0.0
    assert misc.order["softDollarTier.name"] == "n"
    assert misc.order["orderMiscOptions"] == "a=b;"
    assert misc.order["manualOrderTime"] == "20250102-10:00:00"


def test_wire_order_survives_json(offline):
    _, (req,) = parsed_orders(offline(176), CASES["conditions"])
    copy = WireOrder.from_json(req.order.to_json())
    assert copy == req.order and copy.items() == req.order.items()
    changed = copy.with_changes(lmtPrice=151.5, transmit=False, orderRef="x")
    assert changed.lmt_price == 151.5 and changed.transmit is False
    assert changed.order_ref == "x" and req.order.order_ref == ""  # the original is untouched


def test_from_json_refuses_other_shapes():
    with pytest.raises(ValueError):
        WireOrder.from_json('{"contract": {"conId": 1}, "order": "{}"}')


def test_float_accessors():
    w = WireOrder({"lmtPrice": "", "auxPrice": "1.7976931348623157e+308",
                   "trailingPercent": "Infinite", "totalQuantity": "10", "parentId": "12.0",
                   "transmit": ""})
    assert w.lmt_price is None and w.aux_price is None
    assert w.trailing_percent == math.inf
    assert w.total_quantity == 10.0 and w.parent_id == 12 and w.transmit is True


@pytest.mark.parametrize("cut", [5, 20, 60, 100])
def test_truncated_place_order_names_the_field(offline, cut):
    client = offline(178)
    place(client, CASES["limit"])
    (fields,) = client.raw_fields()
    with pytest.raises(ProtocolError, match=r"placeOrder: .*'"):
        rq.parse_request(fields[:cut], 178)


def test_bad_number_names_the_field(offline):
    client = offline(178)
    place(client, CASES["limit"])
    (fields,) = client.raw_fields()
    fields[fields.index("187.25")] = "abc"
    with pytest.raises(ProtocolError, match="placeOrder: field 'lmtPrice'"):
        rq.parse_request(fields, 178)


def test_contract_of_place_order(offline):
    _, (req,) = parsed_orders(offline(178), CASES["limit"])
    assert req.contract == WireContract(con_id=265598, symbol="AAPL", sec_type="STK",
                                        exchange="SMART", primary_exchange="NASDAQ",
                                        currency="USD")
