"""`ibtrader web set-password`: the dashboard's password (issue 6), stored as a scrypt hash.

Read twice without echo from the terminal, or once from stdin with `--password-stdin` for
scripts (as `docker login` does), so that it never shows in the process list or the history.
"""

from __future__ import annotations

import argparse
import getpass
import sys

PROG = "ibtrader web"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "web", help="settings of the web dashboard: its password",
        description="Settings of the web layer. `set-password` sets the dashboard's password "
                    "(stored hashed; at least 10 characters).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    set_password = actions.add_parser("set-password", help="set the dashboard's password")
    set_password.add_argument("--password-stdin", action="store_true",
                              help="read the password from the first line of stdin")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import load_settings_or_exit
    from ibtrader.web.credentials import CredentialError, CredentialStore, store_path

    store = CredentialStore(store_path(load_settings_or_exit(args).data_dir))
    try:
        password = _read_password(args.password_stdin)
        store.set_password(password)
    except (CredentialError, EOFError) as exc:
        reason = exc if isinstance(exc, CredentialError) else "no password given"
        print(f"{PROG} set-password: {reason}; nothing changed", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG} set-password: cancelled; nothing changed", file=sys.stderr)
        return 130
    finally:
        store.close()
    print("dashboard password set")
    return 0


def _read_password(from_stdin: bool) -> str:
    from ibtrader.web.credentials import PasswordRejected

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\r\n")
    first = getpass.getpass("New dashboard password: ")
    if first != getpass.getpass("Repeat it: "):
        raise PasswordRejected("the two passwords differ")
    return first
