"""`ibtrader config`: print the effective settings, secrets masked; and the settings loader
every command uses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ibtrader.config import ConfigErrors, Settings, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "config",
        help="print the effective settings, secrets masked",
        description="Print the effective settings (IBTRADER_* variables, then the --config "
                    "file, then defaults), secrets masked.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = _load(args)
    except ConfigErrors as exc:
        print_errors(exc)
        return 2
    if args.json:
        print(json.dumps(settings.to_dict(), indent=2, ensure_ascii=False))
    else:
        values = settings.masked()
        width = max(map(len, values))
        for key, value in values.items():
            print(f"{key:<{width}} = {value}".rstrip())
    return 0


def load_settings_or_exit(args: argparse.Namespace) -> Settings:
    """The settings for a command; on bad settings, every error on stderr and exit status 2."""
    try:
        return _load(args)
    except ConfigErrors as exc:
        print_errors(exc)
        raise SystemExit(2) from None


def print_errors(exc: ConfigErrors) -> None:
    print("ibtrader: the settings are not valid:", file=sys.stderr)
    for error in exc.errors:
        print(f"  {error}", file=sys.stderr)


def _load(args: argparse.Namespace) -> Settings:
    config = getattr(args, "config", None)
    return load_settings(Path(config) if config else None)
