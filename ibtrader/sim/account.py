"""The paper account: cash, positions, P&L, margin and IB's account values.

Conventions (one currency, the account's; FX pairs are held in base units and priced in
the account currency):

- `Position.avg_cost` is per unit of price and, like IB's avgCost, includes the opening
  commissions (a long's cost goes up by them, a short's proceeds go down). IB's position
  and portfolio messages carry it times the multiplier: `Position.ib_avg_cost`.
- Realized P&L is net: against that commission-inclusive cost, less the closing
  commission, which is what IB's commissionReport.realizedPNL shows.
- Stocks and FX move cash by the notional. Futures don't: cash pays the commission at
  once and receives the realized P&L (from the raw fill prices) on a close, and the
  open trade's P&L counts in NetLiquidation.
- RealizedPnL is since the account was opened; DailyPnL is the change in
  unrealized + realized since `start_day`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibtrader.sim.matching_types import QTY_EPS, InstrumentLike

# CME-style maintenance: the initial margin is 110% of the maintenance margin
FUTURE_MAINT_FRACTION = 1 / 1.1
REJECT_TEXT = ("YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR "
               "EQUITY WITH LOAN VALUE [{equity:.2f} {ccy}] MUST EXCEED THE INITIAL MARGIN "
               "[{margin:.2f} {ccy}]")


SIDE_SIGNS = {"BOT": 1, "BUY": 1, "SLD": -1, "SELL": -1}  # IB's execution sides and actions


def side_sign(side: str) -> int:
    """+1 for a buy, -1 for a sell; accepts IB's order actions and execution sides."""
    sign = SIDE_SIGNS.get(side)
    if sign is None:
        raise ValueError(f"unknown side {side!r}")
    return sign


@dataclass
class Position:
    con_id: int
    quantity: float = 0.0  # signed: short below zero
    avg_cost: float = 0.0  # per unit of price, opening commissions included
    realized_pnl: float = 0.0
    market_price: float = 0.0
    avg_price: float = 0.0  # per unit of price, fills only: what futures' cash settles on
    # the instrument's terms, kept so the account values need no instrument lookup
    sec_type: str = "STK"
    multiplier: float = 1.0
    margin_rate: float = 0.25
    margin_per_contract: float = 0.0
    day_base: float = 0.0  # unrealized + realized at start_day

    @classmethod
    def for_instrument(cls, instrument: InstrumentLike) -> Position:
        return cls(instrument.con_id, sec_type=instrument.sec_type,
                   multiplier=instrument.multiplier, margin_rate=instrument.margin_rate,
                   margin_per_contract=instrument.margin_per_contract)

    @property
    def is_future(self) -> bool:
        return self.sec_type == "FUT"

    @property
    def ib_avg_cost(self) -> float:
        return self.avg_cost * self.multiplier

    @property
    def mark(self) -> float:
        """The price positions are valued at: the last mark, or the entry if never marked."""
        return self.market_price if self.market_price > 0 else self.avg_price

    @property
    def market_value(self) -> float:
        return self.quantity * self.mark * self.multiplier

    @property
    def unrealized_pnl(self) -> float:
        if not self.quantity:
            return 0.0
        return self.quantity * (self.mark - self.avg_cost) * self.multiplier

    @property
    def daily_pnl(self) -> float:
        return self.unrealized_pnl + self.realized_pnl - self.day_base

    @property
    def net_liquidation_part(self) -> float:
        """What this position adds to NetLiquidation on top of cash."""
        if self.is_future:
            return self.quantity * (self.mark - self.avg_price) * self.multiplier
        return self.market_value

    def init_margin(self, quantity: float | None = None, price: float | None = None) -> float:
        qty = self.quantity if quantity is None else quantity
        if self.is_future:
            return abs(qty) * self.margin_per_contract
        return abs(qty) * (self.mark if price is None else price) * self.multiplier * (
            self.margin_rate)

    def maint_margin(self, quantity: float | None = None, price: float | None = None) -> float:
        init = self.init_margin(quantity, price)
        return init * FUTURE_MAINT_FRACTION if self.is_future else init


@dataclass(frozen=True)
class MarginImpact:
    """What an order would do to the margin figures (for whatIf orders)."""

    init_before: float
    maint_before: float
    equity_before: float
    init_after: float
    maint_after: float
    equity_after: float


class PaperAccount:
    def __init__(self, account_id: str, cash: float = 1_000_000.0, currency: str = "USD",
                 buying_power_rate: float = 0.25) -> None:
        self.account_id = account_id
        self.cash = cash
        self.currency = currency
        # BuyingPower = AvailableFunds / this (the stock initial margin rate: 4x at 25%)
        self.buying_power_rate = buying_power_rate
        self.day_started = 0.0
        self.positions: dict[int, Position] = {}  # flat ones stay: they keep realized P&L

    # ----- fills -------------------------------------------------------------------------
    def apply_fill(self, instrument: InstrumentLike, side: str, quantity: float, price: float,
                   commission: float) -> float:
        """Book one fill; return its realized P&L, net of commissions (0.0 if it only
        opens). A fill that flips the position closes first, then opens the rest; the
        commission is split between the two parts by quantity."""
        # One flat function: a backtest books two fills per trade, and the helper calls
        # and properties this replaced were most of its cost. The arithmetic is unchanged.
        if quantity <= 0:
            raise ValueError(f"fill quantity must be above zero, not {quantity}")
        sign = SIDE_SIGNS.get(side)
        if sign is None:
            raise ValueError(f"unknown side {side!r}")
        position = self.positions.get(instrument.con_id)
        if position is None:
            position = self.positions[instrument.con_id] = Position.for_instrument(instrument)
        if position.market_price <= 0:
            position.market_price = price
        held = position.quantity
        closing = min(quantity, abs(held)) if held * sign < 0 else 0.0
        opening = quantity - closing
        close_commission = commission * closing / quantity
        future = position.sec_type == "FUT"
        mult = position.multiplier
        realized = 0.0
        if closing > QTY_EPS:  # close `closing` units of the position held
            direction = 1 if held > 0 else -1
            realized = direction * closing * (price - position.avg_cost) * mult - (
                close_commission)
            if future:  # the commission was paid in cash already
                self.cash += direction * closing * (price - position.avg_price) * mult
            held -= direction * closing
            position.realized_pnl += realized
            if abs(held) <= QTY_EPS:
                held = 0.0
                position.avg_cost = position.avg_price = 0.0
            position.quantity = held
        if opening > QTY_EPS:  # then open the rest the fill's way
            size = opening
            unit_cost = price + sign * (commission - close_commission) / (size * mult)
            before = abs(held)
            position.avg_cost = (before * position.avg_cost + size * unit_cost) / (before + size)
            position.avg_price = (before * position.avg_price + size * price) / (before + size)
            position.quantity = held + sign * opening
        if future:
            self.cash -= commission
        else:
            self.cash -= sign * quantity * price * mult + commission
        return realized

    # ----- marks and P&L -----------------------------------------------------------------
    def mark(self, con_id: int, price: float) -> None:
        position = self.positions.get(con_id)
        if position is not None and price > 0:
            position.market_price = price

    def start_day(self, now: float) -> None:
        """Make the current P&L the baseline DailyPnL counts from."""
        self.day_started = now
        for position in self.positions.values():
            position.day_base = position.unrealized_pnl + position.realized_pnl

    def unrealized_pnl(self, con_id: int) -> float:
        position = self.positions.get(con_id)
        return position.unrealized_pnl if position is not None else 0.0

    def pnl(self) -> tuple[float, float, float]:
        """(daily, unrealized, realized) for the whole account."""
        held = self.positions.values()
        return (sum(p.daily_pnl for p in held), sum(p.unrealized_pnl for p in held),
                sum(p.realized_pnl for p in held))

    def pnl_single(self, con_id: int) -> tuple[float, float, float, float, float]:
        """(position, daily, unrealized, realized, value) for one instrument."""
        p = self.positions.get(con_id)
        if p is None:
            return (0.0, 0.0, 0.0, 0.0, 0.0)
        return (p.quantity, p.daily_pnl, p.unrealized_pnl, p.realized_pnl, p.market_value)

    # ----- account values ----------------------------------------------------------------
    def net_liquidation(self) -> float:
        return self.cash + sum(p.net_liquidation_part for p in self.positions.values())

    def init_margin(self) -> float:
        return sum(p.init_margin() for p in self.positions.values())

    def maint_margin(self) -> float:
        return sum(p.maint_margin() for p in self.positions.values())

    def values(self) -> dict[str, float]:
        """IB's account value tags, in the account currency."""
        net_liq = self.net_liquidation()
        equity = net_liq  # no options or loan-value haircuts: ELV is NetLiquidation
        init, maint = self.init_margin(), self.maint_margin()
        available, excess = equity - init, equity - maint
        daily, unrealized, realized = self.pnl()
        gross = sum(abs(p.market_value) for p in self.positions.values() if not p.is_future)
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,  # settlement is not simulated
            "GrossPositionValue": gross,
            "EquityWithLoanValue": equity,
            "InitMarginReq": init,
            "MaintMarginReq": maint,
            "FullInitMarginReq": init,
            "FullMaintMarginReq": maint,
            "AvailableFunds": available,
            "FullAvailableFunds": available,
            "ExcessLiquidity": excess,
            "FullExcessLiquidity": excess,
            "Cushion": excess / net_liq if net_liq else 0.0,
            "BuyingPower": available / self.buying_power_rate,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": realized,
            "DailyPnL": daily,
        }

    # ----- margin checks -----------------------------------------------------------------
    def _margins_after(self, instrument: InstrumentLike, signed_qty: float,
                       price: float) -> tuple[float, float, float]:
        """(current quantity, init margin, maint margin) once the order has filled."""
        position = self.positions.get(instrument.con_id) or Position.for_instrument(instrument)
        current = position.quantity
        after = current + signed_qty
        init = self.init_margin() - position.init_margin() + position.init_margin(after, price)
        maint = (self.maint_margin() - position.maint_margin()
                 + position.maint_margin(after, price))
        return current, init, maint

    def check_buying_power(self, instrument: InstrumentLike, side: str, quantity: float,
                           price: float) -> str | None:
        """None if the order may go, else IB's reason text. Orders that only reduce the
        position always pass; others must leave equity above the initial margin. Other
        working orders are not counted."""
        signed = side_sign(side) * quantity
        current, init_after, _ = self._margins_after(instrument, signed, price)
        after = current + signed
        if abs(after) <= abs(current) + QTY_EPS and after * current >= 0:
            return None
        equity = self.net_liquidation()
        if equity > init_after:
            return None
        return REJECT_TEXT.format(equity=equity, margin=init_after, ccy=self.currency)

    def what_if(self, instrument: InstrumentLike, side: str, quantity: float,
                price: float) -> MarginImpact:
        signed = side_sign(side) * quantity
        _, init_after, maint_after = self._margins_after(instrument, signed, price)
        equity = self.net_liquidation()
        # the spread and commission are left out: equity is unchanged by a fill at `price`
        return MarginImpact(self.init_margin(), self.maint_margin(), equity,
                            init_after, maint_after, equity)
