"""The signals panel against the real engine: a user strategy that signals on the forming
bar makes a pending decision within seconds; the trader accepts it with a click and the
order manager gets the order. Switches and the journal's history too."""

from __future__ import annotations

import textwrap

from PySide6.QtCore import Qt

from ibtrader.core.decisions import DecisionState
from ibtrader.gui.trading.signals_panel import SignalsPanel
from tests.gui.trading.conftest import settings_for
from tests.gui.trading.shots import colours, grab

EAGER = '''
    from ibtrader.core.indicators import make_indicator
    from ibtrader.core.strategy import NO_SIGNALS, Strategy

    class Eager(Strategy):
        """buys on every forming 1-minute bar once its SMA is ready"""
        name = "eager_gui"
        bar_size = "1 min"
        sees_forming = True

        def indicators(self):
            return {"sma": make_indicator("sma", period=5)}

        def on_bar(self, ctx):
            if ctx.forming and ctx.values["sma"] is not None:
                return [self.signal(ctx, "buy", "a forming bar",
                                    values={"sma": ctx.values["sma"]},
                                    stop=round(ctx.bar.close * 0.99, 2))]
            return NO_SIGNALS
'''


def eager_settings(tmp_path):
    settings = settings_for(tmp_path, strategies=("eager_gui",))
    settings.strategies_dir.mkdir(parents=True, exist_ok=True)
    (settings.strategies_dir / "eager.py").write_text(textwrap.dedent(EAGER))
    return settings


def test_accept_a_pending_decision_and_the_order_manager_gets_it(qtbot, engine_for, tmp_path):
    engine = engine_for(eager_settings(tmp_path))
    panel = SignalsPanel(engine.trading, engine.journal)
    qtbot.addWidget(panel)
    panel.resize(1300, 500)
    panel.show()
    qtbot.waitExposed(panel)

    qtbot.waitUntil(lambda: bool(panel.pending_ids()), timeout=20_000)
    [pending] = panel.pending_ids()
    row = panel.model.find(pending)
    assert panel.model.text(pending, "Strategy") == "eager_gui"
    assert panel.model.text(pending, "Decision") == "open buy"
    assert panel.model.text(pending, "Why").startswith("a forming bar")
    assert panel.model.text(pending, "Indicators").startswith("sma=")
    assert not panel.accept_button.isEnabled()  # nothing selected yet

    panel.view.selectRow(row)
    assert panel.accept_button.isEnabled() and "sma=" in panel.detail.text()
    grab(panel, tmp_path / "signals_pending.png")
    qtbot.mouseClick(panel.accept_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.text(pending, "State") == "submitted",
                    timeout=15_000)
    assert engine.trading.journal.decision(pending).state is DecisionState.SUBMITTED
    [order] = [o for o in engine.orders.orders() if o.request.decision_id == pending
               and not o.parent_key]
    assert order.request.side == "buy" and order.request.stop_loss is not None
    assert "submitted" in panel.status.text()
    image = grab(panel, tmp_path / "signals_accepted.png")
    assert len(colours(image)) > 20

    # the history: a panel opened now shows the decision from the journal, as it ended
    later = SignalsPanel(engine.trading, engine.journal)
    qtbot.addWidget(later)
    assert later.model.find(pending) >= 0
    assert later.model.text(pending, "State") == "submitted"
    assert later.model.text(pending, "Why").startswith("a forming bar")


def test_strategy_switches_reach_the_engine_and_dismiss_works(qtbot, engine_for, tmp_path):
    engine = engine_for(eager_settings(tmp_path))
    panel = SignalsPanel(engine.trading, engine.journal)
    qtbot.addWidget(panel)
    panel.show()
    [status] = engine.trading.status()
    assert panel.switches.box("eager_gui", "enabled").isChecked() == status.enabled is True

    qtbot.waitUntil(lambda: bool(panel.pending_ids()), timeout=20_000)
    [pending] = panel.pending_ids()
    panel.select(pending)
    qtbot.mouseClick(panel.dismiss_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.text(pending, "State") == "dismissed", timeout=5_000)
    assert not panel.accept_button.isEnabled()

    qtbot.keyClick(panel.switches.box("eager_gui", "auto"), Qt.Key.Key_Space)  # toggles it
    assert engine.trading.status()[0].auto_trade is True
    qtbot.keyClick(panel.switches.box("eager_gui", "enabled"), Qt.Key.Key_Space)
    assert engine.trading.status()[0].enabled is False


def test_all_panels_build_over_one_engine_and_let_go_of_it(qtbot, engine_for, tmp_path):
    from ibtrader.gui.trading.panels import TradingPanels

    settings = settings_for(tmp_path)
    engine = engine_for(settings)
    changed = engine.orders.order_changed
    before = len(changed)
    panels = TradingPanels.build(engine, settings)
    for widget in panels.widgets().values():
        qtbot.addWidget(widget)
    assert len(changed) == before + 1  # the orders panel listens
    panels.detach()
    assert len(changed) == before
    assert all(len(p.subscriptions) == 0 for p in panels.widgets().values())


BROKEN = '''
    from ibtrader.core.strategy import Strategy

    class Broken(Strategy):
        """raises on the first forming bar: a bug in a user's strategy"""
        name = "broken_gui"
        bar_size = "1 min"
        sees_forming = True

        def on_bar(self, ctx):
            raise ZeroDivisionError("a bug in the strategy")
'''


def test_a_strategy_that_raises_is_shown_failed_on_its_symbol(qtbot, engine_for, tmp_path):
    settings = settings_for(tmp_path, strategies=("broken_gui",))
    settings.strategies_dir.mkdir(parents=True, exist_ok=True)
    (settings.strategies_dir / "broken.py").write_text(textwrap.dedent(BROKEN))
    engine = engine_for(settings)
    panel = SignalsPanel(engine.trading, engine.journal)
    qtbot.addWidget(panel)
    problems = []
    panel.problem.connect(problems.append)
    qtbot.waitUntil(lambda: "failed on AAPL" in panel.status.text(), timeout=20_000)
    assert "ZeroDivisionError: a bug in the strategy" in panel.status.text()
    assert "AAPL: failed: ZeroDivisionError" in panel.switches.item(0, 5).text()
    assert problems and panel.model.rowCount() == 0


def test_an_n8n_answer_that_is_refused_is_said_in_the_panel(qtbot, engine_for, tmp_path):
    import dataclasses

    from tests.services.test_n8n_decision_engine import Workflow, serve

    workflow = Workflow(lambda _q: (200, "this is not JSON", 0.0))
    server, url = serve(workflow)
    try:
        settings = settings_for(tmp_path, strategies=("n8n_decision:bar_size=1 min",),
                                n8n_decision_url=url, charts_enabled=False)
        engine = engine_for(settings)
        panel = SignalsPanel(engine.trading, engine.journal)
        qtbot.addWidget(panel)
        panel.resize(900, 400)
        panel.show()
        qtbot.waitUntil(engine.subscribed.done, timeout=30_000)  # backfilled, streaming
        last = engine.market_data.history("AAPL", "1 min")[-1]
        # the next minute's bar closes: the strategy asks the workflow, which answers junk
        engine.market_data.bar_closed.emit("AAPL", "1 min",
                                           dataclasses.replace(last, time=last.time + 60))
        qtbot.waitUntil(lambda: "answer refused" in panel.status.text(), timeout=20_000)
        assert "not JSON" in panel.status.text()
        assert "AAPL: answer refused: " in panel.switches.item(0, 5).text()
        assert workflow.questions and workflow.questions[0]["symbol"] == "AAPL"
        assert panel.model.rowCount() == 0  # no signal, so no decision
        shot = grab(panel, tmp_path / "refused.png")
        assert len(colours(shot)) > 10  # the panel was drawn, not a blank grab
    finally:
        server.shutdown()
        server.server_close()
