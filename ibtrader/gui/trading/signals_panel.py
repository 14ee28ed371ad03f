"""Signals and decisions: what the strategies saw and what the engine concluded, live,
with the decision history from the journal; Accept / Dismiss on a pending decision and
per-strategy enable and auto-trade switches.

A row is a decision with the signal behind it (strategy, reason, the indicator values the
strategy reported). Decision events are coalesced per decision id, so a burst of signals
repaints the table once per interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.decisions import Decision, DecisionState, SignalRecord
from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.strategy_switches import StrategySwitches
from ibtrader.gui.trading.table import Column, RowsModel, table_view
from ibtrader.gui.trading.tasks import spawn
from ibtrader.gui.trading.wiring import Subscriptions

HISTORY = 200  # decisions loaded from the journal at start


@dataclass(frozen=True)
class Row:
    decision: Decision
    signal: SignalRecord | None = None

    @property
    def id(self) -> str:
        return self.decision.id


def values_text(values: Any) -> str:
    if not values:
        return ""
    return ", ".join(f"{k}={fmt.value_text(v)}" for k, v in values.items())


def _state_tone(row: Row) -> int:
    state = row.decision.state
    if state is DecisionState.PENDING:
        return 0
    return 1 if state in (DecisionState.SUBMITTED, DecisionState.ACCEPTED) else -1


COLUMNS: list[Column[Row]] = [
    Column("Time", lambda r: fmt.clock(r.decision.created)),
    Column("Strategy", lambda r: r.decision.strategy),
    Column("Symbol", lambda r: r.decision.symbol),
    Column("Signal", lambda r: r.signal.signal.side if r.signal else ""),
    Column("Decision", lambda r: " ".join(filter(None, (r.decision.action,
                                                       r.decision.side)))),
    Column("Qty", lambda r: fmt.quantity(r.decision.quantity), right=True),
    Column("Entry", lambda r: fmt.price(r.decision.entry_price, 4), right=True),
    Column("Stop", lambda r: fmt.price(r.decision.stop, 4), right=True),
    Column("Target", lambda r: fmt.price(r.decision.target, 4), right=True),
    Column("State", lambda r: r.decision.state.value, tone=_state_tone),
    Column("Why", lambda r: " / ".join(filter(None, (r.signal.signal.reason if r.signal
                                                     else "", r.decision.reason)))),
    Column("Indicators", lambda r: values_text(r.signal.signal.values) if r.signal else ""),
]


class SignalsPanel(QWidget):
    problem = Signal(str)

    def __init__(self, trading: Any, journal: Any = None, parent: QWidget | None = None,
                 hz: float = 10.0) -> None:
        super().__init__(parent)
        self._trading = trading  # the TradingEngine
        self._signals: dict[str, SignalRecord] = {}
        self.switches = StrategySwitches(trading)
        self.model = RowsModel(COLUMNS, key=lambda r: r.id, parent=self)
        self.view = table_view(self.model)
        self.accept_button = QPushButton("Accept")
        self.dismiss_button = QPushButton("Dismiss")
        self.pending_label = QLabel()
        self.detail = QLabel(wordWrap=True)
        self.status = QLabel(wordWrap=True)
        buttons = QHBoxLayout()
        for w in (self.accept_button, self.dismiss_button, self.pending_label):
            buttons.addWidget(w)
        buttons.addStretch(1)
        split = QSplitter(Qt.Orientation.Vertical)  # a narrow dock keeps room for both
        split.addWidget(self.switches)
        split.addWidget(self.view)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.accept_button.clicked.connect(self.accept_selected)
        self.dismiss_button.clicked.connect(self.dismiss_selected)
        self.switches.problem.connect(self._say)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected_changed())

        if journal is not None:
            self._load_history(journal)
        self._changes: Coalescer[str, Decision] = Coalescer(self._show, hz=hz, parent=self)
        self.subscriptions = Subscriptions()
        self.subscriptions.on(trading.signal_emitted, self._on_signal)
        self.subscriptions.on(trading.decision_made, self._on_decision)
        self.subscriptions.on(trading.decision_changed, self._on_decision)
        self.subscriptions.on(trading.strategy_failed, self._on_strategy_failed)
        self.subscriptions.on(trading.load_failed, lambda message: self._say(message))
        self.subscriptions.on(trading.advice_refused, self._on_advice_refused)
        for decision in trading.pending():  # made before the panel opened
            self._changes.put(decision.id, decision)
        self._selected_changed()

    def detach(self) -> None:
        self.subscriptions.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    # --- data -----------------------------------------------------------------------------
    def _load_history(self, journal: Any) -> None:
        """The newest decisions of earlier runs and this one, oldest first."""
        signals = {s.id: s for s in journal.signals(limit=HISTORY)}
        for decision in reversed(journal.decisions(limit=HISTORY)):
            self.model.upsert(Row(decision, signals.get(decision.signal_id)))

    def _on_signal(self, record: SignalRecord) -> None:
        self._signals[record.id] = record

    def _on_decision(self, decision: Decision) -> None:
        self._changes.put(decision.id, decision)

    def _show(self, changed: dict[str, Decision]) -> None:
        for decision in sorted(changed.values(), key=lambda d: d.created):
            # a signal is kept until its decision shows, then its row carries it
            signal = self._signals.pop(decision.signal_id, None)
            if signal is None and (i := self.model.find(decision.id)) >= 0:
                signal = self.model.row(i).signal
            self.model.upsert(Row(decision, signal))
        self.view.scrollToBottom()
        self._selected_changed()

    def _on_strategy_failed(self, name: str, symbol: str, error: str) -> None:
        self.switches.refresh()
        self._say(f"strategy {name} failed on {symbol} and is off there: {error}")

    def _on_advice_refused(self, name: str, symbol: str, reason: str) -> None:
        # an asking strategy's answer (n8n_decision) gave no signal: say why, once per bar
        self.switches.refresh()
        self._say(f"{name} on {symbol}: answer refused: {reason}")

    def pending_ids(self) -> list[str]:
        return [r.id for r in self.model.rows() if r.decision.state is DecisionState.PENDING]

    # --- the trader's answers -------------------------------------------------------------
    def selected(self) -> Row | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def select(self, decision_id: str) -> None:
        i = self.model.find(decision_id)
        if i >= 0:
            self.view.selectRow(i)

    def _selected_changed(self) -> None:
        row = self.selected()
        pending = row is not None and row.decision.state is DecisionState.PENDING
        self.accept_button.setEnabled(pending)
        self.dismiss_button.setEnabled(pending)
        self.pending_label.setText(f"{len(self.pending_ids())} pending")
        if row is None:
            self.detail.setText("select a decision to see why, and to accept or dismiss it")
            return
        d = row.decision
        now = self._trading.indicator_values(d.symbol).get(d.strategy, {})
        parts = [f"{d.strategy} on {d.symbol}: {d.state.value}",
                 f"reason: {d.reason or (row.signal.signal.reason if row.signal else '')}"]
        if row.signal:
            parts.append(f"at the signal: {values_text(row.signal.signal.values)}")
        if now:
            parts.append(f"now: {values_text(now)}")
        self.detail.setText(" · ".join(parts))

    def accept_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        self._say(f"accepting {row.decision.strategy} {row.decision.symbol}…")
        self.accept_button.setEnabled(False)
        spawn(self._trading.accept(row.id), done=self._answered, failed=self._failed,
              name=f"accept {row.id}")

    def dismiss_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        try:
            self._answered(self._trading.dismiss(row.id))
        except ValueError as exc:  # DecisionError: not pending any more
            self._failed(exc)

    def _answered(self, decision: Decision) -> None:
        self._changes.put(decision.id, decision)
        self._say(f"{decision.strategy} {decision.symbol}: {decision.state.value}"
                  + (f" ({decision.reason})" if decision.reason else ""))

    def _failed(self, exc: BaseException) -> None:
        self._say(f"refused: {exc}")
        self._selected_changed()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        if "refused" in text or "failed" in text or "cannot run" in text:
            self.problem.emit(text)
