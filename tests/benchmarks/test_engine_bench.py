"""`ibtrader bench engine` on a small market: the report's shape and that the pipeline
really closes bars and makes signals (never the timings, which depend on the machine)."""

from __future__ import annotations

import gc
import itertools
import json

import pytest

from ibtrader.benchmarks.engine import (
    BAR_SIZE,
    QUOTES_PER_SECOND,
    GcPauses,
    QuoteFeed,
    make_market,
    run_engine_bench,
)
from ibtrader.cli import main
from ibtrader.core.indicators.registry import INDICATORS

SYMBOLS, SECONDS = 8, 900.0  # 15 market minutes: 14 one-minute bars close per symbol


@pytest.fixture(scope="module")
def bench():
    return run_engine_bench(SYMBOLS, SECONDS, batches=(SYMBOLS, 1), repeat=2, seed=5,
                            indicator_updates=1_000, recomputes=2)


def test_quotes_stream_in_time_order_with_rising_volume_for_every_symbol():
    market = make_market(4, 60.0, seed=1)
    batches = market.batched(7)
    quotes = [q for batch in batches for q in batch]
    assert quotes == market.quotes and len(quotes) == 4 * 60 * QUOTES_PER_SECOND
    assert all(len(b) == 7 for b in batches[:-1])
    assert [q.time for q in quotes] == sorted(q.time for q in quotes)
    for symbol in market.symbols:
        mine = [q for q in quotes if q.symbol == symbol]
        assert len(mine) == 60 * QUOTES_PER_SECOND
        assert all(b.volume > a.volume for a, b in itertools.pairwise(mine))
        assert all(q.bid < q.last < q.ask for q in mine)
        # the live stream goes on from the seeded history, which ends where it starts
        history = market.history[symbol]
        assert history[-1].time + 60 <= mine[0].time
        assert abs(mine[0].last / history[-1].close - 1) < 0.01


def test_the_feed_closes_one_minute_bars_from_quotes():
    market = make_market(3, 180.0, seed=2)
    feed = QuoteFeed(market)
    closed: list[tuple[str, str, float]] = []
    feed.bar_closed += lambda symbol, size, bar: closed.append((symbol, size, bar.time))
    for batch in market.batched(5):
        feed.on_quotes(batch)
    minutes = [c for c in closed if c[1] == BAR_SIZE]
    assert len(minutes) == feed.closed == 3 * 2  # the third minute is still forming
    for symbol in market.symbols:
        history = feed.history(symbol, BAR_SIZE)
        assert len(history) == len(market.history[symbol]) + 2
        assert history[-1].time - history[-3].time == 120


def test_both_paths_close_the_bars_and_make_the_same_signals(bench):
    minutes = int(SECONDS // 60) - 1
    assert bench.ticks == SYMBOLS * SECONDS * QUOTES_PER_SECOND
    assert [r.batch for r in bench.results] == [SYMBOLS, 1]
    signals = bench.results[0].engine.signals
    for result in bench.results:
        for path in (result.runners, result.engine):
            assert path.bars_closed == SYMBOLS * minutes
            assert path.signals == signals > 0
            assert path.latency_samples == path.signals * bench.repeat
            lat = path.latency_us
            assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
            assert path.ticks_per_s > 0
            assert path.gc["collections"] >= 0
    assert bench.same_signals
    assert bench.journalled == signals
    assert bench.indicators_per_symbol == 5


def test_report_has_every_goal_with_a_verdict(bench):
    assert [r["name"] for r in bench.indicators] == list(INDICATORS)
    for row in bench.indicators:
        assert row["incremental_ns"] > 0 and row["speedup"] > 0
        assert row["pass"] == (row["incremental_ns"] <= 300 and row["speedup"] >= 1_000)
    data = json.loads(json.dumps(bench.as_dict()))
    assert set(data["pass"]) == {"ticks_per_s", "p99_runner", "p99_engine", "indicators"}
    assert data["goals"] == {"ticks_per_s": 200_000, "p99_us": 100.0, "indicator_ns": 300.0,
                             "speedup": 1_000}
    assert data["pass"]["ticks_per_s"] == (data["results"][0]["engine"]["ticks_per_s"]
                                           >= 200_000)
    text = "\n".join(bench.lines())
    # per batch size and path: throughput and p99; then one per indicator
    assert text.count("PASS") + text.count("FAIL") == 2 * 2 * 2 + len(INDICATORS)
    assert "signal_emitted" in text and "on_bar" in text


def test_gc_pauses_are_counted_while_entered():
    with GcPauses() as pauses:
        gc.collect()
    assert pauses.collections >= 1 and 0 < pauses.max_ns <= pauses.total_ns
    after = pauses.collections
    gc.collect()
    assert pauses.collections == after  # not counted once left


def test_command_prints_json(capsys):
    code = main(["bench", "engine", "--symbols", "3", "--ticks", "2400", "--batch", "3",
                 "--repeat", "1", "--indicator-updates", "0", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["symbols"] == 3 and data["ticks"] == 2400
    assert [r["batch"] for r in data["results"]] == [3]
    assert data["indicators"] == []
    paths = data["results"][0]
    assert paths["runners"]["bars_closed"] == paths["engine"]["bars_closed"] == 3 * 3  # 200 s
    assert paths["engine"]["ticks_per_s"] > 0


@pytest.mark.parametrize(("args", "message"), [
    (["--symbols", "0"], "must be at least 1, got 0"),
    (["--batch", "x"], "'x' is not a whole number"),
    (["--batch", "100,0"], "must be at least 1, got 0"),
    (["--seconds", "5", "--ticks", "10"], "not allowed with argument"),
])
def test_bad_options_are_refused_with_the_reason(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "engine", *args])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seconds": 0.0}, "--seconds must be above 0"),
    ({"ticks": 2}, "--ticks must be at least one per symbol"),
    ({"indicator_updates": -1}, "--indicator-updates must be 0"),
    ({"batches": ()}, "--batch sizes and --repeat must be at least 1"),
])
def test_bad_sizes_are_refused_before_any_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_engine_bench(4, **{"seconds": 60.0, **kwargs})


def test_a_run_without_signals_reports_no_latency_and_fails_its_goal():
    # one symbol, 90 s: a single bar closes, and with this seed no strategy signals on it
    result = run_engine_bench(1, 90.0, batches=(1,), repeat=1, indicator_updates=0)
    engine = result.results[0].engine
    assert engine.bars_closed == 1 and engine.signals == 0
    assert engine.latency_us == {"p50": None, "p99": None, "max": None}
    assert not engine.p99_ok
    assert json.loads(json.dumps(result.as_dict()))["pass"]["p99_engine"] is False
    assert "p50 -" in "\n".join(result.lines())
