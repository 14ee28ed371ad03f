"""`ibtrader bench orders` on a few orders: the report's structure and that every order
really went the whole way (never the timings, which depend on the machine)."""

from __future__ import annotations

import json

import pytest

from ibtrader.benchmarks.orders import KINDS, Leg, OrdersBenchResult, _quantile, run_orders_bench
from ibtrader.cli import main

ORDERS = 4


@pytest.fixture(scope="module")
def bench() -> OrdersBenchResult:
    return run_orders_bench(ORDERS)


def test_each_kind_is_timed_through_the_app_and_through_bare_ib_async(bench):
    assert {(r.path, r.kind) for r in bench.runs} == \
        {(path, kind) for path in ("ibtrader", "ib_async") for kind in KINDS}
    for run in bench.runs:
        assert run.orders == ORDERS
        for leg in (run.ack, run.fill, run.total):
            assert 0 <= leg.p50 <= leg.p99 <= leg.max
        # the whole round trip is at least its first leg, and the legs add up to it
        assert run.total.max >= run.ack.max
        assert run.total.p50 <= run.ack.max + run.fill.max + 1e-9
    for kind in KINDS:
        assert bench.ratio(kind) > 0


def test_the_report_prints_every_row_and_the_ratios(bench):
    text = "\n".join(bench.lines())
    for kind in KINDS:
        assert f"{kind}, ibtrader" in text and f"{kind}, ib_async" in text
        assert f"ibtrader / ib_async, {kind}:" in text
    document = json.loads(json.dumps(bench.as_dict(), allow_nan=False))
    assert document["orders"] == ORDERS and len(document["runs"]) == 4
    assert set(document["runs"][0]) == {"path", "kind", "orders", "ack", "fill", "total"}
    assert set(document["ratio_p50_total"]) == set(KINDS)


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert _quantile(values, 0.5) == pytest.approx(50.5)
    assert _quantile(values, 0.99) == pytest.approx(99.01)
    leg = Leg.of([0.003, 0.001, 0.002])  # seconds in, milliseconds out
    assert (leg.p50, leg.max) == pytest.approx((2.0, 3.0))


def test_the_command_refuses_a_non_positive_count(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "orders", "--orders", "0"])
    assert stopped.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
