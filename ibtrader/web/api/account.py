"""Account, positions and performance.

The account and positions come from the bridge's snapshots. Performance reads the
journal's executions and the Order Manager's P&L on the engine's loop, then replays the
executions here (in the server's thread) to count round trips (core.performance). The
day's row (equity, P&L, trades, win rate, drawdown) is computed on the engine's loop by
its DailyPerformanceService, saved in the journal (and so mirrored) and returned.
"""

from __future__ import annotations

from flask import Response, jsonify

from ibtrader.core.broker import BrokerFill
from ibtrader.core.performance import trade_stats
from ibtrader.web.api import blueprint
from ibtrader.web.api.inputs import call, engine
from ibtrader.web.errors import ApiError
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


@blueprint.post("/performance/daily")
def daily_performance() -> Response:
    """Compute today's row now (the engine samples the account first), save it in the
    journal (and so in the mirror) and return it."""
    bridge = engine()
    service = getattr(bridge.engine, "performance", None)
    if service is None:
        raise ApiError(503, "performance_unavailable",
                       "the engine runs without its daily performance service")
    row = call(service.compute_now)
    return jsonify({"id": row.id, **row.values()})
