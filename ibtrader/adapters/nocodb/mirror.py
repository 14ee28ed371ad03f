"""The journal mirror's base and tables in NocoDB: created from the schema when missing,
found again by title when present.

`ensure_mirror` is what `ibtrader services init` runs: it creates the base, each missing
table with its typed columns, and each missing column of an existing table; it never drops
or retypes anything, so running it twice changes nothing the second time (its report says
what it did). `find_mirror` only looks: the sink uses it, and `services check` can report
what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import NocoClient, NocoError
from .schema import UIDT, MirrorSchema, Table


class MirrorMissing(NocoError):
    """The base, a table or a column the schema declares is not in NocoDB."""


@dataclass(slots=True)
class MirrorReport:
    base_id: str
    table_ids: dict[str, str]
    created: list[str] = field(default_factory=list)  # "base x", "table t", "column t.c"

    @property
    def changed(self) -> bool:
        return bool(self.created)


def column_spec(name: str, kind: str, key: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"column_name": name, "title": name, "uidt": UIDT[kind]}
    if name == key:  # our id: NocoDB's paid plans enforce it, the community edition only
        spec["unique"] = True  # records it; the sink's upsert keeps one row per id anyway
    return spec


def ensure_mirror(client: NocoClient, base_title: str, schema: MirrorSchema) -> MirrorReport:
    created: list[str] = []
    base = _base(client, base_title)
    if base is None:
        base = client.create_base(base_title)
        created.append(f"base {base_title}")
    base_id = base["id"]
    existing = {t["title"]: t["id"] for t in client.tables(base_id)}
    table_ids: dict[str, str] = {}
    for table in schema.tables.values():
        if table.name in existing:
            table_ids[table.name] = existing[table.name]
            for column in _missing_columns(client, existing[table.name], table):
                client.add_column(existing[table.name],
                                  column_spec(column, table.column_type(column) or "text",
                                              schema.key))
                created.append(f"column {table.name}.{column}")
            continue
        columns = [column_spec(name, kind, schema.key) for name, kind in table.columns]
        table_ids[table.name] = client.create_table(base_id, table.name, columns)["id"]
        created.append(f"table {table.name}")
    return MirrorReport(base_id, table_ids, created)


def find_mirror(client: NocoClient, base_title: str, schema: MirrorSchema) -> MirrorReport:
    """The ids of the mirror's tables; MirrorMissing says what `services init` would add."""
    base = _base(client, base_title)
    if base is None:
        raise MirrorMissing(f"NocoDB at {client.url} has no base {base_title!r}: run "
                            f"`ibtrader services init`")
    existing = {t["title"]: t["id"] for t in client.tables(base["id"])}
    missing = [t for t in schema.tables if t not in existing]
    if missing:
        raise MirrorMissing(f"NocoDB base {base_title!r} lacks the tables "
                            f"{', '.join(missing)}: run `ibtrader services init`")
    return MirrorReport(base["id"], {t: existing[t] for t in schema.tables})


def check_columns(client: NocoClient, report: MirrorReport, schema: MirrorSchema) -> list[str]:
    """"table.column" for every declared column NocoDB lacks (empty: schema OK)."""
    return [f"{name}.{column}" for name, table in schema.tables.items()
            for column in _missing_columns(client, report.table_ids[name], table)]


def _base(client: NocoClient, title: str) -> dict[str, Any] | None:
    matches = [b for b in client.bases() if b.get("title") == title]
    return matches[0] if matches else None


def _missing_columns(client: NocoClient, table_id: str, table: Table) -> list[str]:
    have = {c.get("title") for c in client.table(table_id).get("columns", [])}
    return [name for name, _ in table.columns if name not in have]
