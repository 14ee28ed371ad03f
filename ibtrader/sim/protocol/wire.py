"""Values as they travel on the wire: contracts and orders.

A `WireOrder` keeps every placeOrder field verbatim, by its ib_async Order attribute name,
because openOrder and completedOrder must echo the client's own values back; the typed
accessors are the matching engine's read-only view of the few fields it acts on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from ibtrader.sim.protocol.codec import UNSET_DOUBLE, ProtocolError, encode_field
from ibtrader.sim.protocol.layout import count_of, is_true

C12_NAMES = (
    "conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right",
    "multiplier", "exchange", "primaryExchange", "currency", "localSymbol", "tradingClass",
)


@dataclass(frozen=True)
class WireContract:
    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primary_exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    @classmethod
    def from_fields(
        cls, fields: list[str], start: int, message: str = "contract"
    ) -> tuple[WireContract, int]:
        """The 12 contract fields a client sends, from `start`; returns the next index."""
        end = start + len(C12_NAMES)
        if len(fields) < end:
            missing = C12_NAMES[len(fields) - start] if len(fields) >= start else "conId"
            raise ProtocolError(f"{message}: message ends before contract field {missing!r}")
        f = fields[start:end]
        contract = cls(
            con_id=parse_int(f[0], message, "conId"),
            symbol=f[1],
            sec_type=f[2],
            last_trade_date=f[3],
            strike=parse_float(f[4], message, "strike") or 0.0,
            right=f[5],
            multiplier=f[6],
            exchange=f[7],
            primary_exchange=f[8],
            currency=f[9],
            local_symbol=f[10],
            trading_class=f[11],
        )
        return contract, end

    def k11_fields(self) -> list[object]:
        """The 11 fields the server sends (C12 without primaryExchange)."""
        return [self.con_id, self.symbol, self.sec_type, self.last_trade_date, self.strike,
                self.right, self.multiplier, self.exchange, self.currency, self.local_symbol,
                self.trading_class]

    def c12_fields(self) -> list[object]:
        k11 = self.k11_fields()
        return [*k11[:8], self.primary_exchange, *k11[8:]]


@dataclass(frozen=True)
class ComboLeg:
    """A BAG leg as reqMktData / reqHistoricalData carry it."""

    con_id: int
    ratio: int
    action: str
    exchange: str


@dataclass(frozen=True)
class DeltaNeutral:
    con_id: int
    delta: float
    price: float


# The parts of each order condition type after its type id (ib_async's condition classes).
CONDITION_PARTS: dict[str, tuple[str, ...]] = {
    "1": ("conjunction", "isMore", "price", "conId", "exch", "triggerMethod"),  # price
    "3": ("conjunction", "isMore", "time"),  # time
    "4": ("conjunction", "isMore", "percent"),  # margin
    "5": ("conjunction", "secType", "exch", "symbol"),  # execution
    "6": ("conjunction", "isMore", "volume", "conId", "exch"),  # volume
    "7": ("conjunction", "isMore", "changePercent", "conId", "exch"),  # percent change
}

Kind = Literal["int", "float", "bool", "str"]

# Field types follow the defaults of ib_async's Order (its decoder converts by them).
_INT_NAMES = """orderId clientId permId ocaType parentId displaySize triggerMethod minQty
origin shortSaleSlot exemptCode auctionStrategy volatilityType deltaNeutralConId
deltaNeutralShortSaleSlot referencePriceType basisPointsType scaleInitLevelSize
scaleSubsLevelSize scalePriceAdjustInterval scaleInitPosition scaleInitFillQty
referenceContractId adjustableTrailingUnit refFuturesConId parentPermId duration postToAts
minTradeQty minCompeteSize comboLegs.conId comboLegs.ratio comboLegs.openClose
comboLegs.shortSaleSlot comboLegs.exemptCode conditions.conId conditions.triggerMethod
conditions.percent conditions.volume deltaNeutralContract.conId"""
_FLOAT_NAMES = """totalQuantity lmtPrice auxPrice percentOffset trailStopPrice trailingPercent
discretionaryAmt nbboPriceCap startingPrice stockRefPrice delta stockRangeLower
stockRangeUpper volatility deltaNeutralAuxPrice basisPoints scalePriceIncrement
scalePriceAdjustValue scaleProfitOffset peggedChangeAmount referenceChangeAmount
triggerPrice adjustedStopPrice adjustedStopLimitPrice adjustedTrailingAmount lmtPriceOffset
cashQty filledQuantity competeAgainstBestOffset midOffsetAtWhole midOffsetAtHalf
orderComboLegs.price conditions.price conditions.changePercent deltaNeutralContract.delta
deltaNeutralContract.price"""
_BOOL_NAMES = """transmit blockOrder sweepToFill outsideRth hidden allOrNone
overridePercentageConstraints eTradeOnly firmQuoteOnly optOutSmartRouting randomizePrice
randomizeSize deltaNeutralShortSale continuousUpdate scaleAutoReset scaleRandomPercent
whatIf notHeld solicited isPeggedChangeAmountDecrease conditionsCancelOrder
conditionsIgnoreRth dontUseAutoPriceForHedge isOmsContainer discretionaryUpToLimitPrice
autoCancelParent imbalanceOnly routeMarketableToBbo usePriceMgmtAlgo conditions.isMore"""
FIELD_KINDS: dict[str, Kind] = {
    **dict.fromkeys(_INT_NAMES.split(), "int"),
    **dict.fromkeys(_FLOAT_NAMES.split(), "float"),
    **dict.fromkeys(_BOOL_NAMES.split(), "bool"),
}


def kind_of(name: str) -> Kind:
    """The type of a flat field name; repeat items are typed by "<repeat>.<part>"."""
    kind = FIELD_KINDS.get(name)
    if kind is None and name.count(".") == 2:
        group, _, part = name.split(".")
        kind = FIELD_KINDS.get(f"{group}.{part}")
    return kind or "str"


class WireOrder:
    """The placeOrder fields, name → raw text, in wire order; immutable."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})

    # ----- the raw mapping --------------------------------------------------------------
    def get(self, name: str, default: str = "") -> str:
        return self._values.get(name, default)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> list[tuple[str, str]]:
        return list(self._values.items())

    def as_dict(self) -> dict[str, str]:
        return dict(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WireOrder) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._values.items() if v}
        return f"WireOrder({shown!r})"

    def with_changes(self, **raw: object) -> WireOrder:
        """A copy with fields replaced (or added), values encoded as on the wire."""
        values = dict(self._values)
        values.update({name: encode_field(value) for name, value in raw.items()})
        return WireOrder(values)

    def group(self, name: str) -> list[dict[str, str]]:
        """The items of a repeat (comboLegs, algoParams, conditions...) as dicts."""
        prefix_len = len(name) + 1
        items: list[dict[str, str]] = [{} for _ in range(count_of(self._values, name))]
        for key, value in self._values.items():
            if key.startswith(name + ".") and key.count(".") == 2:
                index, part = key[prefix_len:].split(".")
                if index.isdigit() and int(index) < len(items):
                    items[int(index)][part] = value
        return items

    def echo(self, name: str) -> str:
        """The field's text made safe for the client's typed parsing, for openOrder."""
        return normalize(kind_of(name), self._values.get(name, ""))

    # ----- persistence ------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self._values)

    @classmethod
    def from_json(cls, text: str) -> WireOrder:
        data = json.loads(text)
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not a serialised WireOrder: expected a flat object of strings")
        return cls(data)

    # ----- typed view for the matching engine -------------------------------------------
    @property
    def order_id(self) -> int:
        return self._int("orderId")

    @property
    def action(self) -> str:
        return self.get("action")

    @property
    def total_quantity(self) -> float:
        return self._float("totalQuantity") or 0.0

    @property
    def order_type(self) -> str:
        return self.get("orderType")

    @property
    def lmt_price(self) -> float | None:
        return self._float("lmtPrice")

    @property
    def aux_price(self) -> float | None:
        return self._float("auxPrice")

    @property
    def tif(self) -> str:
        return self.get("tif")

    @property
    def oca_group(self) -> str:
        return self.get("ocaGroup")

    @property
    def oca_type(self) -> int:
        return self._int("ocaType")

    @property
    def account(self) -> str:
        return self.get("account")

    @property
    def order_ref(self) -> str:
        return self.get("orderRef")

    @property
    def transmit(self) -> bool:
        # IB's default is to transmit; only an explicit 0 holds the order back
        text = self.get("transmit")
        return True if text.strip() == "" else is_true(text)

    @property
    def parent_id(self) -> int:
        return self._int("parentId")

    @property
    def outside_rth(self) -> bool:
        return is_true(self.get("outsideRth"))

    @property
    def trailing_percent(self) -> float | None:
        return self._float("trailingPercent")

    @property
    def trail_stop_price(self) -> float | None:
        return self._float("trailStopPrice")

    @property
    def lmt_price_offset(self) -> float | None:
        return self._float("lmtPriceOffset")

    @property
    def what_if(self) -> bool:
        return is_true(self.get("whatIf"))

    @property
    def good_till_date(self) -> str:
        return self.get("goodTillDate")

    @property
    def good_after_time(self) -> str:
        return self.get("goodAfterTime")

    @property
    def cash_qty(self) -> float | None:
        return self._float("cashQty")

    @property
    def algo_strategy(self) -> str:
        return self.get("algoStrategy")

    @property
    def algo_params(self) -> list[tuple[str, str]]:
        return [(p.get("tag", ""), p.get("value", "")) for p in self.group("algoParams")]

    def _float(self, name: str) -> float | None:
        return parse_float(self.get(name), "placeOrder", name)

    def _int(self, name: str) -> int:
        return parse_int(self.get(name), "placeOrder", name)


# ----- field text → values ----------------------------------------------------------------
def parse_float(text: str, message: str, name: str) -> float | None:
    """A wire number; "" and IB's unset sentinel are None, "Infinite" is infinity."""
    text = text.strip()
    if not text:
        return None
    if text.lower() in ("infinite", "infinity", "inf"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"{message}: field {name!r} is not a number: {text!r}") from None
    return None if value >= UNSET_DOUBLE or math.isnan(value) else value


def parse_int(text: str, message: str, name: str) -> int:
    """A wire integer; "" is 0, and "10.0" (a float sent for an int) is 10."""
    text = text.strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        pass
    value = parse_float(text, message, name)
    if value is None or math.isinf(value) or value != int(value):
        raise ProtocolError(f"{message}: field {name!r} is not an integer: {text!r}")
    return int(value)


def parse_bool(text: str, message: str, name: str) -> bool:
    stripped = text.strip().lower()
    if stripped in ("", "0", "1", "true", "false"):
        return is_true(stripped)
    value = parse_float(stripped, message, name)  # raises on anything non-numeric
    return bool(value)


def check_kinds(values: Mapping[str, str], message: str) -> None:
    """Raise ProtocolError naming the first typed field whose text does not parse."""
    parsers = {"int": parse_int, "float": parse_float, "bool": parse_bool}
    for name, text in values.items():
        parser = parsers.get(kind_of(name))
        if parser is not None:
            parser(text, message, name)


def normalize(kind: Kind, text: str) -> str:
    """Text the client's int()/float()/bool(int()) accepts, or "" (its default)."""
    if kind == "str" or not text.strip():
        return text if kind == "str" else ""
    try:
        if kind == "bool":
            return "1" if parse_bool(text, "", "") else "0"
        value = parse_float(text, "", "")
    except ProtocolError:
        return ""
    if value is None:
        return ""
    if kind == "int":
        return _integral_text(text, value)
    return encode_field(value)


def _integral_text(text: str, value: float) -> str:
    try:
        return str(int(text.strip()))  # exact, even past float precision
    except ValueError:
        return str(int(value)) if not math.isinf(value) and value == int(value) else ""
