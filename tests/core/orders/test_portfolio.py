"""Positions and P&L from executions, checked by hand and against the simulator's account."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from ibtrader.core.broker import BrokerFill, BrokerPosition
from ibtrader.core.orders.portfolio import (
    ACCOUNT,
    Discrepancy,
    FillResult,
    Portfolio,
    Tolerance,
    compare,
)
from ibtrader.sim.account import PaperAccount
from ibtrader.sim.market.instruments import Instrument as SimInstrument

NAN = math.nan
_seq = iter(range(1, 10**9))


def fill(symbol: str, side: str, qty: float, price: float, commission: float = 0.0,
         time: float | None = None, exec_id: str | None = None) -> BrokerFill:
    n = next(_seq)
    return BrokerFill(exec_id or f"e{n}", f"ibt-{n}", n, 1000 + n, symbol, side, qty, price,
                      float(n) if time is None else time, commission)


def test_buy_then_partial_sell_realizes_against_the_commission_inclusive_cost() -> None:
    book = Portfolio()
    book.apply(fill("AAPL", "BUY", 100, 10.00, commission=1.00))
    pos = book.position("AAPL")
    assert pos.quantity == 100
    assert pos.avg_cost == pytest.approx(10.01)  # IB's avgCost carries the commission
    assert pos.avg_price == 10.00
    book.apply(fill("AAPL", "SELL", 50, 12.00, commission=1.00))
    book.mark("AAPL", 11.00)
    pos = book.position("AAPL")
    assert pos.quantity == 50
    assert pos.realized_pnl == pytest.approx(50 * (12.00 - 10.01) - 1.00)
    assert pos.unrealized_pnl == pytest.approx(50 * (11.00 - 10.01))
    assert pos.avg_cost == pytest.approx(10.01)  # a partial close leaves the cost alone
    assert pos.commissions == 2.0


def test_reversal_through_zero_closes_then_opens_the_rest() -> None:
    book = Portfolio()
    book.apply(fill("MSFT", "BUY", 100, 10.00))
    book.apply(fill("MSFT", "SELL", 150, 12.00, commission=1.50))
    pos = book.position("MSFT")
    assert pos.quantity == -50
    # the commission is split by quantity: 1.00 for the close, 0.50 for the new short
    assert pos.realized_pnl == pytest.approx(100 * 2.00 - 1.00)
    assert pos.avg_cost == pytest.approx(12.00 - 0.50 / 50)
    assert pos.avg_price == 12.00
    book.apply(fill("MSFT", "BUY", 50, 11.00))
    flat = book.position("MSFT")
    assert flat.quantity == 0 and flat.avg_cost == 0 and flat.unrealized_pnl == 0
    assert flat.realized_pnl == pytest.approx(199.0 + 50 * (11.99 - 11.00))
    assert book.positions() == [] and [p.symbol for p in book.positions(True)] == ["MSFT"]


def test_futures_use_the_multiplier_and_report_ib_avg_cost() -> None:
    book = Portfolio({"ESZ6": 50})
    book.apply(fill("ESZ6", "BUY", 2, 5000.00, commission=4.24))
    pos = book.position("ESZ6")
    assert pos.ib_avg_cost == pytest.approx((5000.00 + 4.24 / 100) * 50)
    book.mark("ESZ6", 5004.25)
    assert book.position("ESZ6").unrealized_pnl == pytest.approx(
        2 * 50 * (5004.25 - 5000.0424))
    book.apply(fill("ESZ6", "SELL", 2, 5010.00, commission=4.24))
    assert book.position("ESZ6").realized_pnl == pytest.approx(2 * 10 * 50 - 4.24 - 4.24)


def test_a_commission_report_updates_the_fill_and_never_adds_one() -> None:
    late, direct = Portfolio(), Portfolio()
    first = fill("AAPL", "BUY", 100, 10.00, commission=NAN)
    second = fill("AAPL", "SELL", 40, 11.00, commission=NAN)
    assert late.apply(first) is FillResult.ADDED
    assert late.apply(second) is FillResult.ADDED
    assert late.position("AAPL").pending_commissions == 2
    assert late.apply(first) is FillResult.DUPLICATE  # re-sent before its report
    assert late.apply(replace(first, commission=1.00)) is FillResult.COMMISSION
    assert late.apply(replace(first, commission=1.00)) is FillResult.DUPLICATE
    assert late.apply(replace(second, commission=0.40)) is FillResult.COMMISSION
    direct.apply_all([replace(first, commission=1.00), replace(second, commission=0.40)])
    assert late.position("AAPL") == direct.position("AAPL")
    assert late.position("AAPL").quantity == 60
    assert late.position("AAPL").pending_commissions == 0
    assert late.realized_of(second.exec_id) == pytest.approx(40 * (11.00 - 10.01) - 0.40)


def test_a_conflicting_report_for_a_known_exec_id_is_not_booked() -> None:
    book = Portfolio()
    first = fill("AAPL", "BUY", 100, 10.00)
    book.apply(first)
    assert book.apply(replace(first, quantity=200)) is FillResult.CONFLICT
    assert book.apply(replace(first, side="SELL")) is FillResult.CONFLICT
    assert book.position("AAPL").quantity == 100


def test_fills_reported_out_of_order_give_the_same_position() -> None:
    fills = [fill("NVDA", side, qty, price, commission=0.35 * qty / 100) for side, qty, price in
             [("BUY", 100, 50.0), ("SELL", 30, 52.0), ("SELL", 120, 53.0), ("BUY", 10, 49.0)]]
    ordered, shuffled = Portfolio(), Portfolio()
    ordered.apply_all(fills)
    shuffled.apply_all(reversed(fills))
    a, b = ordered.position("NVDA"), shuffled.position("NVDA")
    assert (a.quantity, a.realized_pnl) == (b.quantity, pytest.approx(b.realized_pnl))
    assert a.avg_cost == pytest.approx(b.avg_cost)


@pytest.mark.parametrize("seed", range(10))
def test_any_arrival_order_of_fills_and_reports_gives_the_same_book(seed: int) -> None:
    rng = random.Random(seed)
    fills = [fill("NVDA", rng.choice(["BUY", "SELL"]), rng.randint(1, 50),
                  round(rng.uniform(90, 110), 2), commission=round(rng.uniform(0.3, 2), 2),
                  time=float(t)) for t in range(40)]
    in_order = Portfolio()
    in_order.apply_all(fills)
    # each fill arrives without its commission and its report with it, all in any order
    # (a report that comes first books the fill; the fill's own message is then a duplicate)
    events = [replace(f, commission=NAN) for f in fills] + fills
    rng.shuffle(events)
    jumbled = Portfolio()
    results = jumbled.apply_all(events)
    assert results.count(FillResult.ADDED) == len(fills)
    a, b = in_order.position("NVDA"), jumbled.position("NVDA")
    assert a.quantity == pytest.approx(b.quantity)
    assert a.avg_cost == pytest.approx(b.avg_cost, abs=1e-9)
    assert a.realized_pnl == pytest.approx(b.realized_pnl, abs=1e-9)
    assert b.pending_commissions == 0


def test_daily_pnl_counts_from_the_start_of_day_mark() -> None:
    book = Portfolio()
    book.apply(fill("SPY", "BUY", 100, 10.00, time=100.0))
    book.start_day(1000.0, marks={"SPY": 11.00})  # yesterday's close
    assert book.position("SPY").daily_pnl == 0
    book.mark("SPY", 12.00)
    assert book.position("SPY").daily_pnl == pytest.approx(100.0)
    book.apply(fill("SPY", "SELL", 50, 12.50, time=1100.0))
    pos = book.position("SPY")
    # 50 sold 1.50 above yesterday's close, 50 held 1.00 above it
    assert pos.daily_pnl == pytest.approx(50 * 1.50 + 50 * 1.00)
    assert pos.realized_today == pytest.approx(50 * 2.50)
    assert pos.realized_pnl == pytest.approx(50 * 2.50)
    daily, unrealized, realized = book.totals()
    assert (daily, unrealized, realized) == pytest.approx((125.0, 100.0, 125.0))


def test_a_position_opened_today_counts_wholly_in_daily_pnl() -> None:
    book = Portfolio()
    book.start_day(0.0)
    book.apply(fill("TSLA", "SELL", 10, 200.00, commission=1.0, time=10.0))
    book.mark("TSLA", 190.00)
    pos = book.position("TSLA")
    assert pos.daily_pnl == pytest.approx(pos.unrealized_pnl)
    assert pos.unrealized_pnl == pytest.approx(10 * (199.90 - 190.00))


def test_without_a_mark_the_latest_fill_price_values_the_position() -> None:
    book = Portfolio()
    book.apply(fill("AMZN", "BUY", 10, 100.00))
    book.apply(fill("AMZN", "BUY", 10, 102.00))
    assert book.position("AMZN").mark == 102.00
    assert book.position("AMZN").unrealized_pnl == pytest.approx(10 * 2.00 / 2 * 2)
    book.mark("AMZN", NAN)  # a missing price changes nothing
    assert book.position("AMZN").mark == 102.00


def test_setting_a_multiplier_late_rebuilds_the_position() -> None:
    book = Portfolio()
    book.apply(fill("ESZ6", "BUY", 1, 5000.0))
    book.apply(fill("ESZ6", "SELL", 1, 5001.0))
    assert book.position("ESZ6").realized_pnl == pytest.approx(1.0)
    book.set_multiplier("ESZ6", 50)
    assert book.position("ESZ6").realized_pnl == pytest.approx(50.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"quantity": 0.0}, "fill quantity must be above zero"),
    ({"quantity": NAN}, "fill quantity must be above zero"),
    ({"price": NAN}, "fill price nan is not a number"),
    ({"side": "HOLD"}, "fill side must be BUY or SELL"),
    ({"exec_id": ""}, "without an exec_id"),
    ({"commission": math.inf}, "commission inf is not a number"),
])
def test_bad_fills_get_a_specific_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Portfolio().apply(replace(fill("AAPL", "BUY", 1, 1.0), **change))  # type: ignore[arg-type]


def test_bad_multiplier_is_refused() -> None:
    with pytest.raises(ValueError, match="ES: multiplier must be above zero"):
        Portfolio({"ES": 0})


# ----- comparison with the broker ----------------------------------------------------------------

def _book() -> Portfolio:
    book = Portfolio({"ESZ6": 50})
    book.apply(fill("AAPL", "BUY", 100, 10.00, commission=1.00))
    book.apply(fill("ESZ6", "SELL", 1, 5000.00, commission=2.12))
    book.mark("AAPL", 11.0)
    book.mark("ESZ6", 4990.0)
    return book


def test_agreement_reports_nothing() -> None:
    book = _book()
    theirs = [BrokerPosition("AAPL", 100, 10.01), BrokerPosition("ESZ6", -1, 249_997.88),
              BrokerPosition("MSFT", 0, 0.0)]  # IB lists positions closed today at 0
    unrealized = 100 * (11.0 - 10.01) + 50 * (4999.9576 - 4990.0)  # = 596.88
    values = {"UnrealizedPnL": "596.88", "RealizedPnL": 0.0, "DailyPnL": unrealized}
    assert compare(book, theirs, values) == []


def test_each_disagreement_is_named() -> None:
    book = _book()
    theirs = [BrokerPosition("AAPL", 90, 10.01), BrokerPosition("ESZ6", -1, 250_000.00),
              BrokerPosition("MSFT", 5, 300.0)]
    found = compare(book, theirs, {"RealizedPnL": 12.5})
    assert found == [
        Discrepancy("AAPL", "quantity", 100, 90),
        Discrepancy("ESZ6", "avg_cost", pytest.approx(249_997.88), 250_000.00),
        Discrepancy("MSFT", "quantity", 0.0, 5),
        Discrepancy(ACCOUNT, "RealizedPnL", 0.0, 12.5),
    ]
    assert str(found[0]) == "AAPL quantity: ours 100, broker's 90"


def test_a_position_the_broker_does_not_list_is_flagged() -> None:
    assert compare(_book(), [BrokerPosition("AAPL", 100, 10.01)]) == [
        Discrepancy("ESZ6", "quantity", -1, 0.0)]


def test_tolerance_absorbs_rounding_but_not_money() -> None:
    book = _book()
    theirs = [BrokerPosition("AAPL", 100, 10.0100004), BrokerPosition("ESZ6", -1, 249_997.88)]
    assert compare(book, theirs, {"UnrealizedPnL": 596.884}) == []
    assert compare(book, theirs, {"UnrealizedPnL": 596.90}, Tolerance(money=0.01)) == [
        Discrepancy(ACCOUNT, "UnrealizedPnL", pytest.approx(596.88), 596.90)]


def test_a_non_numeric_account_value_is_refused() -> None:
    with pytest.raises(ValueError, match="account value DailyPnL='n/a' is not a number"):
        compare(_book(), [], {"DailyPnL": "n/a"})


# ----- the same arithmetic as the simulator's paper account -------------------------------------

def _sim_instrument(symbol: str, multiplier: float, sec_type: str, con_id: int) -> SimInstrument:
    return SimInstrument(con_id, symbol, sec_type, "SMART", "NASDAQ", "USD", symbol, symbol,
                         symbol, 0.01, multiplier=multiplier)


@pytest.mark.parametrize("seed", range(40))
def test_random_fills_match_the_paper_account(seed: int) -> None:
    """Same fills -> same quantity, average cost, realized, unrealized and daily P&L.

    Our portfolio gets each fill without its commission first and the commission report
    later (as IB sends them), sometimes out of order; the paper account books each fill
    with its commission at once. Everything must still agree to 1e-9."""
    rng = random.Random(seed)
    instruments = [_sim_instrument("AAPL", 1, "STK", 1), _sim_instrument("ESZ6", 50, "FUT", 2)]
    paper = PaperAccount("DU1")
    ours = Portfolio({i.symbol: i.multiplier for i in instruments})
    pending: list[BrokerFill] = []
    prices = {"AAPL": 100.0, "ESZ6": 5000.0}
    for step in range(120):
        inst = rng.choice(instruments)
        prices[inst.symbol] = round(prices[inst.symbol] * (1 + rng.gauss(0, 0.01)), 2)
        qty = float(rng.randint(1, 300 if inst.sec_type == "STK" else 5))
        side = rng.choice(["BUY", "SELL"])
        commission = round(rng.uniform(0.35, 5.0), 4)
        realized = paper.apply_fill(inst, side, qty, prices[inst.symbol], commission)
        f = fill(inst.symbol, side, qty, prices[inst.symbol], NAN, time=float(step))
        assert ours.apply(f) is FillResult.ADDED
        pending.append(replace(f, commission=commission))
        if rng.random() < 0.6:  # some commission reports come late, in any order
            rng.shuffle(pending)
            for report in pending:
                assert ours.apply(report) is FillResult.COMMISSION
            pending.clear()
        if step == 60:
            for i in instruments:
                paper.mark(i.con_id, prices[i.symbol])
                ours.mark(i.symbol, prices[i.symbol])
            paper.start_day(float(step) + 0.5)
            ours.start_day(float(step) + 0.5)
        if not pending:
            assert ours.realized_of(f.exec_id) == pytest.approx(realized, abs=1e-9)
    for report in pending:
        ours.apply(report)
    for inst in instruments:
        paper.mark(inst.con_id, prices[inst.symbol] + 1.0)
        ours.mark(inst.symbol, prices[inst.symbol] + 1.0)
        theirs, mine = paper.positions[inst.con_id], ours.position(inst.symbol)
        assert mine.quantity == pytest.approx(theirs.quantity, abs=1e-9)
        assert mine.avg_cost == pytest.approx(theirs.avg_cost, abs=1e-9)
        assert mine.realized_pnl == pytest.approx(theirs.realized_pnl, abs=1e-9)
        assert mine.unrealized_pnl == pytest.approx(theirs.unrealized_pnl, abs=1e-9)
        assert mine.daily_pnl == pytest.approx(theirs.daily_pnl, abs=1e-9)
    values = paper.values()
    tags = {k: values[k] for k in ("RealizedPnL", "UnrealizedPnL", "DailyPnL")}
    broker = [BrokerPosition(i.symbol, paper.positions[i.con_id].quantity,
                             paper.positions[i.con_id].ib_avg_cost) for i in instruments]
    assert compare(ours, broker, tags, Tolerance(money=1e-6)) == []
