"""The watchlist model alone: which cells a quote changes (and nothing else), the change %,
missing fields, reordering by move and by drag and drop, symbol checks."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QModelIndex, Qt

from ibtrader.core.market import Quote
from ibtrader.gui.watchlist import (
    ASK,
    BID,
    CHANGE,
    LAST,
    SIGNAL,
    VOLUME,
    WatchlistModel,
    decimals_for,
    normalise_symbol,
)

NAN = math.nan


def quote(symbol: str, bid: float, ask: float, last: float, volume: float = 1000) -> Quote:
    return Quote(symbol, bid, ask, last, 100, 100, 1, volume, 0.0)


@pytest.fixture
def model(qapp) -> WatchlistModel:
    m = WatchlistModel()
    for symbol in ("AAPL", "MSFT", "EURUSD"):
        m.add(symbol)
    return m


def changed_cells(model: WatchlistModel) -> list[tuple[int, int, int]]:
    seen: list[tuple[int, int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=(): seen.append((a.row(), a.column(),
                                                                   b.column())))
    return seen


def text(model: WatchlistModel, symbol: str, col: int) -> str:
    return model.index(model.row_of(symbol), col).data()


def test_a_quote_announces_only_the_cells_it_changed(model):
    model.apply_quotes({"MSFT": quote("MSFT", 370.10, 370.12, 370.11, 5000)})
    seen = changed_cells(model)
    model.apply_quotes({"MSFT": quote("MSFT", 370.10, 370.15, 370.11, 5000)})  # ask only
    assert seen == [(1, ASK, ASK)]
    seen.clear()
    model.apply_quotes({"MSFT": quote("MSFT", 370.10, 370.15, 370.11, 5000)})  # nothing new
    assert seen == []
    model.apply_quotes({"MSFT": quote("MSFT", 370.11, 370.16, 370.11, 5000),
                        "AAPL": quote("AAPL", 190, 190.02, 190.01, 10)})
    assert sorted(seen) == [(0, LAST, LAST), (0, BID, VOLUME), (1, BID, ASK)]


def test_change_percent_against_the_previous_close_and_its_colour(model):
    model.set_prev_close("AAPL", 200.0)
    model.apply_quotes({"AAPL": quote("AAPL", 189.9, 190.1, 190.0)})
    assert text(model, "AAPL", CHANGE) == "-5.00%"
    assert text(model, "AAPL", LAST) == "190.00"
    down = model.index(0, CHANGE).data(Qt.ItemDataRole.ForegroundRole)
    model.apply_quotes({"AAPL": quote("AAPL", 209.9, 210.1, 210.0)})
    assert text(model, "AAPL", CHANGE) == "+5.00%"
    up = model.index(0, CHANGE).data(Qt.ItemDataRole.ForegroundRole)
    assert up != down


def test_a_field_the_broker_has_not_sent_keeps_what_is_shown(model):
    model.apply_quotes({"MSFT": quote("MSFT", 370.10, 370.12, 370.11)})
    model.apply_quotes({"MSFT": quote("MSFT", NAN, 370.13, NAN)})
    assert text(model, "MSFT", BID) == "370.10" and text(model, "MSFT", ASK) == "370.13"
    assert text(model, "MSFT", CHANGE) == ""  # no previous close known: nothing invented


def test_prices_show_to_their_tick_and_the_signal_column(model):
    model.set_decimals("EURUSD", decimals_for(0.00005))
    model.apply_quotes({"EURUSD": quote("EURUSD", 1.08345, 1.0835, NAN, NAN)})
    assert text(model, "EURUSD", BID) == "1.08345" and text(model, "EURUSD", VOLUME) == ""
    model.set_signal("EURUSD", "buy · sma_cross")
    assert text(model, "EURUSD", SIGNAL) == "buy · sma_cross"
    assert [decimals_for(t) for t in (0.01, 0.25, 1, 0.0001)] == [2, 1, 0, 4]


def test_rows_move_and_remove(model):
    assert model.move(0, 2) and model.symbols() == ["MSFT", "EURUSD", "AAPL"]
    assert model.move(2, 0) and model.symbols() == ["AAPL", "MSFT", "EURUSD"]
    assert not model.move(0, 3) and not model.move(1, 1)
    assert model.remove("MSFT") and model.symbols() == ["AAPL", "EURUSD"]
    assert not model.remove("MSFT")
    model.apply_quotes({"EURUSD": quote("EURUSD", 1.1, 1.2, 1.15)})  # rows re-indexed
    assert text(model, "EURUSD", BID) == "1.10"


def test_drag_and_drop_moves_a_row(model):
    data = model.mimeData([model.index(0, 0), model.index(0, 3)])  # AAPL's row
    # dropped between MSFT and EURUSD (before row 2), as the view reports it
    model.dropMimeData(data, Qt.DropAction.MoveAction, 2, 0, QModelIndex())
    assert model.symbols() == ["MSFT", "AAPL", "EURUSD"]
    data = model.mimeData([model.index(2, 0)])  # EURUSD to the top
    model.dropMimeData(data, Qt.DropAction.MoveAction, 0, 0, QModelIndex())
    assert model.symbols() == ["EURUSD", "MSFT", "AAPL"]
    assert not model.dropMimeData(data, Qt.DropAction.CopyAction, 0, 0, QModelIndex())
    assert model.symbols() == ["EURUSD", "MSFT", "AAPL"]


def test_symbols_are_checked_before_the_broker_is_asked():
    assert normalise_symbol("  brk.b ") == "BRK.B"
    with pytest.raises(ValueError, match="type a symbol"):
        normalise_symbol("   ")
    with pytest.raises(ValueError, match="is not a symbol"):
        normalise_symbol("AA$PL")


def test_the_latest_strategy_signal_shows_in_its_row(qtbot):
    from ibtrader.core.decisions import SignalRecord
    from ibtrader.core.strategy import Signal
    from ibtrader.gui.watchlist_panel import WatchlistPanel

    panel = WatchlistPanel()
    qtbot.addWidget(panel)
    panel.set_symbols(["AAPL", "MSFT"])
    panel._on_signal(SignalRecord("s1", "sma_cross", "1 min", Signal("MSFT", "buy"), 0.0))
    panel._on_signal(SignalRecord("s2", "supertrend", "1 hour", Signal("MSFT", "sell"), 1.0))
    panel._on_signal(SignalRecord("s3", "sma_cross", "1 min", Signal("TSLA", "buy"), 2.0))
    assert text(panel.model, "MSFT", SIGNAL) == "sell · supertrend"
    assert text(panel.model, "AAPL", SIGNAL) == "" and panel.model.row_of("TSLA") < 0
