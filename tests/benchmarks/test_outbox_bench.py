"""`ibtrader bench outbox` on a few signals and charts: the report's structure, that every
configuration really wrote what a traded signal writes (the outbox rows of each mirror) and
every chart of the burst was drawn, and that the numbers hang together (never the timings,
which depend on the machine)."""

from __future__ import annotations

import json

import pytest

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.benchmarks.outbox import (
    CHARTING,
    JOURNALS,
    WARMUP,
    OutboxBenchResult,
    quantile,
    run_outbox_bench,
    traded_signal,
)
from ibtrader.cli import main
from ibtrader.core.decisions import DecisionState
from ibtrader.core.orders.lifecycle import OrderState

SIGNALS = 30
DECISIONS = 2


@pytest.fixture(scope="module")
def bench() -> OutboxBenchResult:
    return run_outbox_bench(SIGNALS, DECISIONS)


def test_a_traded_signal_writes_its_whole_trail_into_the_journal(tmp_path):
    with SqliteOrderJournal(tmp_path / "j.sqlite") as journal:
        for write in traded_signal(3):
            write(journal)
        (decision,) = journal.decisions()
        assert decision.state is DecisionState.SUBMITTED
        assert [s for _t, s, _r in journal.decision_trail(decision.id)] == [
            DecisionState.ACCEPTED, DecisionState.SUBMITTED]
        (order,) = journal.load_orders()
        assert order.state is OrderState.FILLED and order.filled == decision.quantity
        assert order.request.decision_id == decision.id
        assert [e.kind for e in journal.order_events(order.client_key)] == [
            "created", "sent", "status", "fill"]
        (execution,) = journal.executions()
        assert execution.commission == 1.0  # the commission report reached the row


def test_each_mirror_configuration_is_timed_against_the_bare_journal(bench):
    assert [c.mirrors for c in bench.journal] == list(JOURNALS)
    for cost in bench.journal:
        assert cost.signals == SIGNALS
        assert 0 < cost.p50_us <= cost.p99_us
        assert cost.mean_us > 0 and cost.ratio_p50 > 0
    assert bench.cost("no mirrors").ratio_p50 == 1.0
    # what each configuration queued: nothing bare, the same NocoDB rows with or without
    # notifications, and notifications only where their mirror is
    written = SIGNALS + WARMUP
    assert bench.cost("no mirrors").outbox_rows == {}
    nocodb = bench.cost("nocodb").outbox_rows
    assert set(nocodb) == {"nocodb"} and nocodb["nocodb"] % written == 0
    # a signal, its decision, its order, its 4 events, its execution: each a row of its own
    assert nocodb["nocodb"] // written >= 8
    both = bench.cost("nocodb+notify").outbox_rows
    assert both["nocodb"] == nocodb["nocodb"]
    assert set(both) == {"nocodb", "n8n"} and both["n8n"] > 0 and both["n8n"] % written == 0


def test_every_chart_of_the_burst_is_drawn_and_the_loop_was_timed(bench):
    assert [c.charting for c in bench.charts] == list(CHARTING)
    for late in bench.charts:
        assert late.ticks > 0 and late.seconds > 0
        assert 0 <= late.p50_ms <= late.p99_ms <= late.max_ms
    assert bench.lateness("idle").charts == 0
    assert bench.lateness("worker thread").charts == DECISIONS
    assert bench.lateness("render process").charts == DECISIONS
    # the idle peer ticks at least as long as the longer burst
    assert bench.lateness("idle").seconds >= max(
        bench.lateness(c).seconds for c in CHARTING[1:]) - 0.01


def test_the_report_prints_every_row_and_the_json_is_plain(bench):
    text = "\n".join(bench.lines())
    for name in (*JOURNALS, *CHARTING):
        assert f"\n{name} " in text
    document = json.loads(json.dumps(bench.as_dict(), allow_nan=False))
    assert (document["signals"], document["decisions"]) == (SIGNALS, DECISIONS)
    assert set(document["journal"][0]) == {"mirrors", "signals", "p50_us", "p99_us", "mean_us",
                                           "outbox_rows", "ratio_p50"}
    assert set(document["charts"][0]) == {"charting", "charts", "seconds", "ticks", "p50_ms",
                                          "p99_ms", "max_ms"}


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.5) == pytest.approx(50.5)
    assert quantile(values, 0.99) == pytest.approx(99.01)


def test_the_command_refuses_a_non_positive_count(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "outbox", "--decisions", "0"])
    assert stopped.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
