"""The backtest dialog: strategy and its parameters, the simulator's history for a symbol
or a CSV file, a range; Run shows a progress bar, then the statistics, the equity curve
and the trades.

The run happens in a worker process (a backtest is CPU-bound: in a thread of the app it
would slow the engine and the web API), through the app's pool (`desktop_jobs`); its
progress comes back to the GUI thread through the loop, at most once per percent. Cancel
stops it at its next progress report.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ibtrader.backtest.jobs import BacktestJob, BacktestJobs, BacktestResult
from ibtrader.core.strategies import STRATEGIES, strategy_class
from ibtrader.gui.trading.backtest_job import (
    BacktestCancelled,
    BacktestFailed,
    WorkerRun,
    desktop_jobs,
)
from ibtrader.gui.trading.backtest_results import BacktestResults
from ibtrader.gui.trading.param_editors import ParamForm
from ibtrader.gui.trading.tasks import spawn

log = logging.getLogger(__name__)
BAR_SIZES = ("", "1 min", "5 mins", "15 mins", "30 mins", "1 hour", "1 day")
# how far back the range starts by default, by the bar's length in seconds
DEFAULT_DAYS = ((60, 30), (300, 90), (1800, 180), (3600, 365), (86_400, 5 * 365))
SECONDS = {"1 min": 60, "5 mins": 300, "15 mins": 900, "30 mins": 1800, "1 hour": 3600,
           "1 day": 86_400}


class BacktestDialog(QDialog):
    finished_run = Signal(object)  # a BacktestResult
    failed_run = Signal(str)

    def __init__(self, settings: Any, symbols: tuple[str, ...] = (),
                 parent: QWidget | None = None, jobs: BacktestJobs | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Backtest")
        self._settings = settings
        # the app's pool unless given one; made now so its workers start while the
        # trader fills in the form
        self._jobs = jobs or desktop_jobs(settings)
        self._worker: WorkerRun | None = None
        self._running = False
        self.result: BacktestResult | None = None
        self._build(symbols or tuple(settings.watchlist))
        self._strategy_chosen(self.strategy.currentText())

    # --- the form -------------------------------------------------------------------------
    def _build(self, symbols: tuple[str, ...]) -> None:
        self.strategy = QComboBox()
        self.strategy.addItems(sorted(STRATEGIES))
        self.params = ParamForm()
        self.by_symbol = QRadioButton("Symbol")
        self.by_csv = QRadioButton("CSV file")
        self.by_symbol.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.by_symbol)
        group.addButton(self.by_csv)
        self.symbol = QComboBox(editable=True)
        self.symbol.addItems(list(symbols))
        self.csv = QLineEdit(placeholderText="OHLCV bars with a date/time column")
        self.browse = QPushButton("Browse…")
        self.bar_size = QComboBox()
        self.bar_size.addItems([b or "strategy's own" for b in BAR_SIZES])
        self.start = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.end = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        today = QDate.currentDate()
        self.end.setDate(today.addDays(1))
        self.cash = QDoubleSpinBox(decimals=2, minimum=100.0, maximum=1e10, value=10_000.0)
        self.cash.setSingleStep(1_000.0)
        self.commission = QComboBox(editable=True)
        self.commission.addItems(["ib", "0", "0.1%"])
        self.fill = QComboBox()
        self.fill.addItems(["next-open", "close"])
        self.sizing = QComboBox()
        self.sizing.addItems(["risk", "all-in"])
        self.risk = QDoubleSpinBox(decimals=2, minimum=0.01, maximum=100.0,
                                   value=float(self._settings.risk_per_trade_pct))
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel run")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #d64541")
        self.results = BacktestResults()

        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        form.addRow(self.params)
        symbol_row = QHBoxLayout()
        symbol_row.addWidget(self.by_symbol)
        symbol_row.addWidget(self.symbol, 1)
        csv_row = QHBoxLayout()
        csv_row.addWidget(self.by_csv)
        csv_row.addWidget(self.csv, 1)
        csv_row.addWidget(self.browse)
        form.addRow("History", symbol_row)
        form.addRow("", csv_row)
        form.addRow("Bar size", self.bar_size)
        form.addRow("From (UTC)", self.start)
        form.addRow("To (UTC)", self.end)
        form.addRow("Cash", self.cash)
        form.addRow("Commission", self.commission)
        form.addRow("Fill", self.fill)
        form.addRow("Sizing", self.sizing)
        form.addRow("Risk % per trade", self.risk)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.error)
        left_layout.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.results)
        split.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(split)
        self.resize(1300, 720)

        self.strategy.currentTextChanged.connect(self._strategy_chosen)
        self.bar_size.currentTextChanged.connect(lambda _t: self._default_range())
        self.browse.clicked.connect(self._browse)
        self.csv.textEdited.connect(lambda _t: self.by_csv.setChecked(True))
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self._cancel)

    def _strategy_chosen(self, name: str) -> None:
        if not name:
            return
        cls = strategy_class(name)
        self.params.show_params(cls.params)
        self.bar_size.setItemText(0, f"strategy's own ({cls.bar_size})")
        self._default_range()

    def _chosen_bar_size(self) -> str:
        i = self.bar_size.currentIndex()
        return BAR_SIZES[i] if i > 0 else strategy_class(self.strategy.currentText()).bar_size

    def _default_range(self) -> None:
        seconds = SECONDS.get(self._chosen_bar_size(), 3600)
        days = next((d for s, d in reversed(DEFAULT_DAYS) if seconds >= s), 30)
        self.start.setDate(self.end.date().addDays(-days))

    def _browse(self) -> None:
        dialog = QFileDialog(self, "Bars from a CSV file", "", "CSV files (*.csv);;All (*)")
        dialog.fileSelected.connect(lambda path: (self.csv.setText(path),
                                                  self.by_csv.setChecked(True)))
        dialog.open()

    # --- the job --------------------------------------------------------------------------
    def job(self) -> BacktestJob:
        """The form as a job; ValueError naming what is wrong."""
        name = self.strategy.currentText()
        params = self.params.values()
        strategy_class(name)(**params)  # cross-parameter checks (fast < slow) before running
        bar_size = BAR_SIZES[self.bar_size.currentIndex()]
        start, end = _epoch(self.start.date()), _epoch(self.end.date())
        if self.by_csv.isChecked():
            path = Path(self.csv.text().strip())
            if not self.csv.text().strip():
                raise ValueError("choose a CSV file, or the simulator's history for a symbol")
            if not path.is_file():
                raise ValueError(f"{path}: no such file")
            if bar_size:
                raise ValueError("a CSV file's bars are used as they are: leave the bar size "
                                 "as the strategy's own")
            return BacktestJob(name, params, csv=path, start=start, end=end,
                               cash=self.cash.value(), commission=self.commission.currentText(),
                               fill=self.fill.currentText(), sizing=self.sizing.currentText(),
                               risk_pct=self.risk.value())
        symbol = self.symbol.currentText().strip().upper()
        if not symbol:
            raise ValueError("type a symbol, or choose a CSV file")
        return BacktestJob(name, params, symbol=symbol, bar_size=bar_size, start=start, end=end,
                           cash=self.cash.value(), commission=self.commission.currentText(),
                           fill=self.fill.currentText(), sizing=self.sizing.currentText(),
                           risk_pct=self.risk.value())

    def run(self) -> bool:
        """Start the run in a worker process; False (and the reason shown) for bad input."""
        if self._running:
            return False
        try:
            job = self.job()
        except ValueError as exc:
            self._fail(str(exc))
            return False
        try:  # started here, not in the task: a Cancel right after Run finds it
            self._worker = WorkerRun(self._jobs, job, self._settings, self.progress.setValue)
        except RuntimeError as exc:  # the pool was closed: the app is quitting
            self._fail(str(exc))
            return False
        self.error.clear()
        self._set_running(True)
        self.progress.setValue(0)
        spawn(self._worker.result(), done=self._done, failed=self._failed, name="backtest")
        return True

    def _cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def _done(self, result: BacktestResult) -> None:
        self._worker = None
        self._set_running(False)
        self.progress.setValue(100)
        self.result = result
        self.results.show_result(result)
        self.finished_run.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._worker = None
        self._set_running(False)
        if isinstance(exc, BacktestCancelled):
            self._fail("cancelled")
            self.progress.setValue(0)
            return
        if not isinstance(exc, BacktestFailed):  # the worker's own errors are logged there
            log.error("backtest failed", exc_info=exc)
        self._fail(str(exc) or type(exc).__name__)

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.failed_run.emit(message)

    def done(self, result: int) -> None:
        """Closing the dialog stops a run in progress (at its next progress report)."""
        self._cancel()
        super().done(result)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)


def _epoch(date: QDate) -> float:
    day = dt.datetime(date.year(), date.month(), date.day(), tzinfo=dt.UTC)
    return day.timestamp()
