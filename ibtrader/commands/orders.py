"""`ibtrader orders …`: place, list, cancel and kill orders from a terminal or a script.

Each run connects to the configured broker like `ibtrader quotes` (the simulator, started
in-process, when no IB host is configured) and goes through the app's own Order Manager:
the same validation, pre-trade risk, journal and reconciliation as the desktop app. The
manager reconciles with the broker at start, so an order placed by one run is listed and
cancelled by the next (the simulator keeps its paper account and GTC orders in
`sim_state_file`, the journal keeps ours).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ibtrader.commands.broker_options import add_broker_options, broker_settings

if TYPE_CHECKING:
    from ibtrader.config import Settings
    from ibtrader.core.orders.lifecycle import Order
    from ibtrader.core.orders.request import OrderRequest
    from ibtrader.services.order_manager import OrderManager

PROG = "ibtrader orders"
# Exit statuses: a script tells "fix your input" from "the app said no" from "the broker".
EXIT_OK = 0
EXIT_BROKER = 1  # cannot connect, the broker rejected the order, no answer in time
EXIT_INPUT = 2  # bad arguments or settings; an unknown order key
EXIT_REFUSED = 3  # refused by validation or pre-trade risk (nothing was sent)
EXIT_NOT_FILLED = 4  # place --wait: the order ended (or the wait did) without a full fill
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells count it
EXIT_CODES = """exit status:
  0  done
  1  broker trouble: cannot connect, the broker rejected the order, no answer in time
  2  bad input: arguments, settings, an unknown order key
  3  refused by validation or pre-trade risk (each reason on stderr; nothing was sent)
  4  place --wait: not filled (cancelled, expired, or still working when the wait ended)
With --json, a refusal is also a document on stdout: {"problems": [{"code", "message"}]}."""
ANSWER_TIMEOUT = 15.0  # seconds to wait for the broker to acknowledge or confirm a cancel
DEFAULT_WAIT = 30.0  # `--wait` without SECONDS


def register(subparsers: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    add_broker_options(common)
    p = subparsers.add_parser(
        "orders", help="place, list, cancel orders; kill switch; positions",
        description="Orders through the app's Order Manager (validation, risk limits, "
                    "journal), against the configured broker.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_place(actions, common)
    ls = actions.add_parser("list", parents=[common], help="orders in the journal and at the "
                                                           "broker, after reconciliation")
    ls.add_argument("--open", action="store_true", help="only orders still open")
    cancel = actions.add_parser("cancel", parents=[common], help="cancel one order")
    cancel.add_argument("key", metavar="KEY", help="the order's key (ibt-…) as `list` shows it")
    actions.add_parser("cancel-all", parents=[common],
                       help="cancel every open order of the account")
    # Auto-trading runs in the app's process: a kill switch from here cancels at the broker
    # (every client's orders) and flattens; the app's own kill switch also stops its engine.
    kill = actions.add_parser("killswitch", parents=[common],
                              help="cancel every open order of the account (every client's)")
    kill.add_argument("--flatten", action="store_true",
                      help="also close every position at market")
    actions.add_parser("positions", parents=[common], help="positions and P&L")
    p.set_defaults(handler=run)


def _register_place(actions: argparse._SubParsersAction,
                    common: argparse.ArgumentParser) -> None:
    place = actions.add_parser(
        "place", parents=[common], help="place an order",
        description="Place an order; it is validated and risk-checked before it is sent.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    place.add_argument("symbol", metavar="SYMBOL")
    place.add_argument("side", metavar="buy|sell")
    place.add_argument("quantity", metavar="QTY")
    place.add_argument("--type", default="mkt", metavar="mkt|lmt|stp|stp-lmt|trail",
                       help="order type (default mkt)")
    place.add_argument("--limit", metavar="P", help="limit price (lmt, stp-lmt)")
    place.add_argument("--stop", metavar="P", help="stop price (stp, stp-lmt)")
    place.add_argument("--trail", metavar="AMOUNT|PCT%", help="trailing amount or percent")
    place.add_argument("--tp", metavar="P", help="bracket: take-profit limit")
    place.add_argument("--sl", metavar="P", help="bracket: stop-loss stop")
    place.add_argument("--tif", default="day", metavar="day|gtc|ioc",
                       help="time in force (default day)")
    place.add_argument("--outside-rth", action="store_true",
                       help="may work outside regular trading hours")
    place.add_argument("--policy", metavar="join|mid|marketable:N|last:N",
                       help="lmt: derive the limit from the market")
    place.add_argument("--chase", metavar="EVERY:TICKS:MAX[%][:cancel|market]",
                       help="lmt: reprice an unfilled order toward the market")
    place.add_argument("--wait", nargs="?", type=_seconds, const=DEFAULT_WAIT, metavar="SECONDS",
                       help=f"wait until the order is final (default {DEFAULT_WAIT:g} s)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 86400, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from ibtrader.core.orders.request import OrderInputError

    settings = broker_settings(args)
    if settings is None:
        return EXIT_INPUT
    _say_once()
    out = _Output(sys.stdout, args.json, args.action)
    try:
        action = _action(args)
    except OrderInputError as exc:  # checked before anything connects
        out.bad_input(exc.field, str(exc))
        return EXIT_INPUT
    try:
        return asyncio.run(run_action(settings, action, out))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


# logging_setup's stderr handler, and the service's log lines this command itself prints
# in a trader's words (the log file keeps them)
CONSOLE_HANDLER = "ibtrader.console"
SAID_BY_US = re.compile(r"order \S+ refused: |kill switch: \d+ cancelled")


def _say_once() -> None:
    def not_said_by_us(record: logging.LogRecord) -> bool:
        return not (record.name == "ibtrader.services.order_manager"
                    and SAID_BY_US.match(record.getMessage()))

    for handler in logging.getLogger().handlers:
        if handler.get_name() == CONSOLE_HANDLER:
            handler.addFilter(not_said_by_us)


Action = Callable[["OrderManager", "_Output"], Awaitable[int]]


def _action(args: argparse.Namespace) -> Action:
    if args.action == "place":
        request = _request(args)
        return lambda om, out: place(om, out, request, args.wait)
    if args.action == "list":
        return lambda om, out: list_orders(om, out, open_only=args.open)
    if args.action == "cancel":
        return lambda om, out: cancel(om, out, args.key.strip())
    if args.action == "cancel-all":
        return cancel_all
    if args.action == "killswitch":
        return lambda om, out: killswitch(om, out, flatten=args.flatten)
    return positions


def _request(args: argparse.Namespace) -> OrderRequest:
    from ibtrader.core.orders.request import parse_request

    return parse_request(args.symbol, args.side, args.quantity, now=time.time(),
                         order_type=args.type, limit=args.limit, stop=args.stop,
                         trail=args.trail, tif=args.tif, outside_rth=args.outside_rth,
                         take_profit=args.tp, stop_loss=args.sl, policy=args.policy,
                         chase=args.chase, source="cli")


class _Output:
    """stdout for results (text or one JSON document), stderr for reasons and warnings."""

    def __init__(self, out: TextIO, as_json: bool, action: str) -> None:
        self.out = out
        self.json = as_json
        self.action = action

    def result(self, document: dict[str, Any], lines: list[str]) -> None:
        if self.json:
            self.out.write(json.dumps(document, indent=2) + "\n")
        else:
            self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()

    def problem(self, text: str) -> None:
        print(f"{PROG} {self.action}: {text}", file=sys.stderr)

    def bad_input(self, field: str, message: str) -> None:
        self.problem(message)
        if self.json:
            self.result({"key": None, "problems": [
                {"code": "bad_input", "field": field, "message": message}]}, [])

    def refused(self, problems: Sequence[tuple[str, str]], key: str) -> None:
        """Each reason on stderr; with --json also one document on stdout for a script."""
        for code, message in problems:
            self.problem(f"refused ({code}): {message}")
        if self.json:
            self.result({"key": key or None, "problems": [
                {"code": code, "message": message} for code, message in problems]}, [])


async def run_action(settings: Settings, action: Action, out: _Output) -> int:
    """Connect, start the Order Manager (it reconciles), run the action, stop."""
    from ibtrader.app import open_order_manager
    from ibtrader.core.broker import BrokerUnavailable

    try:
        async with open_order_manager(settings) as manager:
            return await action(manager, out)
    except BrokerUnavailable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BROKER


# --- the actions ---------------------------------------------------------------------------

async def place(om: OrderManager, out: _Output, request: OrderRequest,
                wait: float | None) -> int:
    from ibtrader.core.orders.lifecycle import OrderState
    from ibtrader.services.order_reports import OrderRefused

    try:
        order = await om.place(request)
    except OrderRefused as exc:
        out.refused(exc.problems, exc.key)
        return EXIT_REFUSED
    key = order.client_key
    if wait is None:
        order = await _acknowledged(om, key, ANSWER_TIMEOUT)
    else:
        order = await _final(om, key, wait)
    legs = [o for o in om.orders() if o.parent_key == key]
    _show_orders(out, "placed", [order, *legs], {"order": order, "legs": legs})
    if order.state == OrderState.REJECTED:
        out.problem(f"the broker rejected {key}: {order.last_error or 'no reason given'}")
        return EXIT_BROKER
    if order.state in UNANSWERED:
        out.problem(f"no answer from the broker for {key} within {ANSWER_TIMEOUT:g} s")
        return EXIT_BROKER
    if wait is not None and order.state != OrderState.FILLED:
        out.problem(f"{key} is {order.state}, filled {order.filled:g} of {order.quantity:g}")
        return EXIT_NOT_FILLED
    return EXIT_OK


async def list_orders(om: OrderManager, out: _Output, *, open_only: bool) -> int:
    orders = om.orders(open_only=open_only)
    _show_orders(out, "", orders, {"orders": orders})
    return EXIT_OK


async def cancel(om: OrderManager, out: _Output, key: str) -> int:
    from ibtrader.core.orders.lifecycle import OrderState
    from ibtrader.services.order_reports import BROKER_UNAVAILABLE, OrderRefused

    order = om.order(key)
    if order is None:
        out.problem(f"no order {key!r} in the journal or at the broker "
                    "(see `ibtrader orders list`)")
        return EXIT_INPUT
    if order.is_final:
        out.problem(f"order {key} is already {order.state}: nothing to cancel")
        return EXIT_REFUSED
    try:
        await om.cancel(key)
    except OrderRefused as exc:
        out.refused(exc.problems, key)
        return EXIT_BROKER if BROKER_UNAVAILABLE in exc.codes else EXIT_REFUSED
    order = await _final(om, key, ANSWER_TIMEOUT)
    _show_orders(out, "cancel", [order], {"order": order})
    if order.state != OrderState.CANCELLED:
        out.problem(f"order {key} is {order.state} after the cancel request")
        return EXIT_BROKER
    return EXIT_OK


async def cancel_all(om: OrderManager, out: _Output) -> int:
    keys = [o.client_key for o in om.orders(open_only=True)]
    await om.cancel_all()
    orders = [await _final(om, key, ANSWER_TIMEOUT) for key in keys]
    still_open = [o for o in orders if not o.is_final]
    _show_orders(out, f"cancel-all: {len(orders) - len(still_open)} of {len(orders)} final",
                 orders, {"orders": orders, "still_open": [o.client_key for o in still_open]})
    for order in still_open:
        out.problem(f"order {order.client_key} is still {order.state}")
    return EXIT_BROKER if still_open else EXIT_OK


async def killswitch(om: OrderManager, out: _Output, *, flatten: bool) -> int:
    from ibtrader.commands.orders_format import order_table, plain, position_table, report_lines

    before = {o.client_key for o in om.orders(open_only=True)}
    report = await om.kill_switch(flatten=flatten)
    # The closing orders of --flatten are new; wait for them too.
    keys = before | set(report.cancelled) | {o.client_key for o in report.flattening}
    orders = [await _final(om, key, ANSWER_TIMEOUT) for key in sorted(keys)]
    still_open = [o.client_key for o in om.orders(open_only=True)]
    held = om.positions()
    if out.json:
        out.result(plain({"report": report, "orders": orders, "still_open": still_open,
                          "positions": held}), [])
    else:
        out.result({}, [*report_lines("kill switch engaged", report), *order_table(orders),
                        "positions:", *position_table(held)])
    for key in still_open:
        out.problem(f"order {key} is still open")
    for error in report.errors:
        out.problem(error)
    return EXIT_BROKER if still_open or report.errors else EXIT_OK


async def positions(om: OrderManager, out: _Output) -> int:
    from ibtrader.commands.orders_format import plain, position_table

    held = om.positions()
    out.result(plain({"positions": held}), position_table(held))
    return EXIT_OK


# --- helpers -------------------------------------------------------------------------------

UNANSWERED = ("new", "sent")  # OrderState values: the broker has not said a word yet


async def _acknowledged(om: OrderManager, key: str, timeout: float) -> Order:
    """The order once the broker has answered (working, filled, rejected …), or as it
    stands when `timeout` runs out."""
    order = _known(om, key)
    if order.state not in UNANSWERED:
        return order
    answered: asyncio.Future[Order] = asyncio.get_running_loop().create_future()

    def on_change(changed: Order) -> None:
        if changed.client_key == key and changed.state not in UNANSWERED \
                and not answered.done():
            answered.set_result(changed)

    om.order_changed += on_change
    try:
        return await asyncio.wait_for(answered, timeout)
    except TimeoutError:
        return _known(om, key)
    finally:
        om.order_changed -= on_change


async def _final(om: OrderManager, key: str, timeout: float) -> Order:
    """The order once final, or as it stands when `timeout` runs out."""
    try:
        return await om.wait_final(key, timeout)
    except TimeoutError:
        return _known(om, key)


def _known(om: OrderManager, key: str) -> Order:
    order = om.order(key)
    if order is None:  # the manager keeps every order it placed or found: a bug if not
        raise RuntimeError(f"the Order Manager has no order {key}")
    return order


def _show_orders(out: _Output, title: str, orders: list[Order],
                 document: dict[str, Any]) -> None:
    from ibtrader.commands.orders_format import order_table, plain

    lines = ([title] if title else []) + order_table(orders)
    out.result(plain(document), lines)
