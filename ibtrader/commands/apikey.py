"""`ibtrader apikey create|list|revoke`: the API keys of the web API (issue 6).

A new key is printed once, on stdout alone so that a script can capture it; the store keeps
only its hash, so a lost key is revoked and replaced, never shown again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ibtrader.web.credentials import CredentialStore, KeyRecord

PROG = "ibtrader apikey"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "apikey", help="create, list and revoke API keys for the web API",
        description="API keys for the web API, sent as X-API-Key or a Bearer token. "
                    "Only a hash of each key is stored.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("name", metavar="NAME", help="who or what uses the key")
    listing = actions.add_parser("list", help="list the keys (never the keys themselves)")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("key", metavar="NAME|ID", help="the active key's name, or its id")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ibtrader.commands.config import load_settings_or_exit
    from ibtrader.web.credentials import CredentialError, CredentialStore, store_path

    store = CredentialStore(store_path(load_settings_or_exit(args).data_dir))
    try:
        if args.action == "create":
            return _create(store, args.name)
        if args.action == "list":
            return _list(store, args.json)
        return _revoke(store, args.key)
    except CredentialError as exc:
        print(f"{PROG} {args.action}: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _create(store: CredentialStore, name: str) -> int:
    new = store.create_key(name)
    print(new.key)
    print(f"API key {name!r} created (id {new.record.key_id}). This is the only time it is "
          f"shown: keep it somewhere safe.", file=sys.stderr)
    return 0


def _list(store: CredentialStore, as_json: bool) -> int:
    records = store.list_keys()
    if as_json:
        print(json.dumps([_as_dict(r) for r in records], indent=2))
        return 0
    if not records:
        print("no API keys (create one with `ibtrader apikey create NAME`)")
        return 0
    rows = [("NAME", "ID", "CREATED", "LAST USED", "REVOKED")]
    rows += [(r.name, r.key_id, _when(r.created), _when(r.last_used), _when(r.revoked))
             for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _revoke(store: CredentialStore, name_or_id: str) -> int:
    record, revoked_now = store.revoke(name_or_id)
    if not revoked_now:
        print(f"API key {record.name!r} (id {record.key_id}) was already revoked at "
              f"{_when(record.revoked)}")
    else:
        print(f"API key {record.name!r} (id {record.key_id}) revoked")
    return 0


def _as_dict(r: KeyRecord) -> dict[str, object]:
    return {"name": r.name, "id": r.key_id, "created": _iso(r.created),
            "last_used": _iso(r.last_used), "revoked": _iso(r.revoked)}


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()
