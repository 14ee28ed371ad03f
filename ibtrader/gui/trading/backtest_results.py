"""What a finished backtest shows: the statistics, the equity curve (pyqtgraph) and the
trades table. Filled by `show(result)`; empty until then."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QFormLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from ibtrader.backtest.broker import Trade
from ibtrader.backtest.job import BacktestResult
from ibtrader.backtest.report import iso_times
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.table import Column, RowsModel, table_view

EQUITY_PEN = (52, 152, 219)


def _pct(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}%"


STATS = (  # (label, how the value reads)
    ("Start equity", lambda s: fmt.money(s.start_equity)),
    ("Final equity", lambda s: fmt.money(s.final_equity)),
    ("Total return", lambda s: _pct(s.total_return_pct)),
    ("CAGR", lambda s: _pct(s.cagr_pct)),
    ("Max drawdown", lambda s: _pct(s.max_drawdown_pct)),
    ("Sharpe", lambda s: "n/a" if not math.isfinite(s.sharpe) else f"{s.sharpe:.2f}"),
    ("Win rate", lambda s: _pct(s.win_rate_pct)),
    ("Trades", lambda s: str(s.trades)),
    ("Exposure", lambda s: _pct(s.exposure_pct)),
)


class _TradeRow:
    """A trade with its times as text (converted once for the whole list)."""

    __slots__ = ("entry", "exit", "n", "trade")

    def __init__(self, n: int, trade: Trade, entry: str, exit_: str) -> None:
        self.n, self.trade, self.entry, self.exit = n, trade, entry, exit_


TRADE_COLUMNS: list[Column[_TradeRow]] = [
    Column("#", lambda r: str(r.n), right=True),
    Column("Entry time", lambda r: r.entry),
    Column("Exit time", lambda r: r.exit),
    Column("Side", lambda r: r.trade.side),
    Column("Size", lambda r: fmt.quantity(r.trade.size), right=True),
    Column("Entry", lambda r: fmt.price(r.trade.entry_price, 4), right=True),
    Column("Exit", lambda r: fmt.price(r.trade.exit_price, 4), right=True),
    Column("P&L", lambda r: fmt.money(r.trade.pnl, signed=True),
           tone=lambda r: fmt.pnl_sign(r.trade.pnl), right=True),
    Column("Commission", lambda r: fmt.money(r.trade.commission), right=True),
    Column("Exit by", lambda r: r.trade.exit_reason),
]


class BacktestResults(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel(wordWrap=True)
        self.stats: dict[str, QLabel] = {}
        stats_box = QWidget()
        form = QFormLayout(stats_box)
        for label, _ in STATS:
            value = QLabel(fmt.DASH)
            self.stats[label] = value
            form.addRow(label, value)
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("left", "equity")
        self.curve = self.plot.plot(pen=pg.mkPen(EQUITY_PEN, width=2))
        self.trades = RowsModel(TRADE_COLUMNS, key=lambda r: r.n, parent=self)
        self.trades_view = table_view(self.trades)
        stats_box.setMinimumWidth(240)  # "Max drawdown  -12.34%" whole, never squeezed
        top = QSplitter()
        top.addWidget(stats_box)
        top.setCollapsible(0, False)
        top.addWidget(self.plot)
        top.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(top, 2)
        layout.addWidget(self.trades_view, 1)

    def show_result(self, result: BacktestResult) -> None:
        report = result.report
        s = report.stats
        for label, text in STATS:
            self.stats[label].setText(text(s))
        first, last = iso_times([report.first_time, report.last_time])
        held = ""
        if report.open_position:
            way = "long" if report.open_position > 0 else "short"
            held = f"; open at the end: {way} {abs(report.open_position):g}"
        self.summary.setText(f"{report.strategy} on {report.symbol}: {report.bars} bars, "
                             f"{first} .. {last}{held}")
        self.curve.setData(result.times.astype(float), result.equity.astype(float))
        self.plot.enableAutoRange()
        trades = report.trades
        entries = iso_times([t.entry_time for t in trades])
        exits = iso_times([t.exit_time for t in trades])
        self.trades.replace_all(_TradeRow(n, t, e, x) for n, (t, e, x)
                                in enumerate(zip(trades, entries, exits, strict=True), 1))
        self.trades_view.resizeColumnsToContents()
