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


def broker_settings(args: argparse.Namespace) -> Settings | None:
    """The settings for a command that talks to a broker, with its broker options applied
    and logging set up (warnings and errors on the console, so that the command's own
    output stays readable; the file gets the configured level). None, after printing every
    error, when the settings are not valid."""
    from ibtrader.commands.config import load_settings_or_exit, print_errors
    from ibtrader.config import ConfigErrors
    from ibtrader.logging_setup import configure_logging

    try:
        settings = with_overrides(load_settings_or_exit(args), args)
    except ConfigErrors as exc:
        print_errors(exc)
        return None
    configure_logging(settings, console=True, console_level="WARNING")
    return settings


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
