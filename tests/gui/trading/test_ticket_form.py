"""What the ticket's fields mean, without a window: parsing, validation with the quote,
risk-based size, the price policy and the preview's costs."""

from __future__ import annotations

import math

import pytest

from ibtrader.core.market import Instrument, Quote
from ibtrader.core.ports import AccountSnapshot
from ibtrader.core.sizing import SizingRules
from ibtrader.gui.trading.commission import ib_tiered
from ibtrader.gui.trading.ticket_form import TicketFields, check_ticket

AAPL = Instrument("AAPL", "STK", "SMART", "USD", con_id=265598)
ES = Instrument("ESZ6", "FUT", "CME", "USD", con_id=7, min_tick=0.25, multiplier=50.0)
QUOTE = Quote("AAPL", 190.00, 190.02, 190.01, 100, 100, 10, 1e6, 0.0)
ACCOUNT = AccountSnapshot(equity=100_000.0, buying_power=400_000.0)
RULES = SizingRules(risk_per_trade_pct=0.5, reward_r=0.0, max_position_value=0.0)


def check(instrument=AAPL, quote=QUOTE, **typed):
    return check_ticket(TicketFields(**{"symbol": "AAPL", **typed}), now=1e9,
                        instrument=instrument, quote=quote, account=ACCOUNT, rules=RULES)


def test_a_valid_limit_order_becomes_a_request_with_its_costs():
    c = check(side="buy", quantity="100", limit="189.50", tif="gtc")
    assert c.ok and c.problems == []
    r = c.request
    assert (r.symbol, r.side, r.quantity, r.order_type, r.limit, r.tif, r.source) == \
        ("AAPL", "buy", 100, "lmt", 189.50, "gtc", "ticket")
    assert c.value == pytest.approx(18_950.0)
    assert c.commission == pytest.approx(0.35)  # 100 x 0.0035, IB's minimum
    assert "value ≈ 18,950.00" in c.preview and "commission ≈ 0.35" in c.preview


def test_every_bad_field_is_named_at_once_and_nothing_can_be_sent():
    c = check(side="buy", quantity="abc", limit="-1", trail="", take_profit="x1")
    assert not c.ok and c.request is None
    fields = {name for name, _ in c.problems}
    assert fields == {"quantity", "limit", "take_profit"}
    assert "quantity: 'abc' is not a number" in c.preview


def test_validation_uses_the_quote_and_the_tick_grid():
    off_tick = check(side="buy", quantity="10", limit="189.505")
    assert [f for f, _ in off_tick.problems] == ["limit"]
    assert "nearest valid prices are 189.50 and 189.51" in off_tick.problems[0][1]
    stop_below = check(side="buy", quantity="10", order_type="stp", stop="189.00")
    assert "a buy stop must be above the ask 190.02" in stop_below.problems[0][1]
    bracket = check(side="buy", quantity="10", limit="189.50", take_profit="188",
                    stop_loss="187")
    assert bracket.problems[0][0] == "take_profit"
    ok = check(side="buy", quantity="10", limit="189.50", take_profit="195", stop_loss="187")
    assert ok.ok and (ok.request.take_profit, ok.request.stop_loss) == (195, 187)


def test_a_marketable_limit_is_allowed_and_noted():
    c = check(side="buy", quantity="10", limit="190.05")
    assert c.ok and any("fills at once" in n for n in c.notes)


def test_size_by_risk_is_the_risk_per_trade_over_the_stop_distance():
    # 0.5% of 100,000 = 500 at risk; 190.00 - 188.00 = 2.00 a share -> 250 shares
    c = check(side="buy", risk_sized=True, limit="190.00", stop_loss="188.00")
    assert c.ok and c.request.quantity == 250 and c.quantity == 250
    no_stop = check(side="buy", risk_sized=True, limit="190.00")
    assert no_stop.problems == [("quantity", "a risk-based size needs a stop-loss (or a stop) "
                                             "to measure the risk by")]
    wrong_side = check(side="buy", risk_sized=True, limit="190.00", stop_loss="191.00")
    assert "must be below the price" in wrong_side.problems[0][1]


def test_size_by_risk_counts_a_futures_multiplier():
    es_quote = Quote("ESZ6", 5000.0, 5000.25, 5000.0, 1, 1, 1, 1, 0)
    # 500 at risk over 10 points x 50 = 500 a contract -> 1 contract
    c = check_ticket(TicketFields(symbol="ESZ6", side="buy", risk_sized=True, limit="5000.00",
                                  stop_loss="4990.00"), now=1e9, instrument=ES,
                     quote=es_quote, account=ACCOUNT, rules=RULES)
    assert c.ok and c.request.quantity == 1
    assert c.value == pytest.approx(250_000.0) and c.commission == pytest.approx(0.85)


def test_a_price_policy_prices_the_limit_from_the_quote_for_the_preview_only():
    c = check(side="buy", quantity="10", policy="mid")
    assert c.ok and c.request.limit is None and str(c.request.price_policy) == "mid"
    assert c.value == pytest.approx(1_900.10)  # at the mid, 190.01
    assert any("limit by policy mid: 190.01" in n for n in c.notes)
    without_quote = check(side="buy", quantity="10", policy="mid", quote=None)
    assert without_quote.problems[0][0] == "policy"
    chased_stop = check(side="buy", quantity="10", order_type="stp", stop="191",
                        chase="5:1:10")
    assert ("chase", "only a limit order can be chased, not a stop order") in \
        chased_stop.problems


def test_an_unknown_contract_and_a_quote_of_another_symbol():
    c = check(instrument=None, side="buy", quantity="10", limit="190")
    assert c.problems[0][0] == "symbol" and not c.ok
    other = Quote("MSFT", 400.0, 400.1, 400.0, 1, 1, 1, 1, 0)
    market = check(quote=other, side="buy", quantity="10", order_type="mkt")
    assert market.ok and math.isnan(market.value)  # no price of AAPL to value it at


@pytest.mark.parametrize(("sec_type", "qty", "price", "mult", "expected"), [
    ("STK", 10, 190.0, 1, 0.35),  # the minimum
    ("STK", 1_000, 190.0, 1, 3.50),  # 0.0035 a share
    ("STK", 100, 0.20, 1, 0.20),  # capped at 1% of the value, under the minimum
    ("CASH", 20_000, 1.08, 1, 2.00),  # FX minimum
    ("CASH", 1_000_000, 1.08, 1, 21.60),  # 0.2 basis points
    ("FUT", 3, 5000.0, 50, 2.55),  # per contract
])
def test_ib_tiered_commission_estimate(sec_type, qty, price, mult, expected):
    assert ib_tiered(sec_type, qty, price, mult) == pytest.approx(expected)
    assert math.isnan(ib_tiered(sec_type, qty, math.nan, mult))


def test_a_risk_verdict_joins_the_preview_and_a_refusal_blocks_sending():
    c = check(side="buy", quantity="10", policy="mid")
    assert c.judged.limit == pytest.approx(190.01)  # risk judges the limit the policy gives
    assert "risk is checked as it is sent" in c.preview
    passed = c.with_risk([])
    assert passed.ok and "risk check: passes" in passed.preview
    refused = c.with_risk([("max_order_value", "order value 1,900.10 is above the 1,000.00 "
                                               "allowed per order")])
    assert not refused.ok
    assert "RISK SAYS NO: order value 1,900.10 is above" in refused.preview
