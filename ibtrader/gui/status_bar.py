"""`StatusBar`: connection state (a coloured dot and words), account, server time, latency.

- state: from the broker's `state_changed` (green connected, amber connecting/reconnecting,
  red lost/disconnected), with the reason as a tooltip;
- server time: the broker's clock, asked every `SERVER_TIME_EVERY` seconds and shown
  ticking with the local clock in between (the offset tells of a skewed clock);
- latency: how old the newest quote was when the watchlist showed it (coalescing and loop
  delays included), the worst in the last second;
- outbox: records waiting for the backing services (NocoDB, MinIO, n8n) and the age of the
  oldest, read off the loop every `OUTBOX_EVERY` seconds; shown only when something waits
  or a service fails, so the embedded setup never sees it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from ibtrader.core.broker import ConnectionState
from ibtrader.gui.theme import semantic_colour

if TYPE_CHECKING:
    from ibtrader.app import Engine

log = logging.getLogger(__name__)

SERVER_TIME_EVERY = 30.0
OUTBOX_EVERY = 2.0
_STATE_ROLE = {ConnectionState.CONNECTED: "ok", ConnectionState.CONNECTING: "warn",
               ConnectionState.RECONNECTING: "warn", ConnectionState.LOST: "bad",
               ConnectionState.DISCONNECTED: "bad"}


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_label = QLabel(self)
        self.account_label = QLabel("account —", self)
        self.time_label = QLabel("server —", self)
        self.latency_label = QLabel("latency —", self)
        self.outbox_label = QLabel(self)
        for label in (self.outbox_label, self.state_label, self.account_label,
                      self.time_label, self.latency_label):
            self.addPermanentWidget(label)
        self.outbox_label.hide()
        self.state: ConnectionState = ConnectionState.DISCONNECTED
        self.server_offset: float | None = None  # server clock minus local clock, seconds
        self._latency_worst = 0.0
        self._engine: Engine | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._every_second)
        self.show_state(ConnectionState.DISCONNECTED, "not started")

    # ----- the engine ---------------------------------------------------------------------
    def attach(self, engine: Engine, account: str = "") -> None:
        self._engine = engine
        engine.broker.state_changed += self.show_state
        self.show_state(engine.broker.state, "")
        self.show_account(account or _managed_account(engine))
        self._clock_task = asyncio.ensure_future(self._ask_server_time())
        if engine.delivery is not None:
            self._outbox_task = asyncio.ensure_future(self._watch_outbox(engine))
        self._tick.start()

    def detach(self) -> None:
        if self._engine is not None:
            self._engine.broker.state_changed -= self.show_state
            self._engine = None
        for task in (self._clock_task, self._outbox_task):
            if task is not None:
                task.cancel()
        self._outbox_task = None
        self.show_outbox(0, None, {})
        self._tick.stop()

    # ----- what it shows ------------------------------------------------------------------
    def show_state(self, state: ConnectionState, reason: str) -> None:
        self.state = state
        colour = semantic_colour(_STATE_ROLE[state]).name()
        self.state_label.setText(f"<span style='color:{colour}'>●</span> {state.value}")
        self.state_label.setToolTip(reason or state.value)
        self.state_label.setProperty("state", state.value)

    def show_account(self, account: str) -> None:
        self.account_label.setText(f"account {account or '—'}")

    def show_outbox(self, depth: int, oldest_age: float | None,
                    failing: dict[str, str]) -> None:
        """"outbox N waiting, oldest Xs" (and which services fail), hidden when nothing
        waits and nothing fails."""
        if depth <= 0 and not failing:
            self.outbox_label.hide()
            self.outbox_label.setText("")
            return
        text = f"outbox {depth} waiting"
        if depth > 0 and oldest_age is not None:
            text += f", oldest {_age(oldest_age)}"
        tip = "records queued for the backing services; none is lost while they are down"
        if failing:
            colour = semantic_colour("bad" if depth else "warn").name()
            text = (f"<span style='color:{colour}'>●</span> {text}; "
                    f"{', '.join(sorted(failing))} failing")
            tip = "\n".join(f"{name}: {error}" for name, error in sorted(failing.items()))
        self.outbox_label.setText(text)
        self.outbox_label.setToolTip(tip)
        self.outbox_label.show()

    def show_latency(self, seconds: float) -> None:
        self._latency_worst = max(self._latency_worst, seconds)

    def _every_second(self) -> None:
        if self.server_offset is not None:
            now = dt.datetime.fromtimestamp(time.time() + self.server_offset, dt.UTC)
            self.time_label.setText(f"server {now:%H:%M:%S} UTC")
        self.latency_label.setText(f"latency {self._latency_worst * 1000:.0f} ms")
        self._latency_worst = 0.0

    async def _ask_server_time(self) -> None:
        while True:
            ib = _ib_session(self._engine)
            if ib is not None and self.state == ConnectionState.CONNECTED:
                try:
                    server = await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5.0)
                    self.server_offset = server.timestamp() - time.time()
                except Exception as exc:  # the next round tries again
                    log.debug("server time not read: %s", exc)
            await asyncio.sleep(SERVER_TIME_EVERY if self.server_offset is not None else 2.0)


    async def _watch_outbox(self, engine: Engine) -> None:
        while True:
            try:  # SQLite may wait on the delivery lanes' lock: never on the GUI's loop
                depth, oldest = await asyncio.to_thread(engine.outbox_depth)
                self.show_outbox(depth, oldest, engine.failing_sinks())
            except Exception as exc:  # the outbox closing at shutdown; the next round retries
                log.debug("outbox depth not read: %s", exc)
            await asyncio.sleep(OUTBOX_EVERY)


def _age(seconds: float) -> str:
    """12s, 4m05s, 2h03m: short enough for a status bar."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole // 60 % 60:02d}m"


def _ib_session(engine: Engine | None) -> Any:
    # the IB session behind the broker port, when it is one (duck-typed: views never import
    # the adapters); None for another broker
    connection = getattr(engine.broker, "connection", None) if engine else None
    return getattr(connection, "ib", None)


def _managed_account(engine: Engine) -> str:
    ib = _ib_session(engine)
    try:
        accounts = ib.managedAccounts() if ib is not None else []
    except Exception:
        return ""
    return ",".join(accounts)
