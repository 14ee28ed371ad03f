"""The simulated venue: instruments, price paths, the matching engine and the paper account.

Everything here runs on the gateway's own event loop and is synchronous: one call in,
a list of engine events out. The server turns those events into wire messages; this
module only keeps the world consistent and persisted.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ibtrader.sim.account import PaperAccount
from ibtrader.sim.commissions import IBTieredStyle
from ibtrader.sim.contracts import WirePayload
from ibtrader.sim.market.calendar import TradingCalendar
from ibtrader.sim.market.instruments import (
    DEFAULT_UNIVERSE,
    Instrument,
    Universe,
    synthetic_stocks,
)
from ibtrader.sim.market.prices import PriceModel, Quote
from ibtrader.sim.market.quotes import QUOTE_HZ
from ibtrader.sim.matching import Execution, MatchingEngine, OrderFilled, SimOrder
from ibtrader.sim.matching_types import ends_order
from ibtrader.sim.store import SimStore

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "DU1234567"


@dataclass(frozen=True)
class ExchangeConfig:
    seed: int = 42
    account_id: str = DEFAULT_ACCOUNT
    starting_cash: float = 1_000_000.0
    around_the_clock: bool = True
    state_file: Path | None = None
    instruments: tuple[Instrument, ...] = field(default=())
    extra_symbols: int = 0


class SimExchange:
    """The world the gateway serves: one paper account trading one universe."""

    def __init__(self, config: ExchangeConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        today = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
        instruments = tuple(config.instruments or DEFAULT_UNIVERSE)
        instruments += synthetic_stocks(config.extra_symbols)
        self.universe = Universe(instruments, today)
        self._calendars: dict[int, TradingCalendar] = {}
        self._models: dict[int, PriceModel] = {}
        self._quotes: dict[int, tuple[int, Quote]] = {}
        self.store = SimStore(config.state_file)
        self.account = self.store.load_account(config.account_id) or PaperAccount(
            config.account_id, cash=config.starting_cash
        )
        self.engine = MatchingEngine(
            self.account, self.instrument, IBTieredStyle(), exec_ids=self.store.next_exec_id
        )
        self._restore_open_orders()

    # ----- instruments and prices -------------------------------------------------------
    def instrument(self, con_id: int) -> Instrument:
        found = self.universe.by_con_id(con_id)
        if found is None:
            raise KeyError(f"no instrument with conId {con_id}")
        return found

    def calendar(self, con_id: int) -> TradingCalendar:
        cal = self._calendars.get(con_id)
        if cal is None:
            cal = TradingCalendar(self.instrument(con_id),
                                  around_the_clock=self.config.around_the_clock)
            self._calendars[con_id] = cal
        return cal

    def model(self, con_id: int) -> PriceModel:
        model = self._models.get(con_id)
        if model is None:
            model = PriceModel(self.instrument(con_id), self.config.seed, self.calendar(con_id))
            self._models[con_id] = model
        return model

    def quote(self, con_id: int, now: float | None = None) -> Quote:
        """The book at `now`. Quotes change QUOTE_HZ times a second; within one slot the
        same Quote is returned, so a fast market loop and several clients cost one build."""
        now = self.clock() if now is None else now
        slot = math.floor(now * QUOTE_HZ)
        cached = self._quotes.get(con_id)
        if cached is not None and cached[0] == slot:
            return cached[1]
        quote = self.model(con_id).quote_at(now)
        self._quotes[con_id] = (slot, quote)
        return quote

    def is_open(self, con_id: int, now: float, outside_rth: bool = True) -> bool:
        return self.calendar(con_id).is_open(now, rth=not outside_rth)

    # ----- orders ------------------------------------------------------------------------
    def place(self, order: SimOrder, now: float) -> list[object]:
        quote = self.quote(order.con_id, now)
        self.account.mark(order.con_id, quote.last)
        return self._settle(self.engine.place(order, quote, now))

    def cancel(self, key: tuple[int, int], now: float) -> list[object]:
        return self._settle(self.engine.cancel(key, now))

    def cancel_all(self, now: float) -> list[object]:
        return self._settle(self.engine.cancel_all(now))

    def step(self, con_ids: Iterable[int], now: float) -> list[object]:
        """Advance the market to `now` for the given instruments: mark, then match."""
        events: list[object] = []
        for con_id in con_ids:
            quote = self.quote(con_id, now)
            self.account.mark(con_id, quote.last)
            events.extend(self.engine.on_quote(con_id, quote, now))
        return self._settle(events)

    def working_con_ids(self) -> set[int]:
        return {o.con_id for o in self.engine.open_orders()}

    def open_orders(self) -> list[SimOrder]:
        return self.engine.open_orders()

    def executions(self, since: float | None = None) -> list[Execution]:
        return self.store.executions(since)

    # ----- persistence -------------------------------------------------------------------
    def _settle(self, events: list[object]) -> list[object]:
        """Write what the events changed before anyone is told about them."""
        if not events:
            return events
        for event in events:
            order: SimOrder = event.order  # type: ignore[attr-defined]
            wire_json = order.wire.to_json() if order.wire is not None else "{}"
            if isinstance(event, OrderFilled):
                self.store.add_execution(event.execution)
            if ends_order(event):
                self.store.remove_order(order)
                self.store.add_completed(order, wire_json, now_text(self.clock()))
            elif order.is_live or order.is_held:
                self.store.save_order(order, wire_json)
        self.store.save_account(self.account)
        return events

    def _restore_open_orders(self) -> None:
        restored = []
        for order, wire_json in self.store.load_open_orders():
            order.wire = WirePayload.from_json(wire_json)
            restored.append(order)
        if restored:
            self.engine.restore(restored)
            log.info("restored %d open orders from %s", len(restored), self.config.state_file)

    def new_session_day(self, now: float) -> list[object]:
        """Expire DAY orders and start the daily P&L anew (called at each day boundary)."""
        events = self.engine.end_of_day(now)
        self.account.start_day(now)
        return self._settle(events)

    def close(self) -> None:
        self.store.save_account(self.account)
        self.store.close()


def now_text(epoch: float) -> str:
    """IB's timestamp text for completed orders and executions, in UTC."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%d %H:%M:%S UTC")
