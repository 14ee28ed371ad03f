"""Decisions become orders: the whole live path with nothing doubled — simulated gateway ->
IB adapter -> Market Data Service -> Trading Engine (auto-trade) -> Order Manager ->
gateway, and the kill switch turning auto-trade off in the engine (the app's wiring)."""

from __future__ import annotations

import textwrap

from ibtrader.adapters.journal import SqliteOrderJournal
from ibtrader.adapters.objects import FolderObjectStore
from ibtrader.adapters.objects.parquet_bars import ParquetBarStore
from ibtrader.app import disable_auto_trade
from ibtrader.config import Settings
from ibtrader.core.decisions import DecisionState
from ibtrader.services.history_cache import HistoryCache
from ibtrader.services.market_data import MarketDataService
from ibtrader.services.order_manager import OrderManager
from ibtrader.services.trading_engine import TradingEngine
from tests.services import test_market_data_cache as live
from tests.services.order_rig import gateway_orders
from tests.services.test_trading_engine import USER_STRATEGIES

gateway, run = live.gateway, live.run  # fixtures: a fast gateway, a fresh loop


def test_auto_traded_decisions_become_orders_linked_by_decision_id(gateway, run,
                                                                   tmp_path) -> None:
    folder = tmp_path / "strategies"
    folder.mkdir()
    for name, text in USER_STRATEGIES.items():
        (folder / name).write_text(textwrap.dedent(text))
    # sizing capped at 5,000 a position, so that the risk limits let the entries through
    settings = Settings(data_dir=tmp_path, watchlist=("AAPL",), strategies=("updown_test",),
                        auto_trade=("updown_test",), max_position_value=5_000,
                        limit_price_policy="marketable:2", breakeven_r=0.0)

    async def main() -> None:
        broker = live.new_broker(gateway)
        await broker.start()
        clock = live.sim_clock(gateway)
        cache = HistoryCache(ParquetBarStore(FolderObjectStore(tmp_path / "objects")),
                             {"1 min": "3600 S"}, clock=clock)
        service = MarketDataService(broker.market_data, cache, bar_sizes=("1 min",),
                                    clock=clock)
        journal = SqliteOrderJournal(settings.journal_file)  # one file for both sides
        manager = OrderManager(broker.orders, broker.market_data, journal, settings,
                               connection=broker)
        engine = TradingEngine(service, journal, broker.account, manager, settings,
                               clock=clock)
        manager.auto_trade_disabled += lambda _why: disable_auto_trade(engine)
        try:
            await manager.start()
            await engine.start()
            await service.subscribe(["AAPL"])

            def submitted() -> list:
                return journal.decisions(state=DecisionState.SUBMITTED)

            await live.until(lambda: bool(submitted()), timeout=20)
            decision = submitted()[-1]
            linked = [o for o in manager.orders() if o.request.decision_id == decision.id]
            entries = [o for o in linked if not o.parent_key]
            assert entries and all(o.request.source == "decision" for o in linked)
            for order in linked:
                assert len(gateway_orders(gateway, order.client_key)) == 1
                assert journal.order(order.client_key).request.decision_id == decision.id
            # every submitted decision has its order; none has two
            for d in submitted():
                mine = [o for o in manager.orders()
                        if o.request.decision_id == d.id and not o.parent_key
                        and not o.client_key.endswith("-close")]
                assert len(mine) == 1, d
            report = await manager.kill_switch(flatten=True)
            assert report.still_open == () and not report.errors
            assert [s.auto_trade for s in engine.status()] == [False]
        finally:
            await engine.stop()
            await manager.stop()
            await service.stop()
            await broker.stop()
            journal.close()

    run(main(), timeout=40)
