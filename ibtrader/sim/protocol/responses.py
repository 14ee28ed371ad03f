"""Server → client messages as field lists, laid out for the negotiated server version.

Each builder returns the fields of one message, id first; `codec.frame` puts them on the
wire. Field counts matter: several client handlers unpack fixed-length tuples, so every
builder here emits exactly what ib_async 2.1 and ib_insync 0.9.86 decode at 157..178.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ibtrader.sim.protocol.codec import encode_field
from ibtrader.sim.protocol.layout import LayoutContext, Step, write_layout
from ibtrader.sim.protocol.order_layouts import COMPLETED_ORDER, OPEN_ORDER
from ibtrader.sim.protocol.wire import WireContract, WireOrder, kind_of, normalize

Fields = list[object]


# ----- connection ------------------------------------------------------------------------
def handshake_reply(version: int, time_text: str) -> Fields:
    # no message id: the client takes the first 2-field message as the handshake reply
    return [version, time_text]


def next_valid_id(order_id: int) -> Fields:
    return [9, 1, order_id]


def managed_accounts(accounts: str | Sequence[str]) -> Fields:
    text = accounts if isinstance(accounts, str) else ",".join(accounts)
    return [15, 1, text]


def error(version: int, req_id: int, code: int, message: str, advanced_json: str = "") -> Fields:
    fields: Fields = [4, 2, req_id, code, message]
    if version >= 166:  # without it the client drops every error from 166 on
        fields.append(advanced_json)
    return fields


def current_time(epoch_seconds: int) -> Fields:
    return [49, 1, int(epoch_seconds)]


# ----- contracts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ContractDetailsFields:
    """Everything contractData carries; symbol, multiplier, primaryExchange... are in
    `contract`. `last_trade_time` is appended to the contract's date as IB does."""

    contract: WireContract
    market_name: str = ""
    min_tick: float = 0.01
    order_types: str = ""
    valid_exchanges: str = ""
    price_magnifier: int = 1
    under_con_id: int = 0
    long_name: str = ""
    contract_month: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    time_zone_id: str = ""
    trading_hours: str = ""
    liquid_hours: str = ""
    ev_rule: str = ""
    ev_multiplier: int = 0
    sec_id_list: tuple[tuple[str, str], ...] = ()
    agg_group: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    market_rule_ids: str = ""
    real_expiration_date: str = ""
    stock_type: str = ""
    min_size: float = 1.0
    size_increment: float = 1.0
    suggested_size_increment: float = 1.0
    last_trade_time: str = ""


def contract_data(version: int, req_id: int, d: ContractDetailsFields) -> Fields:
    c = d.contract
    last_times = f"{c.last_trade_date} {d.last_trade_time}".strip()
    fields: Fields = [10]
    if version < 164:
        fields.append(8)  # the version field, dropped at 164
    fields += [req_id, c.symbol, c.sec_type, last_times, c.strike, c.right, c.exchange,
               c.currency, c.local_symbol, d.market_name, c.trading_class, c.con_id, d.min_tick]
    if version < 164:
        fields.append(1)  # mdSizeMultiplier, obsolete
    fields += [c.multiplier, d.order_types, d.valid_exchanges, d.price_magnifier,
               d.under_con_id, _ascii7(d.long_name), c.primary_exchange, d.contract_month,
               d.industry, d.category, d.subcategory, d.time_zone_id, d.trading_hours,
               d.liquid_hours, d.ev_rule, d.ev_multiplier, len(d.sec_id_list)]
    for tag, value in d.sec_id_list:
        fields += [tag, value]
    fields += [d.agg_group, d.under_symbol, d.under_sec_type, d.market_rule_ids,
               d.real_expiration_date, d.stock_type]
    if version == 163:
        fields.append(d.suggested_size_increment)
    elif version >= 164:
        fields += [d.min_size, d.size_increment, d.suggested_size_increment]
    return fields


def _ascii7(text: str) -> str:
    # clients undo this with .decode("unicode-escape"), as TWS escapes long names
    return text.encode("unicode-escape").decode("ascii")


def contract_data_end(req_id: int) -> Fields:
    return [52, 1, req_id]


@dataclass(frozen=True)
class SymbolSample:
    con_id: int
    symbol: str
    sec_type: str
    primary_exchange: str
    currency: str
    derivative_sec_types: tuple[str, ...] = ()
    description: str = ""
    issuer_id: str = ""


def symbol_samples(version: int, req_id: int, samples: Sequence[SymbolSample]) -> Fields:
    fields: Fields = [79, req_id, len(samples)]
    for s in samples:
        fields += [s.con_id, s.symbol, s.sec_type, s.primary_exchange, s.currency,
                   len(s.derivative_sec_types), *s.derivative_sec_types]
        if version >= 176:
            fields += [s.description, s.issuer_id]
    return fields


def market_rule(market_rule_id: int, increments: Sequence[tuple[float, float]]) -> Fields:
    fields: Fields = [93, market_rule_id, len(increments)]
    for low_edge, increment in increments:
        fields += [float(low_edge), float(increment)]
    return fields


# ----- market data -------------------------------------------------------------------------
def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str,
                    snapshot_permissions: int) -> Fields:
    return [81, req_id, float(min_tick), bbo_exchange, int(snapshot_permissions)]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return [58, 1, req_id, data_type]


def tick_price(req_id: int, tick_type: int, price: float, size: float,
               attr_mask: int = 0) -> Fields:
    return [1, 6, req_id, tick_type, float(price), float(size), int(attr_mask)]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return [2, 6, req_id, tick_type, float(size)]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    return [46, 6, req_id, tick_type, value]


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    return [45, 6, req_id, tick_type, float(value)]


def tick_snapshot_end(req_id: int) -> Fields:
    return [57, 1, req_id]


def realtime_bar(req_id: int, time: int, open_: float, high: float, low: float, close: float,
                 volume: float, wap: float, count: int) -> Fields:
    return [50, 3, req_id, int(time), float(open_), float(high), float(low), float(close),
            float(volume), float(wap), int(count)]


@dataclass(frozen=True)
class HistBar:
    date_text: str  # "YYYYMMDD", "YYYYMMDD HH:MM:SS <tz>" or epoch seconds, per formatDate
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int


def historical_data(req_id: int, start_text: str, end_text: str,
                    bars: Sequence[HistBar]) -> Fields:
    # below server version 196 there is no separate end message: this one ends the request
    fields: Fields = [17, req_id, start_text, end_text, len(bars)]
    for b in bars:
        fields += [b.date_text, float(b.open), float(b.high), float(b.low), float(b.close),
                   float(b.volume), float(b.wap), int(b.count)]
    return fields


def historical_data_update(req_id: int, count: int, date_text: str, open_: float,
                           close: float, high: float, low: float, wap: float,
                           volume: float) -> Fields:
    # open, close, high, low: not the order historicalData uses
    return [90, req_id, int(count), date_text, float(open_), float(close), float(high),
            float(low), float(wap), float(volume)]


def head_timestamp(req_id: int, timestamp_text: str) -> Fields:
    return [88, req_id, timestamp_text]


# ----- orders ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderStateFields:
    """The OrderState part of openOrder. The margin values are text; a what-if answer
    needs them numeric, since the client calls float(initMarginChange)."""

    status: str
    init_margin_before: str = ""
    maint_margin_before: str = ""
    equity_with_loan_before: str = ""
    init_margin_change: str = ""
    maint_margin_change: str = ""
    equity_with_loan_change: str = ""
    init_margin_after: str = ""
    maint_margin_after: str = ""
    equity_with_loan_after: str = ""
    commission: float | None = None
    min_commission: float | None = None
    max_commission: float | None = None
    commission_currency: str = ""
    warning_text: str = ""

    def layout_values(self) -> dict[str, str]:
        return {
            "state.status": self.status,
            "state.initMarginBefore": self.init_margin_before,
            "state.maintMarginBefore": self.maint_margin_before,
            "state.equityWithLoanBefore": self.equity_with_loan_before,
            "state.initMarginChange": self.init_margin_change,
            "state.maintMarginChange": self.maint_margin_change,
            "state.equityWithLoanChange": self.equity_with_loan_change,
            "state.initMarginAfter": self.init_margin_after,
            "state.maintMarginAfter": self.maint_margin_after,
            "state.equityWithLoanAfter": self.equity_with_loan_after,
            "state.commission": encode_field(self.commission),
            "state.minCommission": encode_field(self.min_commission),
            "state.maxCommission": encode_field(self.max_commission),
            "state.commissionCurrency": self.commission_currency,
            "state.warningText": self.warning_text,
        }


def _echo(version: int, contract: WireContract, values: dict[str, str],
          steps: tuple[Step, ...]) -> list[str]:
    def render(name: str) -> str:
        text = values.get(name, "")
        return text if name.startswith("state.") else normalize(kind_of(name), text)

    ctx = LayoutContext(version, contract.sec_type, contract.exchange, values)
    return write_layout(steps, ctx, render)


def open_order(version: int, order_id: int, contract: WireContract, order: WireOrder,
               client_id: int, perm_id: int, state: OrderStateFields) -> Fields:
    """The client's own order echoed back with its owner, permId and state."""
    values = order.as_dict()
    values.update(clientId=str(client_id), permId=str(perm_id), **state.layout_values())
    return [5, order_id, *contract.k11_fields(), *_echo(version, contract, values, OPEN_ORDER)]


def completed_order(version: int, contract: WireContract, order: WireOrder, perm_id: int,
                    status: str, completed_time: str, completed_status: str,
                    filled_quantity: float) -> Fields:
    values = order.as_dict()
    values.update({"permId": str(perm_id), "filledQuantity": encode_field(float(filled_quantity)),
                   "state.status": status, "state.completedTime": completed_time,
                   "state.completedStatus": completed_status})
    return [101, *contract.k11_fields(), *_echo(version, contract, values, COMPLETED_ORDER)]


def completed_orders_end() -> Fields:
    return [102]


def order_status(order_id: int, status: str, filled: float, remaining: float,
                 avg_fill_price: float, perm_id: int, parent_id: int, last_fill_price: float,
                 client_id: int, why_held: str, mkt_cap_price: float) -> Fields:
    return [3, order_id, status, float(filled), float(remaining), float(avg_fill_price),
            int(perm_id), int(parent_id), float(last_fill_price), int(client_id), why_held,
            float(mkt_cap_price)]


def open_order_end() -> Fields:
    return [53, 1]


@dataclass(frozen=True)
class ExecutionFields:
    exec_id: str
    time_text: str  # "YYYYMMDD HH:MM:SS <tz>"; without a zone clients assume TWS's own
    account: str
    exchange: str
    side: str  # BOT / SLD
    shares: float
    price: float
    perm_id: int
    client_id: int
    liquidation: int = 0
    cum_qty: float = 0.0
    avg_price: float = 0.0
    order_ref: str = ""
    ev_rule: str = ""
    ev_multiplier: float = 0.0
    model_code: str = ""
    last_liquidity: int = 0
    pending_price_revision: bool = False


def exec_details(version: int, req_id: int, order_id: int, contract: WireContract,
                 e: ExecutionFields) -> Fields:
    fields: Fields = [
        11, req_id, order_id, *contract.k11_fields(), e.exec_id, e.time_text, e.account,
        e.exchange, e.side, float(e.shares), float(e.price), int(e.perm_id), int(e.client_id),
        int(e.liquidation), float(e.cum_qty), float(e.avg_price), e.order_ref, e.ev_rule,
        float(e.ev_multiplier), e.model_code, int(e.last_liquidity),
    ]
    if version >= 178:
        fields.append(e.pending_price_revision)
    return fields


def exec_details_end(req_id: int) -> Fields:
    return [55, 1, req_id]


def commission_report(exec_id: str, commission: float, currency: str,
                      realized_pnl: float | None, yield_: float | None,
                      yield_redemption_date: int | None) -> Fields:
    return [59, 1, exec_id, float(commission), currency, realized_pnl, yield_,
            yield_redemption_date]


# ----- portfolio and account -----------------------------------------------------------------
def position(account: str, contract: WireContract, quantity: float, avg_cost: float) -> Fields:
    return [61, 3, account, *contract.k11_fields(), float(quantity), float(avg_cost)]


def position_end() -> Fields:
    return [62, 1]


def update_account_value(key: str, value: str, currency: str, account: str) -> Fields:
    return [6, 2, key, value, currency, account]


def update_portfolio(contract: WireContract, position: float, market_price: float,
                     market_value: float, average_cost: float, unrealized_pnl: float,
                     realized_pnl: float, account: str) -> Fields:
    c = contract
    # this message names the primary exchange where the others name the exchange
    primary = c.primary_exchange or c.exchange
    return [7, 8, c.con_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right,
            c.multiplier, primary, c.currency, c.local_symbol, c.trading_class,
            float(position), float(market_price), float(market_value), float(average_cost),
            float(unrealized_pnl), float(realized_pnl), account]


def update_account_time(time_text: str) -> Fields:
    return [8, 1, time_text]


def account_download_end(account: str) -> Fields:
    return [54, 1, account]


def account_update_multi(req_id: int, account: str, model_code: str, key: str, value: str,
                         currency: str) -> Fields:
    return [73, 1, req_id, account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return [64, 1, req_id]


def pnl(req_id: int, daily: float | None, unrealized: float | None,
        realized: float | None) -> Fields:
    return [94, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, position: float, daily: float | None, unrealized: float | None,
               realized: float | None, value: float | None) -> Fields:
    return [95, req_id, float(position), daily, unrealized, realized, value]
