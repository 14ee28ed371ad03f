"""`NocoSink`: the outbox sink ("nocodb") that mirrors journal rows into NocoDB tables.

A record names its table (`kind`), our id and the row's values; delivering it looks the row
up by our id (the schema's unique key column) and updates it, or inserts it when there is
none. So a record delivered twice, or a decision queued again with its new state, leaves
one row with the newest values: the outbox's idempotency.

    record_id, kind, payload = row_record("decisions", decision.id, {"state": "accepted", ...})
    with journal.atomic():
        journal.update_decision(decision)
        journal.enqueue("nocodb", record_id, kind, payload)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ibtrader.core.outbox import OutboxRecord, UndeliverableRecord
from ibtrader.resources import shared_file

from .client import NocoClient, NocoRequestError
from .mirror import MirrorMissing, MirrorReport, check_columns, find_mirror
from .schema import MirrorSchema, SchemaError, load_schema


def default_schema() -> MirrorSchema:
    """The schema the app ships: resources/nocodb/schema.json."""
    return load_schema(shared_file("nocodb", "schema.json"))


def row_record(table: str, our_id: str, values: Mapping[str, Any],
               schema: MirrorSchema | None = None) -> tuple[str, str, dict[str, Any]]:
    """(record_id, kind, payload) for `journal.enqueue("nocodb", ...)`. With a schema the
    row is checked now, so a wrong column fails where it is written, not in the worker."""
    if not isinstance(our_id, str) or not our_id:
        raise ValueError(f"a NocoDB row needs our id as non-empty text, got {our_id!r}")
    if schema is not None:
        schema.to_row(table, our_id, values)
    return f"{table}/{our_id}", table, {"id": our_id, "row": dict(values)}


class NocoSink:
    """Upserts outbox records into the mirror's tables. The tables must exist (`ibtrader
    services init`); until they do, records wait in the outbox."""

    def __init__(self, client: NocoClient, base: str, schema: MirrorSchema | None = None,
                 name: str = "nocodb") -> None:
        self.name = name
        self.client = client
        self.base = base
        self.schema = schema or default_schema()
        self._lock = threading.Lock()
        self._mirror: MirrorReport | None = None

    def deliver(self, record: OutboxRecord) -> None:
        our_id, values = record.payload.get("id"), record.payload.get("row")
        if not isinstance(our_id, str) or not isinstance(values, dict):
            raise UndeliverableRecord(f"NocoDB record {record.record_id} has no id/row "
                                      f"payload (made by row_record?)")
        try:
            row = self.schema.to_row(record.kind, our_id, values)
        except SchemaError as exc:
            raise UndeliverableRecord(str(exc)) from exc
        table_id = self._table_id(record.kind)
        try:
            self._upsert(table_id, our_id, row)
        except NocoRequestError as exc:
            if exc.status == 404:  # the table went away: look it up again next time
                self._mirror = None
                raise
            raise UndeliverableRecord(f"NocoDB refused {record.record_id}: {exc}") from exc
        except ValueError as exc:  # an id the data API cannot filter on
            raise UndeliverableRecord(str(exc)) from exc

    def _upsert(self, table_id: str, our_id: str, row: dict[str, Any]) -> None:
        found = self.client.find(table_id, self.schema.key, our_id, fields="Id")
        if found:
            self.client.update(table_id, found[0]["Id"], row)
        else:
            self.client.insert(table_id, row)

    def _table_id(self, table: str) -> str:
        with self._lock:
            if self._mirror is None:  # once per run: the tables, then their columns
                mirror = find_mirror(self.client, self.base, self.schema)
                missing = check_columns(self.client, mirror, self.schema)
                if missing:  # a row would be refused: wait for `services init` instead
                    raise MirrorMissing(f"NocoDB base {self.base!r} lacks the columns "
                                        f"{', '.join(missing)}: run `ibtrader services init`")
                self._mirror = mirror
            return self._mirror.table_ids[table]
