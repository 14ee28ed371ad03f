"""Pre-trade risk: each limit refuses what it must, says why, and lets exits through."""

from __future__ import annotations

import pytest

from ibtrader.config import Settings
from ibtrader.core.orders import risk
from ibtrader.core.orders.request import OrderRequest
from ibtrader.core.orders.risk import RiskLimits, RiskSnapshot

LIMITS = RiskLimits(max_order_quantity=1_000, max_order_value=50_000,
                    max_position_value_per_symbol=100_000, max_gross_exposure=250_000,
                    max_orders_per_minute=5, price_band_pct=5.0, daily_loss_limit=2_000)
NOW = 1_000.0
EMPTY = RiskSnapshot(now=NOW)


def req(**kw: object) -> OrderRequest:
    base: dict[str, object] = {"symbol": "AAPL", "side": "buy", "quantity": 100,
                               "client_key": "ibt-1"}
    return OrderRequest(**(base | kw))  # type: ignore[arg-type]


def refusals(request: OrderRequest, snapshot: RiskSnapshot = EMPTY, price: float = 100.0,
             limits: RiskLimits = LIMITS, multiplier: float = 1.0) -> list[tuple[str, str]]:
    verdict = risk.check(request, price, snapshot, limits, multiplier=multiplier)
    assert verdict.ok == (not verdict.refusals)
    return [(r.code, r.message) for r in verdict.refusals]


def test_an_ordinary_order_passes() -> None:
    verdict = risk.check(req(), 100.0, EMPTY, LIMITS)
    assert verdict.ok and verdict.codes == ()


def test_no_reference_price_no_order() -> None:
    assert refusals(req(), price=float("nan")) == [
        ("no_price", "AAPL: no reference price (last or mid) to check the order's value "
                     "against")]


def test_max_quantity_and_value_per_order() -> None:
    assert refusals(req(quantity=1_500), price=10.0) == [
        ("max_order_quantity", "quantity 1500 is above the 1000 allowed per order")]
    assert refusals(req(quantity=600)) == [
        ("max_order_value", "order value 60,000.00 is above the 50,000.00 allowed per order")]
    # A future's value counts its multiplier: 2 ES at 5,000 x 50 = 500,000.
    codes = [c for c, _ in refusals(req(symbol="ESZ6", quantity=2), price=5000.0,
                                    multiplier=50)]
    assert "max_order_value" in codes


def test_a_limit_order_is_valued_at_its_limit() -> None:
    assert refusals(req(quantity=490, order_type="lmt", limit=103.0)) == [
        ("max_order_value", "order value 50,470.00 is above the 50,000.00 allowed per order")]


def test_stop_orders_are_valued_at_their_stop_or_limit() -> None:
    assert [c for c, _ in refusals(req(quantity=490, order_type="stp", stop=103.0))] == [
        "max_order_value"]
    assert refusals(req(quantity=490, order_type="stp-lmt", stop=101.0, limit=101.5)) == []


def test_max_position_per_symbol_counts_working_orders() -> None:
    snap = RiskSnapshot(now=NOW, positions={"AAPL": 600}, working_buy={"AAPL": 300})
    assert refusals(req(quantity=200), snap) == [
        ("max_position_value_per_symbol", "AAPL position would be 1100 (with working orders), "
         "worth 110,000.00: above the 100,000.00 allowed per symbol")]
    # Working sells do not make a buy riskier.
    assert refusals(req(quantity=200), RiskSnapshot(now=NOW, positions={"AAPL": 600},
                                                    working_sell={"AAPL": 300})) == []
    # A short is measured the same way.
    short = RiskSnapshot(now=NOW, positions={"AAPL": -900})
    assert [c for c, _ in refusals(req(side="sell", quantity=200), short)] == [
        "max_position_value_per_symbol"]


def test_max_gross_exposure() -> None:
    snap = RiskSnapshot(now=NOW, gross_exposure=230_000, working_exposure=15_000)
    assert refusals(req(quantity=100), snap) == [
        ("max_gross_exposure", "gross exposure would be 255,000.00 (positions and working "
         "orders): above the 250,000.00 allowed")]


def test_reducing_a_position_is_never_refused_for_exposure() -> None:
    snap = RiskSnapshot(now=NOW, positions={"AAPL": 2_000}, gross_exposure=300_000)
    assert refusals(req(side="sell", quantity=400), snap) == []
    # Flipping through zero is not reducing: the new short counts.
    no_order_caps = RiskLimits(max_order_quantity=0, max_order_value=0)
    flip = refusals(req(side="sell", quantity=2_400), snap, limits=no_order_caps)
    assert [c for c, _ in flip] == ["max_gross_exposure"]


def test_max_orders_per_minute() -> None:
    snap = RiskSnapshot(now=NOW, sent_times=(NOW - 70, NOW - 50, NOW - 40, NOW - 30, NOW - 20,
                                             NOW - 1))
    assert refusals(req(), snap) == [
        ("max_orders_per_minute", "5 orders sent in the last minute: the limit is 5")]
    older = RiskSnapshot(now=NOW, sent_times=(NOW - 70, NOW - 65, NOW - 61, NOW - 30))
    assert refusals(req(), older) == []


def test_price_band_against_last() -> None:
    assert refusals(req(order_type="lmt", limit=106.0)) == [
        ("price_band", "limit price 106 is 6.0% from the last price 100: more than the 5% band")]
    assert refusals(req(side="sell", order_type="stp", stop=94.0)) == [
        ("price_band", "stop price 94 is 6.0% from the last price 100: more than the 5% band")]
    assert refusals(req(order_type="lmt", limit=104.9)) == []
    # A bracket's exits sit R away by design; only the entry is banded.
    assert refusals(req(order_type="lmt", limit=100.0, take_profit=120.0,
                        stop_loss=90.0)) == []


def test_daily_loss_limit_allows_only_exits() -> None:
    lost = RiskSnapshot(now=NOW, positions={"AAPL": 300}, daily_pnl=-2_100)
    assert refusals(req(), lost) == [
        ("daily_loss_limit", "daily loss limit reached (P&L -2,100.00 against a limit of "
         "2,000.00): only orders that reduce a position are allowed")]
    assert refusals(req(side="sell", quantity=300), lost) == []
    assert [c for c, _ in refusals(req(side="sell", quantity=301), lost)] == [
        "daily_loss_limit"]
    assert refusals(req(), RiskSnapshot(now=NOW, daily_pnl=-1_999)) == []


def test_kill_switch_engaged_allows_only_exits() -> None:
    engaged = RiskSnapshot(now=NOW, positions={"AAPL": -50}, kill_switch_engaged=True)
    assert refusals(req(side="sell"), engaged) == [
        ("kill_switch", "the kill switch is engaged: only orders that reduce a position are "
                        "allowed until it is released")]
    assert refusals(req(side="buy", quantity=50), engaged) == []


def test_every_broken_rule_is_listed() -> None:
    snap = RiskSnapshot(now=NOW, daily_pnl=-5_000, kill_switch_engaged=True,
                        sent_times=(NOW,) * 5)
    codes = [c for c, _ in refusals(req(quantity=2_000, order_type="lmt", limit=120.0), snap)]
    assert codes == ["max_order_quantity", "max_order_value", "max_position_value_per_symbol",
                     "max_orders_per_minute", "price_band", "daily_loss_limit", "kill_switch"]


def test_zero_switches_a_rule_off() -> None:
    off = RiskLimits(0, 0, 0, 0, 0, 0, 0)
    huge = RiskSnapshot(now=NOW, gross_exposure=1e12, daily_pnl=-1e9, sent_times=(NOW,) * 99)
    assert refusals(req(quantity=1e6, order_type="lmt", limit=500.0), huge, limits=off) == []


def test_limits_come_from_settings_and_refuse_nonsense() -> None:
    limits = RiskLimits.from_settings(Settings(max_orders_per_minute=12, price_band_pct=3.0))
    assert (limits.max_orders_per_minute, limits.price_band_pct) == (12, 3.0)
    assert RiskLimits.from_settings(Settings()) == RiskLimits()
    with pytest.raises(ValueError, match="risk: daily_loss_limit must be 0 \\(off\\) or more"):
        RiskLimits(daily_loss_limit=-1)


def test_kill_switch_plan() -> None:
    plan = risk.kill_switch_plan({"AAPL": 100, "TSLA": -30, "MSFT": 0}, flatten=True, now=NOW)
    assert plan.cancel_all and plan.disable_auto_trade
    closing = [(r.symbol, r.side, r.quantity, r.order_type, r.source) for r in plan.flatten]
    assert closing == [("AAPL", "sell", 100, "mkt", "killswitch"),
                       ("TSLA", "buy", 30, "mkt", "killswitch")]
    assert len({r.client_key for r in plan.flatten}) == 2
    # The closing orders pass risk even with the switch engaged and the loss limit hit.
    engaged = RiskSnapshot(now=NOW, positions={"AAPL": 100, "TSLA": -30}, daily_pnl=-1e6,
                           kill_switch_engaged=True)
    assert all(risk.check(r, 100.0, engaged, LIMITS).ok for r in plan.flatten)
    keep = risk.kill_switch_plan({"AAPL": 100}, flatten=False, now=NOW)
    assert keep.flatten == () and keep.cancel_all
