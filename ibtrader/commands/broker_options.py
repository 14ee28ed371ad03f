"""The broker options that every command talking to a broker takes, and their effect."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibtrader.config import Settings


def add_broker_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ib-host", metavar="HOST", help="connect to TWS / IB Gateway on HOST")
    parser.add_argument("--ib-port", type=int, metavar="PORT", help="… on PORT")
    parser.add_argument("--client-id", type=int, metavar="N", help="API client id")


def with_overrides(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings with the command line's broker options applied (a host or port means IB)."""
    changes: dict[str, object] = {}
    if args.ib_host:
        changes.update(broker="ib", ib_host=args.ib_host)
    if args.ib_port is not None:
        changes.update(broker="ib", ib_port=args.ib_port)
    if args.client_id is not None:
        changes["ib_client_id"] = args.client_id
    return dataclasses.replace(settings, **changes) if changes else settings
