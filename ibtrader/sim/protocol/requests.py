"""Client → server messages, parsed into one frozen dataclass per request.

Most requests are a flat run of fields, so each dataclass doubles as its own layout: the
fields are read in declaration order and converted by their annotated type. `since` marks
a field that only exists from a server version on; `optional` a trailing field that some
clients leave out. placeOrder is the exception: its table is `order_layouts.PLACE_ORDER`.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ibtrader.sim.protocol.codec import ProtocolError
from ibtrader.sim.protocol.layout import FieldCursor, LayoutContext, read_layout
from ibtrader.sim.protocol.order_layouts import PLACE_ORDER
from ibtrader.sim.protocol.wire import (
    ComboLeg,
    DeltaNeutral,
    WireContract,
    WireOrder,
    check_kinds,
    parse_bool,
    parse_float,
    parse_int,
)

NO_CONTRACT = WireContract()


def _since(version: int, default: Any = "") -> Any:
    return field(default=default, metadata={"since": version})


def _optional(default: Any = "") -> Any:
    return field(default=default, metadata={"optional": True})


class Request:
    """Base of every parsed request; MSG_ID is the message id the client sends."""

    MSG_ID: ClassVar[int] = -1
    # most messages carry a version number right after the id; the newer ones do not
    VERSIONED: ClassVar[bool] = True


@dataclass(frozen=True)
class StartApi(Request):
    MSG_ID = 71
    client_id: int = 0
    optional_capabilities: str = _optional()


@dataclass(frozen=True)
class ReqCurrentTime(Request):
    MSG_ID = 49


@dataclass(frozen=True)
class ReqIds(Request):
    MSG_ID = 8
    num_ids: int = 1


@dataclass(frozen=True)
class ReqManagedAccts(Request):
    MSG_ID = 17


@dataclass(frozen=True)
class ReqContractDetails(Request):
    MSG_ID = 9
    req_id: int = 0
    contract: WireContract = NO_CONTRACT
    include_expired: bool = False
    sec_id_type: str = ""
    sec_id: str = ""
    issuer_id: str = _since(176)


@dataclass(frozen=True)
class ReqMarketDataType(Request):
    MSG_ID = 59
    market_data_type: int = 1


@dataclass(frozen=True)
class ReqMktData(Request):
    MSG_ID = 1
    req_id: int = 0
    contract: WireContract = NO_CONTRACT
    combo_legs: tuple[ComboLeg, ...] = ()
    delta_neutral: DeltaNeutral | None = None
    generic_tick_list: str = ""
    snapshot: bool = False
    regulatory_snapshot: bool = False
    mkt_data_options: str = _optional()


@dataclass(frozen=True)
class CancelMktData(Request):
    MSG_ID = 2
    req_id: int = 0


@dataclass(frozen=True)
class ReqRealTimeBars(Request):
    MSG_ID = 50
    req_id: int = 0
    contract: WireContract = NO_CONTRACT
    bar_size: int = 5
    what_to_show: str = ""
    use_rth: bool = False
    options: str = _optional()


@dataclass(frozen=True)
class CancelRealTimeBars(Request):
    MSG_ID = 51
    req_id: int = 0


@dataclass(frozen=True)
class ReqHistoricalData(Request):
    MSG_ID = 20
    VERSIONED = False
    req_id: int = 0
    contract: WireContract = NO_CONTRACT
    include_expired: bool = False
    end_date_time: str = ""
    bar_size: str = ""
    duration: str = ""
    use_rth: bool = False
    what_to_show: str = ""
    format_date: int = 1
    combo_legs: tuple[ComboLeg, ...] = ()
    keep_up_to_date: bool = False
    chart_options: str = _optional()


@dataclass(frozen=True)
class CancelHistoricalData(Request):
    MSG_ID = 25
    req_id: int = 0


@dataclass(frozen=True)
class ReqHeadTimeStamp(Request):
    MSG_ID = 87
    VERSIONED = False
    req_id: int = 0
    contract: WireContract = NO_CONTRACT
    include_expired: bool = False
    use_rth: bool = False
    what_to_show: str = ""
    format_date: int = 1


@dataclass(frozen=True)
class CancelHeadTimeStamp(Request):
    MSG_ID = 90
    VERSIONED = False
    req_id: int = 0


@dataclass(frozen=True)
class PlaceOrder(Request):
    MSG_ID = 3
    VERSIONED = False
    order_id: int = 0
    contract: WireContract = NO_CONTRACT
    order: WireOrder = field(default_factory=WireOrder)
    # fields past the end of the layout: none from a client speaking this version
    unread: tuple[str, ...] = ()


@dataclass(frozen=True)
class CancelOrder(Request):
    MSG_ID = 4
    order_id: int = 0
    manual_cancel_order_time: str = _since(169)


@dataclass(frozen=True)
class ReqGlobalCancel(Request):
    MSG_ID = 58


@dataclass(frozen=True)
class ReqOpenOrders(Request):
    MSG_ID = 5


@dataclass(frozen=True)
class ReqAllOpenOrders(Request):
    MSG_ID = 16


@dataclass(frozen=True)
class ReqAutoOpenOrders(Request):
    MSG_ID = 15
    auto_bind: bool = False


@dataclass(frozen=True)
class ReqCompletedOrders(Request):
    MSG_ID = 99
    VERSIONED = False
    api_only: bool = False


@dataclass(frozen=True)
class ReqExecutions(Request):
    MSG_ID = 7
    req_id: int = 0
    client_id: int = 0
    acct_code: str = ""
    time: str = ""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""


@dataclass(frozen=True)
class ReqPositions(Request):
    MSG_ID = 61


@dataclass(frozen=True)
class CancelPositions(Request):
    MSG_ID = 64


@dataclass(frozen=True)
class ReqAccountUpdates(Request):
    MSG_ID = 6
    subscribe: bool = True
    acct_code: str = ""


@dataclass(frozen=True)
class ReqAccountUpdatesMulti(Request):
    MSG_ID = 76
    req_id: int = 0
    account: str = ""
    model_code: str = ""
    ledger_and_nlv: bool = False


@dataclass(frozen=True)
class CancelAccountUpdatesMulti(Request):
    MSG_ID = 77
    req_id: int = 0


@dataclass(frozen=True)
class ReqAccountSummary(Request):
    MSG_ID = 62
    req_id: int = 0
    group_name: str = ""
    tags: str = ""


@dataclass(frozen=True)
class CancelAccountSummary(Request):
    MSG_ID = 63
    req_id: int = 0


@dataclass(frozen=True)
class ReqPnL(Request):
    MSG_ID = 92
    VERSIONED = False
    req_id: int = 0
    account: str = ""
    model_code: str = ""


@dataclass(frozen=True)
class CancelPnL(Request):
    MSG_ID = 93
    VERSIONED = False
    req_id: int = 0


@dataclass(frozen=True)
class ReqPnLSingle(Request):
    MSG_ID = 94
    VERSIONED = False
    req_id: int = 0
    account: str = ""
    model_code: str = ""
    con_id: int = 0


@dataclass(frozen=True)
class CancelPnLSingle(Request):
    MSG_ID = 95
    VERSIONED = False
    req_id: int = 0


@dataclass(frozen=True)
class ReqMatchingSymbols(Request):
    MSG_ID = 81
    VERSIONED = False
    req_id: int = 0
    pattern: str = ""


@dataclass(frozen=True)
class ReqMarketRule(Request):
    MSG_ID = 91
    VERSIONED = False
    market_rule_id: int = 0


@dataclass(frozen=True)
class UnknownRequest(Request):
    """A message this gateway does not serve, kept for logging."""

    msg_id: int = 0
    fields: tuple[str, ...] = ()


REQUEST_TYPES: dict[int, type[Request]] = {
    cls.MSG_ID: cls
    for cls in (
        StartApi, ReqCurrentTime, ReqIds, ReqManagedAccts, ReqContractDetails,
        ReqMarketDataType, ReqMktData, CancelMktData, ReqRealTimeBars, CancelRealTimeBars,
        ReqHistoricalData, CancelHistoricalData, ReqHeadTimeStamp, CancelHeadTimeStamp,
        PlaceOrder, CancelOrder, ReqGlobalCancel, ReqOpenOrders, ReqAllOpenOrders,
        ReqAutoOpenOrders, ReqCompletedOrders, ReqExecutions, ReqPositions, CancelPositions,
        ReqAccountUpdates, ReqAccountUpdatesMulti, CancelAccountUpdatesMulti,
        ReqAccountSummary, CancelAccountSummary, ReqPnL, CancelPnL, ReqPnLSingle,
        CancelPnLSingle, ReqMatchingSymbols, ReqMarketRule,
    )
}


def parse_request(fields: list[str], server_version: int) -> Request:
    """The typed request for one message's fields (field 0 is the message id)."""
    if not fields:
        raise ProtocolError("empty message")
    try:
        msg_id = int(fields[0])
    except ValueError:
        raise ProtocolError(f"message id is not a number: {fields[0][:20]!r}") from None
    cls = REQUEST_TYPES.get(msg_id)
    if cls is None:
        return UnknownRequest(msg_id=msg_id, fields=tuple(fields[1:]))
    if cls is PlaceOrder:
        return parse_place_order(fields, server_version)
    return _parse_flat(cls, fields, server_version)


# ----- flat requests ---------------------------------------------------------------------
def message_name(cls: type) -> str:
    return cls.__name__[0].lower() + cls.__name__[1:]


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _parse_flat(cls: type[Request], fields: list[str], version: int) -> Request:
    name = message_name(cls)
    cursor = FieldCursor(fields, 1, name)
    if cls.VERSIONED and cursor.remaining:
        cursor.take("version")  # its value never changes the layout within 157..178
    values: dict[str, Any] = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.metadata.get("since", 0) > version:
            continue
        if f.metadata.get("optional") and cursor.remaining == 0:
            continue
        values[f.name] = _read_value(hints[f.name], f.name, cursor, values)
    return cls(**values)


def _read_value(hint: Any, name: str, cursor: FieldCursor, values: dict[str, Any]) -> Any:
    message = cursor.message
    if hint is WireContract:
        contract, cursor.index = WireContract.from_fields(cursor.fields, cursor.index, message)
        return contract
    if hint == tuple[ComboLeg, ...]:
        # only a BAG carries legs; the contract is always read before them
        is_bag = getattr(values.get("contract"), "sec_type", "") == "BAG"
        return _read_combo_legs(cursor) if is_bag else ()
    if hint == (DeltaNeutral | None):
        return _read_delta_neutral(cursor)
    text = cursor.take(name)
    if hint is int:
        return parse_int(text, message, name)
    if hint is bool:
        return parse_bool(text, message, name)
    if hint is float:
        return parse_float(text, message, name) or 0.0
    return text


def _read_combo_legs(cursor: FieldCursor) -> tuple[ComboLeg, ...]:
    legs = []
    for _ in range(cursor.take_count("comboLegsCount")):
        con_id = parse_int(cursor.take("conId"), cursor.message, "conId")
        ratio = parse_int(cursor.take("ratio"), cursor.message, "ratio")
        legs.append(ComboLeg(con_id, ratio, cursor.take("action"), cursor.take("exchange")))
    return tuple(legs)


def _read_delta_neutral(cursor: FieldCursor) -> DeltaNeutral | None:
    if not parse_bool(cursor.take("deltaNeutralContract"), cursor.message, "deltaNeutral"):
        return None
    message = cursor.message
    con_id = parse_int(cursor.take("conId"), message, "deltaNeutralContract.conId")
    delta = parse_float(cursor.take("delta"), message, "deltaNeutralContract.delta")
    price = parse_float(cursor.take("price"), message, "deltaNeutralContract.price")
    return DeltaNeutral(con_id, delta or 0.0, price or 0.0)


# ----- placeOrder ------------------------------------------------------------------------
def parse_place_order(fields: list[str], server_version: int) -> PlaceOrder:
    cursor = FieldCursor(fields, 1, "placeOrder")
    order_id_text = cursor.take("orderId")
    order_id = parse_int(order_id_text, "placeOrder", "orderId")
    contract, cursor.index = WireContract.from_fields(fields, cursor.index, "placeOrder")
    values = {"orderId": order_id_text}
    ctx = LayoutContext(server_version, contract.sec_type, contract.exchange, values)
    read_layout(PLACE_ORDER, cursor, ctx)
    check_kinds(values, "placeOrder")
    return PlaceOrder(order_id=order_id, contract=contract, order=WireOrder(values),
                      unread=tuple(fields[cursor.index :]))
