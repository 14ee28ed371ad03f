"""`ibtrader bench engine` under the app's garbage-collector policy, and its report of the
close bursts that bound the batch latency (shapes and counts, never timings)."""

from __future__ import annotations

import gc

import pytest

from ibtrader.benchmarks.engine import QuoteFeed, make_market, run_engine_bench
from ibtrader.runtime_gc import GcPolicy

SYMBOLS, SECONDS = 6, 300.0  # 5 market minutes: 4 one-minute closes per symbol


@pytest.fixture(scope="module")
def runs():
    before = (gc.get_threshold(), gc.get_freeze_count())
    tuned = run_engine_bench(SYMBOLS, SECONDS, batches=(SYMBOLS, 1), repeat=1, seed=3,
                             indicator_updates=0, gc_policy=GcPolicy(50_000, 10, 10))
    after_tuned = (gc.get_threshold(), gc.get_freeze_count())
    plain = run_engine_bench(SYMBOLS, SECONDS, batches=(SYMBOLS,), repeat=1, seed=3,
                             indicator_updates=0, gc_policy=None)
    return before, after_tuned, tuned, plain


def test_the_policy_is_applied_per_run_and_undone_after(runs):
    before, after_tuned, tuned, plain = runs
    assert after_tuned == before  # thresholds back, nothing left frozen
    assert "app policy" in tuned.gc_policy and "(50000, 10, 10)" in tuned.gc_policy
    assert "defaults" in plain.gc_policy
    assert "GC:" in "\n".join(tuned.lines())


def test_the_policy_changes_no_signal(runs):
    _, _, tuned, plain = runs
    assert tuned.same_signals and plain.same_signals
    assert tuned.results[0].runners.signals == plain.results[0].runners.signals
    assert tuned.journalled == plain.journalled > 0


def test_a_minute_boundary_batch_closes_every_symbol_at_once(runs):
    _, _, tuned, _ = runs
    by_batch = {r.batch: r for r in tuned.results}
    burst = by_batch[SYMBOLS].runners.bursts
    # a batch holds one quote per symbol: at each boundary all of them close together
    assert burst["closes"] == SYMBOLS
    assert burst["batches"] >= 4
    assert burst["p50_us"] > 0 and burst["per_close_us"] == pytest.approx(
        burst["p50_us"] / SYMBOLS, abs=0.1)
    lone = by_batch[1].runners.bursts
    assert lone["closes"] == 1 and lone["batches"] >= 4 * SYMBOLS
    assert any("close bursts" in line for line in tuned.lines())


def test_the_feed_times_only_batches_that_close_bars():
    market = make_market(3, 120.0, seed=2)
    feed = QuoteFeed(market)
    batches = market.batched(3)
    for batch in batches:
        feed.on_quotes(batch)
    assert sum(n for _, n in feed.bursts) == feed.closed == 3  # one minute closed each
    assert len(feed.bursts) < len(batches)
    assert all(ns > 0 for ns, _ in feed.bursts)
