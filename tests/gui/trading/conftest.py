"""The trading panels' helpers; the loop and the engine come from tests/gui/conftest.py
(`qloop`, `engine_for`, `drive`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

from ibtrader.app import Engine
from ibtrader.config import Settings
from ibtrader.core.market import Quote
from ibtrader.core.orders.lifecycle import Order
from ibtrader.core.orders.request import OrderRequest, new_client_key
from tests.gui.conftest import drive

__all__ = ["drive", "limit_request", "quote_of", "resting_buy", "settings_for"]

T = TypeVar("T")


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    values = {"watchlist": ("AAPL",), "strategies": (), **values}
    return Settings(data_dir=tmp_path / "data", **values)


def limit_request(symbol: str, side: str, quantity: float, limit: float) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, quantity=quantity, order_type="lmt",
                        limit=limit, client_key=new_client_key(time.time()))


def quote_of(qtbot: Any, engine: Engine, symbol: str = "AAPL") -> Quote:
    """The symbol's quote as the order manager holds it (subscribing first). The manager
    waits `order_quote_timeout` for a first quote; on a loaded machine (other suites on
    the same two cores) the first one can come later, so this waits longer."""
    drive(qtbot, engine.orders.current_quote(symbol))
    qtbot.waitUntil(lambda: engine.orders.quote(symbol) is not None, timeout=20_000)
    return engine.orders.quote(symbol)


def resting_buy(qtbot: Any, engine: Engine, quantity: float = 5) -> Order:
    """A buy limit 2% under the bid: it works and does not fill."""
    quote = quote_of(qtbot, engine)
    price = round(quote.bid * 0.98, 2)
    return drive(qtbot, engine.orders.place(limit_request("AAPL", "buy", quantity, price)))
