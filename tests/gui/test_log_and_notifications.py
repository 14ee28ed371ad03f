"""The activity log (records from any thread, shown in coalesced batches) and the
notifications (fills once per execution, refusals, risk events; bursts as one pop-up)."""

from __future__ import annotations

import logging
import threading

from PySide6.QtWidgets import QMainWindow

from ibtrader.core.broker import BrokerFill
from ibtrader.core.orders.request import OrderRequest
from ibtrader.gui.log_panel import LogPanel
from ibtrader.gui.notifications import NotificationsPanel, Notifier


def test_log_lines_from_other_threads_arrive_in_few_repaints(qtbot):
    panel = LogPanel(hz=20)
    qtbot.addWidget(panel)
    logger = logging.getLogger("ibtrader.test_log_panel")
    logger.setLevel(logging.INFO)
    panel.install(logger)
    try:
        def burst() -> None:
            for i in range(500):
                logger.info("order %d filled", i)
        worker = threading.Thread(target=burst)
        worker.start()
        worker.join()
        logging.getLogger("chatty.library").info("not ours, not shown")
        qtbot.waitUntil(lambda: "order 499 filled" in panel.toPlainText(), timeout=3000)
    finally:
        panel.uninstall(logger)
    text = panel.toPlainText()
    assert text.count(" filled") == 500 and text.index("order 0 ") < text.index("order 499")
    assert panel._coalescer.flushes <= 5  # 500 records, a handful of appends
    assert "INFO" in text and "ibtrader.test_log_panel" in text


def test_serious_records_of_other_libraries_are_shown(qtbot):
    panel = LogPanel()
    qtbot.addWidget(panel)
    other = logging.getLogger("ib_async.wrapper")
    panel.install(other)
    try:
        other.info("chatter")
        other.error("Error 200: no security definition")
        qtbot.waitUntil(lambda: "Error 200" in panel.toPlainText(), timeout=3000)
    finally:
        panel.uninstall(other)
    assert "chatter" not in panel.toPlainText()


def fill(exec_id: str, quantity: float = 10) -> BrokerFill:
    return BrokerFill(exec_id, "ref1", 1, 1, "AAPL", "BUY", quantity, 190.25, 0.0)


def test_fills_refusals_and_risk_events_become_notifications(qtbot, tmp_path):
    window = QMainWindow()
    window.resize(900, 600)
    qtbot.addWidget(window)
    panel = NotificationsPanel(window)
    window.setCentralWidget(panel)
    window.show()
    notifier = Notifier(window, panel, use_tray=False)
    notifier.on_fill(fill("e1"))
    notifier.on_fill(fill("e1"))  # the same execution again, with its commission
    notifier.on_refused(OrderRequest("TSLA", "sell", 50, "k1"),
                        [("max_order_value", "order value 60,000 is above 50,000")])
    notifier.on_risk("daily loss limit reached: only reducing orders")
    rows = [panel.item(i).text() for i in range(panel.count())]
    assert len(rows) == 3 and notifier.shown == 3
    assert "Risk: daily loss limit reached" in rows[0]  # newest first
    assert "Order refused: sell 50 TSLA: order value 60,000 is above 50,000" in rows[1]
    assert "Fill: BUY 10 AAPL @ 190.25" in rows[2]
    qtbot.waitUntil(notifier.toast.isVisible, timeout=2000)
    # a burst: one pop-up naming the newest and how many came with it
    assert "(+2 more)" in notifier.toast.text.text()
    assert "daily loss limit" in notifier.toast.text.text()
    window.grab().save(str(tmp_path / "toast.png"))


def test_a_rejected_order_is_announced_once_it_is_rejected(qtbot):
    from ibtrader.core.orders.lifecycle import Order, OrderState

    window = QMainWindow()
    qtbot.addWidget(window)
    panel = NotificationsPanel(window)
    notifier = Notifier(window, panel, use_tray=False)
    request = OrderRequest("AAPL", "buy", 5, "k9", order_type="lmt", limit=150.0)
    notifier.on_order(Order("k9", request, state=OrderState.WORKING))
    assert panel.count() == 0
    notifier.on_order(Order("k9", request, state=OrderState.REJECTED,
                            last_error="201: order rejected - margin"))
    notifier.on_order(Order("k9", request, state=OrderState.REJECTED, last_error="again"))
    assert panel.count() == 1
    assert "Order rejected: buy 5 AAPL: 201: order rejected - margin" in panel.item(0).text()
