"""Account, positions and performance.

The account and positions come from the bridge's snapshots. Performance reads the
journal's executions and the Order Manager's P&L on the engine's loop, then replays the
executions here (in the server's thread) to count round trips: a trade is a position from
flat back to flat (a fill through zero closes one and opens the next), and its P&L is what
its closing fills realized, net of commissions, as the portfolio books it (average cost).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, jsonify

from ibtrader.core.broker import BrokerFill
from ibtrader.core.orders.portfolio import QTY_EPS, Portfolio, fill_sign
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import call, engine
from ibtrader.web.serialize import number


@blueprint.get("/account")
def account() -> Response:
    return jsonify(engine().snapshot.account)


@blueprint.get("/positions")
def positions() -> Response:
    return jsonify({"positions": engine().snapshot.positions})


@blueprint.get("/performance")
def performance() -> Response:
    bridge = engine()

    def read() -> tuple[list[BrokerFill], tuple[float, float, float], dict[str, float]]:
        om = bridge.engine.orders
        book = om.portfolio
        return (bridge.engine.journal.executions(), book.totals(),
                {s: book.multiplier(s) for s in book.symbols()})

    fills, (daily, unrealized, realized), multipliers = call(read)
    stats = trade_stats(fills, multipliers)
    return jsonify({"equity": bridge.snapshot.account.get("net_liquidation"),
                    "realized_pnl": number(realized), "unrealized_pnl": number(unrealized),
                    "daily_pnl": number(daily), **stats})


def trade_stats(fills: Iterable[BrokerFill], multipliers: Mapping[str, float]
                ) -> dict[str, Any]:
    """Closed round trips from executions (oldest first): their count, win rate, average
    win and loss, and the largest fall of cumulative realized P&L from a peak."""
    ordered = sorted(fills, key=lambda f: f.time)
    book = Portfolio(multipliers)
    book.apply_all(ordered)  # commission reports included: each fill's final realized P&L
    held: dict[str, float] = {}
    open_pnl: dict[str, float] = {}  # symbol -> realized so far by its open trade
    trades: list[float] = []
    seen: set[str] = set()
    for fill in ordered:
        if fill.exec_id in seen:
            continue
        seen.add(fill.exec_id)
        before = held.get(fill.symbol, 0.0)
        after = held[fill.symbol] = before + fill_sign(fill.side) * fill.quantity
        pnl = open_pnl.pop(fill.symbol, 0.0) + book.realized_of(fill.exec_id)
        if abs(before) > QTY_EPS and (abs(after) <= QTY_EPS or before * after < 0):
            trades.append(pnl)
            if abs(after) > QTY_EPS:
                open_pnl[fill.symbol] = 0.0  # the rest opened a trade the other way
        else:
            open_pnl[fill.symbol] = pnl
    wins = [t for t in trades if t > 0]
    losses = [t for t in trades if t <= 0]
    peak = cumulative = drawdown = 0.0
    for pnl in trades:
        cumulative += pnl
        peak = max(peak, cumulative)
        drawdown = max(drawdown, peak - cumulative)
    return {"closed_trades": len(trades),
            "win_rate": len(wins) / len(trades) if trades else None,
            "average_win": _mean(wins), "average_loss": _mean(losses),
            "max_drawdown": number(drawdown)}


def _mean(values: list[float]) -> float | None:
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    return number(mean)
