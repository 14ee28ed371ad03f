"""How `ibtrader orders` shows orders, positions and reports: aligned text for a trader,
plain JSON-ready dicts for a script (NaN and infinities become null, enums their value)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ibtrader.core.orders.lifecycle import Order

# The keys of one order in --json output: a stable contract for scripts.
ORDER_KEYS = ("key", "symbol", "side", "quantity", "type", "limit", "stop", "trail_amount",
              "trail_percent", "tif", "outside_rth", "take_profit", "stop_loss", "state",
              "open", "filled", "remaining", "avg_price", "commission", "broker_id", "perm_id",
              "parent_key", "adopted", "source", "decision_id", "created", "updated",
              "last_error")
POSITION_KEYS = ("symbol", "quantity", "avg_cost", "realized_pnl", "unrealized_pnl",
                 "daily_pnl", "mark")


def plain(value: Any) -> Any:
    """`value` as JSON can carry it: finite floats, strings, lists and dicts only. Orders
    become `order_dict`s, positions `position_dict`s, other dataclasses dicts of fields."""
    from ibtrader.core.orders.lifecycle import Order

    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Order):
        return order_dict(value)
    if _is_position(value):
        return position_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [plain(v) for v in value]
    return str(value)


def _is_position(value: object) -> bool:
    return all(hasattr(value, name) for name in ("symbol", "quantity", "avg_cost"))


def order_dict(order: Order) -> dict[str, Any]:
    r = order.request
    values = {
        "key": order.client_key, "symbol": r.symbol, "side": r.side, "quantity": r.quantity,
        "type": r.order_type, "limit": r.limit, "stop": r.stop, "trail_amount": r.trail_amount,
        "trail_percent": r.trail_percent, "tif": r.tif, "outside_rth": r.outside_rth,
        "take_profit": r.take_profit, "stop_loss": r.stop_loss, "state": order.state,
        "open": order.is_open, "filled": float(order.filled),
        "remaining": float(order.remaining),
        # no fill, no average (IB reports 0 until the first one)
        "avg_price": order.avg_price if order.filled > 0 else None,
        "commission": float(order.commission),
        "broker_id": order.broker_id, "perm_id": order.perm_id, "parent_key": order.parent_key,
        "adopted": order.adopted, "source": r.source, "decision_id": r.decision_id,
        "created": order.created, "updated": order.updated, "last_error": order.last_error,
    }
    return {key: plain(values[key]) for key in ORDER_KEYS}


def position_dict(position: object) -> dict[str, Any]:
    """The service's position (symbol, signed quantity, costs and P&L where it has them)."""
    return {key: plain(getattr(position, key, None)) for key in POSITION_KEYS
            if hasattr(position, key) or key in ("symbol", "quantity")}


# --- text --------------------------------------------------------------------------------

def _num(value: float | None) -> str:
    """A price or an amount of money: two decimals, "-" when there is none."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.2f}"


def _qty(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4f}".rstrip("0")


def price_text(order: Order) -> str:
    """The prices that define the order, as a trader writes them."""
    r = order.request
    parts = []
    if r.limit is not None:
        parts.append(f"lmt {_num(r.limit)}")
    if r.stop is not None:
        parts.append(f"stp {_num(r.stop)}")
    if r.trail_amount is not None:
        parts.append(f"trail {_num(r.trail_amount)}")
    if r.trail_percent is not None:
        parts.append(f"trail {r.trail_percent:g}%")
    if r.take_profit is not None:
        parts.append(f"tp {_num(r.take_profit)}")
    if r.stop_loss is not None:
        parts.append(f"sl {_num(r.stop_loss)}")
    return " ".join(parts) or "-"


def order_line(order: Order) -> str:
    """One line: key, what, state and how much is filled (and at what average)."""
    r = order.request
    filled = f"{_qty(order.filled)}/{_qty(order.quantity)}"
    if order.filled > 0:
        filled += f" @ {_num(order.avg_price)}"
    extra = " (adopted)" if order.adopted else ""
    if order.parent_key:
        extra += f" leg of {order.parent_key}"
    if order.last_error:
        extra += f"  [{order.last_error}]"
    return (f"{order.client_key}  {r.side.upper():4} {_qty(r.quantity):>7} {r.symbol:<7} "
            f"{r.order_type.upper():7} {price_text(order):<24} {r.tif.upper():3}  "
            f"{order.state.value:<16} {filled}{extra}")


def order_table(orders: Sequence[Order]) -> list[str]:
    if not orders:
        return ["no orders"]
    return [order_line(o) for o in sorted(orders, key=lambda o: (o.created, o.client_key))]


def position_table(positions: Sequence[object]) -> list[str]:
    rows = [position_dict(p) for p in positions]
    rows = [r for r in rows if r.get("quantity")]
    if not rows:
        return ["no positions"]
    lines = [f"{'SYMBOL':<8} {'QTY':>10} {'AVG COST':>12} {'UNREALIZED':>12} {'REALIZED':>12}"]
    for r in sorted(rows, key=lambda r: r["symbol"]):
        lines.append(f"{r['symbol']:<8} {_qty(r['quantity']):>10} {_num(r.get('avg_cost')):>12} "
                     f"{_num(r.get('unrealized_pnl')):>12} {_num(r.get('realized_pnl')):>12}")
    return lines


def report_lines(title: str, report: object) -> list[str]:
    """A service report (reconcile, kill switch) as `title` plus one line per field; the
    orders in it one line each."""
    from ibtrader.core.orders.lifecycle import Order

    lines = [title]
    for f in dataclasses.fields(report):  # type: ignore[arg-type]
        value = getattr(report, f.name)
        if isinstance(value, tuple | list):
            lines.append(f"  {f.name}: {len(value)}")
            lines.extend(f"    {order_line(v) if isinstance(v, Order) else v}" for v in value)
        elif f.name == "time":
            lines.append(f"  time: {stamp(value)} UTC")
        else:
            lines.append(f"  {f.name}: {plain(value)}")
    return lines


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
