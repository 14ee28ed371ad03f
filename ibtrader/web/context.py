"""What every view of the web layer works with, kept on the Flask app.

`create_app` stores one `WebContext` in `app.extensions["ibtrader"]`; views reach it with
`web_context()`. Nothing in it is an engine object: the bridge is the only way to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import current_app

from ibtrader.web.metrics import Metrics

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.web.bridge import EngineBridge
    from ibtrader.web.credentials import CredentialStore

EXTENSION = "ibtrader"


@dataclass
class WebContext:
    settings: Settings
    credentials: CredentialStore
    bridge: EngineBridge | None = None  # None: the web runs before the engine is up
    metrics: Metrics = field(default_factory=Metrics)
    jobs: Any = None  # backtest jobs, run in other processes (see ibtrader.backtest.jobs)
    max_streams: int = 8  # open event streams at once; each holds a server thread
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bridge is not None:
            self.use_bridge(self.bridge)

    def use_bridge(self, bridge: EngineBridge | None) -> None:
        """Serve this engine from now on (None: the engine stopped). Its events count in
        this app's metrics."""
        if bridge is not None:
            bridge.metrics = self.metrics
        self.bridge = bridge


def web_context() -> WebContext:
    return current_app.extensions[EXTENSION]
