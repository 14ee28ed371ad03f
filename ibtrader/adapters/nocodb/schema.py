"""The mirror's tables as `resources/nocodb/schema.json` declares them, and how a journal
row becomes a NocoDB row.

Each table has our id as a unique text column (`key`, "ibtrader_id"): the sink finds a row
by it, so delivering a record twice updates one row. Columns are typed; a type here maps to
one NocoDB column type (`uidt`), and a value is converted for it when a row is sent
(epoch seconds -> UTC ISO text, structures -> JSON text).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# our column type -> NocoDB's column type
UIDT = {
    "text": "SingleLineText",
    "longtext": "LongText",
    "decimal": "Decimal",
    "integer": "Number",
    "datetime": "DateTime",
    "json": "JSON",
    "checkbox": "Checkbox",
}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


class SchemaError(ValueError):
    """The schema file, or a row checked against it, is wrong; the message says where."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, our type), in order

    def column_type(self, column: str) -> str | None:
        return dict(self.columns).get(column)


@dataclass(frozen=True, slots=True)
class MirrorSchema:
    version: int
    key: str  # our id's column, present and unique in every table
    tables: dict[str, Table]

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise SchemaError(f"no table {name!r} in the NocoDB schema (tables: "
                              f"{', '.join(self.tables)})") from None

    def to_row(self, table: str, record_id: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The NocoDB row for our record: our id in the key column, each value converted
        for its column's type. An unknown column or a value of the wrong kind is a
        SchemaError (no retry can fix it)."""
        spec = self.table(table)
        row: dict[str, Any] = {self.key: record_id}
        for column, value in values.items():
            kind = spec.column_type(column)
            if kind is None or column == self.key:
                raise SchemaError(f"{table}.{column} is not a column of the NocoDB schema")
            row[column] = _convert(f"{table}.{column}", kind, value)
        return row


def load_schema(path: Path | str) -> MirrorSchema:
    """Read and check a schema file; a SchemaError names the file and what is wrong."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read the NocoDB schema {path}: {exc}") from exc
    return parse_schema(raw, str(path))


def parse_schema(raw: Any, source: str = "schema") -> MirrorSchema:
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict) or not raw["tables"]:
        raise SchemaError(f"{source}: needs a non-empty 'tables' object")
    key = raw.get("key")
    if not isinstance(key, str) or not _NAME.fullmatch(key):
        raise SchemaError(f"{source}: 'key' must name our id's column, got {key!r}")
    tables: dict[str, Table] = {}
    for name, columns in raw["tables"].items():
        if not _NAME.fullmatch(name) or not isinstance(columns, dict):
            raise SchemaError(f"{source}: table {name!r} needs a lowercase name and a "
                              f"column object")
        for column, kind in columns.items():
            if not _NAME.fullmatch(column):
                raise SchemaError(f"{source}: {name}.{column}: column names are lowercase "
                                  f"letters, digits and '_'")
            if kind not in UIDT:
                raise SchemaError(f"{source}: {name}.{column} has type {kind!r}; use one of "
                                  f"{', '.join(UIDT)}")
        if columns.get(key) != "text":
            raise SchemaError(f"{source}: table {name} needs our id column {key!r} of type "
                              f"text")
        tables[name] = Table(name, tuple(columns.items()))
    return MirrorSchema(int(raw.get("version", 1)), key, tables)


def _convert(where: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind in ("text", "longtext"):
        if not isinstance(value, str):
            raise SchemaError(f"{where} is text, got {type(value).__name__} {value!r}")
        return value
    if kind == "json":
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kind == "checkbox":
        if not isinstance(value, (bool, int)):
            raise SchemaError(f"{where} is a checkbox, got {value!r}")
        return bool(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise SchemaError(f"{where} is a {kind} column, got {value!r}")
    if kind == "integer":
        if value != int(value):
            raise SchemaError(f"{where} is an integer column, got {value!r}")
        return int(value)
    if kind == "datetime":  # epoch seconds, shown by NocoDB as a UTC date and time
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    return value  # decimal
