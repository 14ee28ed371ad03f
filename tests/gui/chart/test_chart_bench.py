"""`ibtrader bench gui`'s chart part runs and reports its numbers (small sizes here)."""

from __future__ import annotations

import itertools

from ibtrader.benchmarks.gui_chart import random_walk_bars, run_chart_bench


def test_chart_bench_measures_first_render_and_redraws(qapp):
    result = run_chart_bench(bars=5_000, visible=300, updates=10, repeat=1)
    numbers = result.as_dict()
    assert numbers["bars"] == 5_000 and numbers["visible"] == 300
    for key in ("first_render_ms", "first_render_sma_ms", "zoomed_out_render_ms",
                "redraw_closed_ms", "redraw_forming_ms", "redraw_closed_cpu_ms",
                "pan_step_ms", "zoom_step_ms"):
        assert 0 < numbers[key] < 5_000, key
    text = "\n".join(result.lines())
    assert "chart first render, 5,000 bars" in text and "300 visible" in text


def test_bench_history_is_a_valid_bar_series():
    bars = random_walk_bars(1_000)
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    assert all(b2.time - b1.time == 60 for b1, b2 in itertools.pairwise(bars))
