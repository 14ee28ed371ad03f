"""`ibtrader gui` (also plain `ibtrader`): the desktop workstation on the configured broker
(the simulated gateway, started in-process, by default).

Settings come as for every command; without `--config` (or IBTRADER_CONFIG) the file the
settings dialog saves to, `<data folder>/config.toml`, is read when it exists.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ibtrader.commands.broker_options import add_broker_options, with_overrides


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gui", help="open the desktop workstation (the default command)",
        description="Open the trading workstation: watchlist, charts, order ticket, "
                    "signals, positions, on the configured broker (the simulator by default).")
    p.add_argument("--seconds", type=float, metavar="N",
                   help="close the window after N seconds (demos, checks)")
    p.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="save a screenshot of the window just before it closes")
    p.add_argument("--report-startup", action="store_true", help=argparse.SUPPRESS)
    add_broker_options(p)
    p.set_defaults(handler=run)


def config_file(args: argparse.Namespace) -> Path | None:
    """The TOML file the settings come from (and the settings dialog saves to)."""
    from ibtrader.config import CONFIG_ENV, load_settings

    given = getattr(args, "config", None) or os.environ.get(CONFIG_ENV)
    if given:
        return Path(given).expanduser()
    try:
        own = load_settings().data_dir / "config.toml"
    except ValueError:
        return None
    return own if own.exists() else None


def no_display_problem(env: Mapping[str, str] = os.environ) -> str | None:
    """Why no window can open here, or None. Qt would abort the process without a word
    a user can act on; this says what to do instead."""
    if not sys.platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("no display to open the window on: run it in a desktop session, under "
            "`xvfb-run -a ibtrader gui`, or with QT_QPA_PLATFORM=offscreen")


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import print_errors
    from ibtrader.config import ConfigErrors, ensure_dirs, load_settings
    from ibtrader.logging_setup import configure_logging

    path = config_file(args)
    try:
        settings = with_overrides(load_settings(path), args)
    except ConfigErrors as exc:
        print_errors(exc)
        return 2
    if problem := no_display_problem():
        print(f"ibtrader gui: {problem}", file=sys.stderr)
        return 1
    ensure_dirs(settings)
    configure_logging(settings, console=True, console_level="WARNING")
    from ibtrader.gui.app import RunOptions
    from ibtrader.gui.app import run as run_app

    options = RunOptions(args.seconds, args.screenshot,
                         sys.stdout if args.report_startup else None)
    try:
        return run_app(settings, path or settings.data_dir / "config.toml", options)
    except KeyboardInterrupt:
        return 0
