"""Positions, account values, portfolio, account summary and P&L for one client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ibtrader.sim.contracts import wire_contract
from ibtrader.sim.handlers.base import Desk
from ibtrader.sim.matching import OrderFilled
from ibtrader.sim.protocol import requests as rq
from ibtrader.sim.protocol import responses as out

PNL_INTERVAL = 1.0
ACCOUNT_INTERVAL = 10.0
# account values that are not money amounts in the base currency
TEXT_VALUES = {"AccountCode", "AccountType", "Currency"}


class AccountDesk(Desk):
    def __init__(self, session: Any, server: Any) -> None:
        super().__init__(session, server)
        self.positions_subscribed = False
        self.updates_account: str | None = None
        self.multi: dict[int, str] = {}
        self.summaries: dict[int, set[str] | None] = {}
        self.pnl: set[int] = set()
        self.pnl_single: dict[int, int] = {}
        self._next_pnl = 0.0
        self._next_account = 0.0

    def handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            rq.ReqCurrentTime: lambda r: self.send(out.current_time(int(self.server.clock()))),
            rq.ReqManagedAccts: lambda r: self.send(out.managed_accounts(self.account.account_id)),
            rq.ReqPositions: self.positions,
            rq.CancelPositions: self._cancel_positions,
            rq.ReqAccountUpdates: self.account_updates,
            rq.ReqAccountUpdatesMulti: self.account_updates_multi,
            rq.CancelAccountUpdatesMulti: lambda r: self.multi.pop(r.req_id, None),
            rq.ReqAccountSummary: self.account_summary,
            rq.CancelAccountSummary: lambda r: self.summaries.pop(r.req_id, None),
            rq.ReqPnL: self.subscribe_pnl,
            rq.CancelPnL: lambda r: self.pnl.discard(r.req_id),
            rq.ReqPnLSingle: self.subscribe_pnl_single,
            rq.CancelPnLSingle: lambda r: self.pnl_single.pop(r.req_id, None),
        }

    @property
    def account(self) -> Any:
        return self.exchange.account

    def watched_con_ids(self) -> set[int]:
        # P&L and portfolio values need marks for every held instrument
        if self.pnl or self.pnl_single or self.updates_account:
            return {p.con_id for p in self.account.positions.values() if p.quantity}
        return set()

    # ----- positions -------------------------------------------------------------------
    def positions(self, req: rq.ReqPositions) -> None:
        self.positions_subscribed = True
        for position in self.account.positions.values():
            if position.quantity:
                self._send_position(position)
        self.send(out.position_end())

    def _cancel_positions(self, req: rq.CancelPositions) -> None:
        self.positions_subscribed = False

    def _send_position(self, position: Any) -> None:
        instrument = self.exchange.instrument(position.con_id)
        contract = wire_contract(instrument, instrument.primary_exchange)
        self.send(out.position(self.account.account_id, contract, position.quantity,
                               position.avg_cost * instrument.multiplier))

    # ----- account updates -------------------------------------------------------------
    def account_updates(self, req: rq.ReqAccountUpdates) -> None:
        if not req.subscribe:
            self.updates_account = None
            return
        account_id = req.acct_code or self.account.account_id
        if account_id != self.account.account_id:
            self.session.error(-1, 321, f"Error validating request: unknown account {account_id}")
            return
        self.updates_account = account_id
        self._send_account_values()
        for position in self.account.positions.values():
            self._send_portfolio(position)
        self.send(out.account_download_end(account_id))
        self._next_account = self.server.clock() + ACCOUNT_INTERVAL

    def _account_rows(self) -> list[tuple[str, str, str]]:
        currency = self.account.currency
        rows = [("AccountCode", self.account.account_id, ""), ("AccountType", "INDIVIDUAL", ""),
                ("Currency", currency, currency)]
        rows += [(key, f"{value:.2f}", currency) for key, value in self.account.values().items()]
        return rows

    def _send_account_values(self) -> None:
        account_id = self.account.account_id
        for key, value, currency in self._account_rows():
            self.send(out.update_account_value(key, value, currency, account_id))
        self.send(out.update_account_time(dt.datetime.now().strftime("%H:%M")))

    def _send_portfolio(self, position: Any) -> None:
        instrument = self.exchange.instrument(position.con_id)
        contract = wire_contract(instrument, instrument.primary_exchange)
        mult = instrument.multiplier
        price = position.market_price
        self.send(out.update_portfolio(
            contract, position.quantity, price, position.quantity * price * mult,
            position.avg_cost * mult, self.account.unrealized_pnl(position.con_id),
            position.realized_pnl, self.account.account_id,
        ))

    def account_updates_multi(self, req: rq.ReqAccountUpdatesMulti) -> None:
        self.multi[req.req_id] = req.model_code
        self._send_multi(req.req_id, req.model_code)
        self.send(out.account_update_multi_end(req.req_id))

    def _send_multi(self, req_id: int, model_code: str) -> None:
        for key, value, currency in self._account_rows():
            self.send(out.account_update_multi(req_id, self.account.account_id, model_code,
                                               key, value, currency))

    def account_summary(self, req: rq.ReqAccountSummary) -> None:
        tags = {t.strip() for t in req.tags.split(",") if t.strip()}
        wanted = None if not tags or "All" in tags else tags
        self.summaries[req.req_id] = wanted
        self._send_summary(req.req_id, wanted)
        self.send(out.account_summary_end(req.req_id))

    def _send_summary(self, req_id: int, wanted: set[str] | None) -> None:
        for key, value, currency in self._account_rows():
            if wanted is None or key in wanted:
                self.send(out.account_summary(req_id, self.account.account_id, key, value,
                                              currency))

    # ----- P&L ---------------------------------------------------------------------------
    def subscribe_pnl(self, req: rq.ReqPnL) -> None:
        self.pnl.add(req.req_id)
        self._send_pnl(req.req_id)

    def subscribe_pnl_single(self, req: rq.ReqPnLSingle) -> None:
        self.pnl_single[req.req_id] = req.con_id
        self._send_pnl_single(req.req_id, req.con_id)

    def _send_pnl(self, req_id: int) -> None:
        daily, unrealized, realized = self.account.pnl()
        self.send(out.pnl(req_id, daily, unrealized, realized))

    def _send_pnl_single(self, req_id: int, con_id: int) -> None:
        position, daily, unrealized, realized, value = self.account.pnl_single(con_id)
        self.send(out.pnl_single(req_id, position, daily, unrealized, realized, value))

    # ----- driven by the server ----------------------------------------------------------
    def on_market(self, now: float, quiet: bool) -> None:
        if now >= self._next_pnl and (self.pnl or self.pnl_single):
            self._next_pnl = now + PNL_INTERVAL
            for req_id in self.pnl:
                self._send_pnl(req_id)
            for req_id, con_id in self.pnl_single.items():
                self._send_pnl_single(req_id, con_id)
        if self.updates_account and now >= self._next_account:
            self._next_account = now + ACCOUNT_INTERVAL
            self._send_account_values()
            for position in self.account.positions.values():
                self._send_portfolio(position)

    def on_account_changed(self, events: list[object]) -> None:
        filled = {e.order.con_id for e in events if isinstance(e, OrderFilled)}
        if not filled:
            return
        for con_id in filled:
            position = self.account.positions.get(con_id)
            if position is None:
                continue
            if self.positions_subscribed:
                self._send_position(position)  # quantity 0 tells the client it is closed
            if self.updates_account:
                self._send_portfolio(position)
        if self.updates_account:
            self._send_account_values()
        for req_id, model_code in self.multi.items():
            self._send_multi(req_id, model_code)
        for req_id, wanted in self.summaries.items():
            self._send_summary(req_id, wanted)
