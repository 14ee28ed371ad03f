from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ibtrader.sim.account import PaperAccount
from tests.sim.fakes import FUTURE, FX, STOCK

CASH = 100_000.0


@pytest.fixture
def account() -> PaperAccount:
    return PaperAccount("DU1", cash=CASH)


def test_opening_a_long_moves_cash_and_puts_the_commission_in_the_cost(account):
    realized = account.apply_fill(STOCK, "BOT", 100, 50.0, 1.0)
    assert realized == 0.0
    assert account.cash == pytest.approx(CASH - 5_001.0)
    position = account.positions[STOCK.con_id]
    assert position.quantity == 100
    assert position.avg_cost == pytest.approx(50.01)
    assert position.avg_price == pytest.approx(50.0)


def test_adding_averages_and_reducing_realizes_net_of_both_commissions(account):
    account.apply_fill(STOCK, "BOT", 100, 50.0, 0.0)
    account.apply_fill(STOCK, "BOT", 100, 60.0, 0.0)
    assert account.positions[STOCK.con_id].avg_cost == pytest.approx(55.0)
    realized = account.apply_fill(STOCK, "SLD", 50, 70.0, 2.0)
    assert realized == pytest.approx(50 * 15.0 - 2.0)
    position = account.positions[STOCK.con_id]
    assert position.quantity == 150 and position.avg_cost == pytest.approx(55.0)
    assert position.realized_pnl == pytest.approx(748.0)


def test_round_trip_realized_matches_ib_commission_report(account):
    account.apply_fill(STOCK, "BOT", 100, 150.0, 0.35)
    realized = account.apply_fill(STOCK, "SLD", 100, 151.0, 0.35)
    assert realized == pytest.approx(100.0 - 0.70)
    assert account.cash == pytest.approx(CASH + 100.0 - 0.70)


def test_closing_leaves_a_flat_position_that_keeps_its_realized_pnl(account):
    account.apply_fill(STOCK, "BOT", 10, 100.0, 0.0)
    account.apply_fill(STOCK, "SLD", 10, 90.0, 0.0)
    position = account.positions[STOCK.con_id]
    assert position.quantity == 0 and position.avg_cost == 0.0
    assert position.realized_pnl == pytest.approx(-100.0)
    assert account.pnl_single(STOCK.con_id) == (0.0, pytest.approx(-100.0), 0.0,
                                                pytest.approx(-100.0), 0.0)


def test_short_sale_credits_cash_and_profits_when_the_price_falls(account):
    account.apply_fill(STOCK, "SLD", 100, 50.0, 1.0)
    assert account.cash == pytest.approx(CASH + 4_999.0)
    position = account.positions[STOCK.con_id]
    assert position.quantity == -100 and position.avg_cost == pytest.approx(49.99)
    account.mark(STOCK.con_id, 45.0)
    assert account.unrealized_pnl(STOCK.con_id) == pytest.approx(499.0)
    assert account.values()["NetLiquidation"] == pytest.approx(CASH + 499.0)
    realized = account.apply_fill(STOCK, "BOT", 100, 45.0, 1.0)
    assert realized == pytest.approx(498.0)
    assert account.cash == pytest.approx(CASH + 498.0)


def test_flip_from_long_to_short_closes_then_opens(account):
    account.apply_fill(STOCK, "BOT", 10, 100.0, 0.0)
    realized = account.apply_fill(STOCK, "SLD", 15, 110.0, 3.0)
    # 10 close (commission 2.0), 5 open (commission 1.0, in the short's cost)
    assert realized == pytest.approx(100.0 - 2.0)
    position = account.positions[STOCK.con_id]
    assert position.quantity == -5
    assert position.avg_cost == pytest.approx(110.0 - 1.0 / 5)
    assert position.avg_price == pytest.approx(110.0)


def test_net_liquidation_is_cash_plus_position_values(account):
    account.apply_fill(STOCK, "BOT", 100, 50.0, 0.0)
    account.apply_fill(FX, "SLD", 10_000, 1.10, 0.0)
    account.mark(STOCK.con_id, 55.0)
    account.mark(FX.con_id, 1.00)
    values = account.values()
    assert values["TotalCashValue"] == pytest.approx(CASH - 5_000.0 + 11_000.0)
    assert values["GrossPositionValue"] == pytest.approx(5_500.0 + 10_000.0)
    assert values["NetLiquidation"] == pytest.approx(values["TotalCashValue"] + 5_500.0
                                                     - 10_000.0)
    assert values["NetLiquidation"] == pytest.approx(CASH + 500.0 + 1_000.0)


def test_fx_position_is_in_base_units_priced_in_usd(account):
    account.apply_fill(FX, "BOT", 100_000, 1.1000, 2.0)
    assert account.cash == pytest.approx(CASH - 110_002.0)
    account.mark(FX.con_id, 1.1050)
    assert account.unrealized_pnl(FX.con_id) == pytest.approx(500.0 - 2.0)
    assert account.values()["InitMarginReq"] == pytest.approx(110_500.0 * 0.03)


def test_futures_move_cash_by_commission_and_realized_pnl_only(account):
    account.apply_fill(FUTURE, "BOT", 2, 5000.0, 1.70)
    assert account.cash == pytest.approx(CASH - 1.70)
    position = account.positions[FUTURE.con_id]
    assert position.ib_avg_cost == pytest.approx(5000.0 * 50 + 0.85)
    account.mark(FUTURE.con_id, 5010.0)
    values = account.values()
    assert values["NetLiquidation"] == pytest.approx(CASH - 1.70 + 2 * 10 * 50)
    assert values["UnrealizedPnL"] == pytest.approx(1_000.0 - 1.70)
    assert values["GrossPositionValue"] == 0.0
    assert values["InitMarginReq"] == pytest.approx(30_000.0)
    assert values["MaintMarginReq"] == pytest.approx(30_000.0 / 1.1)
    realized = account.apply_fill(FUTURE, "SLD", 1, 5020.0, 0.85)
    assert realized == pytest.approx(20 * 50 - 0.85 - 0.85)
    assert account.cash == pytest.approx(CASH - 1.70 - 0.85 + 1_000.0)


def test_net_liquidation_change_equals_realized_plus_unrealized(account):
    for instrument, side, quantity, price, commission in [
        (STOCK, "BOT", 100, 50.0, 0.35), (STOCK, "SLD", 150, 52.0, 0.53),
        (FUTURE, "SLD", 3, 5000.0, 2.55), (FUTURE, "BOT", 5, 4990.0, 4.25),
        (FX, "BOT", 20_000, 1.08, 2.0), (FX, "SLD", 5_000, 1.09, 2.0),
    ]:
        account.apply_fill(instrument, side, quantity, price, commission)
    account.mark(STOCK.con_id, 49.0)
    account.mark(FUTURE.con_id, 4980.0)
    account.mark(FX.con_id, 1.07)
    _, unrealized, realized = account.pnl()
    assert account.values()["NetLiquidation"] == pytest.approx(CASH + unrealized + realized)


def test_daily_pnl_counts_from_the_start_of_the_day(account):
    account.apply_fill(STOCK, "BOT", 100, 50.0, 0.0)
    account.mark(STOCK.con_id, 52.0)
    assert account.pnl()[0] == pytest.approx(200.0)
    account.start_day(86_400.0)
    assert account.pnl()[0] == 0.0
    account.mark(STOCK.con_id, 53.0)
    account.apply_fill(STOCK, "SLD", 50, 54.0, 0.0)
    daily, unrealized, realized = account.pnl()
    # 50 sold at 54 vs yesterday's 52 (+100), 50 held at 53 vs 52 (+50)
    assert daily == pytest.approx(150.0)
    assert unrealized == pytest.approx(50 * 3.0) and realized == pytest.approx(50 * 4.0)
    assert account.values()["DailyPnL"] == pytest.approx(150.0)


def test_margin_values_and_buying_power(account):
    account.apply_fill(STOCK, "BOT", 1_000, 40.0, 0.0)
    values = account.values()
    assert values["InitMarginReq"] == pytest.approx(10_000.0)
    assert values["EquityWithLoanValue"] == pytest.approx(CASH)
    assert values["AvailableFunds"] == pytest.approx(CASH - 10_000.0)
    assert values["ExcessLiquidity"] == pytest.approx(CASH - 10_000.0)
    assert values["BuyingPower"] == pytest.approx(4 * (CASH - 10_000.0))
    for key in ("SettledCash", "MaintMarginReq", "RealizedPnL", "UnrealizedPnL"):
        assert key in values


def test_buying_power_check_names_equity_and_margin(account):
    assert account.check_buying_power(STOCK, "BUY", 3_000, 100.0) is None
    reason = account.check_buying_power(STOCK, "BUY", 5_000, 100.0)
    assert reason == ("YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION "
                      "YOUR EQUITY WITH LOAN VALUE [100000.00 USD] MUST EXCEED THE INITIAL "
                      "MARGIN [125000.00 USD]")
    assert account.check_buying_power(STOCK, "SELL", 5_000, 100.0) is not None  # a short too
    assert account.check_buying_power(FUTURE, "BUY", 7, 5000.0) is not None


def test_reducing_orders_always_pass(account):
    account.apply_fill(STOCK, "BOT", 3_000, 100.0, 0.0)
    account.mark(STOCK.con_id, 10.0)  # a crash: equity is now far below the margin
    assert account.check_buying_power(STOCK, "BUY", 10, 10.0) is not None
    assert account.check_buying_power(STOCK, "SELL", 3_000, 10.0) is None
    assert account.check_buying_power(STOCK, "SELL", 3_001, 10.0) is not None  # flips


def test_what_if_reports_margin_before_and_after(account):
    account.apply_fill(STOCK, "BOT", 100, 100.0, 0.0)
    impact = account.what_if(STOCK, "BUY", 100, 100.0)
    assert impact.init_before == pytest.approx(2_500.0)
    assert impact.init_after == pytest.approx(5_000.0)
    assert impact.equity_after == impact.equity_before == pytest.approx(CASH)


def test_pnl_single_for_a_held_and_an_unknown_instrument(account):
    account.apply_fill(STOCK, "BOT", 10, 100.0, 0.0)
    account.mark(STOCK.con_id, 101.0)
    assert account.pnl_single(STOCK.con_id) == (10, pytest.approx(10.0), pytest.approx(10.0),
                                                0.0, pytest.approx(1_010.0))
    assert account.pnl_single(999) == (0.0, 0.0, 0.0, 0.0, 0.0)


def test_a_fill_needs_a_quantity_and_a_side(account):
    with pytest.raises(ValueError):
        account.apply_fill(STOCK, "BOT", 0, 100.0, 0.0)
    with pytest.raises(ValueError):
        account.apply_fill(STOCK, "HOLD", 1, 100.0, 0.0)


fill_strategy = st.tuples(
    st.sampled_from([STOCK, FUTURE, FX]), st.sampled_from(["BOT", "SLD"]),
    st.integers(1, 500), st.floats(0.5, 200.0), st.floats(0.0, 5.0))


@given(st.lists(fill_strategy, max_size=30), st.floats(0.5, 200.0))
def test_any_fill_sequence_keeps_the_books_consistent(fills, mark):
    account = PaperAccount("DU1", cash=CASH)
    expected: dict[int, int] = {}
    for instrument, side, quantity, price, commission in fills:
        account.apply_fill(instrument, side, quantity, price, commission)
        sign = 1 if side == "BOT" else -1
        expected[instrument.con_id] = expected.get(instrument.con_id, 0) + sign * quantity
    for con_id in expected:
        account.mark(con_id, mark)
    assert {c: p.quantity for c, p in account.positions.items()} == pytest.approx(expected)
    _, unrealized, realized = account.pnl()
    net_liq = account.values()["NetLiquidation"]
    assert net_liq == pytest.approx(CASH + unrealized + realized, rel=1e-9, abs=1e-4)


def test_a_futures_flip_settles_the_close_in_cash_and_splits_the_commission(account):
    account.apply_fill(FUTURE, "BUY", 2, 100.0, 2.0)
    realized = account.apply_fill(FUTURE, "SELL", 3, 110.0, 3.0)
    # closing 2 of 3 takes 2.0 of the commission: 2 * (110 - 100.02) * 50 - 2.0
    assert realized == pytest.approx(996.0)
    position = account.positions[FUTURE.con_id]
    assert position.quantity == -1 and position.realized_pnl == pytest.approx(996.0)
    assert position.avg_cost == pytest.approx(110.0 - 1.0 / 50)  # the short's 1.0 inside
    assert position.avg_price == 110.0
    # cash: both commissions, plus the close settled on the raw prices 2 * 10 * 50
    assert account.cash == pytest.approx(CASH - 2.0 - 3.0 + 1_000.0)


class Books:
    """The bookkeeping spelled out step by step (close what the fill closes, then open the
    rest), as a model for the flat `apply_fill` to agree with to the last bit."""

    def __init__(self) -> None:
        self.cash = CASH
        self.rows: dict[int, list[float]] = {}  # quantity, avg_cost, avg_price, realized

    def fill(self, instrument, side, quantity, price, commission) -> float:
        sign = 1 if side in ("BOT", "BUY") else -1
        row = self.rows.setdefault(instrument.con_id, [0.0, 0.0, 0.0, 0.0])
        mult, future = instrument.multiplier, instrument.sec_type == "FUT"
        closing = min(quantity, abs(row[0])) if row[0] * sign < 0 else 0.0
        close_fee = commission * closing / quantity
        realized = 0.0
        if closing > 1e-9:
            way = 1 if row[0] > 0 else -1
            realized = way * closing * (price - row[1]) * mult - close_fee
            if future:
                self.cash += way * closing * (price - row[2]) * mult
            row[0] -= way * closing
            row[3] += realized
            if abs(row[0]) <= 1e-9:
                row[0] = row[1] = row[2] = 0.0
        opening = quantity - closing
        if opening > 1e-9:
            unit_cost = price + sign * (commission - close_fee) / (opening * mult)
            held = abs(row[0])
            row[1] = (held * row[1] + opening * unit_cost) / (held + opening)
            row[2] = (held * row[2] + opening * price) / (held + opening)
            row[0] += sign * opening
        self.cash -= commission if future else sign * quantity * price * mult + commission
        return realized


model_fill = st.tuples(
    st.sampled_from([STOCK, FUTURE, FX]), st.sampled_from(["BOT", "SLD", "BUY", "SELL"]),
    st.one_of(st.integers(1, 500), st.floats(0.001, 500.0)), st.floats(0.5, 200.0),
    st.floats(0.0, 5.0))


@given(st.lists(model_fill, max_size=40))
def test_every_fill_books_exactly_what_the_step_by_step_model_books(fills):
    account, model = PaperAccount("DU1", cash=CASH), Books()
    for fill in fills:
        assert account.apply_fill(*fill) == model.fill(*fill)
        assert account.cash == model.cash
    for con_id, (quantity, avg_cost, avg_price, realized) in model.rows.items():
        p = account.positions[con_id]
        assert (p.quantity, p.avg_cost, p.avg_price, p.realized_pnl) == (
            quantity, avg_cost, avg_price, realized)
