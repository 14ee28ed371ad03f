"""The `ibtrader` command line: one sub-command per module in `ibtrader.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ibtrader import __version__

# Each module exposes `register(subparsers)`, which adds its parser and sets `run` as the
# default `handler(args) -> int`. Modules are imported lazily so that, for example,
# `ibtrader backtest` never pays for (or imports) Qt.
COMMAND_MODULES: dict[str, str] = {
    "config": "ibtrader.commands.config",
    "gateway": "ibtrader.commands.gateway",
    "fault": "ibtrader.commands.fault",
    "quotes": "ibtrader.commands.quotes",
    "signals": "ibtrader.commands.signals",
    "orders": "ibtrader.commands.orders",
    "bench": "ibtrader.commands.bench",
    "backtest": "ibtrader.commands.backtest",
    "gui": "ibtrader.commands.gui",
    "apikey": "ibtrader.commands.apikey",
    "web": "ibtrader.commands.web",
    "serve": "ibtrader.commands.serve",
    "services": "ibtrader.commands.services",
    "performance": "ibtrader.commands.performance",
}
DEFAULT_COMMAND = "gui"
TERMINAL_COMMAND = "quotes"  # the default without a display
SELFTEST = "--selftest"


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibtrader",
        description="Trading workstation for Interactive Brokers, "
                    "with a built-in simulated gateway.",
    )
    parser.add_argument("--version", action="version", version=f"ibtrader {__version__}")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (IBTRADER_* variables win)")
    parser.add_argument("--selftest", action="store_true",
                        help="check this installation (imports, settings, a window, an order "
                             "on the simulator, the web server), one line per check, and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES if commands is None else commands:
        importlib.import_module(COMMAND_MODULES[name]).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if SELFTEST in argv:
        return _selftest(argv)
    wanted = _command_named_in(argv)
    parser = build_parser([wanted] if wanted else None)
    if wanted is None and not any(a in ("-h", "--help", "--version") for a in argv):
        default = _default_command()
        argv.append(default)
        parser = build_parser([default])
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


def _selftest(argv: list[str]) -> int:
    from ibtrader.commands.gui import config_file
    from ibtrader.selftest import main as selftest

    args = build_parser(()).parse_args(argv)
    return selftest(config_file(args))


def _default_command() -> str:
    """The window; on a machine without a display, the live quotes in the terminal, so
    that `ibtrader` alone always shows the market (`ibtrader gui` still insists)."""
    from ibtrader.commands.gui import no_display_problem

    if (problem := no_display_problem()) is None:
        return DEFAULT_COMMAND
    print(f"ibtrader: {problem}; showing live quotes in the terminal instead (Ctrl-C ends)",
          file=sys.stderr)
    return TERMINAL_COMMAND


def _command_named_in(argv: Sequence[str]) -> str | None:
    """The sub-command in argv, found without importing every command module."""
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg == "--config":
            skip_next = True
        elif arg in COMMAND_MODULES:
            return arg
        elif not arg.startswith("-"):
            return None
    return None
