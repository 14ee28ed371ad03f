"""`ibtrader fault`: inject a fault into a running `ibtrader gateway`."""

from __future__ import annotations

import argparse
import sys

from ibtrader.sim.faults import FaultSyntaxError, parse_fault

HELP = ("drop | outage[:SECONDS] | stall[:SECONDS] | reject[:REASON] | pacing | stats")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fault", help="inject a fault into a running simulated gateway",
                              description=f"Inject a fault into a running gateway: {HELP}")
    p.add_argument("fault", metavar="FAULT", help=HELP)
    p.add_argument("--control-port", type=int, default=4102,
                   help="the gateway's control port (default 4102: gateway port 4002 + 100)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.sim.control import send_command

    if args.fault != "stats":
        try:
            parse_fault(args.fault)
        except FaultSyntaxError as exc:
            print(f"ibtrader fault: {exc}", file=sys.stderr)
            return 2
    try:
        reply = send_command(args.control_port, args.fault)
    except OSError as exc:
        print(f"ibtrader fault: no gateway control on 127.0.0.1:{args.control_port} ({exc})",
              file=sys.stderr)
        return 1
    print(reply)
    return 0 if reply.startswith("ok") else 1
