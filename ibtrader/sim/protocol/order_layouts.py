"""The field layouts of placeOrder (client → server), openOrder and completedOrder.

All three share the order's field names (ib_async's Order attributes), so a `WireOrder`
read with `PLACE_ORDER` can be written back with `OPEN_ORDER` / `COMPLETED_ORDER`. The
optional groups test the same values on both sides, which keeps the reader and the
client's decoder in step: e.g. the 7 scale fields follow only if 0 < increment < unset.
Names prefixed ``state.`` are the OrderState part, filled in by the server.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ibtrader.sim.protocol.codec import ProtocolError
from ibtrader.sim.protocol.layout import (
    Conditions,
    Flag,
    LayoutContext,
    Repeat,
    Step,
    When,
    before,
    since,
)
from ibtrader.sim.protocol.wire import CONDITION_PARTS, parse_float


def _order_type_in(*types: str) -> Callable[[LayoutContext], bool]:
    # exact comparison, as the clients do when they decide to send these groups
    return lambda ctx: ctx.text("orderType") in types


def _is_set(name: str) -> Callable[[LayoutContext], bool]:
    return lambda ctx: bool(ctx.text(name))


def _scale_increment_set(ctx: LayoutContext) -> bool:
    try:
        value = parse_float(ctx.text("scalePriceIncrement"), "order", "scalePriceIncrement")
    except ProtocolError:
        return False
    # the clients test 0 < increment < UNSET_DOUBLE, so infinity counts as not set
    return value is not None and 0 < value < math.inf


def _compete_against_best_is_infinite(ctx: LayoutContext) -> bool:
    return ctx.text("competeAgainstBestOffset").strip().lower() in ("infinite", "inf", "infinity")


PEG_BENCH = _order_type_in("PEG BENCH", "PEGBENCH")
PEG_BEST = _order_type_in("PEG BEST", "PEGBEST")
PEG_MID = _order_type_in("PEG MID", "PEGMID")

COMBO_LEGS = Repeat("comboLegs", ("conId", "ratio", "action", "exchange", "openClose",
                                  "shortSaleSlot", "designatedLocation", "exemptCode"))
ORDER_COMBO_LEGS = Repeat("orderComboLegs", ("price",))
SMART_COMBO_PARAMS = Repeat("smartComboRoutingParams", ("tag", "value"))
DELTA_NEUTRAL_8 = When(_is_set("deltaNeutralOrderType"), (
    "deltaNeutralConId", "deltaNeutralSettlingFirm", "deltaNeutralClearingAccount",
    "deltaNeutralClearingIntent", "deltaNeutralOpenClose", "deltaNeutralShortSale",
    "deltaNeutralShortSaleSlot", "deltaNeutralDesignatedLocation",
))
SCALE = (
    "scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement",
    When(_scale_increment_set, (
        "scalePriceAdjustValue", "scalePriceAdjustInterval", "scaleProfitOffset",
        "scaleAutoReset", "scaleInitPosition", "scaleInitFillQty", "scaleRandomPercent",
    )),
)
HEDGE = ("hedgeType", When(_is_set("hedgeType"), ("hedgeParam",)))
DELTA_NEUTRAL_CONTRACT = Flag("deltaNeutralContract", (
    "deltaNeutralContract.conId", "deltaNeutralContract.delta", "deltaNeutralContract.price",
))
ALGO = ("algoStrategy", When(_is_set("algoStrategy"), (Repeat("algoParams", ("tag", "value")),)))
PEG_BENCH_5 = When(PEG_BENCH, (
    "referenceContractId", "isPeggedChangeAmountDecrease", "peggedChangeAmount",
    "referenceChangeAmount", "referenceExchangeId",
))
CONDITIONS = (
    Conditions("conditions", CONDITION_PARTS),
    When(lambda ctx: ctx.text("conditions") not in ("", "0"),
         ("conditionsIgnoreRth", "conditionsCancelOrder")),
)
PEG_170 = since(170, "minTradeQty", "minCompeteSize", "competeAgainstBestOffset",
                "midOffsetAtWhole", "midOffsetAtHalf")

# `Client.placeOrder`, after the message id, orderId and the 12 contract fields.
PLACE_ORDER: tuple[Step, ...] = (
    "secIdType", "secId",
    "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "ocaGroup",
    "account", "openClose", "origin", "orderRef", "transmit", "parentId", "blockOrder",
    "sweepToFill", "displaySize", "triggerMethod", "outsideRth", "hidden",
    When(lambda ctx: ctx.sec_type == "BAG", (COMBO_LEGS, ORDER_COMBO_LEGS, SMART_COMBO_PARAMS)),
    "sharesAllocation", "discretionaryAmt", "goodAfterTime", "goodTillDate", "faGroup",
    "faMethod", "faPercentage",
    before(177, "faProfile"),
    "modelCode", "shortSaleSlot", "designatedLocation", "exemptCode", "ocaType", "rule80A",
    "settlingFirm", "allOrNone", "minQty", "percentOffset", "eTradeOnly", "firmQuoteOnly",
    "nbboPriceCap", "auctionStrategy", "startingPrice", "stockRefPrice", "delta",
    "stockRangeLower", "stockRangeUpper", "overridePercentageConstraints", "volatility",
    "volatilityType", "deltaNeutralOrderType", "deltaNeutralAuxPrice", DELTA_NEUTRAL_8,
    "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent",
    *SCALE,
    "scaleTable", "activeStartTime", "activeStopTime", *HEDGE,
    "optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld",
    DELTA_NEUTRAL_CONTRACT, *ALGO,
    "algoId", "whatIf", "orderMiscOptions", "solicited", "randomizeSize", "randomizePrice",
    PEG_BENCH_5, *CONDITIONS,
    "adjustedOrderType", "triggerPrice", "lmtPriceOffset", "adjustedStopPrice",
    "adjustedStopLimitPrice", "adjustedTrailingAmount", "adjustableTrailingUnit",
    "extOperator", "softDollarTier.name", "softDollarTier.val", "cashQty",
    "mifid2DecisionMaker", "mifid2DecisionAlgo", "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo", "dontUseAutoPriceForHedge", "isOmsContainer",
    "discretionaryUpToLimitPrice", "usePriceMgmtAlgo",
    since(158, "duration"),
    since(160, "postToAts"),
    since(162, "autoCancelParent"),
    since(166, "advancedErrorOverride"),
    since(169, "manualOrderTime"),
    since(170,
          When(lambda ctx: ctx.exchange == "IBKRATS", ("minTradeQty",)),
          When(PEG_BEST, ("minCompeteSize", "competeAgainstBestOffset",
                          When(_compete_against_best_is_infinite,
                               ("midOffsetAtWhole", "midOffsetAtHalf")))),
          When(PEG_MID, ("midOffsetAtWhole", "midOffsetAtHalf"))),
)

ORDER_STATE = (
    "state.status", "state.initMarginBefore", "state.maintMarginBefore",
    "state.equityWithLoanBefore", "state.initMarginChange", "state.maintMarginChange",
    "state.equityWithLoanChange", "state.initMarginAfter", "state.maintMarginAfter",
    "state.equityWithLoanAfter", "state.commission", "state.minCommission",
    "state.maxCommission", "state.commissionCurrency", "state.warningText",
)

# `Decoder.openOrder`, after the message id, orderId and the 11 contract fields.
OPEN_ORDER: tuple[Step, ...] = (
    "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "ocaGroup",
    "account", "openClose", "origin", "orderRef", "clientId", "permId", "outsideRth",
    "hidden", "discretionaryAmt", "goodAfterTime", "sharesAllocation", "faGroup", "faMethod",
    "faPercentage",
    before(177, "faProfile"),
    "modelCode", "goodTillDate", "rule80A", "percentOffset", "settlingFirm", "shortSaleSlot",
    "designatedLocation", "exemptCode", "auctionStrategy", "startingPrice", "stockRefPrice",
    "delta", "stockRangeLower", "stockRangeUpper", "displaySize", "blockOrder", "sweepToFill",
    "allOrNone", "minQty", "ocaType", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap",
    "parentId", "triggerMethod", "volatility", "volatilityType", "deltaNeutralOrderType",
    "deltaNeutralAuxPrice", DELTA_NEUTRAL_8,
    "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent",
    "basisPoints", "basisPointsType", "comboLegsDescrip",
    COMBO_LEGS, ORDER_COMBO_LEGS, SMART_COMBO_PARAMS, *SCALE, *HEDGE,
    "optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld",
    DELTA_NEUTRAL_CONTRACT, *ALGO, "solicited", "whatIf", *ORDER_STATE,
    "randomizeSize", "randomizePrice", PEG_BENCH_5, *CONDITIONS,
    # trailStopPrice comes twice; the client keeps this second copy
    "adjustedOrderType", "triggerPrice", "trailStopPrice", "lmtPriceOffset",
    "adjustedStopPrice", "adjustedStopLimitPrice", "adjustedTrailingAmount",
    "adjustableTrailingUnit", "softDollarTier.name", "softDollarTier.val",
    "softDollarTier.displayName", "cashQty", "dontUseAutoPriceForHedge", "isOmsContainer",
    "discretionaryUpToLimitPrice", "usePriceMgmtAlgo",
    since(159, "duration"),  # one version later than placeOrder sends it
    since(160, "postToAts"),
    since(162, "autoCancelParent"),
    PEG_170,
)

# `Decoder.completedOrder`, after the message id and the 11 contract fields.
COMPLETED_ORDER: tuple[Step, ...] = (
    "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "ocaGroup",
    "account", "openClose", "origin", "orderRef", "permId", "outsideRth", "hidden",
    "discretionaryAmt", "goodAfterTime", "faGroup", "faMethod", "faPercentage",
    before(177, "faProfile"),
    "modelCode", "goodTillDate", "rule80A", "percentOffset", "settlingFirm", "shortSaleSlot",
    "designatedLocation", "exemptCode", "startingPrice", "stockRefPrice", "delta",
    "stockRangeLower", "stockRangeUpper", "displaySize", "sweepToFill", "allOrNone", "minQty",
    "ocaType", "triggerMethod", "volatility", "volatilityType", "deltaNeutralOrderType",
    "deltaNeutralAuxPrice",
    When(_is_set("deltaNeutralOrderType"), (
        "deltaNeutralConId", "deltaNeutralShortSale", "deltaNeutralShortSaleSlot",
        "deltaNeutralDesignatedLocation",
    )),
    "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent",
    "comboLegsDescrip", COMBO_LEGS, ORDER_COMBO_LEGS, SMART_COMBO_PARAMS, *SCALE, *HEDGE,
    "clearingAccount", "clearingIntent", "notHeld", DELTA_NEUTRAL_CONTRACT, *ALGO,
    "solicited", "state.status", "randomizeSize", "randomizePrice", PEG_BENCH_5, *CONDITIONS,
    "trailStopPrice", "lmtPriceOffset", "cashQty", "dontUseAutoPriceForHedge",
    "isOmsContainer", "autoCancelDate", "filledQuantity", "refFuturesConId",
    "autoCancelParent", "shareholder", "imbalanceOnly", "routeMarketableToBbo",
    "parentPermId", "state.completedTime", "state.completedStatus",
    PEG_170,
)
