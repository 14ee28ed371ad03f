"""The backtest dialog: typed parameter editors from the strategy's Params, a run in a
worker process with its progress, then statistics, an equity curve and the trades."""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QSpinBox

from ibtrader.gui.trading.backtest_dialog import BacktestDialog
from ibtrader.gui.trading.backtest_job import desktop_jobs
from ibtrader.gui.trading.backtest_results import EQUITY_PEN
from tests.gui.trading.conftest import settings_for
from tests.gui.trading.shots import count_near, grab


def open_dialog(qtbot, tmp_path):
    dialog = BacktestDialog(settings_for(tmp_path), ("AAPL", "MSFT"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_parameter_editors_follow_the_strategys_params(qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    fast = dialog.params.editor("fast")
    assert isinstance(fast, QSpinBox) and (fast.minimum(), fast.maximum()) == (1, 1000)
    kind = dialog.params.editor("kind")
    assert isinstance(kind, QComboBox) and [kind.itemText(i) for i in range(2)] == ["sma", "ema"]
    assert "fast average period" in fast.toolTip()
    dialog.strategy.setCurrentText("rsi_reversion")
    assert "fast" not in dialog.params.editors and dialog.params.editors


def test_a_short_backtest_on_the_simulators_history_shows_stats_curve_and_trades(
        qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    dialog.params.editor("fast").setValue(5)
    dialog.params.editor("slow").setValue(20)
    dialog.bar_size.setCurrentText("1 hour")
    end = QDate.currentDate()
    dialog.end.setDate(end)
    dialog.start.setDate(end.addDays(-60))
    seen = []
    dialog.progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
        assert not dialog.run_button.isEnabled()  # running: one run at a time

    report = dialog.result.report
    assert report.symbol == "AAPL" and report.stats.trades > 0
    assert dialog.progress.value() == 100 and seen[-1] == 100
    assert any(0 < pct < 100 for pct in seen)  # reported from the worker while it ran
    results = dialog.results
    assert results.stats["Trades"].text() == str(report.stats.trades)
    assert results.stats["Final equity"].text() == f"{report.stats.final_equity:,.2f}"
    assert results.trades.rowCount() == report.stats.trades
    first = report.trades[0]
    assert results.trades.text(1, "Side") == first.side
    assert results.trades.text(1, "P&L") == f"{first.pnl:+,.2f}"
    assert "sma_cross on AAPL" in results.summary.text()
    image = grab(dialog, tmp_path / "backtest.png")
    assert count_near(image, QColor(*EQUITY_PEN), tolerance=30) > 200  # the curve is drawn


def test_a_csv_backtest_and_bad_input_said_plainly(qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    dialog.by_csv.setChecked(True)
    dialog.run()
    assert "choose a CSV file" in dialog.error.text()
    dialog.csv.setText(str(tmp_path / "missing.csv"))
    dialog.run()
    assert "no such file" in dialog.error.text()

    # a swinging price: the crosses make trades
    start = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
    times = [start + dt.timedelta(hours=h) for h in range(600)]
    close = 100 + 10 * np.sin(np.arange(600) / 15)
    lines = ["time,open,high,low,close,volume"] + [
        f"{t:%Y-%m-%d %H:%M:%S},{c:.2f},{c + 0.5:.2f},{c - 0.5:.2f},{c:.2f},1000"
        for t, c in zip(times, close, strict=True)]
    path = tmp_path / "swing.csv"
    path.write_text("\n".join(lines))
    dialog.csv.setText(str(path))
    dialog.start.setDate(QDate(2024, 1, 1))
    dialog.end.setDate(QDate(2024, 3, 1))
    dialog.params.editor("fast").setValue(30)
    dialog.params.editor("slow").setValue(10)
    dialog.run()
    assert "fast must be below slow" in dialog.error.text()
    dialog.params.editor("fast").setValue(5)
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        assert dialog.run()
    assert dialog.error.text() == ""
    assert dialog.result.report.bars == 600 and dialog.results.trades.rowCount() >= 5


def test_a_long_run_can_be_cancelled(qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    dialog.bar_size.setCurrentText("1 min")  # 30 days of minutes: ~43,000 bars
    with qtbot.waitSignal(dialog.failed_run, timeout=20_000) as failed:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert failed.args == ["cancelled"] and dialog.result is None
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_closing_the_dialog_stops_its_run(qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    dialog.bar_size.setCurrentText("1 min")
    with qtbot.waitSignal(dialog.failed_run, timeout=20_000) as failed:
        assert dialog.run()
        dialog.reject()
    assert failed.args == ["cancelled"] and not dialog.isVisible()


def test_the_run_happens_in_a_worker_process_not_the_apps(qtbot, qloop, tmp_path):
    dialog = open_dialog(qtbot, tmp_path)
    dialog.strategy.setCurrentText("sma_cross")
    dialog.bar_size.setCurrentText("1 hour")
    end = QDate.currentDate()
    dialog.end.setDate(end)
    dialog.start.setDate(end.addDays(-20))
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        assert dialog.run()
        run_id = dialog._worker.id
    status = desktop_jobs(dialog._settings).status(run_id)
    assert status["state"] == "done" and status["pid"] not in (None, os.getpid())
    assert dialog.result.report.bars == status["progress"]["total"]
