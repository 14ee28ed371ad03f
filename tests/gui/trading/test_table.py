"""The panels' table model repaints only rows whose shown text changed."""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import Qt

from ibtrader.gui.trading.table import DOWN, UP, Column, RowsModel


class Pos(NamedTuple):
    symbol: str
    qty: float
    pnl: float


COLUMNS = [Column("Symbol", lambda p: p.symbol),
           Column("Qty", lambda p: f"{p.qty:g}", right=True),
           Column("P&L", lambda p: f"{p.pnl:+.2f}",
                  tone=lambda p: (p.pnl > 0) - (p.pnl < 0), right=True)]


def test_only_changed_cells_are_repainted_and_rows_come_and_go(qtbot):
    model = RowsModel(COLUMNS, key=lambda p: p.symbol)
    changes = []
    model.dataChanged.connect(lambda a, b: changes.append((a.row(), a.column(), b.column())))
    model.replace_all([Pos("AAPL", 10, 5.0), Pos("MSFT", -3, -2.0)])
    assert model.rowCount() == 2 and model.text("MSFT", "P&L") == "-2.00"
    model.upsert(Pos("AAPL", 10, 5.001))  # shows the same: no repaint
    assert changes == []
    model.upsert(Pos("MSFT", -3, 1.0))
    assert changes == [(1, 2, 2)]  # one cell of one row
    assert model.data(model.index(1, 2), Qt.ItemDataRole.ForegroundRole) == UP
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ForegroundRole) is None
    model.upsert(Pos("SPY", 1, -1.0))
    assert model.data(model.index(2, 2), Qt.ItemDataRole.ForegroundRole) == DOWN
    model.remove("AAPL")
    assert [r.symbol for r in model.rows()] == ["MSFT", "SPY"] and model.find("SPY") == 1
    model.replace_all([Pos("SPY", 2, 0.0)])
    assert model.rowCount() == 1 and model.text("SPY", "Qty") == "2"
