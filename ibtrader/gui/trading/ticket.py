"""The order ticket: a trader types an order, sees what is wrong as they type and what it
will cost and what the risk rules say (the order manager's `preview`), and sends it with
Buy / Sell (Ctrl+B / Ctrl+S). Nothing is sent while the input is invalid or risk says
no; the manager checks again as it sends, and a refusal then is shown the same way.

The ticket asks the order manager for the symbol's contract and quote (qualifying and
subscribing on first use) and refreshes its preview from the live quotes, coalesced to a
few times a second.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.request import ORDER_TYPES, TIFS
from ibtrader.gui.coalesce import Coalescer
from ibtrader.gui.trading import fmt
from ibtrader.gui.trading.tasks import spawn
from ibtrader.gui.trading.ticket_form import TicketCheck, TicketFields, check_ticket, sizing_rules
from ibtrader.gui.trading.wiring import Subscriptions

QUOTE_HZ = 4.0  # the preview follows the market; a trader reads it, no faster needed
SYMBOL_SETTLE_MS = 400  # look a typed symbol up once the trader pauses
# which price inputs each order type uses (the others are disabled)
POLICIES = ("", "join", "mid", "marketable:1", "last")  # see core.orders.pricing
USES = {"mkt": (), "lmt": ("limit", "policy", "chase"), "stp": ("stop",),
        "stp-lmt": ("stop", "limit"), "trail": ("trail", "stop")}


class OrderTicket(QWidget):
    """Emits `order_sent(Order)` after the manager accepted and sent an order."""

    order_sent = Signal(object)
    refused = Signal(list)  # [(field, message)]: the input, or the manager's refusal

    def __init__(self, orders: Any, account: Any, quotes_updated: Any, settings: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._orders = orders  # the OrderManager
        self._account = account  # an AccountPort
        self._rules = sizing_rules(settings)
        self._looked_up = ""  # the symbol whose contract and quote we asked for
        self._lookup_errors: dict[str, str] = {}  # symbol -> why the broker did not know it
        self._sending = False
        self.last_check: TicketCheck | None = None
        self._build()
        self._quotes: Coalescer[str, Quote] = Coalescer(self._on_quotes, hz=QUOTE_HZ,
                                                         parent=self)
        self.subscriptions = Subscriptions()
        self.subscriptions.on(quotes_updated, self._put_quotes)
        self._settle = QTimer(self, singleShot=True, interval=SYMBOL_SETTLE_MS)
        self._settle.timeout.connect(self._look_up)
        self._revalidate()

    @classmethod
    def for_engine(cls, engine: Any, settings: Any, parent: QWidget | None = None
                   ) -> OrderTicket:
        return cls(engine.orders, engine.broker.account, engine.broker.market_data.quotes_updated,
                   settings, parent)

    def detach(self) -> None:
        """Stop listening to the quotes (the widget is going away)."""
        self.subscriptions.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.detach()
        super().closeEvent(event)

    # --- the form -------------------------------------------------------------------------
    def _build(self) -> None:
        self.symbol = QLineEdit(placeholderText="symbol, e.g. AAPL")
        self.side = QComboBox()
        self.side.addItems(["buy", "sell"])
        self.quantity = QLineEdit(placeholderText="shares / contracts")
        self.risk_sized = QCheckBox("size by risk")
        self.risk_sized.setToolTip("quantity from the risk per trade (settings) over the "
                                   "distance to the stop-loss (or stop)")
        self.order_type = QComboBox()
        self.order_type.addItems(list(ORDER_TYPES))
        self.order_type.setCurrentText("lmt")
        self.limit = QLineEdit(placeholderText="limit price")
        self.stop = QLineEdit(placeholderText="stop price")
        self.trail = QLineEdit(placeholderText="0.50 or 1.5%")
        self.tif = QComboBox()
        self.tif.addItems(list(TIFS))
        self.outside_rth = QCheckBox("outside RTH")
        self.take_profit = QLineEdit(placeholderText="bracket take-profit")
        self.stop_loss = QLineEdit(placeholderText="bracket stop-loss")
        self.policy = QComboBox(editable=True)  # the usual ones offered, any typed
        self.policy.addItems(list(POLICIES))
        self.policy.lineEdit().setPlaceholderText("limit from the quote: join, mid, ...")
        self.chase = QLineEdit(placeholderText="every:ticks:max[:market], e.g. 5:1:10")
        self.quote_line = QLabel(fmt.DASH)
        self.errors = QLabel(wordWrap=True)
        self.errors.setObjectName("ticketErrors")
        self.errors.setStyleSheet("color: #d64541")  # an error reads red on any theme
        self.preview = QLabel(wordWrap=True)
        self.preview.setObjectName("ticketPreview")
        self.status = QLabel(wordWrap=True)
        self.buy = QPushButton("Buy")
        self.sell = QPushButton("Sell")
        self.buy.setObjectName("buyButton")
        self.sell.setObjectName("sellButton")
        self.buy.setToolTip("send as a buy (Ctrl+B)")
        self.sell.setToolTip("send as a sell (Ctrl+S)")

        form = QFormLayout()
        qty_row = QHBoxLayout()
        qty_row.addWidget(self.quantity)
        qty_row.addWidget(self.risk_sized)
        tif_row = QHBoxLayout()
        tif_row.addWidget(self.tif)
        tif_row.addWidget(self.outside_rth)
        for label, widget in (("Symbol", self.symbol), ("Side", self.side),
                              ("Quantity", qty_row), ("Type", self.order_type),
                              ("Limit", self.limit), ("Stop", self.stop),
                              ("Trail", self.trail), ("TIF", tif_row),
                              ("Take-profit", self.take_profit), ("Stop-loss", self.stop_loss),
                              ("Price policy", self.policy), ("Chase", self.chase),
                              ("Quote", self.quote_line)):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        buttons.addWidget(self.buy)
        buttons.addWidget(self.sell)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.errors)
        layout.addWidget(self.preview)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self._inputs: dict[str, QWidget] = {
            "symbol": self.symbol, "side": self.side, "quantity": self.quantity,
            "type": self.order_type, "limit": self.limit, "stop": self.stop,
            "trail": self.trail, "tif": self.tif, "take_profit": self.take_profit,
            "stop_loss": self.stop_loss, "policy": self.policy, "chase": self.chase}
        for edit in (self.quantity, self.limit, self.stop, self.trail, self.take_profit,
                     self.stop_loss, self.chase):
            edit.textChanged.connect(self._revalidate)
        self.policy.currentTextChanged.connect(self._revalidate)
        self.symbol.textChanged.connect(self._symbol_typed)
        for combo in (self.side, self.order_type, self.tif):
            combo.currentTextChanged.connect(self._revalidate)
        for box in (self.risk_sized, self.outside_rth):
            box.toggled.connect(self._revalidate)
        self.risk_sized.toggled.connect(lambda on: self.quantity.setReadOnly(on))
        self.buy.clicked.connect(lambda: self.send("buy"))
        self.sell.clicked.connect(lambda: self.send("sell"))
        # the ticket's keys win over the window's while the trader types in the ticket
        # (the main window may bind Ctrl+B elsewhere): see `eventFilter`
        for widget in (self, *self.findChildren(QWidget)):
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and \
                isinstance(event, QKeyEvent):
            side = self._key_side(event)
            if side is not None:
                event.accept()  # an accepted override: no window shortcut takes the key
                if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                    self.send(side)
                return True
        return super().eventFilter(watched, event)

    def _key_side(self, event: QKeyEvent) -> str | None:
        """Ctrl+B buys, Ctrl+S sells, Ctrl+Enter sends with the side chosen."""
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods != Qt.KeyboardModifier.ControlModifier:
            return None
        key = event.key()
        if key == Qt.Key.Key_B:
            return "buy"
        if key == Qt.Key.Key_S:
            return "sell"
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return self.side.currentText()
        return None

    def fields(self) -> TicketFields:
        return TicketFields(
            symbol=self.symbol.text(), side=self.side.currentText(),
            quantity=self.quantity.text(), risk_sized=self.risk_sized.isChecked(),
            order_type=self.order_type.currentText(), limit=self._used("limit"),
            stop=self._used("stop"), trail=self._used("trail"), tif=self.tif.currentText(),
            take_profit=self.take_profit.text(), stop_loss=self.stop_loss.text(),
            policy=self._used("policy"), chase=self._used("chase"),
            outside_rth=self.outside_rth.isChecked())

    def _used(self, name: str) -> str:
        """A price input counts only for the order types that use it."""
        if name not in USES[self.order_type.currentText()]:
            return ""
        edit = self._inputs[name]
        return edit.currentText() if isinstance(edit, QComboBox) else \
            edit.text() if isinstance(edit, QLineEdit) else ""

    def set_symbol(self, symbol: str) -> None:
        """Another view (the watchlist) chose a symbol."""
        self.symbol.setText(symbol)
        self._look_up()

    # --- the market for the symbol --------------------------------------------------------
    def _symbol_typed(self) -> None:
        self._settle.start()
        self._revalidate()

    def _look_up(self) -> None:
        self._settle.stop()
        symbol = self.symbol.text().strip().upper()
        if not symbol or symbol == self._looked_up:
            return
        self._looked_up = symbol
        self._lookup_errors.pop(symbol, None)
        spawn(self._orders.current_quote(symbol), done=lambda _q: self._revalidate(),
              failed=lambda exc: self._lookup_failed(symbol, exc), name=f"quote {symbol}")

    def _lookup_failed(self, symbol: str, exc: BaseException) -> None:
        self._lookup_errors[symbol] = _message(exc)
        if symbol == self._looked_up:
            self._looked_up = ""  # typing it again asks again
        self._revalidate()

    def _symbol_problems(self, symbol: str, problems: list[tuple[str, str]]
                         ) -> list[tuple[str, str]]:
        """The contract problem as the lookup found it: the broker's own words when it
        does not know the symbol, nothing yet while the lookup is on its way."""
        if self._orders.instrument(symbol) is not None:
            return problems
        others = [p for p in problems if p[0] != "symbol"]
        if symbol in self._lookup_errors:
            return [("symbol", self._lookup_errors[symbol]), *others]
        if symbol and (self._settle.isActive() or symbol == self._looked_up):
            return others  # still typing, or asking the broker
        return problems

    def _put_quotes(self, quotes: list[Quote]) -> None:
        wanted = self._looked_up
        for quote in quotes:
            if quote.symbol == wanted:
                self._quotes.put(wanted, quote)

    def _on_quotes(self, latest: dict[str, Quote]) -> None:
        if self._looked_up in latest:
            self._revalidate()

    # --- validation as you type -----------------------------------------------------------
    def check(self, side: str | None = None) -> TicketCheck:
        fields = self.fields()
        if side is not None:
            fields = TicketFields(**{**vars(fields), "side": side})
        symbol = fields.symbol.strip().upper()
        quote = self._orders.quote(symbol) if symbol else None
        instrument = self._orders.instrument(symbol) if symbol else None
        check = check_ticket(fields, now=time.time(), instrument=instrument, quote=quote,
                             account=self._account.account(), rules=self._rules)
        if check.ok and check.judged is not None:  # risk's verdict, nothing sent
            check = check.with_risk(self._orders.preview(check.judged))
        return check

    def _revalidate(self) -> None:
        for name, used in (("limit", "limit"), ("stop", "stop"), ("trail", "trail"),
                           ("policy", "policy"), ("chase", "chase")):
            self._inputs[name].setEnabled(used in USES[self.order_type.currentText()])
        check = self.check()
        self.last_check = check
        symbol = self.symbol.text().strip().upper()
        quote = self._orders.quote(symbol) if symbol else None
        self.quote_line.setText(_quote_text(quote))
        if self.risk_sized.isChecked():
            sized = fmt.quantity(check.quantity).replace(",", "")
            self.quantity.blockSignals(True)  # shown, not typed: no second validation
            self.quantity.setText("" if sized == fmt.DASH else sized)
            self.quantity.blockSignals(False)
        shown = self._symbol_problems(symbol, check.problems)
        waiting = len(shown) < len(check.problems) and symbol not in self._lookup_errors
        # as they type, a trader sees what is wrong with what they typed; what is still
        # missing reads in the preview, and in red only when they try to send
        self._show_problems([p for p in shown if not self._blank(p[0])])
        self.preview.setText(f"looking up {symbol}…" if waiting else
                             check.preview if symbol else "")
        ready = check.ok and not self._sending
        self.buy.setEnabled(not self._sending)
        self.sell.setEnabled(not self._sending)
        self.preview.setEnabled(ready)

    def _blank(self, name: str) -> bool:
        if name == "quantity" and self.risk_sized.isChecked():
            return False  # sized by risk: its problem is the stop's or the account's
        widget = self._inputs.get(name)
        if isinstance(widget, QLineEdit):
            return not widget.text().strip()
        return False

    def _show_problems(self, problems: list[tuple[str, str]]) -> None:
        bad = {name for name, _ in problems}
        for name, widget in self._inputs.items():
            invalid = name in bad
            widget.setToolTip("; ".join(m for n, m in problems if n == name))
            if widget.property("invalid") != invalid:
                widget.setProperty("invalid", invalid)
                widget.style().unpolish(widget)  # the theme's [invalid="true"] rule applies
                widget.style().polish(widget)
        self.errors.setText("\n".join(m for _, m in problems))

    # --- sending --------------------------------------------------------------------------
    def send(self, side: str) -> bool:
        """Send the ticket as a `side` order; False (and the problems shown) when it may
        not go. The manager may still refuse it (risk): `refused` tells."""
        if self._sending:
            return False
        self.side.setCurrentText(side)
        check = self.check(side)
        self.last_check = check
        if not check.ok or check.request is None:
            problems = check.problems or [("order", m) for _, m in check.risk or []] or \
                [("symbol", "nothing to send")]
            self._show_problems(problems)
            self.status.setText(f"not sent: {problems[0][1]}")
            self.refused.emit(problems)
            return False
        request = check.request
        self._sending = True
        self._revalidate()
        self.status.setText(f"sending {request.side} {request.quantity:g} {request.symbol}…")
        spawn(self._orders.place(request), done=self._sent, failed=self._send_failed,
              name=f"place {request.client_key}")
        return True

    def _sent(self, order: Order) -> None:
        self._sending = False
        request = order.request
        self.status.setText(f"sent {request.side} {request.quantity:g} {request.symbol} "
                            f"({request.order_type}): {order.state.value}")
        self._revalidate()
        self.order_sent.emit(order)

    def _send_failed(self, exc: BaseException) -> None:
        self._sending = False
        problems = [("order", m) for _, m in getattr(exc, "problems", [])] or \
            [("order", _message(exc))]
        self._revalidate()
        self._show_problems(problems)
        self.status.setText("not sent: " + "; ".join(m for _, m in problems))
        self.refused.emit(problems)


def _message(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    if problems:
        return "; ".join(m for _, m in problems)
    return str(exc) or type(exc).__name__


def _quote_text(quote: Quote | None) -> str:
    if quote is None:
        return fmt.DASH
    return (f"bid {fmt.price(quote.bid, 4)} · ask {fmt.price(quote.ask, 4)} · "
            f"last {fmt.price(quote.last, 4)}")
