"""The chart fed by the real engine against the simulator: history, live forming bars
coalesced, the bar-size selector reloading, checked on a grabbed image."""

from __future__ import annotations

import pytest

from ibtrader.gui.chart import ChartWidget
from ibtrader.gui.chart.feed import ChartFeed
from ibtrader.gui.chart.theme import DOWN, UP

from .conftest import count_colour, grab, rgb_array


@pytest.fixture
def engine(engine_for, qtbot):
    engine = engine_for()
    qtbot.waitUntil(engine.subscribed.done, timeout=20_000)
    return engine


def test_live_chart_from_the_simulator(engine, qtbot, tmp_path):
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.resize(1600, 900)
    chart.show()
    feed = ChartFeed(chart, engine.market_data)
    history = engine.market_data.history("AAPL", "1 min")
    assert len(history) > 100
    feed.show("AAPL", "1 min")
    chart.set_indicators(overlays=["sma:20"], panels=["rsi:14"])
    assert len(chart.series) >= len(history) and chart.symbol_label.text() == "AAPL"
    zone = engine.market_data.instruments["AAPL"].time_zone
    assert zone and str(chart.tz) == zone  # bar times read in the exchange's zone
    updates = chart.forming_items.updates
    qtbot.waitUntil(lambda: chart.forming_items.updates >= updates + 3, timeout=10_000)
    # coalesced: the simulator sends many ticks a second, the chart gets at most ~20
    assert feed._forming.flushes <= chart.forming_items.updates
    assert chart.forming is not None and chart.forming.time > history[-1].time
    assert chart.readout.text() == chart.readout_text(len(chart.series))  # the live bar
    image = grab(chart)
    image.save(str(tmp_path / "live_aapl.png"))
    pixels = rgb_array(image.toImage())
    assert count_colour(pixels, UP) > 500 and count_colour(pixels, DOWN) > 500

    with qtbot.waitSignal(chart.bar_size_changed):
        chart.bar_sizes.setCurrentText("5 mins")
    assert chart.bar_size == "5 mins" and feed.bar_size == "5 mins"
    assert len(chart.series) == len(engine.market_data.history("AAPL", "5 mins"))
    with pytest.raises(KeyError, match="not subscribed"):
        feed.show("NOSUCH")
    assert chart.symbol == "AAPL"  # an unknown symbol leaves the chart as it was
    feed.close()
    feed.close()
