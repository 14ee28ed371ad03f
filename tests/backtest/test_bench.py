"""`ibtrader bench backtest` on small data: it runs both tools and checks their trades."""

from __future__ import annotations

import pytest

from ibtrader.benchmarks.backtest import run_backtest_bench


@pytest.mark.slow
def test_the_bench_compares_identical_runs() -> None:
    result = run_backtest_bench(bars=5000, command_bars=5000, repeat=1)
    assert result.same_trades and result.command_same_result
    assert result.trades > 100
    assert result.loop_ratio > 1 and result.command_ratio > 0
    assert "ratio" in "\n".join(result.lines())
