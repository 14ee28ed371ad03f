"""A trader's session in the real main window over the simulator: a pending decision from a
strategy is accepted in the signals panel, an order typed into the docked ticket shows in
Orders, a marketable one fills into Positions, and the kill switch leaves nothing open."""

from __future__ import annotations

import textwrap

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from ibtrader.core.decisions import DecisionState
from ibtrader.gui.workstation import attach_views
from tests.gui.conftest import drive, gui_settings

EAGER = '''
    from ibtrader.core.strategy import NO_SIGNALS, Strategy

    class Eager(Strategy):
        """buys once on a forming 1-minute bar: a pending decision within seconds"""
        name = "eager_window"
        bar_size = "1 min"
        sees_forming = True

        def on_bar(self, ctx):
            if ctx.forming:
                return [self.signal(ctx, "buy", "a forming bar",
                                    stop=round(ctx.bar.close * 0.99, 2))]
            return NO_SIGNALS
'''


def test_a_trading_session_in_the_main_window(qtbot, window_for, tmp_path):
    settings = gui_settings(tmp_path, strategies=("eager_window",))
    settings.strategies_dir.mkdir(parents=True, exist_ok=True)
    (settings.strategies_dir / "eager.py").write_text(textwrap.dedent(EAGER))
    window = window_for(settings)
    window.resize(1600, 1000)
    engine = window.engine
    views = attach_views(window, engine, settings)
    window.test_views = [views]
    ticket, orders = views.panels.ticket, views.panels.orders
    positions, signals = views.panels.positions, views.panels.signals
    qtbot.waitUntil(lambda: ticket.symbol.text() == "AAPL", timeout=20_000)
    quote = drive(qtbot, engine.orders.current_quote("AAPL"), 20.0)
    qtbot.waitUntil(lambda: "bid" in ticket.quote_line.text(), timeout=20_000)

    # a pending decision, accepted with a click
    qtbot.waitUntil(lambda: bool(signals.pending_ids()), timeout=30_000)
    pending = signals.pending_ids()[0]
    signals.view.selectRow(signals.model.find(pending))
    qtbot.mouseClick(signals.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.trading.journal.decision(pending).state
                    is DecisionState.SUBMITTED, timeout=15_000)
    assert any(o.request.decision_id == pending for o in engine.orders.orders())

    # a resting limit, typed and clicked
    ticket.order_type.setCurrentText("lmt")
    qtbot.keyClicks(ticket.quantity, "5")
    limit = round(quote.bid * 0.98, 2)
    qtbot.keyClicks(ticket.limit, f"{limit:.2f}")
    qtbot.mouseClick(ticket.buy, Qt.MouseButton.LeftButton)

    def typed_order_shown() -> bool:
        mine = [o for o in engine.orders.orders(open_only=True)
                if o.request.limit == limit and not o.request.decision_id]
        return len(mine) == 1 and orders.working.find(mine[0].client_key) >= 0

    qtbot.waitUntil(typed_order_shown, timeout=15_000)

    # a marketable one, sent with the keyboard, fills into Positions
    ticket.limit.clear()
    qtbot.keyClicks(ticket.limit, f"{quote.ask * 1.01:.2f}")
    ticket.limit.setFocus()
    qtbot.keyClick(ticket.limit, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: positions.model.find("AAPL") >= 0, timeout=15_000)
    window.grab().save(str(tmp_path / "session_filled.png"))

    # the kill switch: nothing left open
    qtbot.mouseClick(window.kill_switch, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.kill_switch.tripped, timeout=20_000):
        qtbot.mouseClick(window.kill_switch.dialog.button(QMessageBox.StandardButton.Yes),
                         Qt.MouseButton.LeftButton)
    assert engine.orders.orders(open_only=True) == []
    qtbot.waitUntil(lambda: orders.working.rowCount() == 0, timeout=5_000)
    window.grab().save(str(tmp_path / "session_after_kill_switch.png"))
